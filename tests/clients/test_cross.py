#!/usr/bin/python3
"""Jobs submitted from each language are one kind of job: the C worker
runs them all, every client reads each of them back identically, their
Redis state has the same shape whoever submitted, and a uniqueness window
opened from one language holds against the others."""
import os
import sys
import time
import unittest

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import probes  # noqa: E402

env = probes.wharftest.Env()
# Fields that differ between two runs of the same job.
RUN_FIELDS = {"id", "created_at", "queued_at", "started_at", "finished_at", "worker"}
# Args with what canonical JSON must get right: key order, floats, text.
TRICKY = {"z": 1, "a": [0.1, 1.5e-07, 1e100, -2.5], "\u00e9": "\u2603 \U0001F680 \"q\" \\ /\t",
          "m": {"b": None, "a": True, "B": 123456789012}}


class CrossTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=4)
        cls.p = {k: probes.start(k, env, cls.amqp, cls.prefix) for k in probes.KINDS}

    @classmethod
    def tearDownClass(cls):
        rcs = {k: p.close() for k, p in cls.p.items()}
        wrc = cls.worker.stop()
        assert all(rc == 0 for rc in rcs.values()), rcs
        assert wrc == 0, "worker exited %r\n%s" % (wrc, cls.worker.log_tail())

    def test_jobs_read_back_identically_from_every_client(self):
        args = {"n": 7, "f": 0.25, "s": "x\u00e9", "l": [1, [2]], "o": {"k": "v"}}
        opts = {"max_attempts": 4, "timeout_s": 60, "priority": 2, "meta": {"from": "cross"}, "lock": "cross:1"}
        ids = {k: p.call("submit", type="system.noop", args=args, opts=opts)["id"] for k, p in self.p.items()}
        finals = {}
        for submitter, jid in ids.items():
            views = {reader: p.call("wait", id=jid, timeout=30) for reader, p in self.p.items()}
            first = views["c"]
            self.assertEqual(first["state"], "succeeded", first)
            for reader, view in views.items():
                self.assertEqual(view, first, "job from %s read by %s" % (submitter, reader))
                self.assertEqual(self.p[reader].call("result", id=jid), args)
            finals[submitter] = {k: v for k, v in first.items() if k not in RUN_FIELDS}
        for submitter, shape in finals.items():
            self.assertEqual(shape, finals["c"], "the job from %s differs from the C library's" % submitter)

    def test_scheduled_jobs_hold_the_same_envelope(self):
        """A future job's message waits in Redis: its bytes show that every
        encoder writes the same envelope (ids and created_at aside)."""
        r = redis.Redis.from_url(env.redis_url)   # bytes, not text
        run_at = int(time.time() * 1000) + 3600 * 1000
        bodies = {}
        for k, p in self.p.items():
            s = p.call("submit", type="system.noop", args=TRICKY, opts={"run_at": run_at, "target": "web-1"})
            self.assertEqual(s["state"], "scheduled")
            body = r.get(self.prefix + "job:%s:body" % s["id"])
            created = p.call("status", id=s["id"])["created_at"]
            bodies[k] = body.replace(s["id"].encode(), b"<id>").replace(_mp_uint64(created), b"<t>")
            p.call("cancel", id=s["id"])
        for k, body in bodies.items():
            self.assertEqual(body, bodies["c"], "%s encodes the job differently from C" % k)

    def test_uniqueness_holds_across_languages(self):
        # Scheduled an hour ahead, so the job stays live while the others try.
        opts = {"unique_for_s": 60, "run_at": int(time.time() * 1000) + 3600 * 1000, "target": "web-1"}
        for opener in probes.KINDS:
            args = dict(TRICKY, opener=opener)
            first = self.p[opener].call("submit", type="system.noop", args=args, opts=opts)
            self.assertTrue(first["created"])
            for other, p in self.p.items():
                again = p.call("submit", type="system.noop", args=args, opts=opts)
                self.assertEqual((again["id"], again["created"]), (first["id"], False),
                                 "%s did not find the live job %s opened" % (other, opener))
            self.p[opener].call("cancel", id=first["id"])

    def test_type_defaults_recorded_alike(self):
        """A job that sets no max_attempts records its type's default from
        the catalogue (producer/job_types.json in the packages), the same
        from every language: identical hashes, ids and times aside. Parked
        an hour ahead, so no worker touches them."""
        r = redis.Redis.from_url(env.redis_url, decode_responses=True)
        run_at = int(time.time() * 1000) + 3600 * 1000
        cases = (("runtime.host.stats", {}, {}, "1"), ("runtime.stack.deploy", {"name": "web"}, {}, "1"),
                 ("runtime.template.deploy", {"name": "web"}, {"submit": "many"}, "1"),
                 ("runtime.stack.deploy", {"name": "web"}, {"max_attempts": 5}, "5"),
                 ("system.noop", {}, {}, "3"))
        for job_type, args, extra, want in cases:
            hashes = {}
            for k, p in self.p.items():
                opts = dict(extra, run_at=run_at, target="web-1")
                many = opts.pop("submit", None) == "many"
                if many:
                    s = p.call("submit_many", jobs=[{"type": job_type, "args": args, "opts": opts}])[0]
                else:
                    s = p.call("submit", type=job_type, args=args, opts=opts)
                h = r.hgetall(self.prefix + "job:" + s["id"])
                p.call("cancel", id=s["id"])
                self.assertEqual(h.get("max_attempts"), want, "%s from %s: %s" % (job_type, k, h))
                hashes[k] = {f: v for f, v in h.items() if f not in RUN_FIELDS}
            for k, h in hashes.items():
                self.assertEqual(h, hashes["c"], "%s %s from %s differs from C's" % (job_type, extra, k))

    def test_submit_many_from_each_language(self):
        for k, p in self.p.items():
            out = p.call("submit_many", jobs=[{"type": "system.noop", "args": {"from": k, "i": i}}
                                              for i in range(50)])
            last = self.p["c"].call("wait", id=out[-1]["id"], timeout=30)
            self.assertEqual(last["result"], {"from": k, "i": 49})


def _mp_uint64(ms):
    """created_at as msgpack packs it (uint64 for today's times)."""
    return b"\xcf" + ms.to_bytes(8, "big")


if __name__ == "__main__":
    unittest.main(verbosity=2)
