#!/usr/bin/python3
"""GET /v1/jobs with 1,000,000 jobs in Redis: a page's latency per query
shape, and what the list's indexes cost in memory (docs/http-api.md).

    WHARF_BIN=build/release/bin tests/lib/with-servers /usr/bin/python3 tests/bench/job_list.py [N]

Writes N (default 1,000,000) job hashes in a fresh prefix as the workers
leave them (finished jobs mostly: 20 types, 100 targets for 60% of them,
states 90% succeeded, 5% failed, 3% dead, 1% queued, 0.5% running, 0.5%
cancelled, created 10 ms apart; args of about 80 bytes as enqueue.lua keeps
them: an image of 100, a name, `prod` for 10% of them), with the index
entries enqueue.lua writes
(<p>recent, <p>recent:type:<type>, <p>recent:target:<host>). Then starts
`wharf serve` (jobs.recent_max = N, so nothing is trimmed), times each query
shape REPS times over one keep-alive connection and prints p50, p95 and max
in ms with the entries the request looked at (text searches in args
included: `q=`, which looks at 5,000 entries per page at most), then the
memory of the
indexes (MEMORY USAGE) per job. Everything it wrote is deleted at the end."""
import http.client
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
REPS = int(os.environ.get("WHARF_BENCH_REPS", "30"))
env = wharftest.Env()
r = env.redis()
TYPES = ["bench.t%02d" % i for i in range(20)]
STATES = [("succeeded", 900), ("failed", 50), ("dead", 30), ("queued", 10), ("running", 5), ("cancelled", 5)]
T0 = 1700000000000  # created_at of the first job, ms


def pick_state(rng):
    x = rng.randrange(1000)
    for state, share in STATES:
        if x < share:
            return state
        x -= share
    return "succeeded"


def args_json(rng, i):
    """Canonical JSON args: `app-07:` is in 1% of them, `prod` in 10%."""
    return '{"env":"%s","image":"registry.example/app-%02d:1.%d","name":"svc-%06d"}' % (
        "prod" if rng.random() < 0.1 else "staging", rng.randrange(100), rng.randrange(10), i)


def fill(prefix):
    """N jobs: hashes and index entries, pipelined in batches."""
    rng = random.Random(7)
    t = time.monotonic()
    pipe = r.pipeline(transaction=False)
    for i in range(N):
        jid = "bench%07d" % i
        # a skewed type mix: bench.t00 is common, bench.t19 rare (~0.1%)
        typ = TYPES[min(19, int(rng.expovariate(0.35)))]
        target = "h%02d" % rng.randrange(100) if rng.random() < 0.6 else ""
        at = T0 + 10 * i
        pipe.hset(prefix + "job:" + jid, mapping={
            "id": jid, "type": typ, "target": target, "state": pick_state(rng), "attempt": 1, "max_attempts": 3,
            "created_at": at, "queued_at": at, "started_at": at + 2, "finished_at": at + 5, "worker": "w-1",
            "progress": 100, "result": "{}", "args": args_json(rng, i)})
        pipe.zadd(prefix + "recent", {jid: at})
        pipe.zadd(prefix + "recent:type:" + typ, {jid: at})
        if target:
            pipe.zadd(prefix + "recent:target:" + target, {jid: at})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.sadd(prefix + "recent:indexes", *["type:" + x for x in TYPES], *["target:h%02d" % k for k in range(100)])
    pipe.execute()
    return time.monotonic() - t


def timed(conn, token, path):
    t = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    resp = conn.getresponse()
    body = resp.read()
    ms = (time.perf_counter() - t) * 1000
    if resp.status != 200:
        raise RuntimeError("%s -> %d %s" % (path, resp.status, body[:300]))
    return ms, json.loads(body)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def shapes():
    mid = T0 + 10 * (N // 2)
    return [
        ("newest 50", "/v1/jobs?limit=50"),
        ("newest 1000", "/v1/jobs?limit=1000"),
        ("type (common)", "/v1/jobs?type=bench.t00&limit=50"),
        ("type (rare, ~0.1%)", "/v1/jobs?type=bench.t19&limit=50"),
        ("target", "/v1/jobs?target=h42&limit=50"),
        ("state=failed (5%)", "/v1/jobs?state=failed&limit=50"),
        ("state=running (0.5%)", "/v1/jobs?state=running&limit=50"),
        ("type+target+state", "/v1/jobs?type=bench.t01&target=h07&state=failed&limit=50"),
        ("1 h window, middle", "/v1/jobs?since=%d&until=%d&limit=50" % (mid, mid + 3600000)),
        ("by id", "/v1/jobs?id=bench%07d" % (N // 3)),
        ("q= in args (10%)", "/v1/jobs?q=prod&limit=50"),
        ("q= in args (1%)", "/v1/jobs?q=app-07:&limit=50"),
        ("q= in args (one job)", "/v1/jobs?q=svc-%06d&limit=50" % (N - 3000)),
        ("q= in args (none: the scan cap)", "/v1/jobs?q=no-such-text&limit=50"),
        ("q= + type + state", "/v1/jobs?q=prod&type=bench.t00&state=failed&limit=50"),
    ]


def run_shapes(conn, token):
    print("| query | p50 ms | p95 ms | max ms | jobs | scanned | truncated |")
    print("|---|---|---|---|---|---|---|")
    for name, path in shapes():
        timed(conn, token, path)  # warm
        lat, last = [], None
        for _ in range(REPS):
            ms, last = timed(conn, token, path)
            lat.append(ms)
        print("| %s | %.1f | %.1f | %.1f | %d | %d | %s |" % (name, pct(lat, 50), pct(lat, 95), max(lat),
                                                           len(last["jobs"]), last["scanned"], last["truncated"]))
        sys.stdout.flush()


def deep_paging(conn, token, pages=200):
    """Follow next_cursor page after page: the 200th page costs what the first did."""
    lat, cursor = [], None
    for _ in range(pages):
        ms, b = timed(conn, token, "/v1/jobs?limit=50" + ("&cursor=" + cursor if cursor else ""))
        lat.append(ms)
        cursor = b["next_cursor"]
    print("| paging by cursor (%d pages of 50) | %.1f | %.1f | %.1f | 50 | 50 | False |" % (
        pages, pct(lat, 50), pct(lat, 95), max(lat)))


def memory(prefix):
    recent = r.memory_usage(prefix + "recent", samples=0)
    types = sum(r.memory_usage(prefix + "recent:type:" + t, samples=0) or 0 for t in TYPES)
    targets = sum(r.memory_usage(prefix + "recent:target:h%02d" % k, samples=0) or 0 for k in range(100))
    ntarget = sum(r.zcard(prefix + "recent:target:h%02d" % k) for k in range(100))
    one = r.memory_usage(prefix + "job:bench%07d" % (N // 2), samples=0)
    print("\nmemory: job hash %d B each; `recent` %.1f MB (%.0f B/job); type indexes %.1f MB (%.0f B/job); "
          "target indexes %.1f MB (%.0f B per targeted job, %d of %d)" % (
              one, recent / 1e6, recent / N, types / 1e6, types / N, targets / 1e6, targets / max(1, ntarget),
              ntarget, N))


def clean(prefix):
    batch = []
    for k in r.scan_iter(match=prefix + "*", count=10000):
        batch.append(k)
        if len(batch) == 5000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)


def main():
    amqp, prefix = env.new_vhost(), env.new_prefix()
    try:
        took = fill(prefix)
        print("filled %d jobs in %.1f s (%s)\n" % (N, took, os.environ.get("WHARF_BIN", "")))
        srv = wharfserve.start(env, amqp, prefix, extra_env={"WHARF_JOBS_RECENT_MAX": str(max(N, 1000))})
        try:
            conn = srv.conn(timeout=60)
            run_shapes(conn, srv.token)
            deep_paging(conn, srv.token)
            conn.close()
        finally:
            srv.stop()
        memory(prefix)
    finally:
        clean(prefix)


if __name__ == "__main__":
    main()
