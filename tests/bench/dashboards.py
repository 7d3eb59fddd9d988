#!/usr/bin/python3
"""What open dashboards cost Redis and `wharf serve` on a busy system
(issue 17's target: 20 dashboards under 2% of one core for Redis).

    tests/lib/with-servers /usr/bin/python3 tests/bench/dashboards.py [PAGES] [SECONDS]

Starts a Release build's (tests/lib/relbuild.py, build/deploy) worker and
`wharf serve` in a fresh vhost and Redis prefix, and a steady load: RATE jobs
a second (WHARF_BENCH_RATE, default 50) of six system types through the
Python client, so the rollups, the recent index and /metrics have real data.
Then, for SECONDS (default 60) each, it measures the CPU of Redis (its pid
from INFO server) and of serve from /proc/<pid>/stat: first with no
dashboard open, then with PAGES (default 20) simulated dashboards open on
each page kind in turn. A simulated dashboard makes exactly the requests
its page makes (producer/ui/src/pages), with the page's own rules: the next
poll starts only after the last one answered, every POLL s:

  overview  every 5 s: /metrics, /v1/stats/series?minutes=60 and /v1/workers
            at once, and once a minute with them /v1/stats/series?minutes=60
            again (the 1 h window of the "By type" tabs)
  workers   every 5 s: /v1/workers
  job       every 2 s while the job is not finished: /v1/jobs/{id} (a
            running job, so it never stops)
  jobs      nothing after the first load (the list does not poll)

Prints per phase: the jobs a second the load managed, Redis and serve CPU as
% of one core, Redis's own time in the read commands the pages' routes use
(INFO commandstats: the load and the worker run scripts, so this part is the
dashboards' almost alone, but leaves out Redis's networking), the requests a
second the dashboards made and their p50/p95 latency; in brackets, the
difference with the baseline (no dashboard), which is what PAGES dashboards
cost. The process CPU figures move by about a point between phases on a
shared machine; the commandstats figure does not. WHARF_BENCH_KINDS picks the
page kinds (default "overview workers job jobs"); WHARF_BENCH_BIN=DIR takes
the binaries from DIR instead of the Release build.

Every dashboard is a browser of its own, so serve runs with no per-address
connection limit (serve.max_per_ip = 0) and room for all of them at once
(serve.max_connections = 256): here they all come from 127.0.0.1."""
import http.client
import os
import random
import sys
import threading
import time

SRC = os.environ.get("WHARF_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "producer", "python", "src"))
import wharf_client  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

PAGES = int(sys.argv[1]) if len(sys.argv) > 1 else 20
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
RATE = float(os.environ.get("WHARF_BENCH_RATE", "50"))
TYPES = [("system.noop", {"n": 1}), ("system.sleep", {"ms": 20}), ("system.log", {"lines": 5}),
         ("system.fail", {"code": "bench"}), ("system.noop", {"url": "https://example.org/a"}),
         ("system.sleep", {"ms": 200})]


def cpu_s(pid):
    """User + system CPU seconds of process `pid` so far (/proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Load(threading.Thread):
    """RATE jobs a second through the Python client until stopped."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.stop, self.sent = client, threading.Event(), 0

    def run(self):
        rng, t0 = random.Random(3), time.monotonic()
        while not self.stop.is_set():
            wait = t0 + self.sent / RATE - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            typ, args = TYPES[rng.randrange(len(TYPES))]
            self.client.submit(typ, args, max_attempts=1)
            self.sent += 1


class Dashboard(threading.Thread):
    """One open page: its polls, over one keep-alive connection per request
    in flight (a browser keeps up to six)."""

    def __init__(self, srv, kind, job_id, stop, lat):
        super().__init__(daemon=True)
        self.srv, self.kind, self.job_id, self.stop, self.lat = srv, kind, job_id, stop, lat
        self.conns = [srv.conn(timeout=30) for _ in range(4)]
        self.requests = self.errors = 0
        self.why = {}  # failures by status (or exception name)

    def get(self, i, path):
        """One request; a failure is counted (and its connection made anew),
        as a page shows its error and polls on."""
        t = time.perf_counter()
        for attempt in (1, 2):
            try:
                c = self.conns[i]
                c.request("GET", path, headers={"Authorization": "Bearer " + self.srv.token})
                resp = c.getresponse()
                resp.read()
                why = None if resp.status == 200 else "%s %d" % (path.split("?")[0], resp.status)
                if resp.status != 408:
                    break
            except (OSError, http.client.HTTPException) as e:
                why = "%s %s" % (path.split("?")[0], type(e).__name__)
            # serve closes a keep-alive connection idle past
            # serve.header_timeout_s (with a 408); a browser then opens
            # another and sends the request again, once
            self.conns[i].close()
            self.conns[i] = self.srv.conn(timeout=30)
        self.lat.append((time.perf_counter() - t) * 1000)
        self.requests += 1
        if why:
            self.errors += 1
            self.why[why] = self.why.get(why, 0) + 1

    def together(self, paths):
        """The page's Promise.all: the requests at once, done when all are."""
        ts = [threading.Thread(target=self.get, args=(i, p)) for i, p in enumerate(paths)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def run(self):
        # pages open at random moments, not in step
        self.stop.wait(random.random() * 5)
        window_at = 0
        while not self.stop.is_set():
            if self.kind == "overview":
                paths = ["/metrics", "/v1/stats/series?minutes=60", "/v1/workers"]
                if time.monotonic() - window_at > 60:
                    window_at = time.monotonic()
                    paths.append("/v1/stats/series?minutes=60")
                self.together(paths)
                self.stop.wait(5)
            elif self.kind == "workers":
                self.get(0, "/v1/workers")
                self.stop.wait(5)
            elif self.kind == "job":
                self.get(0, "/v1/jobs/" + self.job_id)
                self.stop.wait(2)
            else:
                self.get(0, "/v1/jobs?limit=50")
                self.stop.wait(SECONDS + 1)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else 0.0


# What the pages' routes ask Redis; the load and the worker run scripts.
READS = ("hgetall", "hmget", "hget", "zrange", "zrevrangebyscore", "zrangebyscore", "zcard", "smembers",
         "exists", "get", "mget", "xrevrange", "xrange", "xlen", "scan", "type", "ttl")


def read_usec(r):
    """Redis's own time in the read commands so far (INFO commandstats), µs."""
    st = r.info("commandstats")
    return sum(st.get("cmdstat_" + c, {}).get("usec", 0) for c in READS)


def measure(r, load, redis_pid, serve_pid, srv, kind, job_id):
    """One phase: PAGES dashboards of `kind` (None: none) for SECONDS."""
    stop, lat = threading.Event(), []
    pages = [Dashboard(srv, kind, job_id, stop, lat) for _ in range(PAGES if kind else 0)]
    for p in pages:
        p.start()
    time.sleep(5)  # every page has opened and made its first polls
    c0 = (cpu_s(redis_pid), cpu_s(serve_pid), sum(p.requests for p in pages), time.monotonic(), read_usec(r),
          load.sent)
    time.sleep(SECONDS)
    c1 = (cpu_s(redis_pid), cpu_s(serve_pid), sum(p.requests for p in pages), time.monotonic(), read_usec(r),
          load.sent)
    errors = sum(p.errors for p in pages)
    why = {}
    for p in pages:
        for k, v in p.why.items():
            why[k] = why.get(k, 0) + v
    if why:
        print("  failed requests of %s: %s" % (kind, why), flush=True)
    stop.set()
    for p in pages:
        p.join()
    wall = c1[3] - c0[3]
    return {"redis": 100 * (c1[0] - c0[0]) / wall, "serve": 100 * (c1[1] - c0[1]) / wall,
            "rps": (c1[2] - c0[2]) / wall, "p50": pct(lat, 50), "p95": pct(lat, 95), "errors": errors,
            "reads": (c1[4] - c0[4]) / wall / 1e4, "jobs": (c1[5] - c0[5]) / wall}


def binaries():
    if os.environ.get("WHARF_BENCH_BIN"):
        return os.environ["WHARF_BENCH_BIN"]
    import relbuild
    return os.path.join(relbuild.ensure(["wharf", "wharf-worker"]), "bin")


def main():
    os.environ["WHARF_BIN"] = bindir = binaries()
    env = wharftest.Env()
    r = env.redis()
    redis_pid = int(r.info("server")["process_id"])
    amqp, prefix = env.new_vhost(), env.new_prefix()
    worker = env.start_worker(amqp, prefix, concurrency=8, families="system")
    srv = wharfserve.start(env, amqp, prefix, extra_env={"WHARF_SERVE_MAX_PER_IP": "0",
                                                         "WHARF_SERVE_MAX_CONNECTIONS": "256"})
    client = wharf_client.Client(amqp, env.redis_url, prefix=prefix, timeout=60)
    load = Load(client)
    try:
        running = client.submit("system.sleep", {"ms": 3600000}).id
        load.start()
        time.sleep(15)  # the rollups fill, the worker settles
        print("%d dashboards per page kind, %.0f s per phase, %.0f jobs/s, binaries %s, redis pid %d\n" % (
            PAGES, SECONDS, RATE, bindir, redis_pid))
        print("| open | jobs/s | Redis CPU % | Redis in reads % | serve CPU % | dashboard requests/s | p50 ms | "
              "p95 ms | failed |")
        print("|---|---|---|---|---|---|---|---|---|")
        base = measure(r, load, redis_pid, srv.proc.pid, srv, None, running)
        print("| none | %.0f | %.2f | %.2f | %.2f | 0 | | | |" % (base["jobs"], base["redis"], base["reads"],
                                                           base["serve"]), flush=True)
        for kind in os.environ.get("WHARF_BENCH_KINDS", "overview workers job jobs").split():
            m = measure(r, load, redis_pid, srv.proc.pid, srv, kind, running)
            print("| %d x %s | %.0f | %.2f (%+.2f) | %.2f (%+.2f) | %.2f (%+.2f) | %.1f | %.1f | %.1f | %d |" % (
                PAGES, kind, m["jobs"], m["redis"], m["redis"] - base["redis"], m["reads"],
                m["reads"] - base["reads"], m["serve"], m["serve"] - base["serve"], m["rps"], m["p50"], m["p95"],
                m["errors"]), flush=True)
        print("\nload: %d jobs submitted" % load.sent)
    finally:
        load.stop.set()
        load.join(5)
        client.cancel(running)
        client.close()
        srv.stop()
        worker.stop()
        for k in r.scan_iter(match=prefix + "*", count=10000):
            r.unlink(k)
        env.delete_vhost(amqp)


if __name__ == "__main__":
    main()
