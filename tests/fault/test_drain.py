#!/usr/bin/python3
"""Graceful drain under load (issue 7), against a private RabbitMQ + Redis.
tests/integration/test_pipe.py covers the small cases
(test_sigterm_drains_and_loses_nothing: jobs longer than the grace period
are interrupted and handed back `queued` with the attempt undone;
test_sigterm_lets_short_jobs_finish); this one does it under a steady
stream of short jobs.

A worker (concurrency 4, worker.grace_s = GRACE_S) runs `system.sleep {ms:
100..400}` jobs published at a steady rate; it gets SIGTERM mid-stream.
Asserts:
  * it exits 0 within GRACE_S (+ 5 s of process teardown slack);
  * every job that was `running` at the SIGTERM ends `succeeded` by the
    time it has exited (each is shorter than the grace period), run by it;
  * nothing is lost and nothing ran twice: a second worker then runs the
    rest, every confirmed job ends `succeeded` with attempt 1 and no
    redeliveries (the drained worker acked what it finished and handed back
    what it had not started).
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
GRACE_S = 5


class DrainTest(faultlib.FaultTest):
    name = "drain"

    def test_sigterm_under_load_drains_and_loses_nothing(self):
        env = self.env
        url, prefix = env.new_vhost(), env.new_prefix()
        r = env.redis()
        w1 = env.start_worker(url, prefix, concurrency=4, ready_timeout=60,
                              extra_env={"WHARF_WORKER_GRACE_S": str(GRACE_S)})
        confirmed, stop, err = [], threading.Event(), []

        def publish():
            pub = faultlib.Publisher(url)
            n = 0
            try:
                while not stop.is_set():
                    id = "d%05d" % n
                    pub.publish(id, "system.sleep", {"ms": 100 + (n * 37) % 300})
                    confirmed.append(id)
                    n += 1
                    time.sleep(0.04)  # a little more than 4 slots can run: a backlog builds
            except Exception as ex:
                err.append(repr(ex))
            finally:
                pub.close()
        t = faultlib.in_thread(publish)
        try:
            time.sleep(5)
            st = faultlib.job_states(r, prefix, list(confirmed), ("state", "worker"))
            running = [i for i, v in st.items() if v[0] == "running"]
            t0 = time.monotonic()
            rc = w1.stop(signal.SIGTERM, timeout=GRACE_S + 30)
            took = time.monotonic() - t0
            after = faultlib.job_states(r, prefix, running, ("state", "worker"))
            w2 = env.start_worker(url, prefix, concurrency=4, ready_timeout=60)
            time.sleep(2)
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(err, [])
        print("\nSIGTERM with %d jobs running and %d confirmed: exit %d after %.2f s (grace %d s)" % (
            len(running), len(confirmed), rc, took, GRACE_S), file=sys.stderr)
        self.assertEqual(rc, 0, w1.log_tail())
        self.assertLessEqual(took, GRACE_S + 5)
        self.assertTrue(running, "no job was running at the SIGTERM")
        self.assertEqual({i: v[0] for i, v in after.items() if v[0] != "succeeded"}, {},
                         "jobs running at the SIGTERM did not finish within the grace period")
        self.assertEqual({v[1] for v in after.values()}, {w1.worker_id})
        deadline = time.monotonic() + 120
        while True:
            st = faultlib.job_states(r, prefix, confirmed, ("state", "attempt", "redeliveries"))
            bad = {i: v for i, v in st.items() if v[0] != "succeeded"}
            if not bad or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(bad, {}, "jobs lost or stuck")
        twice = {i: v for i, v in st.items() if v[1] != "1" or v[2]}
        self.assertEqual(twice, {}, "jobs run more than once across a graceful drain")
        self.assertEqual(w2.stop(), 0, w2.log_tail())


if __name__ == "__main__":
    unittest.main()
