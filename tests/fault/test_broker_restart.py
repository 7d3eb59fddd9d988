#!/usr/bin/python3
"""Broker restart (issue 7), against a private RabbitMQ + Redis.

Two workers run a backlog of `system.sleep` jobs while three producers
submit `system.noop` jobs side by side (faultlib.Load: the C client library
through wharf-client-probe, the `wharf submit` CLI, the HTTP API of `wharf
serve`). The private RabbitMQ is stopped mid-run (`rabbitmqctl stop`; with
WHARF_LONG=1 a second round SIGKILLs its Erlang VM instead), stays down
for 5 s and is started again on the same ports with its queues.

Asserts:
  * every producer call either succeeds or fails with a clear error (a
    stable code name and a message), and none hangs (each returns within
    BOUND_S); each producer succeeds again after the broker is back, with
    no restart of the long-lived ones (library handle, `wharf serve`);
  * a confirmed job is never lost: every job whose submit succeeded, and
    every job of the backlog, ends `succeeded`;
  * each worker resumes consuming within RESUME_BOUND_S (5 s) of the
    broker answering AMQP again, with no manual action: measured from the
    moment the port answers the AMQP header to the first start of a
    backlog job on that worker (printed);
  * the workers survive and exit 0 on SIGTERM.
"""
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

wait_for = faultlib.wharftest.wait_for
OUTAGE_S = 5
RESUME_BOUND_S = 5
BOUND_S = 30        # no producer call may take longer than this
BACKLOG = 400       # system.sleep 1 s jobs: ~50 s of work for 2 x 4 slots


class BrokerRestartTest(faultlib.FaultTest):
    name = "broker"

    def restart_round(self, how):
        env, srv = self.env, self.srv
        url, prefix = env.new_vhost(), env.new_prefix()
        r = env.redis()
        workers = [env.start_worker(url, prefix, concurrency=4, ready_timeout=60) for _ in range(2)]
        load = faultlib.Load(env, url, prefix, bound_s=BOUND_S)
        try:
            pub = faultlib.Publisher(url)
            backlog = ["b-%s-%d" % (how, i) for i in range(BACKLOG)]
            for i in backlog:
                pub.publish(i, "system.sleep", {"ms": 1000})
            pub.close()
            time.sleep(3)
            self.assertTrue(all(load.confirmed(k) for k in load.KINDS), "a producer is not working before the "
                            "outage: %s" % load.summary())

            t_stop = time.monotonic()
            if how == "kill":
                srv.rabbit_kill()
            else:
                srv.rabbit_stop()
            time.sleep(OUTAGE_S)
            back = {}

            def watch():
                while not srv.amqp_up():
                    time.sleep(0.05)
                back["mono"], back["wall"] = time.monotonic(), time.time()
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            boot_s = srv.rabbit_start()
            watcher.join(30)
            self.assertIn("mono", back, "the broker never answered AMQP")
            t_back = back["mono"]

            # Each worker starts a backlog job soon after the broker answers.
            def resumed():
                st = faultlib.job_states(r, prefix, backlog, ("worker", "started_at"))
                firsts = {}
                for wid, started in st.values():
                    if wid and started and int(started) >= back["wall"] * 1000:
                        firsts[wid] = min(firsts.get(wid, 1e18), int(started))
                return firsts if all(w.worker_id in firsts for w in workers) else None
            try:
                firsts = wait_for(resumed, 60, interval=0.2, what="both workers to run a backlog job after the "
                                  "restart")
            except AssertionError as ex:
                st = faultlib.job_states(r, prefix, backlog)
                counts = {}
                for v in st.values():
                    counts[v[0]] = counts.get(v[0], 0) + 1
                raise AssertionError("%s\nbacklog states: %s\n%s" % (ex, counts, "\n".join(
                    "--- %s ---\n%s" % (w.worker_id, w.log_tail(30)) for w in workers))) from None
            resume = {w.worker_id: firsts[w.worker_id] / 1000.0 - back["wall"] for w in workers}
            time.sleep(5)  # load with the broker back
        finally:
            load.stop()
        print("\n%s: broker down %.1f s (%d s outage + %.1f s boot); workers resumed %s s after it answered "
              "AMQP; %s" % (how, t_back - t_stop, OUTAGE_S, boot_s,
                            ["%.2f" % v for v in sorted(resume.values())], load.summary()), file=sys.stderr)

        self.assertEqual(load.hangs(), [], "producer calls took longer than %d s" % BOUND_S)
        for kind, t0, t1, _, code, detail in load.errors():
            self.assertNotIn(code, ("?", "exception"), "%s: unclear error %r" % (kind, detail))
            self.assertTrue(detail, kind)
        for k in load.KINDS:
            self.assertTrue(load.confirmed(k, after=t_back), "%s never succeeded after the restart" % k)
        for w, v in resume.items():
            self.assertLessEqual(v, RESUME_BOUND_S, "worker %s resumed %.2f s after the broker came back" % (w, v))

        ids = backlog + load.confirmed()
        bad = faultlib.not_succeeded(r, prefix, ids, 120)
        self.assertEqual(bad, {}, "%d of %d confirmed jobs did not succeed" % (len(bad), len(ids)))
        for w in workers:
            self.assertEqual(w.stop(signal.SIGTERM, timeout=60), 0, w.log_tail())

    def test_broker_stopped_for_5s(self):
        self.restart_round("stop")

    @unittest.skipUnless(faultlib.LONG, "WHARF_LONG=1: the broker's VM SIGKILLed as well")
    def test_broker_killed_for_5s(self):
        self.restart_round("kill")


if __name__ == "__main__":
    unittest.main()
