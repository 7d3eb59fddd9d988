#!/usr/bin/python3
"""Benchmark: what a no-op job's status moves cost Redis, counted in
instructions, and what the least any design could cost under the same
checks.

CPU time on a shared machine swings with its load; the instructions Redis
executes for the same requests do not. This script starts private
redis-servers (own port on loopback, no persistence) under valgrind's
callgrind, switches counting on only while the measured requests run, and
prints instructions per job for:

  moves       the worker's batches: moves.lua as the build embeds it, fed
              exactly as wh_status_moves.c packs a batch (one flat msgpack
              array), JOBS jobs in batches of BATCH: each batch carries the
              finishes of the previous batch's jobs and the starts of its own
  commands    the commands those moves make, sent plain and pipelined with
              no script at all: the start's HMGET and HSET, the finish's
              HMGET, HSET and EXPIRE (what the checks read and the trail
              writes)
  least       the fewest commands any design keeping the checks could make:
              a read before the run (cancelled? a duplicate?), then one
              atomic read and write with the expiry at the end (a terminal
              job is never rewritten), and no `running` write at all
  least-lua   the same fewest commands made by the least script that can
              make them atomically (a batch of checks, then a batch of
              finishes that write only a job not yet terminal), fed the
              ids only: the least any script-based design can pay
  floor       the floor-drain's one HSET of one field into a fresh key

then the moves and the floor's HSETs once more without valgrind, ten times
as many, timed from /proc, to turn instructions into µs on this machine
(at the moves' rate: the longer run times better).

    tests/bench/redis_moves.py [--jobs N] [--batch B]

Needs valgrind (Debian's package) and redis-server; starts and stops its own
servers, so it needs no other server running.
"""
import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import msgpack
import redis

SRC = os.environ.get("WHARF_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import lua_embed  # noqa: E402
P = "bench:"
NOW = "1765000000123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Server:
    """A private redis-server, optionally under callgrind with counting off."""

    def __init__(self, tmp, counted):
        self.port, self.out = free_port(), os.path.join(tmp, "callgrind.out")
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", tmp]
        if counted:
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + self.out] + cmd
        self.counted = counted
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.r = redis.Redis(port=self.port)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.r.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.1)
        self.pid = int(self.r.info("server")["process_id"])

    def measure(self, pipe):
        """Run the pipeline; instructions (counted) or CPU µs (not)."""
        if self.counted:
            subprocess.run(["callgrind_control", "-i", "on", str(self.proc.pid)], capture_output=True, check=True)
        t0 = ticks(self.pid)
        pipe.execute()
        t1 = ticks(self.pid)
        if self.counted:
            subprocess.run(["callgrind_control", "-i", "off", str(self.proc.pid)], capture_output=True, check=True)
        return (t1 - t0) * 1e6 / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        if not self.counted:
            return 0
        total = 0
        for path in glob.glob(self.out + "*"):
            with open(path) as f:
                for line in f:
                    if line.startswith(("totals:", "summary:")):
                        total = max(total, int(line.split()[1]))
        return total


def job(i):
    return "job%08d" % i


def fill(r, n):
    """n queued jobs, with the fields enqueue.lua writes."""
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.hset(P + "job:" + job(i), mapping={
            "id": job(i), "type": "system.noop", "target": "", "state": "queued", "created_at": NOW,
            "queued_at": NOW, "attempt": "0", "max_attempts": "3", "progress": "0"})
    pipe.execute()


def rounds(n, batch):
    """(ids finished, ids started) per batch: each batch finishes the jobs
    the one before it started, as a busy worker's batches do."""
    prev = []
    for base in range(0, n + batch, batch):
        ids = [job(i) for i in range(base, min(base + batch, n))]
        yield prev, ids
        prev = ids


def side_moves(r, n, batch):
    sha = r.script_load(lua_embed.expanded("moves.lua"))
    fill(r, n)
    pipe = r.pipeline(transaction=False)
    for prev, ids in rounds(n, batch):
        b = [P, "w1", "5", "60", "0", "172800", "2592000", "930000"]
        for i in range(max(len(prev), len(ids))):
            if i < len(prev):
                b += ["f", prev[i], "succeeded", NOW, "system.noop", NOW, "1", "86400"]
            if i < len(ids):
                b += ["s", ids[i], "system.noop", "", NOW, "3", NOW, "604800"]
        if len(b) > 8:
            pipe.evalsha(sha, 0, msgpack.packb(b))
    return pipe


def plain(r, n, each):
    """n queued jobs, and a pipeline of each(pipe, job key) for every one."""
    fill(r, n)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        each(pipe, P + "job:" + job(i))
    return pipe


def commands(pipe, h):
    pipe.hmget(h, "state", "attempt", "max_attempts", "cancel_requested", "held", "error", "worker", "started_at",
               "step")
    pipe.hset(h, mapping={"state": "running", "worker": "w1", "started_at": NOW, "attempt": "1"})
    pipe.hmget(h, "state", "lock_key", "unique_key", "held", "cancel_requested", "error", "log")
    pipe.hset(h, mapping={"state": "succeeded", "finished_at": NOW, "progress": "100"})
    pipe.expire(h, 86400)


def least(pipe, h):
    pipe.hmget(h, "state", "cancel_requested")
    pipe.hmget(h, "state", "lock_key", "unique_key", "held", "cancel_requested", "error", "log")
    pipe.hset(h, mapping={"state": "succeeded", "worker": "w1", "attempt": "1", "started_at": NOW,
                          "finished_at": NOW, "progress": "100"})
    pipe.expire(h, 86400)


def side_commands(r, n, _batch):
    return plain(r, n, commands)


def side_least(r, n, _batch):
    return plain(r, n, least)


LEAST_LUA = """
local b = cmsgpack.unpack(ARGV[1])
local p, out = b[1], {}
for i = 3, #b do
  local job = p .. 'job:' .. b[i]
  if b[2] == 'check' then
    local f = redis.call('HMGET', job, 'state', 'cancel_requested')
    out[#out + 1] = f[1]
  else
    local f = redis.call('HMGET', job, 'state', 'lock_key', 'unique_key', 'held', 'cancel_requested', 'error', 'log')
    if f[1] ~= 'succeeded' then
      redis.call('HSET', job, 'state', 'succeeded', 'worker', 'w1', 'attempt', '1', 'started_at', ARGV[2],
        'finished_at', ARGV[2], 'progress', '100')
      redis.call('EXPIRE', job, 86400)
    end
    out[#out + 1] = 'ok'
  end
end
return out
"""


def side_least_lua(r, n, batch):
    sha = r.script_load(LEAST_LUA)
    fill(r, n)
    pipe = r.pipeline(transaction=False)
    for prev, ids in rounds(n, batch):
        if prev:
            pipe.evalsha(sha, 0, msgpack.packb([P, "finish"] + prev), NOW)
        if ids:
            pipe.evalsha(sha, 0, msgpack.packb([P, "check"] + ids), NOW)
    return pipe


def side_floor(r, n, _batch):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.hset(P + "d:%d" % i, "state", "succeeded")
    return pipe


SIDES = (("moves", side_moves), ("commands", side_commands), ("least", side_least), ("least-lua", side_least_lua),
         ("floor", side_floor))


def run(side, n, batch, counted):
    tmp = tempfile.mkdtemp(prefix="wharf-redis-moves-")
    try:
        s = Server(tmp, counted)
        try:
            pipe = side(s.r, n, batch)
            cpu = s.measure(pipe)
        finally:
            ins = s.stop()
        return ins / n if counted else cpu / n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions of moves and floor (medians)")
    a = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("tests/bench/redis_moves.py: needs valgrind (apt-get install valgrind)")
    ins = {name: run(side, a.jobs, a.batch, True) for name, side in SIDES}
    timed = {name: sorted(run(side, a.jobs * 10, a.batch, False) for _ in range(a.reps))[a.reps // 2]
             for name, side in SIDES if name in ("moves", "floor")}
    per_us = ins["moves"] / timed["moves"]
    print("Redis per no-op job, %d jobs, batches of %d; load average %s" % (
        a.jobs, a.batch, open("/proc/loadavg").read().split()[0]))
    print("\n| side | instructions per job | against the floor | µs per job (at %.0f instructions/µs) |" % per_us)
    print("|---|---|---|---|")
    for name, _ in SIDES:
        print("| %s | %s | %.1fx | %.1f |" % (name, format(round(ins[name]), ","), ins[name] / ins["floor"],
                                            ins[name] / per_us))
    print("\nTimed (CPU from /proc, %d jobs, median of %d): moves %.1f µs per job, floor %.1f" % (
        a.jobs * 10, a.reps, timed["moves"], timed["floor"]))


if __name__ == "__main__":
    main()
