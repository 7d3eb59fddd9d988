#!/usr/bin/python3
"""Job control against real servers: delayed jobs, periodic schedules with two
schedulers, cancel in every state, timeouts, the reaper after SIGKILL,
uniqueness, locks and the lease that keeps a running job from running twice."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


class JobControlTest(unittest.TestCase):
    def setUp(self):
        self.amqp = env.new_vhost()
        self.prefix = env.new_prefix()
        self.r = env.redis()
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.alive():
                w.stop()

    def worker(self, *sets, concurrency=4):
        args = []
        for s in sets:
            args += ["--set", s]
        w = env.start_worker(self.amqp, self.prefix, concurrency=concurrency, args=args)
        self.workers.append(w)
        return w

    def cli(self, *args, **kw):
        return env.wharf(list(args), self.amqp, self.prefix, **kw)

    def submit(self, *args):
        p = self.cli("submit", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def job(self, jid):
        raw = env.redis_raw().hgetall(self.prefix + "job:" + jid)
        return {k.decode(): v.decode(errors="replace") for k, v in raw.items()}

    def state(self, jid):
        return self.job(jid).get("state")

    def wait_state(self, jid, state, timeout=15):
        return wait_for(lambda: self.state(jid) == state, timeout=timeout, what="%s %s" % (jid, state))

    # ---- delayed jobs ------------------------------------------------------

    def test_delayed_job_waits_in_redis_and_runs_on_time(self):
        self.worker()
        t0 = int(time.time() * 1000)
        jid = self.submit("system.noop", "--delay", "2s")
        h = self.job(jid)
        self.assertEqual(h["state"], "scheduled")
        run_at = int(h["run_at"])
        self.assertGreaterEqual(run_at, t0 + 2000)
        self.assertIsNotNone(self.r.zscore(self.prefix + "scheduled", jid))
        # the message waits beside the hash, whose values stay text
        self.assertTrue(env.redis_raw().exists(self.prefix + "job:" + jid + ":body"))
        self.assertNotIn("body", self.r.hgetall(self.prefix + "job:" + jid))
        # never in the broker while it waits
        self.assertEqual(env.queue_depth(self.amqp, "wharf.system"), 0)
        self.wait_state(jid, "succeeded", timeout=10)
        started = int(self.job(jid)["started_at"])
        self.assertGreaterEqual(started, run_at)
        self.assertLess(started - run_at, 1000, "started %d ms late" % (started - run_at))
        self.assertIsNone(self.r.zscore(self.prefix + "scheduled", jid))
        self.assertFalse(self.r.exists(self.prefix + "job:" + jid + ":body"))

    def test_future_run_at_published_straight_is_parked_and_acked(self):
        self.worker()
        import msgpack  # noqa: E402
        now = int(time.time() * 1000)
        body = msgpack.packb({"v": 1, "id": "direct-later", "type": "system.noop", "args": {},
                              "created_at": now, "run_at": now + 2000})
        env.publish_raw(self.amqp, "wharf.jobs", "system", body,
                        {"message_id": "direct-later", "headers": {"wharf-schema": 1}})
        self.wait_state("direct-later", "scheduled")
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.system") == 0, what="parked message acked")
        self.wait_state("direct-later", "succeeded", timeout=10)
        self.assertGreaterEqual(int(self.job("direct-later")["started_at"]), now + 2000)

    # ---- periodic schedules ------------------------------------------------

    def test_leader_trims_the_recent_index_to_its_cap(self):
        # Enqueues only add to <p>recent; the leader trims it once a second
        # to the newest 100,000 (jobs.recent_max), oldest first, and the
        # per-type and per-target indexes to the same time span.
        key = self.prefix + "recent"
        raw = env.redis_raw()
        pipe = raw.pipeline(transaction=False)
        for i in range(100050):
            pipe.zadd(key, {"old-%06d" % i: i})
        for i in (10, 50, 51, 60):
            pipe.zadd(key + ":type:system.old", {"old-%06d" % i: i})
            pipe.zadd(key + ":target:h9", {"old-%06d" % i: i})
        pipe.sadd(key + ":indexes", "type:system.old", "target:h9")
        pipe.execute()
        self.worker()
        jid = self.submit("system.noop")
        self.wait_state(jid, "succeeded")
        wait_for(lambda: raw.zcard(key) == 100000, timeout=10, what="recent trimmed to 100,000")
        self.assertIsNone(raw.zscore(key, "old-000050"))   # 100,051 ids: the oldest 51 went
        self.assertIsNotNone(raw.zscore(key, "old-000051"))
        self.assertIsNotNone(raw.zscore(key, jid))         # the newest stayed
        for idx in (":type:system.old", ":target:h9"):
            self.assertEqual(raw.zrange(key + idx, 0, -1), [b"old-000051", b"old-000060"], idx)
        self.assertIsNotNone(raw.zscore(key + ":type:system.noop", jid))

    def test_schedule_fires_once_per_tick_with_two_schedulers(self):
        self.worker()
        self.worker()
        p = self.cli("schedule", "add", "tick", "--every", "1s", "system.noop", "--arg", "n=1")
        self.assertEqual(p.returncode, 0, p.stderr)
        lst = self.cli("schedule", "list", "--json")
        self.assertIn('"tick"', lst.stdout)
        time.sleep(5.5)
        self.assertEqual(self.cli("schedule", "rm", "tick").returncode, 0)
        time.sleep(1.5)
        ids = [k[len(self.prefix) + 4:] for k in self.r.keys(self.prefix + "job:tick-*") if not k.endswith(":log")]
        fires = sorted(int(i.split("-")[1]) for i in ids)
        self.assertGreaterEqual(len(fires), 4, fires)
        self.assertEqual(len(fires), len(set(fires)))
        # one job per whole second, none skipped, none twice
        self.assertEqual(fires, list(range(fires[0], fires[0] + len(fires))), fires)
        for i in ids:
            wait_for(lambda i=i: self.state(i) == "succeeded", what=i)
            h = self.job(i)
            self.assertEqual(h["attempt"], "1")
            self.assertNotIn("redeliveries", h)
        # exactly one leader between the two workers
        self.assertIn(self.r.get(self.prefix + "leader"), [w.worker_id for w in self.workers])

    def test_ticks_missed_with_no_leader_fire_once_late_then_resume(self):
        # schemas 15, Schedules: with no scheduler running, ticks are missed; the next
        # leader fires the earliest missed one once, late (its id and run_at name that
        # tick), skips the rest, and the schedule resumes at the first tick after it.
        p = self.cli("schedule", "add", "gap", "--every", "2s", "system.noop")  # no worker: no scheduler
        self.assertEqual(p.returncode, 0, p.stderr)
        first = int(self.r.zscore(self.prefix + "schedules:next", "gap")) // 1000
        wait_for(lambda: time.time() > first + 6.5, timeout=15, what="three ticks missed")
        started = time.time()
        self.worker()
        time.sleep(5)
        self.assertEqual(self.cli("schedule", "rm", "gap").returncode, 0)
        ids = [k[len(self.prefix) + 4:] for k in self.r.keys(self.prefix + "job:gap-*") if not k.endswith(":log")]
        fires = sorted(int(i.split("-")[1]) for i in ids)
        self.assertEqual(fires[0], first, fires)
        late = self.job("gap-%d" % first)
        self.assertEqual(late["run_at"], str(first * 1000))
        caught = int(late["created_at"])  # the leader's `now` when it fired the missed tick
        self.assertGreaterEqual(caught, int(started * 1000), "fired when a leader came")
        # the ticks between it and the catch-up were skipped, not made up
        self.assertEqual([f for f in fires if first < f and f * 1000 <= caught], [], (fires, caught))
        resumed = fires[1:]
        self.assertGreaterEqual(len(resumed), 1, fires)
        self.assertEqual(resumed[0], (caught // 2000 + 1) * 2, "the first tick after the catch-up")
        self.assertEqual(resumed, list(range(resumed[0], resumed[0] + 2 * len(resumed), 2)), fires)
        for i in ids:
            wait_for(lambda i=i: self.state(i) == "succeeded", what=i)

    def test_firings_take_the_type_default_max_attempts(self):
        # runtime.host.stats makes one attempt by default, a firing too; the
        # worker has no host "h", so each firing ends unknown_host at once
        # (and leaves no message held in Redis)
        w = env.start_worker(self.amqp, self.prefix, concurrency=2, families="system,runtime")
        self.workers.append(w)
        for name, extra in (("stats1", []), ("stats5", ["--max-attempts", "5"])):
            p = self.cli("schedule", "add", name, "--every", "1s", "--target", "h", "runtime.host.stats", *extra)
            self.assertEqual(p.returncode, 0, p.stderr)
        fired = lambda name: [k[len(self.prefix) + 4:] for k in self.r.keys(self.prefix + "job:%s-*" % name)
                              if k[len(self.prefix) + 4:].count(":") == 0]  # the hashes, not :body or :log
        wait_for(lambda: fired("stats1") and fired("stats5"), timeout=10, what="both schedules to fire")
        for name in ("stats1", "stats5"):
            self.assertEqual(self.cli("schedule", "rm", name).returncode, 0)
        for name, attempts in (("stats1", "1"), ("stats5", "5")):
            for jid in fired(name):
                self.wait_state(jid, "failed")
                h = self.job(jid)
                self.assertEqual((h["max_attempts"], h["error"]), (attempts, "unknown_host"), h)

    def test_leadership_moves_when_the_leader_dies(self):
        ws = [self.worker("scheduler.leader_ttl_ms=2000"), self.worker("scheduler.leader_ttl_ms=2000")]
        leader = wait_for(lambda: self.r.get(self.prefix + "leader"), what="a leader")
        dead = next(w for w in ws if w.worker_id == leader)
        alive = next(w for w in ws if w is not dead)
        dead.kill()
        t = time.monotonic()
        jid = self.submit("system.noop", "--delay", "1s")
        wait_for(lambda: self.r.get(self.prefix + "leader") == alive.worker_id, timeout=10, what="takeover")
        self.assertLess(time.monotonic() - t, 5)
        self.wait_state(jid, "succeeded", timeout=10)
        self.assertEqual(self.job(jid)["worker"], alive.worker_id)

    def test_a_due_job_the_broker_never_got_is_published_again_soon(self):
        # The only scheduler cannot reach the broker: the due job is never
        # handed over. Its lease (jobs.republish_s, 600 s) is cut short, so the
        # next leader that reaches the broker publishes it within seconds.
        # (It never registers: a worker does so once it consumes.)
        closed = "amqp://guest:guest@127.0.0.1:1/%2f"
        cmd = [env._bin("wharf-worker"), "--families", "system", "--set", "scheduler.leader_ttl_ms=2000"]
        with open(os.path.join(env.tmp, "lonely-%s.log" % self.prefix.rstrip(":")), "wb") as log:
            lonely = subprocess.Popen(cmd, env=env.child_env(closed, self.prefix, "quorum", None), stdout=log,
                                      stderr=log, stdin=subprocess.DEVNULL, preexec_fn=wharftest._set_pdeathsig)
        self.addCleanup(lambda: lonely.poll() is None and (lonely.kill(), lonely.wait()))
        wait_for(lambda: self.r.get(self.prefix + "leader"), timeout=10, what="the lonely leader")
        jid = self.submit("system.noop", "--delay", "1s")
        wait_for(lambda: self.state(jid) == "queued", timeout=10, what="the job due")

        def short_lease():
            score = self.r.zscore(self.prefix + "leases", jid)
            return score is not None and score < time.time() * 1000 + 10000
        wait_for(short_lease, timeout=10, what="a short lease")
        lonely.kill()
        lonely.wait()
        self.worker("scheduler.leader_ttl_ms=2000")
        self.wait_state(jid, "succeeded", timeout=20)

    def test_cron_schedule_and_bad_input(self):
        p = self.cli("schedule", "add", "nightly", "--cron", "30 2 * * *", "system.noop")
        self.assertEqual(p.returncode, 0, p.stderr)
        nxt = self.r.zscore(self.prefix + "schedules:next", "nightly")
        self.assertEqual(time.gmtime(nxt / 1000).tm_hour, 2)
        self.assertEqual(time.gmtime(nxt / 1000).tm_min, 30)
        p = self.cli("schedule", "add", "bad", "--cron", "61 * * * *", "system.noop")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cron.minute", p.stderr)
        p = self.cli("schedule", "add", "bad name", "--every", "5s", "system.noop")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("name", p.stderr)
        p = self.cli("schedule", "add", "typo", "--every", "5s", "system.nope")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown job type", p.stderr)
        p = self.cli("schedule", "add", "badarg", "--every", "5s", "system.sleep", "--arg", "ms=-1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("args.ms", p.stderr)
        self.assertIsNone(self.r.hget(self.prefix + "schedules", "typo"))
        p = self.cli("schedule", "rm", "nope")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no schedule", p.stderr)

    # ---- cancel ------------------------------------------------------------

    def test_cancel_in_every_state(self):
        # queued, with no worker yet: never runs
        q = self.submit("system.noop")
        self.assertEqual(self.cli("cancel", q).returncode, 0)
        self.assertEqual(self.state(q), "cancelled")
        # scheduled: leaves the set
        s = self.submit("system.noop", "--delay", "60s")
        self.assertEqual(self.cli("cancel", s).returncode, 0)
        self.assertEqual(self.state(s), "cancelled")
        self.assertIsNone(self.r.zscore(self.prefix + "scheduled", s))
        self.worker()
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.system") == 0, what="queued copy consumed")
        self.assertNotIn("started_at", self.job(q))
        # retrying: the retry copy is skipped
        rt = self.submit("system.fail", "--arg", "transient=true", "--max-attempts", "5")
        self.wait_state(rt, "retrying")
        self.assertEqual(self.cli("cancel", rt).returncode, 0)
        self.assertEqual(self.state(rt), "cancelled")
        time.sleep(1.5)  # past the first retry tier
        self.assertEqual(self.job(rt)["attempt"], "1")
        # running: interrupted, ends cancelled
        run = self.submit("system.sleep", "--arg", "ms=60000")
        self.wait_state(run, "running")
        t = time.monotonic()
        p = self.cli("cancel", run)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("cancelling", p.stdout)
        self.wait_state(run, "cancelled", timeout=5)
        self.assertLess(time.monotonic() - t, 3)
        self.assertEqual(self.job(run)["error"], "cancelled")
        # finished: a clear error
        p = self.cli("cancel", run)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already finished", p.stderr)
        p = self.cli("cancel", "no-such-job")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no job", p.stderr)

    def test_cancel_of_a_running_job_counts_cancelled_not_failed(self):
        # schemas/README.md 9.5: an attempt a cancel interrupts counts under
        # `cancelled`, never `failed`, in Redis, the CLI and the HTTP API.
        self.worker()
        run = self.submit("system.sleep", "--arg", "ms=60000")
        self.wait_state(run, "running")
        self.assertEqual(self.cli("cancel", run).returncode, 0)
        self.wait_state(run, "cancelled", timeout=5)
        counts = {}
        for k in self.r.keys(self.prefix + "stats:system.sleep:1m:*"):
            for f, v in self.r.hgetall(k).items():
                counts[f] = counts.get(f, 0) + int(v)
        self.assertEqual(counts.get("cancelled"), 1, counts)
        self.assertNotIn("failed", counts)
        p = self.cli("stats", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        t = json.loads(p.stdout)["system.sleep"]
        self.assertEqual((t["cancelled"], t["failed"], t["ok"], t["dead"]), (1, 0, 0, 0), t)
        p = self.cli("stats")
        self.assertEqual(p.returncode, 0, p.stderr)
        head = next(line.split() for line in p.stdout.splitlines() if line.startswith("TYPE"))
        row = next(line.split() for line in p.stdout.splitlines() if line.startswith("system.sleep"))
        self.assertEqual(row[head.index("CANCELLED")], "1", p.stdout)
        self.assertEqual(row[head.index("FAILED")], "0", p.stdout)
        srv = wharfserve.start(env, self.amqp, self.prefix)
        try:
            st, _, b = srv.request("GET", "/v1/stats?minutes=5")
            self.assertEqual(st, 200, b)
            t = b["types"]["system.sleep"]
            self.assertEqual((t["cancelled"], t["failed"]), (1, 0), t)
            st, _, b = srv.request("GET", "/v1/stats/series?minutes=5&type=system.sleep")
            self.assertEqual(st, 200, b)
            t = b["types"]["system.sleep"]
            self.assertEqual((sum(t["cancelled"]), sum(t["failed"])), (1, 0), t)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_cancel_of_a_job_whose_worker_died_ends_it_and_expires_it(self):
        # cancel.lua flags the running job; its worker is gone, so the redelivered
        # copy's start ends it `cancelled`, and the hash expires as a finished one does.
        # Gone means its registry key expired (three heartbeats: 3 s here); until
        # then the copy waits, as the run may still be going (start.lua, busy)
        a = self.worker("worker.heartbeat_s=1")
        jid = self.submit("system.sleep", "--arg", "ms=60000", "--job-timeout", "120")
        self.wait_state(jid, "running")
        a.kill()
        p = self.cli("cancel", jid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("cancelling", p.stdout)
        self.worker("jobs.ttl_s=3600")
        self.wait_state(jid, "cancelled", timeout=15)
        h = self.job(jid)
        self.assertEqual(h["error_message"], "cancelled while running; its worker stopped")
        self.assertNotIn("cancel_requested", h)
        self.assertTrue(0 < self.r.ttl(self.prefix + "job:" + jid) <= 3600, self.r.ttl(self.prefix + "job:" + jid))

    # ---- timeouts ----------------------------------------------------------

    def test_timeout_interrupts_a_long_sleep(self):
        self.worker()
        t = time.monotonic()
        jid = self.submit("system.sleep", "--arg", "ms=60000", "--job-timeout", "1")
        self.wait_state(jid, "failed", timeout=10)
        self.assertLess(time.monotonic() - t, 5)
        h = self.job(jid)
        self.assertEqual(h["error"], "timeout")
        self.assertIn("timed out after 1 s", h["error_message"])

    # ---- the reaper --------------------------------------------------------

    def test_reaper_requeues_the_job_of_a_killed_worker(self):
        # Jobs with a timeout above max_hold_s are acked at start and kept
        # under a lease: RabbitMQ cannot redeliver them, only the reaper can.
        sets = ("jobs.max_hold_s=1", "jobs.lease_s=3")
        a = self.worker(*sets)
        jid = self.submit("system.sleep", "--arg", "ms=3000", "--job-timeout", "60")
        self.wait_state(jid, "running")
        wait_for(lambda: self.r.zscore(self.prefix + "leases", jid) is not None, what="lease")
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.system") == 0, what="early ack")
        self.assertEqual(self.job(jid)["worker"], a.worker_id)
        a.kill()
        b = self.worker(*sets)
        self.wait_state(jid, "succeeded", timeout=30)
        h = self.job(jid)
        self.assertEqual(h["worker"], b.worker_id)
        self.assertEqual(h["attempt"], "2")
        self.assertIsNone(self.r.zscore(self.prefix + "leases", jid))
        self.assertFalse(self.r.exists(self.prefix + "job:" + jid + ":body"))
        self.assertIn("reaper", b.log_text())

    def test_running_job_under_live_lease_is_not_run_twice(self):
        self.worker("jobs.max_hold_s=1", "jobs.lease_s=5")
        jid = self.submit("system.sleep", "--arg", "ms=2500", "--job-timeout", "60", "--id", "leased-1")
        self.wait_state(jid, "running")
        import msgpack  # noqa: E402
        body = msgpack.packb({"v": 1, "id": jid, "type": "system.sleep", "args": {"ms": 2500},
                              "created_at": int(time.time() * 1000), "timeout_s": 60})
        env.publish_raw(self.amqp, "wharf.jobs", "system", body, {"message_id": jid, "headers": {"wharf-schema": 1}})
        self.wait_state(jid, "succeeded", timeout=15)
        h = self.job(jid)
        self.assertEqual(h["attempt"], "1")
        self.assertNotIn("redeliveries", h)

    # ---- priorities -------------------------------------------------------

    def test_priority_orders_a_classic_queue(self):
        extra = {"WHARF_AMQP_MAX_PRIORITY": "9"}
        # declare the queues (with x-max-priority) before anything is queued
        w = env.start_worker(self.amqp, self.prefix, concurrency=1, queue_type="classic", extra_env=extra,
                             args=["--set", "worker.prefetch=1"])
        w.stop()
        low = []
        for _ in range(10):
            p = env.wharf(["submit", "system.noop"], self.amqp, self.prefix, queue_type="classic", extra_env=extra)
            self.assertEqual(p.returncode, 0, p.stderr)
            low.append(p.stdout.strip())
        p = env.wharf(["submit", "system.noop", "--priority", "9"], self.amqp, self.prefix, queue_type="classic",
                      extra_env=extra)
        high = p.stdout.strip()
        w = env.start_worker(self.amqp, self.prefix, concurrency=1, queue_type="classic", extra_env=extra,
                             args=["--set", "worker.prefetch=1"])
        self.workers.append(w)
        for jid in low + [high]:
            self.wait_state(jid, "succeeded")
        first_low = min(int(self.job(j)["started_at"]) for j in low)
        self.assertLessEqual(int(self.job(high)["started_at"]), first_low)
        self.assertEqual(self.job(high)["priority"], "9")
        # quorum queues cannot take priorities: a clear configuration error
        p = env.wharf(["status", "x"], self.amqp, self.prefix, extra_env=extra)
        self.assertEqual(p.returncode, 2)
        self.assertIn("amqp.max_priority", p.stderr)

    # ---- uniqueness and locks ---------------------------------------------

    def test_unique_submit_returns_the_live_job(self):
        a = self.submit("system.sleep", "--arg", "ms=1500", "--unique-for", "60s")
        p = self.cli("submit", "system.sleep", "--arg", "ms=1500", "--unique-for", "60s")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), a)
        self.assertIn("already exists", p.stderr)
        other = self.submit("system.sleep", "--arg", "ms=1501", "--unique-for", "60s")
        self.assertNotEqual(other, a)
        self.worker()
        self.wait_state(a, "succeeded")
        # once finished, an equal job is new again
        again = self.submit("system.sleep", "--arg", "ms=1500", "--unique-for", "60s")
        self.assertNotEqual(again, a)

    def test_locked_jobs_never_overlap(self):
        self.worker(concurrency=4)
        ids = [self.submit("system.sleep", "--arg", "ms=400", "--lock", "host:web1/ctr:api") for _ in range(4)]
        free = self.submit("system.sleep", "--arg", "ms=400")
        for jid in ids + [free]:
            self.wait_state(jid, "succeeded", timeout=30)
        spans = sorted((int(self.job(j)["started_at"]), int(self.job(j)["finished_at"])) for j in ids)
        for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
            self.assertLessEqual(e1, s2, "locked jobs overlapped: %r" % spans)
        for j in ids:
            self.assertEqual(self.job(j)["attempt"], "1")  # waiting used no attempt
        self.assertIsNone(self.r.get(self.prefix + "lock:host:web1/ctr:api"))


if __name__ == "__main__":
    unittest.main()
