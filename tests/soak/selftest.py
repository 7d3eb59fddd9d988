#!/usr/bin/env python3
"""Self-check of the soak's topology and fault primitives against the real
components (not part of ctest: it brings up the whole cluster, ~3-5 min).

    WHARF_BIN=build/plain/bin tests/soak/selftest.py [RUN_DIR] [--nemesis MINUTES]

Each check prints PASS/FAIL with its evidence; exit 0 iff all pass. With
--nemesis it then runs the nemesis alone (no workload) for MINUTES and
checks faults.jsonl: every kind present, nothing left active. Set
WHARF_SOAK_RMQ_DIR=DIR to reuse a cluster from `broker.py up DIR`.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nemesis  # noqa: E402
import topology  # noqa: E402
import probeload  # noqa: E402  (tests/lib, on the path after topology)

RESULTS = []


def check(name, ok, evidence):
    RESULTS.append((name, bool(ok)))
    print("%s  %-44s %s" % ("PASS" if ok else "FAIL", name, evidence), flush=True)
    return ok


def as_uid(uid, cmd, timeout):
    """Run cmd as uid (as the worker of that uid would); (rc, output)."""
    try:
        r = subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups", "--"] + cmd,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return r.returncode, (r.stdout + r.stderr).strip()
    except subprocess.TimeoutExpired:
        return "timeout", "no answer within %ss" % timeout


def redis_ping(t, uid):
    port = t.redis.port[t.redis.master_name()]
    return as_uid(uid, ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "PING"], 4)


AMQP_PROBE = """
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    s.sendall(b"AMQP\\0\\0\\x09\\x01")
    sys.exit(0 if s.recv(7)[:1] == b"\\x01" else 1)
except socket.timeout:
    sys.exit(3)
except OSError:
    sys.exit(2)
"""


def amqp_probe(t, uid):
    """An AMQP handshake as uid: rc 0 answered, 2 refused/reset, 3 timed out."""
    return as_uid(uid, ["/usr/bin/python3", "-c", AMQP_PROBE, str(t.broker.amqp[1])], 8)


def submit(t, timeout=60, tries=1):
    """wharf submit system.noop --wait through the Sentinels and the 3 URLs:
    (ok, output); up to `tries` submits 2 s apart until one succeeds."""
    for k in range(tries):
        r = subprocess.run([os.path.join(t.bin, "wharf"), "submit", "system.noop", "--wait"], env=t.client_env(),
                           capture_output=True, text=True, timeout=timeout)
        out = " ".join((r.stdout + r.stderr).split())[-200:]
        if r.returncode == 0:
            return True, out + (" (try %d)" % (k + 1) if k else "")
        time.sleep(2)
    return False, out


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def worker_key_alive(t, name):
    p = t.workers[name]
    r = t.redis_master()
    return any(r.hget(k, "pid") == str(p.pid) for k in r.scan_iter(match=t.prefix + "worker:*"))


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def check_workers(t):
    old = t.workers["w1"].pid
    d = t.kill_worker("w1")
    rec = [r for r in read_jsonl(os.path.join(t.run, "procs.jsonl")) if r["pid"] == old and r["event"] == "exit"]
    check("kill_worker: SIGKILLed, exit logged", rec and rec[0]["signal"] == 9 and rec[0]["by_nemesis"], rec)
    d = t.start_worker("w1")
    check("start_worker: replacement registered", d["registered_s"] is not None and d["log"] == "workers/w1.1.log"
          and t.workers["w1"].pid != old, d)
    uid = int(open("/proc/%d/status" % d["pid"]).read().split("Uid:")[1].split()[0])
    check("worker runs as its own uid", uid == t.uids["w1"], "uid %d" % uid)
    t.stop_worker("w2")
    time.sleep(3 * topology.WORKER_CONFIG["worker.heartbeat_s"] + 1.5)
    st = proc_state(t.workers["w2"].pid)
    gone = not worker_key_alive(t, "w2")
    check("stop_worker: SIGSTOP outlives the heartbeat", st == "T" and gone,
          "state %s; registration expired: %s" % (st, gone))
    t.cont_worker("w2")
    back = _wait(lambda: worker_key_alive(t, "w2"), 15)
    check("cont_worker: resumes and re-registers", back is not None, "after %s s" % back)


def check_partitions(t):
    uid, other = t.uids["w1"], t.uids["w2"]
    for mode, want in (("reset", lambda rc: rc not in (0, "timeout")), ("stall", lambda rc: rc == "timeout")):
        t.partition("w1", "redis", mode)
        rc, out = redis_ping(t, uid)
        rc2, _ = redis_ping(t, other)
        check("partition(w1, redis, %s)" % mode, want(rc) and rc2 == 0,
              "w1 uid: rc %s %r; w2 uid: rc %s" % (rc, out[-60:], rc2))
        if mode == "reset":
            time.sleep(3)
            log = open(t.workers["w1"].log_path).read()
            check("  w1's own Redis commands fail", '"heartbeat failed"' in log[-20000:] or "redis" in log[-4000:].lower(),
                  "its log: %s" % [ln for ln in log.splitlines() if "fail" in ln][-1:])
        t.heal("w1", "redis")
        rc, _ = redis_ping(t, uid)
        check("heal(w1, redis) after %s" % mode, rc == 0, "rc %s" % rc)
    for mode, want in (("reset", lambda rc: rc == 2), ("stall", lambda rc: rc == 3)):
        t.partition("w3", "amqp", mode)
        rc, out = amqp_probe(t, t.uids["w3"])
        rc2, _ = amqp_probe(t, other)
        check("partition(w3, amqp, %s)" % mode, want(rc) and rc2 == 0, "w3 uid: rc %s; w2 uid: rc %s" % (rc, rc2))
        t.heal("w3", "amqp")
        rc, _ = amqp_probe(t, t.uids["w3"])
        check("heal(w3, amqp) after %s" % mode, rc == 0, "rc %s" % rc)


def check_disk(t):
    d = t.disk_fill(3)
    alarm = t.broker.disk_alarm(3)
    ok, out = submit(t, timeout=90)
    check("disk_fill(3): alarm on", alarm, d)
    check("  a publish is refused during the alarm", not ok and "broker_blocked" in out, out[-120:])
    d = t.disk_free(3)
    check("disk_free(3): alarm off", not t.broker.disk_alarm(3), d)
    ok, out = submit(t)
    check("  a job succeeds again", ok, out[-80:])


def check_maxmemory(t):
    d = t.redis_maxmemory(True)
    r = t.redis_master()
    err = None
    try:
        for k in range(4):
            r.set("%sselftest:big%d" % (t.prefix, k), "x" * 400000)
    except redis.ResponseError as e:
        err = str(e)
    check("redis_maxmemory(on): writes fail with OOM", err and err.startswith("OOM"), "%s; %s" % (d, err))
    d = t.redis_maxmemory(False)
    r.set(t.prefix + "selftest:after", "1")
    r.delete(*["%sselftest:big%d" % (t.prefix, k) for k in range(4)], t.prefix + "selftest:after")
    check("redis_maxmemory(off): writes work", True, d)


def check_rmq(t):
    lead = _wait(t.rmq_leader, 30)
    d = t.stop_rmq_node(lead, "kill")
    others = [i for i in (1, 2, 3) if i != lead]
    gone = _wait(lambda: not t.broker.api("GET", "nodes/wharfc%d@localhost" % lead, node=others[0]).get("running"), 20)
    check("stop_rmq_node(leader %s): node down" % lead, d["leader"] and gone and not t.broker.beam_pid(lead),
          "%s; node %d sees it down after %s s" % (d, others[0], gone))
    # A publish while the queue elects a new leader is nacked (broker_error,
    # documented); the next one goes through.
    ok, out = submit(t, timeout=90, tries=10)
    check("  jobs still flow on 2 nodes", ok, out[-80:])
    d = t.start_rmq_node(lead)
    running = t.broker.api("GET", "nodes/wharfc%d@localhost" % lead, node=others[0]).get("running")
    check("start_rmq_node(%d): back in the cluster" % lead, running, d)


def check_redis(t):
    old = t.redis.master_name()
    d = t.kill_redis_master()
    role = t.redis.client(d["new_master"]).execute_command("ROLE")[0]
    check("kill_redis_master: Sentinel promotes the other", d["killed"] == old and role == "master", d)
    d2 = t.restart_redis(old)
    info = t.redis.client(old).info("replication")
    check("restart_redis(%s): back as a synced replica" % old,
          info["role"] == "slave" and info["master_link_status"] == "up", d2)
    ok, out = submit(t, timeout=90)
    check("  a job succeeds after the failover", ok, out[-80:])


def check_heal_all(t):
    t.stop_worker("w3")
    t.partition("w2", "amqp", "stall")
    t.redis_maxmemory(True)
    t.disk_fill(3)
    t.kill_worker("w1")
    h = t.heal_all()
    a = t.active_faults()
    clean = not any(v for v in a.values())
    check("heal_all undoes everything", clean and not h["problems"] and t.fw.active() == [], "%s; now %s" % (h, a))
    ok, out = submit(t)
    check("  a job succeeds after heal_all", ok, out[-80:])


def _wait(fn, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = fn()
        if v:
            return v if v is not True else "%.1f" % (time.monotonic() - t0)   # truthy even at 0.0
        time.sleep(0.3)
    return None


def run_nemesis(t, minutes):
    faults = os.path.join(t.run, "faults.jsonl")
    prod = probeload.Producer(t.env, t.amqp_url, t.prefix)   # light load: ~40 sleep jobs/s at most
    n = nemesis.Nemesis(t, 21, minutes)
    t_end = time.time() * 1000
    n.start()
    time.sleep(minutes * 60)
    summary = n.stop()
    prod.stop()
    check("nemesis: every planned fault ran", not summary["skipped"] and summary["done"] == summary["planned"],
          {k: v for k, v in summary.items() if k != "heal"})
    ids = [i for i, _ in prod.confirmed]
    states = _wait(lambda: _all_terminal(t, ids), 180)
    print("INFO  load: %d jobs confirmed, %d submit errors; all terminal: %s; states %s" % (
        len(ids), len(prod.errors), states is not None, _state_counts(t, ids)), flush=True)
    crashed = [r for r in read_jsonl(os.path.join(t.run, "procs.jsonl"))
               if r["event"] == "exit" and not r["by_nemesis"] and r["t"] > t_end]
    check("nemesis: no process exited but by the nemesis", not crashed, crashed)
    recs = read_jsonl(faults)
    kinds = {k: sum(1 for r in recs if r["kind"] == k) for k in nemesis.KINDS}
    overlap = max(sum(1 for r in recs if r["start"] <= x["start"] < r["end"]) for x in recs) if recs else 0
    check("nemesis: every kind, %d min" % minutes, all(kinds.values()), kinds)
    check("nemesis: faults overlap", overlap >= 2, "at most %d active at once" % overlap)
    a = t.active_faults()
    check("nemesis: stop() healed everything", not any(v for v in a.values()), a)


def _state_counts(t, ids):
    r = t.redis_master()
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hget(t.prefix + "job:" + i, "state")
    out = {}
    for st in pipe.execute():
        out[st] = out.get(st, 0) + 1
    return out


def _all_terminal(t, ids):
    try:
        c = _state_counts(t, ids)
    except redis.RedisError:
        return False
    return all(k in ("succeeded", "failed", "dead", "cancelled") for k in c)


def main(argv):
    run = next((a for a in argv[1:] if not a.startswith("--") and not a.isdigit()), None)
    run = run or tempfile.mkdtemp(prefix="soak-selftest-")
    minutes = int(argv[argv.index("--nemesis") + 1]) if "--nemesis" in argv else 0
    t0 = time.monotonic()
    t = topology.Topology(run, 21)
    t.up()
    print("up in %.0f s: run dir %s, prefix %s" % (t.up_s, run, t.prefix), flush=True)
    try:
        ok, out = submit(t)
        check("system up: a job succeeds", ok, out[-80:])
        for fn in (check_workers, check_partitions, check_maxmemory, check_disk, check_redis, check_rmq,
                   check_heal_all):
            t1 = time.monotonic()
            try:
                fn(t)
            except Exception as e:  # noqa: BLE001 - report and go on
                check(fn.__name__, False, repr(e))
            print("      (%s: %.0f s)" % (fn.__name__, time.monotonic() - t1), flush=True)
        if minutes:
            run_nemesis(t, minutes)
    finally:
        problems = t.down()
    check("down: everything stopped and removed", not problems and _nothing_left(t), problems)
    bad = [n for n, ok in RESULTS if not ok]
    print("%d checks, %d failed %s; %.0f s in all" % (len(RESULTS), len(bad), bad, time.monotonic() - t0))
    return 1 if bad else 0


def _nothing_left(t):
    chain = subprocess.run(["iptables", "-w", "10", "-S", t.chain], capture_output=True).returncode
    mounted = os.path.ismount(t.broker.mount_path()) and not t.broker.reuse
    alive = [p.pid for p in t.pt.live()]
    return chain != 0 and not mounted and not alive


if __name__ == "__main__":
    sys.exit(main(sys.argv))
