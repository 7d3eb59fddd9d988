#!/usr/bin/python3
"""Broker resource alarm (issue 7), against a private RabbitMQ + Redis.

RabbitMQ's memory alarm is raised on the private node (`rabbitmqctl
set_vm_memory_high_watermark 0.000001`): it then blocks every publishing
connection (connection.blocked) and confirms stop. Then one job is
submitted through each producer at once: the C client library (a
long-lived wharf-client-probe), the CLI and the HTTP API (`wharf serve`).

Asserts:
  * none hangs: each returns within BOUND_S (the library's confirm timeout
    is 10 s by default; `wharf serve` answers before its 30 s);
  * each fails with the stable code `broker_blocked` (HTTP 503 with
    error.code = broker_blocked; the CLI exits nonzero naming it), and the
    message says the broker blocks publishers;
  * when the alarm clears, the same long-lived producers (and a new CLI
    process) submit again, and the jobs succeed.
"""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

wait_for = faultlib.wharftest.wait_for
BOUND_S = 40


class AlarmTest(faultlib.FaultTest):
    name = "alarm"

    def mem_alarm(self):
        return any(n.get("mem_alarm") for n in self.env.mgmt("GET", "/api/nodes"))

    def test_memory_alarm_fails_submits_clearly_and_boundedly(self):
        env, srv = self.env, self.srv
        url, prefix = env.new_vhost(), env.new_prefix()
        worker = env.start_worker(url, prefix, concurrency=2, ready_timeout=60)
        load = faultlib.Load(env, url, prefix, pause_s=3600, bound_s=BOUND_S)  # one submit each, then idle
        try:
            wait_for(lambda: len(load.results) == 3, 30, what="one submit per producer")
            self.assertEqual(load.errors(), [], "submits failed before the alarm")
            r = srv.rabbitmqctl("set_vm_memory_high_watermark", "0.000001")
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_for(self.mem_alarm, 30, interval=0.5, what="the memory alarm")
            out = {}

            def one(kind):
                t0 = time.monotonic()
                try:
                    out[kind] = load._one(kind) + (time.monotonic() - t0,)
                except Exception as ex:
                    out[kind] = (None, "exception", repr(ex), time.monotonic() - t0)
            ts = [threading.Thread(target=one, args=(k,), daemon=True) for k in load.KINDS]
            for t in ts:
                t.start()
            for t in ts:
                t.join(BOUND_S * 2)
            print("\nunder the alarm: %s" % {k: (v[1], round(v[3], 1)) for k, v in out.items()}, file=sys.stderr)
            for k in load.KINDS:
                self.assertIn(k, out, "%s hung" % k)
                id, code, detail, took = out[k]
                self.assertLessEqual(took, BOUND_S, "%s took %.1f s" % (k, took))
                self.assertIsNone(id, "%s succeeded while the broker blocks publishers" % k)
                self.assertEqual(code, "broker_blocked", "%s: %s" % (k, detail))
                self.assertIn("blocks publishers", detail, k)

            r = srv.rabbitmqctl("set_vm_memory_high_watermark", "0.4")
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_for(lambda: not self.mem_alarm(), 30, interval=0.5, what="the alarm to clear")
            after = {}
            for k in load.KINDS:
                id, code, detail = load._one(k)
                self.assertIsNotNone(id, "%s after the alarm: %s %s" % (k, code, detail))
                after[k] = id
            for k, id in after.items():
                wait_for(lambda: env.redis().hget(prefix + "job:" + id, "state") == "succeeded", 30,
                         what="the %s job %s to succeed" % (k, id))
        finally:
            srv.rabbitmqctl("set_vm_memory_high_watermark", "0.4")
            load.stop()
        self.assertEqual(worker.stop(), 0, worker.log_tail())


if __name__ == "__main__":
    unittest.main()
