#!/usr/bin/python3
"""With the broker or Redis stopped, every client call fails with its code
within the client's timeout, and after a restart the same client object
works again. Private RabbitMQ and Redis (tests/fault/faultlib.py), one of
each client (C, Python sync and async, TypeScript) on them at once."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fault"))
import faultlib  # noqa: E402
import probes  # noqa: E402
from probes import ProbeError  # noqa: E402

TIMEOUT_S = 3      # each client's timeout here
SLACK_S = 2.0      # scheduling slack on a loaded machine (sanitizer build)


class FaultsTest(faultlib.FaultTest):
    name = "clients"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.amqp = cls.env.new_vhost()
        cls.prefix = cls.env.new_prefix()
        cls.p = {}
        try:
            for k in probes.KINDS:
                cls.p[k] = probes.start(k, cls.env, cls.amqp, cls.prefix, timeout_s=TIMEOUT_S)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "p", {}).values():
            p.close()
        super().tearDownClass()

    def fails_in_time(self, kind, code, op, **kw):
        p = self.p[kind]
        t0 = time.monotonic()
        with self.assertRaises(ProbeError, msg="%s %s %r" % (kind, op, kw)) as cm:
            p.call(op, **kw)
        took = time.monotonic() - t0
        self.assertEqual(cm.exception.code, code, "%s %s: %s" % (kind, op, cm.exception))
        self.assertLess(took, TIMEOUT_S + SLACK_S, "%s %s took %.1f s to fail" % (kind, op, took))

    def works_again(self, kind):
        """The same client submits and reads once the server is back (a
        client may need one failed call to notice the new connection)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                s = self.p[kind].call("submit", type="system.noop", args={"after": kind})
                self.assertEqual(self.p[kind].call("status", id=s["id"])["state"], "queued")
                return s
            except ProbeError as e:
                if time.monotonic() > deadline:
                    raise AssertionError("%s does not work after the restart: %s" % (kind, e)) from e
                time.sleep(0.5)

    def test_broker_down_then_back(self):
        before = {k: p.call("submit", type="system.noop", args={})["id"] for k, p in self.p.items()}
        self.srv.rabbit_stop()
        try:
            for k in probes.KINDS:
                self.fails_in_time(k, "broker_error", "submit", type="system.noop", args={})
                self.fails_in_time(k, "broker_error", "submit_many",
                                   jobs=[{"type": "system.noop", "args": {"i": i}} for i in range(5)])
                # Reads need Redis only, and a failed submit leaves nothing behind.
                self.assertEqual(self.p[k].call("status", id=before[k])["state"], "queued")
        finally:
            self.srv.rabbit_start()
        for k in probes.KINDS:
            self.works_again(k)

    def test_redis_down_then_back(self):
        s = self.p["c"].call("submit", type="system.noop", args={})
        self.srv.redis_stop()
        try:
            for k in probes.KINDS:
                for op, kw in (("submit", {"type": "system.noop", "args": {}}),
                               ("submit_many", {"jobs": [{"type": "system.noop", "args": {}}]}),
                               ("status", {"id": s["id"]}), ("wait", {"id": s["id"], "timeout": 1}),
                               ("result", {"id": s["id"]}), ("logs", {"id": s["id"]}),
                               ("follow", {"id": s["id"]}), ("cancel", {"id": s["id"]})):
                    self.fails_in_time(k, "redis_error", op, **kw)
        finally:
            self.srv.redis_start()
        for k in probes.KINDS:
            self.works_again(k)

    def mem_alarm(self):
        return any(n.get("mem_alarm") for n in self.env.mgmt("GET", "/api/nodes"))

    def test_resource_alarm_is_broker_blocked(self):
        """RabbitMQ's memory alarm (raised as tests/fault/test_alarm.py does)
        blocks publishers: every client's submit fails broker_blocked within
        its timeout, saying so, reads go on, and once the alarm clears the
        same client submits again."""
        before = {k: p.call("submit", type="system.noop", args={})["id"] for k, p in self.p.items()}
        r = self.srv.rabbitmqctl("set_vm_memory_high_watermark", "0.000001")
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            faultlib.wharftest.wait_for(self.mem_alarm, 30, interval=0.5, what="the memory alarm")
            for k in probes.KINDS:
                for op, kw in (("submit", {"type": "system.noop", "args": {}}),
                               ("submit_many", {"jobs": [{"type": "system.noop", "args": {"i": i}}
                                                         for i in range(5)]})):
                    t0 = time.monotonic()
                    with self.assertRaises(ProbeError, msg="%s %s under the alarm" % (k, op)) as cm:
                        self.p[k].call(op, **kw)
                    took = time.monotonic() - t0
                    self.assertEqual(cm.exception.code, "broker_blocked", "%s %s: %s" % (k, op, cm.exception))
                    if k != "c" or op == "submit":   # the C probe's "many" reply has codes only
                        self.assertIn("blocks publishers", cm.exception.message, k)
                    self.assertLess(took, TIMEOUT_S + SLACK_S, "%s %s took %.1f s to fail" % (k, op, took))
                self.assertEqual(self.p[k].call("status", id=before[k])["state"], "queued")
        finally:
            self.srv.rabbitmqctl("set_vm_memory_high_watermark", "0.4")
        faultlib.wharftest.wait_for(lambda: not self.mem_alarm(), 30, interval=0.5, what="the alarm to clear")
        for k in probes.KINDS:
            self.works_again(k)

    def test_events_fail_in_time_and_resubscribe(self):
        for p in self.p.values():
            p.call("sub", ids=None)
        try:
            self.srv.redis_stop()
            try:
                for k in probes.KINDS:
                    self.fails_in_time(k, "redis_error", "next", timeout=TIMEOUT_S)
            finally:
                self.srv.redis_start()
            for k in probes.KINDS:
                self.works_again(k)
            # The subscription comes back: a new job's events reach every client.
            deadline = time.monotonic() + 30
            for k, p in self.p.items():
                while True:
                    s = self.p["c"].call("submit", type="system.noop", args={"for": k})
                    ev = p.call("next", timeout=2)
                    if ev is not None:
                        break
                    self.assertLess(time.monotonic(), deadline, "%s gets no events after the restart" % k)
                    del s
        finally:
            for p in self.p.values():
                try:
                    p.call("unsub")
                except ProbeError:
                    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
