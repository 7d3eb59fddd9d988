#!/usr/bin/python3
"""Benchmark: what a runtime job costs on top of the Docker Engine call it makes.

Side by side, alternating, on one private dockerd (tests/lib/dockerd.py):
  op overhead  a runtime.container.start + runtime.container.stop job pair
               (submitted with the Python client, waited on through Redis
               events) against the same two Engine API calls made directly
               over the unix socket;
  lifecycle    create, start, stop and remove through jobs against the docker
               CLI doing the same four steps.
Prints medians and ratios. Needs the servers of tests/run (WHARF_TEST_*).

    WHARF_BIN=build/release/bin WHARF_SRC=$PWD tests/bench/runtime_overhead.py [--reps N]
"""
import argparse
import statistics
import time

import benchlib  # puts tests/lib and the Python client on sys.path
import wharf_client  # noqa: E402,F401 (found through benchlib)


def direct(conn, method, path, body=None):
    conn.request(method, "/v1.41" + path, body=body,
                 headers={"Content-Type": "application/json"} if body else {})
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, data))
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=21)
    a = ap.parse_args()
    with benchlib.RuntimeBench("runtime", concurrency=2) as bench:
        d, img, r, prefix = bench.d, bench.img, bench.r, bench.prefix

        def job(type_, args):
            jid = bench.client.submit("runtime." + type_, args, target="dock").id
            h = bench.client.wait(jid, 60)
            if h["state"] != "succeeded":
                raise RuntimeError("%s: %s" % (type_, h))

        d.docker(["create", "--name", "bench1", img, "sleep", "3600"])
        api = benchlib.UnixHTTP(d.sock)
        job("container.start", {"name": "bench1"})  # warm up: version cache, connections
        job("container.stop", {"name": "bench1", "timeout_s": 0})
        jobs_t, direct_t, life_jobs, life_cli = [], [], [], []
        for i in range(a.reps):
            t = time.perf_counter()
            job("container.start", {"name": "bench1"})
            job("container.stop", {"name": "bench1", "timeout_s": 0})
            jobs_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            direct(api, "POST", "/containers/bench1/start")
            direct(api, "POST", "/containers/bench1/stop?t=0")
            direct_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            job("container.create", {"name": "l%d" % i, "image": img, "cmd": ["sleep", "3600"]})
            job("container.start", {"name": "l%d" % i})
            job("container.stop", {"name": "l%d" % i, "timeout_s": 0})
            job("container.remove", {"name": "l%d" % i})
            life_jobs.append(time.perf_counter() - t)
            t = time.perf_counter()
            d.docker(["create", "--name", "c%d" % i, img, "sleep", "3600"])
            d.docker(["start", "c%d" % i])
            d.docker(["stop", "-t", "0", "c%d" % i])
            d.docker(["rm", "c%d" % i])
            life_cli.append(time.perf_counter() - t)
        mj, md = statistics.median(jobs_t), statistics.median(direct_t)
        lj, lc = statistics.median(life_jobs), statistics.median(life_cli)
        print("reps %d, dockerd %s, storage vfs" % (a.reps, d.docker(["version", "--format", "{{.Server.Version}}"]).stdout.decode().strip()))
        print("start+stop   jobs %.1f ms   direct API %.1f ms   ratio %.2fx (target <= 1.15x)" % (mj * 1e3, md * 1e3, mj / md))
        print("lifecycle    jobs %.1f ms   docker CLI %.1f ms   ratio %.2fx (target < 1)" % (lj * 1e3, lc * 1e3, lj / lc))


if __name__ == "__main__":
    main()
