#!/usr/bin/python3
"""Redis memory per finished job, with its log stream (README: Capacity).

    source /tmp/wharf-dev/servers.env    # or run under tests/lib/with-servers
    WHARF_BIN=build/release/bin WHARF_SRC=$PWD /usr/bin/python3 tests/bench/redis_memory.py [N]

Runs N system.log jobs (default 500) per log size (0, 5 and 50 lines of 80
bytes) through the real CLI and a real worker, in a fresh vhost and Redis
prefix, then measures what one finished job keeps in Redis until jobs.ttl_s:
MEMORY USAGE (SAMPLES 0) of every key under the prefix that belongs to a job
(job:<id>, job:<id>:log, anything else found), plus its share of the
`recent` index; and, as a cross-check, the INFO used_memory delta (noisy on
a shared server). Prints one line per log size and the cost per log line.
Then what the `args` field (enqueue.lua keeps a job's args as JSON text, up
to 8 KiB) costs: a finished job's hash copied with args of several sizes in
place of its own, MEMORY USAGE of each copy against the copy without args.
Everything it made is deleted at the end."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
env = wharftest.Env()
r = env.redis()


def used_memory():
    return int(r.info("memory")["used_memory"])


def run(lines):
    amqp, prefix = env.new_vhost(), env.new_prefix()
    w = env.start_worker(amqp, prefix, concurrency=8, families="system")
    cenv = env.child_env(amqp, prefix)
    before = used_memory()
    ids = []
    t0 = time.monotonic()
    for i in range(N):
        cp = subprocess.run([os.path.join(env.bin, "wharf"), "submit", "system.log", "--arg", "lines=%d" % lines],
                            env=cenv, capture_output=True, text=True, check=True)
        ids.append(cp.stdout.split()[0])
    wharftest.wait_for(lambda: all(r.hget(prefix + "job:" + j, "state") == "succeeded" for j in ids[-20:])
                       and sum(1 for j in ids if r.hget(prefix + "job:" + j, "state") == "succeeded") == N,
                       timeout=600, interval=1, what="all jobs to succeed")
    w.stop()
    time.sleep(1.5)  # the last stats flush
    after = used_memory()
    keys = list(r.scan_iter(match=prefix + "*", count=5000))
    per_job = {}
    other = {}
    idset = set(ids)
    for k in keys:
        m = re.match(re.escape(prefix) + r"job:([A-Za-z0-9_-]+)(:.*)?$", k)
        size = r.memory_usage(k, samples=0) or 0
        if m and m.group(1) in idset:
            kind = "job:<id>" + (m.group(2) or "")
            per_job.setdefault(kind, []).append(size)
        else:
            other[k[len(prefix):]] = size
    recent = other.get("recent", 0)
    job_bytes = sum(sum(v) for v in per_job.values()) / N + recent / N
    shared = sum(v for k, v in other.items() if k != "recent")
    print("lines=%-3d jobs=%d  per job: %s + recent index %.0f = %.0f B;  shared keys %d (%s) %d B;  "
          "INFO used_memory delta %.0f B/job;  %.1f s" % (
              lines, N, ", ".join("%s %.0f" % (k, sum(v) / len(v)) for k, v in sorted(per_job.items())),
              recent / N, job_bytes, len(other), ",".join(sorted(other))[:80], shared, (after - before) / N,
              time.monotonic() - t0), flush=True)
    if lines == 0:
        args_cost(prefix + "job:" + ids[0])
    for k in keys:
        r.delete(k)
    env.delete_vhost(amqp)
    return job_bytes


def args_cost(key):
    """The `args` field's cost by its size, on a copy of a real finished hash.
    Redis keeps a small hash as one listpack while every value is at most
    hash-max-listpack-value bytes (64 by default); longer args turn it into a
    hash table, which costs more than their bytes."""
    limit = r.config_get("hash-max-listpack-value").get("hash-max-listpack-value", "?")
    for lp in (limit, "1024"):  # as configured, then with listpacks up to 1 KiB values
        r.config_set("hash-max-listpack-value", lp)
        tmp = key + ":argscopy"
        sizes = (0, 9, 40, 64, 65, 200, 1000, 8192)
        out = {}
        for n in sizes:
            r.copy(key, tmp, replace=True)
            r.hdel(tmp, "args", "args_truncated")
            if n:
                r.hset(tmp, "args", '{"a":"%s"}' % ("x" * (n - 8)))
            out[n] = (r.memory_usage(tmp, samples=0), r.object("encoding", tmp))
        r.delete(tmp)
        base = out[0][0]
        print("args in the job hash (%d B without; hash-max-listpack-value %s): %s" % (base, lp, ";  ".join(
            "%d B args +%d B (%s)" % (n, out[n][0] - base, out[n][1]) for n in sizes[1:])), flush=True)
    r.config_set("hash-max-listpack-value", limit)


if __name__ == "__main__":
    res = {n: run(n) for n in (0, 5, 50)}
    print("per log line (80 B of text): %.0f B" % ((res[50] - res[5]) / 45.0))
