#!/usr/bin/python3
"""redis-sentinel:// URLs in every client (C, Python sync and asyncio,
TypeScript), against a private Sentinel set (tests/cluster/sentinel.sh:
master r1, replica r2, Sentinels s1..s3 on loopback), as the C library's
Sentinel tests use it.

Asserts, for each client given
redis-sentinel://127.0.0.1:1,<s1>,<s2>,<s3>/wharfm/0 (the first Sentinel
refuses: the client must go on to the next):
  * submit, submit_many, status, wait (a worker that finds the master
    through the same Sentinels runs the jobs), events and cancel work, and
    the jobs are on the master the Sentinels name;
  * after `SENTINEL FAILOVER` the same client object finds the new master
    (a call or two may fail with redis_error while it moves) and its jobs
    land there;
  * malformed redis-sentinel:// URLs are bad_config, as in C.
"""
import os
import sys
import time
import unittest

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import probes  # noqa: E402
import sentinelset  # noqa: E402
from probes import ProbeError  # noqa: E402

MASTER = sentinelset.MASTER
MOVE_S = 30        # a failover and the clients following it, at most


class SentinelUrlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.set = sentinelset.SentinelSet(probes.wharftest.Env().tmp, "clients-sentinel")
        cls.port = cls.set.port
        sentinels = ",".join("%s:%d" % hp for hp in cls.set.sentinels)
        cls.url = "redis-sentinel://127.0.0.1:1,%s/%s/0" % (sentinels, MASTER)
        cls.env = probes.wharftest.Env(dict(os.environ, WHARF_TEST_REDIS_URL="redis://127.0.0.1:%d/0"
                                            % cls.port["r1"]))
        cls.amqp, cls.prefix = cls.env.new_vhost(), cls.env.new_prefix()
        wenv = {"WHARF_REDIS_URL": cls.url}
        cls.worker = cls.env.start_worker(cls.amqp, cls.prefix, concurrency=2, families="system", extra_env=wenv)
        cls.p = {}
        for k in probes.KINDS:
            cls.p[k] = probes.start(k, cls.env, cls.amqp, cls.prefix, timeout_s=3, redis_url=cls.url)

    @classmethod
    def tearDownClass(cls):
        for p in cls.p.values():
            p.close()
        cls.worker.stop()
        r = cls.set.down()
        assert r.returncode == 0, "processes left running:\n%s" % r.stderr[-3000:]

    def master(self):
        s = redis.Redis(host="127.0.0.1", port=self.port["s1"], socket_timeout=2)
        host, port = s.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        return redis.Redis(host=host.decode(), port=int(port), socket_timeout=2, decode_responses=True)

    def on_master(self, job_id):
        return self.master().hget(self.prefix + "job:" + job_id, "state")

    def test_1_every_call_through_the_sentinels(self):
        for k, p in self.p.items():
            s = p.call("submit", type="system.noop", args={"via": k})
            self.assertEqual(p.call("wait", id=s["id"], timeout=30)["state"], "succeeded", k)
            self.assertEqual(p.call("result", id=s["id"]), {"via": k})
            self.assertEqual(self.on_master(s["id"]), "succeeded", k)
            many = p.call("submit_many", jobs=[{"type": "system.noop", "args": {"i": i}} for i in range(5)])
            self.assertEqual(p.call("wait", id=many[-1]["id"], timeout=30)["state"], "succeeded", k)
            later = p.call("submit", type="system.noop", args={}, opts={"run_at": int(time.time() * 1000) + 3600000})
            self.assertEqual(p.call("cancel", id=later["id"]), "cancelled", k)
            p.call("sub", ids=None)
            try:
                s = p.call("submit", type="system.noop", args={"ev": k})
                seen = set()
                deadline = time.monotonic() + 30
                while "succeeded" not in seen and time.monotonic() < deadline:
                    ev = p.call("next", timeout=2)
                    if ev and ev["id"] == s["id"]:
                        seen.add(ev["state"])
                self.assertIn("succeeded", seen, "%s: no events through the Sentinels" % k)
            finally:
                p.call("unsub")

    def test_2_clients_follow_a_failover(self):
        s = redis.Redis(host="127.0.0.1", port=self.port["s2"], socket_timeout=5)
        old = self.master().connection_pool.connection_kwargs["port"]
        self.assertTrue(s.execute_command("SENTINEL", "FAILOVER", MASTER))
        deadline = time.monotonic() + MOVE_S
        demoted = redis.Redis(host="127.0.0.1", port=old, socket_timeout=2, decode_responses=True)
        # Moved, and the old master demoted: until then it takes writes
        # that the resync will drop (from any client, C's too).

        def moved():
            # A demoted master drops its clients: a reset connection only
            # means "not yet", ask again.
            try:
                return self.master().connection_pool.connection_kwargs["port"] != old and \
                    self.master().execute_command("ROLE")[0] == "master" and \
                    demoted.execute_command("ROLE")[0] != "master"
            except redis.ConnectionError:
                return False

        while not moved():
            self.assertLess(time.monotonic(), deadline, "the Sentinels did not move the master")
            time.sleep(0.2)
        for k, p in self.p.items():
            errors = []
            while True:
                try:
                    s = p.call("submit", type="system.noop", args={"after": k})
                    break
                except ProbeError as e:   # the old connection finds the old master demoted
                    self.assertEqual(e.code, "redis_error", "%s: %s" % (k, e))
                    errors.append(e)
                    self.assertLess(time.monotonic(), deadline, "%s does not follow the failover: %s" % (k, errors))
                    time.sleep(0.5)
            self.assertEqual(p.call("wait", id=s["id"], timeout=30)["state"], "succeeded", k)
            self.assertEqual(self.on_master(s["id"]), "succeeded", "%s's job is not on the new master" % k)

    def test_3_bad_sentinel_urls_are_bad_config(self):
        bad = ("redis-sentinel://127.0.0.1:26379",            # no master name
               "redis-sentinel://127.0.0.1:26379/",           # empty master name
               "redis-sentinel://127.0.0.1/wharfm",           # no port
               "redis-sentinel://127.0.0.1:26379,,127.0.0.1:2/wharfm",
               "redis-sentinel://127.0.0.1:70000/wharfm",
               "redis-sentinel://127.0.0.1:26379/wharfm/x")
        for k in probes.KINDS:
            for url in bad:
                with self.assertRaises(ProbeError, msg="%s accepted %s" % (k, url)) as cm:
                    probes.start(k, self.env, self.amqp, self.prefix, timeout_s=2, redis_url=url).close()
                self.assertEqual(cm.exception.code, "bad_config", "%s %s: %s" % (k, url, cm.exception))


if __name__ == "__main__":
    unittest.main(verbosity=2)
