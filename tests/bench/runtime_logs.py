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
import http.client
import json
import os
import socket
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


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    env = wharftest.Env()
    d = dockerd.Dockerd.start(env.tmp)
    img = d.busybox_image()
    amqp, prefix = env.new_vhost(), env.new_prefix()
    cfg = os.path.join(env.tmp, "bench-logs.ini")
    with open(cfg, "w") as f:
        f.write("[host.dock]\ndocker = unix://%s\n" % d.sock)
    w = env.start_worker(amqp, prefix, concurrency=1, families="runtime", args=["--config", cfg],
                         extra_env={"WHARF_JOBS_LOG_MAX_LINES": str(a.lines + 1000)})
    conn = pika.BlockingConnection(pika.URLParameters(amqp))
    r = env.redis()
    try:
        d.docker(["run", "--name", "talker", img, "sh", "-c",
                  "i=0; while [ $i -lt %d ]; do echo \"log line number $i of the benchmark\"; i=$((i+1)); done"
                  % a.lines])
        jobs, floor, cpus = [], [], []
        key = "%shost:dock:ctr:talker:log" % prefix
        for _ in range(a.reps):
            r.delete(key)
            c0 = cpu_s(w.pid)
            jid = wharf_client.enqueue(conn, "runtime.container.logs", {"name": "talker"}, target="dock")
            h = wharf_client.wait(r, jid, 300, prefix=prefix, poll_interval=0.05)
            cpus.append(cpu_s(w.pid) - c0)
            res = json.loads(h["result"])
            assert res["lines"] == a.lines and r.xlen(key) >= a.lines * 0.99, (res, r.xlen(key))
            jobs.append(a.lines / ((int(h["finished_at"]) - int(h["started_at"])) / 1000.0))
            api = UnixHTTP(d.sock)
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
    finally:
        conn.close()
        w.stop()
        d.stop()


if __name__ == "__main__":
    main()
