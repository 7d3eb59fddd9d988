#!/usr/bin/python3
"""Slow and partitioned network (issue 7), against a private RabbitMQ +
Redis. A worker talks to both through the test's own TCP proxies
(faultlib.Proxy, on loopback); jobs are published straight to the broker
(not through a proxy) with publisher confirms.

test_heartbeat_detects_a_stalled_broker_connection: with amqp.heartbeat_s =
HB_S, the AMQP proxy stalls (no byte moves, no FIN, no RST: the broker
might as well be behind a dead router). Asserts the worker declares the
connection lost within 2 x HB_S (+ 1 s of polling slack; measured from its
log and printed), and that after the stall ends it reconnects by itself
and runs a job.

test_a_start_whose_reply_was_lost_is_seen_through: no-op jobs flow in runs
(a thread's finishes go out with the next run's starts) through a Redis
proxy slowed to 50 ms a chunk. The proxy then drops Redis's replies: the
batch in flight is made in Redis, its reply lost. The worker's broker
connection is reset while the batch waits, so on the batch's next try its
starts belong to a lost connection. Asserts they are sent again and their
jobs run (the worker logs so): a start declined then left its job
`running` on a live worker, and every copy of it waited for that run
forever. Every job succeeds, and none runs twice.

test_latency_resets_and_stalls_lose_nothing: jobs flow while the proxies
add 50 ms per chunk, then reset every AMQP and Redis connection (RST) a few
times, then stall Redis for 3 s. Asserts every confirmed job ends
`succeeded` (none lost, none stuck `running`) and the worker survives and
exits 0.
"""
import datetime
import os
import re
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

wait_for = faultlib.wharftest.wait_for
HB_S = 2


def log_times(text, msg):
    """Wall-clock times (s) of the worker log lines carrying msg="..."."""
    out = []
    for m in re.finditer(r'^ts=(\S+) .*msg="?%s' % re.escape(msg), text, re.M):
        ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        out.append(ts.timestamp())
    return out


class NetworkTest(faultlib.FaultTest):
    name = "net"

    def setUp(self):
        self.url, self.prefix = self.env.new_vhost(), self.env.new_prefix()
        self.amqp_proxy = faultlib.Proxy(self.srv.amqp_port)
        self.redis_proxy = faultlib.Proxy(self.srv.redis_port)
        vhost = self.url.rsplit("/", 1)[1]
        self.worker_env = {
            "WHARF_AMQP_URL": "amqp://guest:guest@127.0.0.1:%d/%s" % (self.amqp_proxy.port, vhost),
            "WHARF_REDIS_URL": "redis://127.0.0.1:%d/0" % self.redis_proxy.port,
            "WHARF_AMQP_HEARTBEAT_S": str(HB_S)}
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.alive():
                w.kill()
        self.amqp_proxy.close()
        self.redis_proxy.close()

    def start_worker(self, extra_env=None, **kw):
        w = self.env.start_worker(self.url, self.prefix, extra_env=dict(self.worker_env, **(extra_env or {})),
                                  ready_timeout=60, **kw)
        self.workers.append(w)
        return w

    def wait_succeeded(self, ids, timeout):
        r = self.env.redis()
        deadline = time.monotonic() + timeout
        while True:
            st = faultlib.job_states(r, self.prefix, ids)
            bad = {i: v[0] for i, v in st.items() if v[0] != "succeeded"}
            if not bad or time.monotonic() > deadline:
                return bad
            time.sleep(0.5)

    def test_heartbeat_detects_a_stalled_broker_connection(self):
        w = self.start_worker(concurrency=2)
        wait_for(lambda: "msg=consuming" in w.log_text(), 30, what="the worker to consume")
        pub = faultlib.Publisher(self.url)
        pub.publish("hb-before", "system.noop", {})
        self.assertEqual(self.wait_succeeded(["hb-before"], 30), {})
        before = len(log_times(w.log_text(), "broker connection lost"))
        self.amqp_proxy.stall()
        t_stall = time.time()
        wait_for(lambda: len(log_times(w.log_text(), "broker connection lost")) > before, 6 * HB_S + 10,
                 interval=0.1, what="the worker to notice the stalled connection")
        detect = log_times(w.log_text(), "broker connection lost")[before] - t_stall
        time.sleep(2)
        self.amqp_proxy.resume()
        t_resume = time.time()
        pub.publish("hb-after", "system.noop", {})
        pub.close()
        self.assertEqual(self.wait_succeeded(["hb-after"], 60), {})
        consuming = [t for t in log_times(w.log_text(), "consuming") if t > t_resume]
        print("\nheartbeat %d s: stalled connection declared lost after %.2f s; consuming again %.2f s after the "
              "stall ended" % (HB_S, detect, (consuming[0] - t_resume) if consuming else -1), file=sys.stderr)
        self.assertLessEqual(detect, 2 * HB_S + 1, "a dead connection went unnoticed for %.2f s" % detect)
        self.assertTrue(w.alive())
        self.assertEqual(w.stop(), 0, w.log_tail())

    def test_a_start_whose_reply_was_lost_is_seen_through(self):
        debug = {"WHARF_LOG_LEVEL": "debug", "WHARF_LOG_FORMAT": "json"}
        w = self.start_worker(concurrency=1, extra_env=debug)
        pub = faultlib.Publisher(self.url)
        ids = ["lost%03d" % i for i in range(200)]
        try:
            for id in ids[:20]:  # the worker learns that no-op jobs are short
                pub.publish(id, "system.noop", {})
            self.assertEqual(self.wait_succeeded(ids[:20], 30), {})
            self.redis_proxy.delay_s = 0.05
            for id in ids[20:]:
                pub.publish(id, "system.noop", {})
            wait_for(lambda: w.log_text().count('"msg":"run started"') >= 40, 30, interval=0.05,
                     what="runs of jobs under way")
            self.redis_proxy.mute()
            time.sleep(0.5)  # the batch in flight is made, its reply dropped
            self.amqp_proxy.reset()
            time.sleep(0.5)
            self.redis_proxy.unmute()
            self.redis_proxy.delay_s = 0.0
        finally:
            pub.close()
        bad = self.wait_succeeded(ids, 90)
        log = w.log_text()
        again = set(re.findall(r'"msg":"start of a lost connection sent again","job":"([^"]+)"', log))
        runs = re.findall(r'"msg":"run started","job":"([^"]+)"', log)
        twice = {i for i in set(runs) if runs.count(i) > 1}
        print("\n%d jobs; starts of the lost connection sent again: %s; not succeeded: %s" %
              (len(ids), sorted(again), sorted(bad)), file=sys.stderr)
        self.assertEqual(bad, {}, "jobs stuck after a lost reply and a lost connection")
        self.assertTrue(again, "no start of the lost connection was sent again: the fault missed")
        self.assertEqual(twice, set(), "jobs ran twice")
        self.assertTrue(w.alive(), w.log_tail())
        self.assertEqual(w.stop(signal.SIGTERM, timeout=60), 0, w.log_tail())

    def test_latency_resets_and_stalls_lose_nothing(self):
        w = self.start_worker(concurrency=4)
        confirmed, stop, err = [], threading.Event(), []

        def publish():
            pub = faultlib.Publisher(self.url)
            n = 0
            try:
                while not stop.is_set():
                    id = "n%05d" % n
                    pub.publish(id, "system.sleep", {"ms": 50 + n % 100})
                    confirmed.append(id)
                    n += 1
                    time.sleep(0.05)
            except Exception as ex:
                err.append(repr(ex))
            finally:
                pub.close()
        t = faultlib.in_thread(publish)
        try:
            self.amqp_proxy.delay_s = self.redis_proxy.delay_s = 0.05
            time.sleep(5)
            self.amqp_proxy.delay_s = self.redis_proxy.delay_s = 0.0
            resets = 0
            for _ in range(3):
                time.sleep(2)
                resets += self.amqp_proxy.reset() + self.redis_proxy.reset()
            time.sleep(2)
            self.redis_proxy.stall()
            time.sleep(3)
            self.redis_proxy.resume()
            time.sleep(3)
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(err, [])
        bad = self.wait_succeeded(confirmed, 90)
        print("\n%d jobs through 50 ms latency, %d connection resets and a 3 s Redis stall; %d not succeeded; "
              "worker made %d AMQP and %d Redis connections" % (len(confirmed), resets, len(bad),
                                                                self.amqp_proxy.accepted, self.redis_proxy.accepted),
              file=sys.stderr)
        self.assertEqual(bad, {}, "jobs lost or stuck")
        self.assertGreater(resets, 3, "the resets hit no connection")
        self.assertTrue(w.alive(), w.log_tail())
        self.assertEqual(w.stop(signal.SIGTERM, timeout=60), 0, w.log_tail())


if __name__ == "__main__":
    unittest.main()
