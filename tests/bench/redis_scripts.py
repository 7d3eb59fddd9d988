#!/usr/bin/python3
"""Benchmark: what each status script costs Redis, and what a script call
costs by itself.

Runs N calls of enqueue.lua, and of a start and a finish (the common path of
a system.noop job: queued, running, succeeded), pipelined 500 at a time, and
reads INFO commandstats after each: the EVALSHA time per call and the time
of the commands inside it. Then the same for a few tiny scripts, to show
the fixed costs: a bare call, 21 arguments, a table reply, one redis.call.

    WHARF_TEST_REDIS_URL=redis://127.0.0.1:PORT/0 tests/bench/redis_scripts.py [-n N]

(tests/lib/with-servers sets WHARF_TEST_REDIS_URL.) Writes keys under
"bench:" in database 14 of that server and deletes them again.
"""
import argparse
import os
import sys
import time
import urllib.parse

import msgpack
import redis

SRC = os.environ.get("WHARF_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import lua_embed  # noqa: E402
P = "bench:"


def args(op, i, now):
    jid = "job%08d" % i
    h = P + "job:" + jid
    header = [P, "w1", "5", "60", "0", "172800", "2592000", "930000"]
    if op == "start":  # a batch of one start, as a worker sends a lone move
        return [], [msgpack.packb(header + ["s", jid, "system.noop", "", now, "3", now, "604800"])]
    if op == "finish":
        return [], [msgpack.packb(header + ["f", jid, "succeeded", now, "system.noop", now, "1", "86400"])]
    if op == "enqueue":
        return [h, P + "recent", P + "scheduled"], [jid, "system.noop", "", now, "3", now, P + "events", "0", "",
                                                    "0", "", "0", P, "", "0", "{}"]
    raise ValueError(op)


def drop(r):
    keys = list(r.scan_iter(P + "*", count=1000))
    for i in range(0, len(keys), 1000):
        r.unlink(*keys[i:i + 1000])


def run(r, sha, n, make):
    r.config_resetstat()
    for base in range(0, n, 500):
        pipe = r.pipeline(transaction=False)
        for i in range(base, min(base + 500, n)):
            keys, argv = make(i)
            pipe.evalsha(sha, len(keys), *keys, *argv)
        pipe.execute()
    st = r.info("commandstats")
    call = st.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0)
    inner = {k[8:]: v for k, v in st.items() if k not in ("cmdstat_evalsha", "cmdstat_config|resetstat")}
    return call, inner


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    a = ap.parse_args()
    u = urllib.parse.urlparse(os.environ["WHARF_TEST_REDIS_URL"])
    r = redis.Redis(host=u.hostname, port=u.port, db=14)
    drop(r)
    now = str(int(time.time() * 1000))
    print("| script | EVALSHA µs per call | commands inside, µs | inside |")
    print("|---|---|---|---|")
    total = 0.0
    for op in ("enqueue", "start", "finish"):
        if op == "enqueue":
            sha = r.script_load(lua_embed.read("enqueue.lua"))
        else:
            sha = r.script_load(lua_embed.expanded("moves.lua"))  # start and finish run only inside it
        call, inner = run(r, sha, a.n, lambda i: args(op, i, now))
        total += call
        cmds = ", ".join("%s %.0fx %.2f" % (k, v["calls"] / a.n, v["usec_per_call"]) for k, v in inner.items()
                         if v["calls"] >= a.n // 2)
        print("| %s | %.2f | %.2f | %s |" % ("enqueue.lua" if op == "enqueue" else op + " (a batch of one)", call, sum(v["usec"] for v in inner.values()) / a.n, cmds))
    print("| all three | %.2f | | |" % total)
    print()
    print("| tiny script | EVALSHA µs per call |")
    print("|---|---|")
    tiny = [
        ("return 1, 1 key, 1 argument", "return 1", 1, 1),
        ("return 1, 5 keys, 16 arguments", "return 1", 5, 16),
        ("a 3-element table reply", "return {'run', '1', '3'}", 5, 16),
        ("one PUBLISH", "redis.call('PUBLISH', ARGV[2], ARGV[1]) return 1", 5, 16),
        ("one HSET of 6 fields", "redis.call('HSET', KEYS[1], 'a', ARGV[1], 'b', ARGV[2], 'c', ARGV[3], "
                                 "'d', ARGV[4], 'e', ARGV[5], 'f', ARGV[6]) return 1", 5, 16),
    ]
    for name, src, nk, na in tiny:
        sha = r.script_load(src)
        call, _ = run(r, sha, a.n, lambda i: (["bench:job:%08d" % i] + ["bench:k%d" % j for j in range(nk - 1)],
                                              ["job%08d" % i] + ["v%02d-xxxxxxxxxxxx" % j for j in range(na - 1)]))
        print("| %s | %.2f |" % (name, call))
    drop(r)


if __name__ == "__main__":
    main()
