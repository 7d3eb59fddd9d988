#!/usr/bin/env python3
"""A real 3-node RabbitMQ cluster (tests/cluster/rmqcluster.sh) with quorum
queues: under load, the node leading the job queue is SIGKILLed and then
brought back.

Asserts:
  * every job whose submit was confirmed ends `succeeded` (none lost);
  * the workers resume: each of the two runs a job confirmed after the kill
    within RESUME_BOUND_S seconds of it (the measured time is printed);
  * `wharf serve`, given the same URLs, accepts a job after the kill and it
    succeeds too;
  * both workers survive and exit cleanly, and nothing we started is left
    running once the cluster is stopped.

The producer is the C client library (wharf-client-probe) with the three
AMQP URLs; the two workers get them in different orders, so one of them is
connected to the killed node (the producer, too) and one usually is not. WHARF_LONG=1 kills the
leader three times (a different node each time, as leadership moves).
WHARF_RMQ_CLUSTER_DIR=DIR reuses a cluster already started with
`rmqcluster.sh up DIR` and leaves it running (for working on this test).
"""
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import probeload  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

SCRIPT = os.path.join(HERE, "rmqcluster.sh")
NODES = 3
RESUME_BOUND_S = 20     # each worker runs a job confirmed after the kill within this
FINISH_TIMEOUT_S = 90   # every confirmed job succeeds within this after the load
LONG = os.environ.get("WHARF_LONG") == "1"


def node_env(d, i, var):
    with open(os.path.join(d, "n%d" % i, "env.sh")) as f:
        for line in f:
            if line.startswith("export %s=" % var):
                return line.split("=", 1)[1].strip()
    raise KeyError(var)


def script(*args, timeout=300):
    return subprocess.run([SCRIPT] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class RabbitClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = wharftest.Env()
        cls.own = not os.environ.get("WHARF_RMQ_CLUSTER_DIR")
        if cls.own:
            cls.dir = os.path.join(cls.env.tmp, "rmqcluster-%d" % os.getpid())
            t0 = time.monotonic()
            r = script("up", cls.dir, NODES)
            if r.returncode != 0:
                script("down", cls.dir)
                raise RuntimeError("cluster did not start:\n%s" % r.stderr[-4000:])
            print("cluster of %d nodes up in %.1f s" % (NODES, time.monotonic() - t0), file=sys.stderr)
        else:
            cls.dir = os.environ["WHARF_RMQ_CLUSTER_DIR"]
        cls.amqp = {i: int(node_env(cls.dir, i, "WHARF_RMQ_AMQP_PORT")) for i in range(1, NODES + 1)}
        cls.mgmt = {i: int(node_env(cls.dir, i, "WHARF_RMQ_MGMT_PORT")) for i in range(1, NODES + 1)}

    @classmethod
    def tearDownClass(cls):
        if cls.own:
            script("down", cls.dir)

    def urls(self, order):
        return ",".join("amqp://guest:guest@127.0.0.1:%d/%%2f" % self.amqp[i] for i in order)

    def leader(self, queue, avoid=None):
        """The node index leading `queue`, asked of any live node's management API."""
        for i in range(1, NODES + 1):
            if i == avoid:
                continue
            req = urllib.request.Request("http://127.0.0.1:%d/api/queues/%%2f/%s" % (self.mgmt[i], queue))
            req.add_header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q=")  # guest:guest
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    q = json.load(resp)
            except OSError:
                continue
            self.assertEqual(q.get("type"), "quorum", "wharf.system must be a quorum queue by default")
            name = q.get("leader") or q.get("node")
            if name and name.startswith("wharfc"):
                return int(name[len("wharfc"):].split("@")[0])
        self.fail("no node answered with the leader of %s" % queue)

    def states(self, prefix, ids):
        r = self.env.redis()
        pipe = r.pipeline(transaction=False)
        for i in ids:
            pipe.hget(prefix + "job:" + i, "state")
        return dict(zip(ids, pipe.execute()))

    def wait_resumed(self, prod, prefix, t_kill, workers):
        """Seconds from the kill until each worker has run a job confirmed
        after it (both workers resume, not just the one that stayed up)."""
        deadline = t_kill + RESUME_BOUND_S
        seen, done = {}, set()
        r = self.env.redis()
        while time.monotonic() < deadline and len(seen) < len(workers):
            for i in [i for i, t in list(prod.confirmed) if t > t_kill and i not in done]:
                st, wid = r.hmget(prefix + "job:" + i, "state", "worker")
                if st == "succeeded":
                    done.add(i)
                    seen.setdefault(wid, time.monotonic() - t_kill)
            time.sleep(0.1)
        late = [w.worker_id for w in workers if w.worker_id not in seen]
        if late:
            self.fail("worker(s) %s ran no job confirmed after the kill within %d s (confirmed after the kill: %d; "
                      "producer errors: %s)" % (late, RESUME_BOUND_S, len([1 for _, t in prod.confirmed if t > t_kill]),
                                                prod.errors[-3:]))
        return max(seen[w.worker_id] for w in workers)

    def submit_via_serve(self, srv):
        """`wharf serve` (started with the URL list on the killed node) accepts
        a job after the kill; its first publish may meet the dead connection."""
        for _ in range(5):
            code, _, body = srv.request("POST", "/v1/jobs", {"type": "system.noop"})
            if code in (200, 201):
                return body["id"]
            time.sleep(0.5)
        self.fail("wharf serve refused a job after the kill: %s %s" % (code, body))

    def test_leader_killed_under_load(self):
        prefix = self.env.new_prefix()
        w2 = self.env.start_worker(self.urls([2, 3, 1]), prefix, concurrency=4, ready_timeout=60)
        # The producer and the first worker start on the leader's node, so the
        # kill cuts their connections (the second worker stays connected
        # unless the leader is node 2 too).
        lead = self.leader("wharf.system")
        order = [lead] + [i for i in range(1, NODES + 1) if i != lead]
        w1 = self.env.start_worker(self.urls(order), prefix, concurrency=4, ready_timeout=60)
        prod = probeload.Producer(self.env, self.urls(order), prefix)
        srv = wharfserve.start(self.env, self.urls(order), prefix, ready_timeout=60)
        served = []
        try:
            rounds = 3 if LONG else 1
            resumes = []
            for rnd in range(rounds):
                time.sleep(4)
                before = len(prod.confirmed)
                self.assertGreater(before, 20, "the producer is not getting confirms: %s" % prod.errors[-3:])
                victim = self.leader("wharf.system")
                r = script("kill", self.dir, victim)
                t_kill = time.monotonic()
                self.assertEqual(r.returncode, 0, r.stderr)
                resumed = self.wait_resumed(prod, prefix, t_kill, [w1, w2])
                resumes.append(resumed)
                print("round %d: killed node %d (leader of wharf.system, beam pid %s); both workers ran a job "
                      "confirmed after the kill within %.2f s" % (rnd + 1, victim, r.stdout.strip(), resumed), file=sys.stderr)
                served.append(self.submit_via_serve(srv))
                r = script("start", self.dir, victim)
                self.assertEqual(r.returncode, 0, "node %d did not come back:\n%s" % (victim, r.stderr[-3000:]))
                print("round %d: node %d back %.1f s after the kill; new leader: node %d" % (
                    rnd + 1, victim, time.monotonic() - t_kill, self.leader("wharf.system")), file=sys.stderr)
            time.sleep(3)  # load with the node back in the cluster
        finally:
            prod.stop()
            srv.stop()
        self.assertTrue(w1.alive() and w2.alive(), "a worker died:\n%s\n%s" % (w1.log_tail(), w2.log_tail()))
        ids = [i for i, _ in prod.confirmed] + served
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while True:
            st = self.states(prefix, ids)
            missing = {i: s for i, s in st.items() if s != "succeeded"}
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        print("%d jobs confirmed, %d submits failed during the outage(s); resume times %s s" % (
            len(ids), len(prod.errors), ["%.2f" % x for x in resumes]), file=sys.stderr)
        self.assertEqual(missing, {}, "%d of %d confirmed jobs did not succeed" % (len(missing), len(ids)))
        for w in (w1, w2):
            self.assertEqual(w.stop(), 0, "worker did not exit cleanly:\n%s" % w.log_tail())
        if self.own:
            r = script("down", self.dir)
            self.assertEqual(r.returncode, 0, "processes left running:\n%s" % r.stderr[-3000:])
            for i in range(1, NODES + 1):
                pid = open(os.path.join(self.dir, "n%d" % i, "server.pid")).read().strip() if os.path.exists(
                    os.path.join(self.dir, "n%d" % i, "server.pid")) else ""
                self.assertFalse(pid and os.path.exists("/proc/%s" % pid), "node %d still running" % i)


if __name__ == "__main__":
    unittest.main()
