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
import json
import os
import statistics
import sys
import time

SRC = os.environ.get("WHARF_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "schemas", "clients", "python"))
import dockerd  # noqa: E402
import pika  # noqa: E402
import wharf_client  # noqa: E402
import wharftest  # noqa: E402


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--sweeps", type=int, default=4)
    a = ap.parse_args()
    env = wharftest.Env()
    d = dockerd.Dockerd.start(env.tmp)
    img = d.busybox_image()
    amqp, prefix = env.new_vhost(), env.new_prefix()
    cfg = os.path.join(env.tmp, "bench-stats.ini")
    with open(cfg, "w") as f:
        f.write("[host.dock]\ndocker = unix://%s\n" % d.sock)
    w = env.start_worker(amqp, prefix, concurrency=1, families="runtime", args=["--config", cfg])
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    r = env.redis()
    try:
        t = time.perf_counter()
        for i in range(a.containers):
            d.docker(["run", "-d", "--name", "s%03d" % i, img, "sleep", "3600"])
        print("started %d containers in %.1fs" % (a.containers, time.perf_counter() - t))
        walls, cpus = [], []
        for i in range(a.sweeps):
            c0 = cpu_s(w.pid)
            jid = wharf_client.enqueue(conn, "runtime.host.stats", {}, target="dock")
            h = wharf_client.wait(r, jid, 600, prefix=prefix, poll_interval=0.05)
            conn.process_data_events(0)
            assert h["state"] == "succeeded", h
            n = json.loads(h["result"])["containers"]
            wall = (int(h["finished_at"]) - int(h["started_at"])) / 1000.0
            cpu = cpu_s(w.pid) - c0
            print("sweep %d: %d containers, wall %.2fs, worker CPU %.3fs" % (i + 1, n, wall, cpu))
            if i:
                walls.append(wall)
                cpus.append(cpu)
        print("steady sweeps (median): wall %.2fs, worker CPU %.3fs (%.2f ms per container)" % (
            statistics.median(walls), statistics.median(cpus), statistics.median(cpus) * 1000 / a.containers))
    finally:
        conn.close()
        w.stop()
        d.stop()


if __name__ == "__main__":
    main()
