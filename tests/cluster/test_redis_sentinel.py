#!/usr/bin/env python3
"""Redis with Sentinel (tests/cluster/sentinel.sh: master r1, replica r2,
Sentinels s1..s3 on loopback): jobs flow while the master fails over twice,
first by `SENTINEL FAILOVER` (the old master is demoted while workers hold
connections to it, and answers them READONLY), then by SIGKILL of the new
master (its connections break; the Sentinels promote the other node after
down-after-milliseconds), which is then started again, empty, and made a
replica.

The workers get `redis.sentinels` + `redis.master_name` and
`redis.wait_replicas = 1`; the producer (the C client library) gets a
redis-sentinel:// URL. Asserts:
  * each failover really moved the master, and statuses keep flowing: a job
    confirmed after it succeeds within RESUME_BOUND_S (measured, printed);
  * the documented guarantee: every job whose submit was confirmed ends in a
    terminal state (here: succeeded); with wait_replicas no acknowledged
    status is lost when the replica is promoted;
  * the CLI and `wharf serve` follow the Sentinels too (after the failovers);
  * the workers exit cleanly and nothing we started is left running.
WHARF_LONG=1 repeats both failovers three times.
"""
import os
import sys
import time
import unittest

import redis
import redis.sentinel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import probeload  # noqa: E402
import sentinelset  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

MASTER = sentinelset.MASTER
# A job confirmed after a failover succeeds within this. After the kill it
# takes ~15 s here: with wait_replicas = 1 and one replica, acks wait until
# the restarted node is a replica again, and the Sentinels notice it back
# only on their 10 s INFO round (measured; see README, Clusters).
RESUME_BOUND_S = 30
FINISH_TIMEOUT_S = 60   # every confirmed job is terminal within this after the load
TERMINAL = ("succeeded", "failed", "dead", "cancelled")
LONG = os.environ.get("WHARF_LONG") == "1"
# For measuring what a failover loses without replication waits (README,
# Clusters): WHARF_SENTINEL_WAIT_REPLICAS=0. The assertions hold only with 1.
WAIT_REPLICAS = os.environ.get("WHARF_SENTINEL_WAIT_REPLICAS", "1")


class SentinelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = wharftest.Env()
        cls.set = sentinelset.SentinelSet(cls.base.tmp, "sentinel")
        cls.port, cls.sentinels = cls.set.port, cls.set.sentinels
        # start_worker waits for the worker's registration on this Env's Redis: r1, the first master.
        cls.env = wharftest.Env(dict(os.environ, WHARF_TEST_REDIS_URL="redis://127.0.0.1:%d/0" % cls.port["r1"]))
        cls.sent = redis.sentinel.Sentinel(cls.sentinels, socket_timeout=2)

    @classmethod
    def tearDownClass(cls):
        cls.set.down()

    def master_port(self):
        return int(self.sent.discover_master(MASTER)[1])

    def master(self):
        return self.sent.master_for(MASTER, socket_timeout=2, decode_responses=True)

    def states(self, prefix, ids):
        for _ in range(50):
            try:
                pipe = self.master().pipeline(transaction=False)
                for i in ids:
                    pipe.hget(prefix + "job:" + i, "state")
                return dict(zip(ids, pipe.execute()))
            except (redis.ConnectionError, redis.ReadOnlyError, redis.sentinel.MasterNotFoundError, redis.TimeoutError):
                time.sleep(0.2)
        self.fail("no Redis master to read statuses from")

    def wait_master_moved(self, old_port):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                p = self.master_port()
                if p != old_port and self.master().execute_command("ROLE")[0] == "master":
                    return p
            except (redis.ConnectionError, redis.sentinel.MasterNotFoundError, redis.TimeoutError):
                pass
            time.sleep(0.1)
        self.fail("the Sentinels did not promote a new master within 30 s")

    def wait_resumed(self, prod, prefix, t0, what):
        deadline = t0 + RESUME_BOUND_S
        while time.monotonic() < deadline:
            after = [i for i, t in list(prod.confirmed) if t > t0]
            if after and "succeeded" in self.states(prefix, after[:50]).values():
                return time.monotonic() - t0
            time.sleep(0.1)
        self.fail("after %s no job confirmed since succeeded within %d s (producer errors: %s)" % (
            what, RESUME_BOUND_S, prod.errors[-3:]))

    def name_of(self, port):
        return "r1" if port == self.port["r1"] else "r2"

    def test_failover_mid_run(self):
        amqp = self.env.new_vhost()
        prefix = self.env.new_prefix()
        sentinels = ",".join("127.0.0.1:%d" % p for _, p in self.sentinels)
        # The workers' list starts with a Sentinel that is not there (port 1
        # refuses): they must go on to the next one.
        wenv = {"WHARF_REDIS_URL": "redis://127.0.0.1/0", "WHARF_REDIS_SENTINELS": "127.0.0.1:1," + sentinels,
                "WHARF_REDIS_MASTER_NAME": MASTER, "WHARF_REDIS_WAIT_REPLICAS": WAIT_REPLICAS}
        w1 = self.env.start_worker(amqp, prefix, concurrency=4, extra_env=wenv)
        w2 = self.env.start_worker(amqp, prefix, concurrency=4, extra_env=wenv)
        url = "redis-sentinel://%s/%s/0" % (sentinels, MASTER)
        prod = probeload.Producer(self.env, amqp, prefix, {"WHARF_REDIS_URL": url})
        srv = wharfserve.start(self.env, amqp, prefix, extra_env=wenv)
        times = []
        try:
            for rnd in range(3 if LONG else 1):
                time.sleep(3)
                self.assertGreater(len(prod.confirmed), 20, "no load: %s" % prod.errors[-3:])
                # 1. A Sentinel-driven failover: the old master is demoted under the workers.
                old = self.master_port()
                r = redis.Redis(host="127.0.0.1", port=self.port["s1"], socket_timeout=5)
                self.assertTrue(r.execute_command("SENTINEL", "FAILOVER", MASTER))
                t0 = time.monotonic()
                new = self.wait_master_moved(old)
                times.append(self.wait_resumed(prod, prefix, t0, "SENTINEL FAILOVER"))
                print("round %d: SENTINEL FAILOVER moved the master :%d -> :%d; a job confirmed after it "
                      "succeeded %.2f s later" % (rnd + 1, old, new, times[-1]), file=sys.stderr)
                time.sleep(2)
                # 2. The new master dies (SIGKILL) and comes back empty, as a replica.
                victim = self.name_of(new)
                r = self.set.script("kill", victim)
                self.assertEqual(r.returncode, 0, r.stderr)
                t0 = time.monotonic()
                promoted = self.wait_master_moved(new)
                t_promoted = time.monotonic() - t0
                r = self.set.script("start", victim)
                self.assertEqual(r.returncode, 0, r.stderr)
                times.append(self.wait_resumed(prod, prefix, t0, "killing the master"))
                print("round %d: killed %s (:%d); :%d promoted after %.2f s; a job confirmed after the kill "
                      "succeeded %.2f s later" % (rnd + 1, victim, new, promoted, t_promoted, times[-1]),
                      file=sys.stderr)
            time.sleep(2)
        finally:
            prod.stop()
        self.assertTrue(w1.alive() and w2.alive(), "a worker died:\n%s\n%s" % (w1.log_tail(), w2.log_tail()))
        ids = [i for i, _ in prod.confirmed]
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while True:
            st = self.states(prefix, ids)
            missing = {i: s for i, s in st.items() if s not in TERMINAL}
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        print("%d jobs confirmed, %d submits refused during the failovers; resume times %s s; "
              "not terminal: %s" % (len(ids), len(prod.errors), ["%.2f" % x for x in times],
                                    sorted(missing.values())), file=sys.stderr)
        self.assertEqual(missing, {}, "%d of %d confirmed jobs are not terminal" % (len(missing), len(ids)))
        self.assertEqual(set(st.values()), {"succeeded"})
        # The CLI and `wharf serve` (started before the failovers) find the
        # master through the Sentinels as well.
        out = self.env.wharf(["status", ids[-1]], amqp, prefix, extra_env=wenv)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("succeeded", out.stdout)
        code, body = None, None
        for _ in range(3):  # its first request after a failover may find a stale connection
            code, _, body = srv.request("GET", "/v1/jobs/" + ids[-1])
            if code == 200:
                break
            time.sleep(0.5)
        self.assertEqual(code, 200, body)
        self.assertEqual(body.get("state"), "succeeded", body)
        srv.stop()
        for w in (w1, w2):
            self.assertEqual(w.stop(), 0, "worker did not exit cleanly:\n%s" % w.log_tail())
        r = self.set.down()
        self.assertEqual(r.returncode, 0, "processes left running:\n%s" % r.stderr[-3000:])
        self.env.delete_vhost(amqp)


if __name__ == "__main__":
    unittest.main()
