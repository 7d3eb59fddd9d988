#!/usr/bin/python3
"""A worker paused past its broker heartbeat (issue 21), against a private
RabbitMQ + Redis.

Worker A (one thread, broker heartbeat 2 s, registry heartbeat 10 s) runs
a job, BLOCKER, while JOBS jobs wait in its hands behind it. A is stopped
with SIGSTOP. The broker misses A's heartbeats, closes A's connection and
requeues all of them; worker B takes them. B runs the JOBS jobs; BLOCKER is
still `running` on A, which is alive as far as Redis can tell (its
registry key outlives the pause). A gets SIGCONT while B runs them. Its
thread wakes with BLOCKER's sleep over and reaches for the next delivery at
once, racing the loop, which has yet to read the broker's close.

Asserts (each found by the chaos soak: a paused worker's job ran twice):
  * BLOCKER runs once, on A: B's copy waits for A's run rather than run it
    again (start.lua: busy), and finds it finished;
  * the JOBS jobs run once each, on B, and A never starts them (no start,
    no skip, no wait): a thread does not start a delivery of a connection
    the loop has not heard within the heartbeat interval, and the loop
    drops the deliveries of its lost connection that no thread had
    started, as the broker has handed them out again;
  * every job succeeds with no redelivery counted;
  * A connects again and works: a job published afterwards to A alone
    succeeds.
"""
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

wait_for = faultlib.wharftest.wait_for
JOBS = 4
BLOCKER_MS = 3000
SHORT_MS = 3000


def lines(worker, msg, ids):
    """{id: number of debug lines `msg` about it} in a worker's JSON log."""
    n = dict.fromkeys(ids, 0)
    for m in re.finditer(r'"msg":"%s","job":"([^"]+)"' % re.escape(msg), worker.log_text()):
        if m.group(1) in n:
            n[m.group(1)] += 1
    return n


class PauseTest(faultlib.FaultTest):
    name = "pause"

    def test_a_paused_worker_runs_nothing_twice(self):
        env = self.env
        url, prefix = env.new_vhost(), env.new_prefix()
        r = env.redis()
        debug = {"WHARF_LOG_LEVEL": "debug", "WHARF_LOG_FORMAT": "json"}
        a = env.start_worker(url, prefix, concurrency=1, ready_timeout=60, extra_env=dict(
            debug, WHARF_AMQP_HEARTBEAT_S="2", WHARF_WORKER_HEARTBEAT_S="10", WHARF_WORKER_PREFETCH="16"))
        b = None
        short = ["short%d" % i for i in range(JOBS)]
        every = ["blocker"] + short
        pub = faultlib.Publisher(url)
        q = lambda: env.queue_info(url, "wharf.system") or {}  # noqa: E731
        try:
            self.assertTrue(pub.publish("blocker", "system.sleep", {"ms": BLOCKER_MS}))
            wait_for(lambda: r.hget(prefix + "job:blocker", "state") == "running", 15, what="blocker running on A")
            for id in short:
                self.assertTrue(pub.publish(id, "system.sleep", {"ms": SHORT_MS}))
            wait_for(lambda: q().get("messages_unacknowledged") == JOBS + 1, 30, interval=0.2,
                     what="the short jobs in A's hands")
            a.send_signal(signal.SIGSTOP)
            wait_for(lambda: q().get("messages_ready") == JOBS + 1, 60, interval=0.2,
                     what="the broker to requeue the paused worker's deliveries")
            b = env.start_worker(url, prefix, concurrency=JOBS + 1, extra_env=debug, ready_timeout=60)
            wait_for(lambda: all(v == ["running", b.worker_id] for v in
                                 faultlib.job_states(r, prefix, short, ("state", "worker")).values()),
                     30, interval=0.1, what="B running the short jobs")
            a.send_signal(signal.SIGCONT)
            self.assertEqual(faultlib.not_succeeded(r, prefix, every, 60), {}, "jobs not succeeded")
            self.assertEqual(lines(a, "run started", every), dict(dict.fromkeys(short, 0), blocker=1))
            self.assertEqual(lines(b, "run started", every), dict(dict.fromkeys(short, 1), blocker=0),
                             "B ran the paused worker's job again")
            for msg in ("copy skipped", "waiting for its run on a live worker"):
                self.assertEqual(lines(a, msg, short), dict.fromkeys(short, 0),
                                 "A started deliveries of its lost connection (%s)" % msg)
            self.assertRegex(a.log_text(), "unstarted deliveries of the lost connection dropped|"
                                           "delivery of a lost connection not started")
            st = faultlib.job_states(r, prefix, every, ("redeliveries", "worker"))
            self.assertEqual({v[0] for v in st.values()}, {None}, "a redelivery was counted: %r" % st)
            self.assertEqual(st["blocker"][1], a.worker_id)

            # A connects again and works: B stopped, a new job goes to A.
            self.assertEqual(b.stop(signal.SIGTERM, timeout=60), 0, b.log_tail())
            wait_for(lambda: a.log_text().count('"msg":"consuming"') >= 2, 30, interval=0.2,
                     what="A to consume again")
            self.assertTrue(pub.publish("after", "system.noop", {}))
            self.assertEqual(faultlib.not_succeeded(r, prefix, ["after"], 30), {})
            self.assertEqual(r.hget(prefix + "job:after", "worker"), a.worker_id)
        finally:
            pub.close()
            if a.alive():
                a.send_signal(signal.SIGCONT)
                self.assertEqual(a.stop(signal.SIGTERM, timeout=60), 0, a.log_tail())
            if b and b.alive():
                b.stop(signal.SIGTERM, timeout=60)


if __name__ == "__main__":
    unittest.main()
