#!/usr/bin/python3
"""Worker SIGKILL storm (issue 7), against a private RabbitMQ + Redis.

JOBS `system.sleep {ms: 1..20}` and `system.noop` jobs (half each, published
with publisher confirms while the storm runs) go to 3 workers; every second
a random worker is SIGKILLed and a new one started in its place. JOBS is the
issue's 20,000 (about 60 s of storm and 85 s for the file on a shared 2-core
machine under ASan); WHARF_LONG=1 runs 50,000.

Asserts:
  * every job ends `succeeded`: none lost (every confirmed id has a hash),
    none left `running`, none `dead`; wharf.system and wharf.dead are empty;
  * duplicates are visible, not hidden. Delivery is at-least-once: a job
    whose worker was killed after it started is delivered again, and
    start.lua counts that in the job's `redeliveries` field, so the number
    of handler runs of a job is 1 + redeliveries (printed in total).
    The status stays right because a job's outcome is written once, by
    finish.lua, before its message is acked: a redelivered job that
    already finished is acked without running (start.lua answers `skip`),
    and a redelivered `running` job runs again and then finishes normally;
  * the stats count every job exactly once: the sum of `ok` over
    system.sleep and system.noop equals JOBS. finish.lua counts the outcome
    in the same atomic step as the state change, so a copy that is skipped
    does not count and a worker killed after finishing has counted already
    (only run times are aggregated in workers and can lose the last
    second of a killed worker);
  * the workers still running at the end exit 0 on SIGTERM.
"""
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

JOBS = 50000 if faultlib.LONG else 20000
WORKERS = 3
CONCURRENCY = 4
STORM_MAX_S = 420 if faultlib.LONG else 300  # the storm stops after this even if jobs are left


class StormTest(faultlib.FaultTest):
    name = "storm"

    def test_sigkill_storm_loses_nothing(self):
        env = self.env
        url, prefix = env.new_vhost(), env.new_prefix()
        r = env.redis()
        start = lambda: env.start_worker(url, prefix, concurrency=CONCURRENCY, ready_timeout=60)  # noqa: E731
        workers = [start() for _ in range(WORKERS)]
        ids = ["s%05d" % i for i in range(JOBS)]
        rng = random.Random(7)
        confirmed = []
        pub_err = []

        def publish():
            pub = faultlib.Publisher(url)
            try:
                for i, id in enumerate(ids):
                    if i % 2:
                        pub.publish(id, "system.noop", {})
                    else:
                        pub.publish(id, "system.sleep", {"ms": rng.randint(1, 20)})
                    confirmed.append(id)
            except Exception as ex:
                pub_err.append(repr(ex))
            finally:
                pub.close()

        pub_thread = faultlib.in_thread(publish)
        kills = 0
        kill_rng = random.Random(11)
        t0 = time.monotonic()
        try:
            while True:
                time.sleep(1)
                st = faultlib.job_states(r, prefix, confirmed[-200:] if confirmed else [])
                # Storm while jobs are published and then until the last ones have run.
                if not pub_thread.is_alive() and all(v[0] == "succeeded" for v in st.values()):
                    break
                if time.monotonic() - t0 > STORM_MAX_S:
                    break
                k = kill_rng.randrange(WORKERS)
                self.assertIsNone(workers[k].returncode, "worker %d died by itself:\n%s" % (
                    k, workers[k].log_tail()))
                workers[k].kill()
                kills += 1
                workers[k] = start()
            storm_s = time.monotonic() - t0
            pub_thread.join(60)
            self.assertEqual(pub_err, [], "publishing failed")
            self.assertEqual(len(confirmed), JOBS)

            # Every job reaches succeeded (the workers keep running, unharmed now).
            deadline = time.monotonic() + 120
            while True:
                st = faultlib.job_states(r, prefix, ids, ("state", "redeliveries", "attempt"))
                bad = {i: v for i, v in st.items() if v[0] != "succeeded"}
                if not bad or time.monotonic() > deadline:
                    break
                time.sleep(1)
            lost = sorted(i for i, v in bad.items() if v[0] is None)
            self.assertEqual(lost, [], "confirmed jobs with no status at all (lost)")
            self.assertEqual(bad, {}, "%d jobs not succeeded, e.g. %r" % (len(bad), list(bad.items())[:5]))
            self.assertEqual({v[2] for v in st.values()}, {"1"}, "a job used a retry attempt")
            wharftest = faultlib.wharftest
            wharftest.wait_for(lambda: env.queue_depth(url, "wharf.system") == 0, 30,
                               what="wharf.system to be empty")
            self.assertEqual(env.queue_depth(url, "wharf.dead"), 0, "something was dead-lettered")
        finally:
            for w in workers:
                if w.alive():
                    self.assertEqual(w.stop(signal.SIGTERM, timeout=60), 0, w.log_tail())

        redelivered = {i: int(v[1]) for i, v in st.items() if v[1]}
        runs = JOBS + sum(redelivered.values())
        ok = faultlib.stats_total(r, prefix, ("system.sleep", "system.noop"))
        elapsed = time.monotonic() - t0
        print("\nstorm: %d jobs, %d SIGKILLs in %.0f s (all succeeded after %.0f s); %d jobs redelivered after a "
              "kill, %d handler runs in all (1 + redeliveries per job); stats ok = %d"
              % (JOBS, kills, storm_s, elapsed, len(redelivered), runs, ok), file=sys.stderr)
        self.assertGreater(kills, 3, "the storm was too short to prove anything")
        self.assertEqual(ok, JOBS, "the stats must count every job exactly once")


if __name__ == "__main__":
    unittest.main()
