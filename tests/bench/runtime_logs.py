#!/usr/bin/python3
"""Benchmark: container log ingestion into Redis (runtime.container.logs).

A container prints N lines (default 200,000) and exits; then, alternating with
the raw floor (the same bytes read from the Engine by a plain HTTP client, no
Redis), a runtime.container.logs job copies them into the capped stream.
Reports lines/s from the job's own started_at/finished_at, and the worker's
CPU time per job (user + system from /proc/<pid>/stat), as medians: when
the engine's own log reader is the floor, the CPU time is what wharf's side
costs.

    WHARF_BIN=build/release/bin WHARF_SRC=$PWD tests/bench/runtime_logs.py [--lines N] [--reps R]
"""
import argparse
import statistics
import time

import benchlib  # puts tests/lib and the Python client on sys.path
import wharf_client  # noqa: E402,F401 (found through benchlib)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    with benchlib.RuntimeBench("logs", concurrency=1, extra_env={"WHARF_JOBS_LOG_MAX_LINES": str(a.lines + 1000)}) as bench:
        d, img, w, r, prefix = bench.d, bench.img, bench.w, bench.r, bench.prefix
        d.docker(["run", "--name", "talker", img, "sh", "-c",
                  "i=0; while [ $i -lt %d ]; do echo \"log line number $i of the benchmark\"; i=$((i+1)); done"
                  % a.lines])
        jobs, floor, cpus = [], [], []
        key = "%shost:dock:ctr:talker:log" % prefix
        for _ in range(a.reps):
            r.delete(key)
            c0 = benchlib.cpu_s(w.pid)
            jid = bench.client.submit("runtime.container.logs", {"name": "talker"}, target="dock").id
            h = bench.client.wait(jid, 300)
            cpus.append(benchlib.cpu_s(w.pid) - c0)
            res = benchlib.result_of(h)
            assert res["lines"] == a.lines and r.xlen(key) >= a.lines * 0.99, (res, r.xlen(key))
            jobs.append(a.lines / ((int(h["finished_at"]) - int(h["started_at"])) / 1000.0))
            api = benchlib.UnixHTTP(d.sock)
            t = time.perf_counter()
            api.request("GET", "/v1.41/containers/talker/logs?stdout=1&stderr=1")
            n = len(api.getresponse().read())
            floor.append(a.lines / (time.perf_counter() - t))
            api.close()
        print("lines %d (%d bytes of frames), reps %d" % (a.lines, n, a.reps))
        print("container.logs into Redis  %.0f lines/s (median)   target >= 200000" % statistics.median(jobs))
        print("engine read floor (no Redis) %.0f lines/s (median)" % statistics.median(floor))
        print("worker CPU per job %.3fs (median): %.0f lines per CPU-second" % (
            statistics.median(cpus), a.lines / max(statistics.median(cpus), 1e-9)))


if __name__ == "__main__":
    main()
