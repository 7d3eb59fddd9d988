#!/usr/bin/python3
"""Benchmark: one runtime.host.stats sweep over N running containers.

Starts N busybox containers (default 100) on a private dockerd, then runs
host.stats sweeps and reports, per sweep, the wall time of the job and the
worker's CPU time (user + system from /proc/<pid>/stat). The first sweep
has no CPU values (no previous sample yet); later sweeps compute them
against the previous one.

    WHARF_BIN=build/release/bin WHARF_SRC=$PWD tests/bench/runtime_stats.py [--containers N] [--sweeps S]
"""
import argparse
import statistics
import time

import benchlib  # puts tests/lib and the Python client on sys.path
import wharf_client  # noqa: E402,F401 (found through benchlib)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--sweeps", type=int, default=4)
    a = ap.parse_args()
    with benchlib.RuntimeBench("stats", concurrency=1) as bench:
        d, img, w, r, prefix = bench.d, bench.img, bench.w, bench.r, bench.prefix
        t = time.perf_counter()
        for i in range(a.containers):
            d.docker(["run", "-d", "--name", "s%03d" % i, img, "sleep", "3600"])
        print("started %d containers in %.1fs" % (a.containers, time.perf_counter() - t))
        walls, cpus = [], []
        for i in range(a.sweeps):
            c0 = benchlib.cpu_s(w.pid)
            jid = bench.client.submit("runtime.host.stats", {}, target="dock").id
            h = bench.client.wait(jid, 600)
            assert h["state"] == "succeeded", h
            n = benchlib.result_of(h)["containers"]
            wall = (int(h["finished_at"]) - int(h["started_at"])) / 1000.0
            cpu = benchlib.cpu_s(w.pid) - c0
            print("sweep %d: %d containers, wall %.2fs, worker CPU %.3fs" % (i + 1, n, wall, cpu))
            if i:
                walls.append(wall)
                cpus.append(cpu)
        print("steady sweeps (median): wall %.2fs, worker CPU %.3fs (%.2f ms per container)" % (
            statistics.median(walls), statistics.median(cpus), statistics.median(cpus) * 1000 / a.containers))


if __name__ == "__main__":
    main()
