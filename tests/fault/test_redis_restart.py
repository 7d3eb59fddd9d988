#!/usr/bin/python3
"""Redis restart without persistence (issue 7), against a private RabbitMQ
+ Redis (servers.sh runs Redis with `save ""` and `appendonly no`).

Two workers run `system.sleep {ms: 300}` jobs published at a steady rate
(with publisher confirms, straight to the broker) while the private Redis is
stopped for 5 s and started again, empty. Just before the stop, `CLIENT
PAUSE WRITE` freezes every status write and the test snapshots which jobs
are terminal: those are the only statuses the restart may take away.

Asserts:
  * the workers do not crash, and register again in the new Redis;
  * no job is acked without its status: every confirmed job that was not
    terminal in the snapshot (queued, running or finishing during the
    outage, or published during or after it) reaches `succeeded` in the new
    Redis. A job acked after a failed status write would be missing there
    for good. The workers' logs show status writes that failed during the
    outage ("status write failed; retrying": the worker holds the job and
    retries the write with backoff, or requeues it unacked when it must
    stop), so the test did hit that path;
  * what the restart costs, printed: statuses of jobs that finished before
    it are gone (GET answers not_found), see README "Reliability".
WHARF_LONG=1 repeats the outage three times.
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
ROUNDS = 3 if faultlib.LONG else 1


class RedisRestartTest(faultlib.FaultTest):
    name = "redis"

    def test_redis_restart_without_persistence(self):
        env, srv = self.env, self.srv
        url, prefix = env.new_vhost(), env.new_prefix()
        workers = [env.start_worker(url, prefix, concurrency=4, ready_timeout=60) for _ in range(2)]
        confirmed, pub_err = [], []
        stop = threading.Event()

        def publish():
            pub = faultlib.Publisher(url)
            n = 0
            try:
                while not stop.is_set():
                    id = "r%05d" % n
                    pub.publish(id, "system.sleep", {"ms": 300})
                    confirmed.append(id)
                    n += 1
                    time.sleep(0.05)  # ~20 jobs/s, about what 2 x 4 slots run
            except Exception as ex:
                pub_err.append(repr(ex))
            finally:
                pub.close()

        pub_thread = faultlib.in_thread(publish)
        terminal_before = set()
        try:
            for rnd in range(ROUNDS):
                time.sleep(4)
                r = env.redis()
                r.execute_command("CLIENT", "PAUSE", str((OUTAGE_S + 30) * 1000), "WRITE")
                ids = list(confirmed)
                st = faultlib.job_states(r, prefix, ids)
                done = {i for i, v in st.items() if v[0] in faultlib.TERMINAL}
                terminal_before |= done
                srv.redis_stop()
                t_stop = time.monotonic()
                r.connection_pool.disconnect()
                time.sleep(OUTAGE_S)
                srv.redis_start()
                print("\nround %d: Redis down %.1f s; %d jobs terminal before, %d confirmed and not" % (
                    rnd + 1, time.monotonic() - t_stop, len(done), len(ids) - len(done)), file=sys.stderr)
                for w in workers:
                    self.assertIsNone(w.returncode, "a worker died:\n%s" % w.log_tail())
                wait_for(lambda: len(env.worker_keys(prefix)) >= len(workers), 30,
                         what="the workers to register again in the new Redis")
            time.sleep(3)
        finally:
            stop.set()
            pub_thread.join(30)
        self.assertEqual(pub_err, [])

        r = env.redis()
        need = [i for i in confirmed if i not in terminal_before]
        bad = faultlib.not_succeeded(r, prefix, need, 120)
        self.assertEqual(bad, {}, "%d of %d jobs not terminal before the restart did not succeed after it "
                         "(None: acked without a status)" % (len(bad), len(need)))
        failed_writes = sum(w.log_text().count("status write failed") for w in workers)
        self.assertGreater(failed_writes, 0, "no status write failed: the outage hit no running job")
        gone = faultlib.job_states(r, prefix, sorted(terminal_before))
        lost_status = sum(1 for v in gone.values() if v[0] is None)
        print("%d jobs confirmed; %d finished before a restart (%d of them have no status now: Redis kept "
              "nothing); %d ran across or after it and all succeeded; %d failed status writes retried" % (
                  len(confirmed), len(terminal_before), lost_status, len(need), failed_writes), file=sys.stderr)
        for w in workers:
            self.assertEqual(w.stop(signal.SIGTERM, timeout=60), 0, w.log_tail())

    def test_redis_at_maxmemory_holds_the_jobs_and_loses_none(self):
        # Redis refuses writes with OOM while it is at maxmemory: a state of
        # the server, not of the job. Workers hold the jobs and retry their
        # status writes; none is dead-lettered (redis_error) or left running.
        env = self.env
        url, prefix = env.new_vhost(), env.new_prefix()
        worker = env.start_worker(url, prefix, concurrency=4, ready_timeout=60)
        pub = faultlib.Publisher(url)
        r = env.redis()
        ids = []
        try:
            used = int(r.info("memory")["used_memory"])
            r.config_set("maxmemory-policy", "noeviction")
            r.config_set("maxmemory", str(used))
            for n in range(20):
                ids.append("oom%02d" % n)
                pub.publish(ids[-1], "system.sleep", {"ms": 50})
            wait_for(lambda: worker.log_text().count("status write failed") >= 3, 30,
                     what="status writes refused for OOM")
            time.sleep(2)
        finally:
            r.config_set("maxmemory", "0")
            pub.close()
        bad = faultlib.not_succeeded(r, prefix, ids, 60)
        self.assertEqual(bad, {}, worker.log_tail())
        self.assertNotIn("dead-lettering", worker.log_text())
        self.assertEqual(env.queue_depth(url, "wharf.dead"), 0)
        self.assertEqual(worker.stop(signal.SIGTERM, timeout=60), 0, worker.log_tail())


if __name__ == "__main__":
    unittest.main()
