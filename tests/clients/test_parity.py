#!/usr/bin/python3
"""Every operation of the parity table (docs/clients.md), in every client:
the C library, the installed Python package (sync and async) and the
installed npm package, against a real worker. Each client runs the same
scenarios, so a difference between them is a failure here."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import probes  # noqa: E402
from probes import ProbeError  # noqa: E402

env = probes.wharftest.Env()
TERMINAL = ("succeeded", "failed", "dead", "cancelled")
LOG_CAP = 100   # the worker's jobs.log_max_lines here, to see the trim gap


class Parity:
    """The scenarios; a subclass per client sets `kind`."""
    kind = None

    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=4,
                                      extra_env={"WHARF_JOBS_LOG_MAX_LINES": LOG_CAP})
        cls.p = probes.start(cls.kind, env, cls.amqp, cls.prefix)

    @classmethod
    def tearDownClass(cls):
        rc = cls.p.close()
        wrc = cls.worker.stop()
        assert rc == 0, "%s probe exited %r" % (cls.kind, rc)
        assert wrc == 0, "worker exited %r\n%s" % (wrc, cls.worker.log_tail())

    def call(self, op, **kw):
        return self.p.call(op, **kw)

    def fails(self, code, op, field=None, **kw):
        with self.assertRaises(ProbeError, msg="%s %r" % (op, kw)) as cm:
            self.call(op, **kw)
        self.assertEqual(cm.exception.code, code, cm.exception)
        if field is not None and self.kind != "c":   # the C probe reports no field
            self.assertEqual(cm.exception.field, field, cm.exception)
        return cm.exception

    def new_id(self, tag):
        return "%s-%s-%d" % (tag, self.kind.replace("-", ""), time.monotonic_ns() % 10**12)

    # ---- submit, status, wait, result ------------------------------------------

    def test_submit_wait_status_result(self):
        jid = self.new_id("full")
        args = {"k": [1, 2], "f": 0.5, "s": "h\u00e9llo"}
        opts = {"id": jid, "target": "host-1", "max_attempts": 2, "timeout_s": 30, "priority": 3,
                "meta": {"who": self.kind}}
        s = self.call("submit", type="system.noop", args=args, opts=opts)
        self.assertEqual(s, {"id": jid, "created": True, "state": "queued"})
        again = self.call("submit", type="system.noop", args=args, opts=opts)
        self.assertEqual(again["id"], jid)
        self.assertFalse(again["created"])
        final = self.call("wait", id=jid, timeout=30)
        self.assertEqual(final["state"], "succeeded", final)
        self.assertEqual(final["result"], args)
        self.assertEqual((final["attempt"], final["max_attempts"], final["priority"]), (1, 2, 3), final)
        self.assertEqual(final["target"], "host-1")
        self.assertEqual(self.call("status", id=jid), final)
        self.assertEqual(self.call("result", id=jid), args)

    def test_result_is_null_until_there_is_one(self):
        s = self.call("submit", type="system.fail", args={"code": "boom", "message": "m"})
        final = self.call("wait", id=s["id"], timeout=30)
        self.assertEqual((final["state"], final["error"]), ("failed", "boom"), final)
        self.assertIsNone(self.call("result", id=s["id"]))

    def test_submit_many(self):
        jobs = [{"type": "system.noop", "args": {"i": i}} for i in range(20)]
        out = self.call("submit_many", jobs=jobs)
        self.assertEqual(len(out), 20)
        self.assertTrue(all(o["created"] and o["state"] == "queued" for o in out), out)
        self.assertEqual(len({o["id"] for o in out}), 20)
        for i in (0, 19):
            self.assertEqual(self.call("wait", id=out[i]["id"], timeout=30)["result"], {"i": i})

    def test_submit_many_reports_each_job(self):
        jobs = [{"type": "system.noop", "args": {}}, {"type": "nosuchfamily.x", "args": {}},
                {"type": "system.noop", "args": {}, "opts": {"id": "bad:id"}}]
        e = self.fails("unknown_type", "submit_many", field="type", jobs=jobs)
        self.assertEqual(len(e.results), 3)
        self.assertTrue(e.results[0]["created"], e.results)
        self.assertEqual(e.results[1]["code"], "unknown_type")
        self.assertEqual(e.results[2]["code"], "bad_envelope")
        self.assertEqual(self.call("wait", id=e.results[0]["id"], timeout=30)["state"], "succeeded")

    def test_scheduled_job_waits_in_redis_and_cancels(self):
        run_at = int(time.time() * 1000) + 3600 * 1000
        s = self.call("submit", type="system.noop", args={}, opts={"run_at": run_at})
        self.assertEqual(s["state"], "scheduled")
        r = env.redis()
        self.assertIsNotNone(r.zscore(self.prefix + "scheduled", s["id"]))
        self.assertTrue(r.exists(self.prefix + "job:%s:body" % s["id"]))
        self.assertEqual(self.call("status", id=s["id"])["run_at"], run_at)
        self.assertEqual(self.call("cancel", id=s["id"]), "cancelled")
        self.assertEqual(self.call("status", id=s["id"])["state"], "cancelled")
        self.assertIsNone(r.zscore(self.prefix + "scheduled", s["id"]))

    def test_unique_for_s_returns_the_live_job(self):
        args = {"ms": 1500 + probes.KINDS.index(self.kind)}   # unknown args would fail it at once
        a = self.call("submit", type="system.sleep", args=args, opts={"unique_for_s": 60})
        b = self.call("submit", type="system.sleep", args=args, opts={"unique_for_s": 60})
        self.assertTrue(a["created"])
        self.assertEqual((b["id"], b["created"]), (a["id"], False), (a, b))
        self.assertEqual(self.call("wait", id=a["id"], timeout=30)["state"], "succeeded")

    def test_lock_is_recorded_and_the_job_runs(self):
        s = self.call("submit", type="system.noop", args={}, opts={"lock": "res:%s/1" % self.kind})
        final = self.call("wait", id=s["id"], timeout=30)
        self.assertEqual((final["state"], final["lock"]), ("succeeded", "res:%s/1" % self.kind), final)

    # ---- logs --------------------------------------------------------------------

    def test_logs_tail_and_follow(self):
        s = self.call("submit", type="system.log", args={"lines": 30})
        items = self.call("follow", id=s["id"])     # from the start, to the end of the job
        self.assertEqual([i["kind"] for i in items], ["line"] * 30, items[:3])
        self.assertTrue(items[0]["l"].startswith("line 1 "), items[0])
        self.assertEqual(self.call("status", id=s["id"])["state"], "succeeded")
        lines = self.call("logs", id=s["id"])
        self.assertEqual([(x["id"], x["s"], x["l"]) for x in lines],
                         [(x["id"], x["s"], x["l"]) for x in items])
        tail = self.call("logs", id=s["id"], tail=3)
        self.assertEqual([x["id"] for x in tail], [x["id"] for x in items[-3:]])

    def test_follow_reports_the_trim_gap(self):
        n = 5 * LOG_CAP
        s = self.call("submit", type="system.log", args={"lines": n, "bytes": 10})
        self.call("wait", id=s["id"], timeout=60)
        items = self.call("follow", id=s["id"])
        self.assertEqual(items[0]["kind"], "gap", items[:2])
        lines = items[1:]
        self.assertTrue(lines and all(i["kind"] == "line" for i in lines))
        self.assertEqual(items[0]["missing"] + len(lines), n, (items[0], len(lines)))
        first = int(lines[0]["l"].split()[1])
        self.assertEqual(first, items[0]["missing"] + 1, lines[0])

    # ---- cancel ------------------------------------------------------------------

    def test_cancel_a_running_job(self):
        s = self.call("submit", type="system.sleep", args={"ms": 20000})
        probes.wharftest.wait_for(lambda: self.call("status", id=s["id"])["state"] == "running", 20,
                                  what="the job running")
        self.assertEqual(self.call("cancel", id=s["id"]), "running")
        self.assertEqual(self.call("wait", id=s["id"], timeout=20)["state"], "cancelled")
        self.fails("conflict", "cancel", field="id", id=s["id"])

    # ---- events ------------------------------------------------------------------

    def test_events_of_one_job(self):
        jid = self.new_id("ev")
        self.call("sub", ids=[jid])
        try:
            self.call("submit", type="system.noop", args={}, opts={"id": jid})
            other = self.call("submit", type="system.noop", args={})
            seen = []
            while not seen or seen[-1] not in TERMINAL:
                ev = self.call("next", timeout=20)
                self.assertIsNotNone(ev, "no event after %r" % seen)
                self.assertEqual(ev["id"], jid, "an event of another job came through the filter")
                seen.append(ev["state"])
            self.assertEqual(seen, ["queued", "running", "succeeded"])
            self.assertIsNone(self.call("next", timeout=0.3))
            self.call("wait", id=other["id"], timeout=30)
        finally:
            self.call("unsub")

    # ---- errors ------------------------------------------------------------------

    def test_errors_have_the_contract_codes(self):
        for op in ("status", "result", "cancel", "wait", "logs"):
            self.fails("not_found", op, field="id", id="no-such-job")
        self.fails("not_found", "follow", field="id", id="no-such-job")
        self.fails("bad_envelope", "submit", field="id", type="system.noop", args={}, opts={"id": "a:b"})
        self.fails("unknown_type", "submit", field="type", type="nosuchfamily.x", args={})
        self.fails("unknown_type", "submit", field="type", type="System.noop", args={})
        self.fails("bad_envelope", "submit", field="max_attempts", type="system.noop", args={},
                   opts={"max_attempts": 101})
        self.fails("bad_envelope", "submit", field="priority", type="system.noop", args={}, opts={"priority": 10})
        self.fails("bad_envelope", "submit", field="lock", type="system.noop", args={}, opts={"lock": "-x"})
        self.fails("bad_envelope", "submit", field="target", type="system.noop", args={}, opts={"target": "a b"})
        self.fails("bad_envelope", "submit", field="meta", type="system.noop", args={},
                   opts={"meta": {"k": "v" * 1025}})

    def test_wait_times_out(self):
        s = self.call("submit", type="system.sleep", args={"ms": 3000})
        e = self.fails("timeout", "wait", id=s["id"], timeout=0.5 if self.kind != "c" else 1)
        self.assertTrue(e.message)
        self.assertEqual(self.call("wait", id=s["id"], timeout=30)["state"], "succeeded")


class CParity(Parity, unittest.TestCase):
    kind = "c"


class PythonSyncParity(Parity, unittest.TestCase):
    kind = "python-sync"


class PythonAsyncParity(Parity, unittest.TestCase):
    kind = "python-async"


class NodeParity(Parity, unittest.TestCase):
    kind = "node"


if __name__ == "__main__":
    unittest.main(verbosity=2)
