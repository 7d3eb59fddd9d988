#!/usr/bin/python3
"""The wharf CLI against real servers: exit codes, usage errors that name the
problem, JSON outputs, following logs, waiting, and the dead-letter commands."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        # The follow test writes 20,000 lines: above the default log cap
        # (10,000), a follower slower than the writer would find the oldest
        # trimmed (test_pipe tests the cap itself).
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=4,
                                      extra_env={"WHARF_JOBS_LOG_MAX_LINES": "100000"})

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()

    def cli(self, *args, **kw):
        return env.wharf(list(args), self.amqp, self.prefix, **kw)

    def test_usage_errors_exit_2_and_name_the_problem(self):
        cases = [
            (["submit"], "missing TYPE"),
            (["submit", "system.nope"], 'unknown job type "system.nope"'),
            (["submit", "system.sleep"], "args.ms: is required"),
            (["submit", "system.sleep", "--arg", "ms=-1"], "args.ms: must be an integer in 0..3600000"),
            (["submit", "system.sleep", "--arg", "ms=1", "--arg", "typo=1"], "args.typo: is not a known argument"),
            (["submit", "system.noop", "--id", "a b"], "id: must match"),
            (["submit", "system.noop", "--args-json", "[1]"], "must be a JSON object"),
            (["submit", "system.noop", "--args-json", "{bad"], "--args-json"),
            (["submit", "system.noop", "--arg", "novalue"], "expected KEY=VALUE"),
            (["submit", "system.noop", "--max-attempts", "0"], "--max-attempts"),
            (["frobnicate"], 'unknown command "frobnicate"'),
            (["status"], "exactly one job id"),
            (["dead", "explode"], "Usage"),
            (["--set", "worker.concurrency=0", "status", "x"], "worker.concurrency"),
        ]
        for args, needle in cases:
            p = self.cli(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(needle, p.stderr, args)

    def test_local_check_reports_every_problem_of_a_collecting_type(self):
        # provision.container's check collects its problems (as
        # provision.validate lists them): the local check prints them all,
        # the args table's next to the type's own, and exits 2.
        args = {"hostname": "Bad_Host", "template": "tmpl", "ssh_public_key": "nospace", "http_port": 0,
                "repo": "ftp://x/y", "protocols": ["ssh", "FTP!"]}
        p = self.cli("submit", "provision.container", "--target", "h", "--args-json", json.dumps(args))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("5 problem(s): ", p.stderr)
        for field in ("args.hostname", "args.ssh_public_key", "args.http_port", "args.repo", "args.protocols[1]"):
            self.assertIn(field + ": ", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_help_everywhere(self):
        p = self.cli("--help")
        self.assertEqual(p.returncode, 0)
        for cmd in ("submit", "status", "logs", "wait", "workers", "stats", "dead"):
            self.assertIn("wharf " + cmd, p.stdout)
            h = self.cli(cmd, "--help")
            self.assertEqual(h.returncode, 0, cmd)
            self.assertTrue(h.stdout.startswith("Usage: wharf " + cmd), h.stdout)

    def test_status_json_types_fields(self):
        p = self.cli("submit", "system.noop", "--args-json", '{"a":[1,"x"]}', "--arg", "b=true", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        id = p.stdout.split()[0]
        s = json.loads(self.cli("status", "--json", id).stdout)
        self.assertEqual(s["state"], "succeeded")
        self.assertEqual(s["attempt"], 1)
        self.assertIsInstance(s["finished_at"], int)
        self.assertEqual(s["result"], {"a": [1, "x"], "b": True})
        human = self.cli("status", id).stdout
        self.assertIn("state          succeeded", human)
        missing = self.cli("status", "no-such-job")
        self.assertEqual(missing.returncode, 1)
        self.assertIn('no job with id "no-such-job"', missing.stderr)

    def test_logs_follow_streams_until_the_job_ends(self):
        p = self.cli("submit", "system.log", "--arg", "lines=20000", "--arg", "bytes=30")
        id = p.stdout.strip()
        f = self.cli("logs", "-f", id, timeout=60)
        self.assertEqual(f.returncode, 0, f.stderr)
        lines = f.stdout.splitlines()
        self.assertEqual(len(lines), 20000)
        self.assertTrue(lines[0].startswith("line 1 "))
        self.assertTrue(lines[-1].startswith("line 20000 "))
        self.assertEqual(self.cli("status", "--json", id).stdout and
                         json.loads(self.cli("status", "--json", id).stdout)["state"], "succeeded")

    def _trimmed_job(self, state, added, keep):
        """A job hash and a log stream that kept the newest `keep` of
        `added` lines ("line N"), as a worker's capped XADDs leave it."""
        id = "trim-%s-%d" % (state, added)
        r = env.redis()
        r.hset(self.prefix + "job:" + id, mapping={"id": id, "type": "system.log", "state": state})
        self._add_lines(id, 1, added, keep)
        return id

    def _add_lines(self, id, first, last, keep):
        # one script: the writer outruns any reader at once
        env.redis().eval("for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
                         "redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 's', 'out', 'l', 'line ' .. i) end",
                         1, self.prefix + "job:" + id + ":log", first, last, keep)

    def test_logs_say_how_many_lines_the_cap_trimmed(self):
        id = self._trimmed_job("succeeded", 500, 100)
        p = self.cli("logs", id)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 100)
        self.assertEqual(lines[0], "line 401")
        self.assertEqual(lines[-1], "line 500")
        self.assertIn("[wharf] 400 lines were trimmed before the first shown", p.stderr)
        # nothing to say when nothing was trimmed
        whole = self._trimmed_job("succeeded", 50, 100)
        p = self.cli("logs", whole)
        self.assertEqual(len(p.stdout.splitlines()), 50)
        self.assertNotIn("trimmed", p.stderr)

    def test_logs_follow_marks_the_lines_it_missed(self):
        id = self._trimmed_job("running", 100, 100)
        cmd = [env._bin("wharf"), "logs", "-f", id]
        f = subprocess.Popen(cmd, env=env.child_env(self.amqp, self.prefix, "quorum", None), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=env.tmp)
        try:
            got = [f.stdout.readline() for _ in range(100)]
            self.assertEqual(got[-1].strip(), "line 100")
            # 500 more lines, of which the stream keeps the newest 100: the
            # follower misses 101..500 and must say so, then go on.
            self._add_lines(id, 101, 600, 100)
            env.redis().hset(self.prefix + "job:" + id, "state", "succeeded")
            out, err = f.communicate(timeout=30)
        finally:
            if f.poll() is None:
                f.kill()
        self.assertEqual(f.returncode, 0, err)
        rest = out.splitlines()
        self.assertEqual(rest[0], "line 501")
        self.assertEqual(rest[-1], "line 600")
        self.assertEqual(len(rest), 100)
        self.assertIn("[wharf] 400 lines were trimmed here", err)

    def test_progress_is_reported_while_running(self):
        id = self.cli("submit", "system.log", "--arg", "lines=400000", "--arg", "bytes=20").stdout.strip()
        seen = set()

        def mid():
            s = json.loads(self.cli("status", "--json", id).stdout)
            if s["state"] == "running" and 0 < s["progress"] < 100:
                seen.add(s["progress"])
                return s
            return None
        s = wait_for(mid, 30, interval=0.02, what="a progress value between 0 and 100")
        self.assertEqual(s["progress"] % 5, 0)
        self.assertRegex(s["step"], r"^line \d+ of 400000$")
        w = self.cli("wait", id, timeout=60)
        self.assertEqual(w.returncode, 0, w.stderr)
        self.assertEqual(json.loads(self.cli("status", "--json", id).stdout)["progress"], 100)

    def test_ids_that_start_with_a_dash_work_after_double_dash(self):
        p = self.cli("submit", "system.noop", "--id=-dash-id", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.cli("status", "--json", "--", "-dash-id")
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertEqual(json.loads(s.stdout)["state"], "succeeded")
        self.assertEqual(self.cli("wait", "--", "-dash-id").returncode, 0)

    def test_wait_many_exits_0_only_if_all_succeeded(self):
        ok = [self.cli("submit", "system.sleep", "--arg", "ms=200").stdout.strip() for _ in range(3)]
        w = self.cli("wait", *ok, timeout=60)
        self.assertEqual(w.returncode, 0, w.stderr)
        self.assertEqual(sorted(w.stdout.split()), sorted(sum(([i, "succeeded"] for i in ok), [])))
        bad = self.cli("submit", "system.fail", "--arg", "code=nope").stdout.strip()
        w = self.cli("wait", ok[0], bad, timeout=60)
        self.assertEqual(w.returncode, 1)
        self.assertIn("%s failed" % bad, w.stdout)
        self.assertIn("nope", w.stderr)
        t = self.cli("submit", "system.sleep", "--arg", "ms=5000", "--wait", "--timeout", "1")
        self.assertEqual(t.returncode, 1)
        self.assertIn("timed out", t.stderr)

    def test_workers_and_stats_json(self):
        ws = json.loads(self.cli("workers", "--json").stdout)
        mine = [w for w in ws if w["pid"] == self.worker.pid]
        self.assertEqual(len(mine), 1, ws)
        self.assertEqual(mine[0]["concurrency"], 4)
        self.assertEqual(mine[0]["queues"], "system")
        self.assertIn(self.worker.worker_id, self.cli("workers").stdout)
        for _ in range(3):
            self.assertEqual(self.cli("submit", "system.noop", "--wait").returncode, 0)
        # Stats are flushed by the worker about once a second.
        stats = wait_for(lambda: json.loads(self.cli("stats", "--json").stdout).get("system.noop", {})
                         .get("ok", 0) >= 3 and json.loads(self.cli("stats", "--json").stdout), 10,
                         what="noop stats")
        self.assertGreaterEqual(stats["system.noop"]["ok"], 3)
        self.assertGreaterEqual(stats["system.noop"]["max_ms"], 0)

    def test_workers_table_columns_line_up(self):
        # A worker of every family has the longest QUEUES value there is; its
        # row and the one-family worker's must both line up under the header.
        wide = env.start_worker(self.amqp, self.prefix, concurrency=2, families="system,runtime,registry,provision")
        try:
            p = self.cli("workers")
        finally:
            wide.stop()
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["WORKER", "HOST", "PID", "QUEUES", "CONC", "RUNNING", "DONE", "FAILED",
                                            "RSS_MB", "BEAT_S"], p.stdout)
        starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
        rows = {ln.split()[0]: ln for ln in lines[1:]}
        self.assertEqual(sorted(rows), sorted([self.worker.worker_id, wide.worker_id]), p.stdout)
        self.assertIn(" system,runtime,registry,provision ", rows[wide.worker_id])
        for ln in rows.values():
            self.assertEqual([m.start() for m in re.finditer(r"\S+", ln)], starts, "\n" + p.stdout)

    def test_dead_list_retry_purge(self):
        p = self.cli("submit", "system.fail", "--id", "deadcli", "--arg", "transient=true", "--max-attempts", "1",
                     "--wait")
        self.assertEqual(p.returncode, 1)
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.dead") >= 1, 15, what="a dead letter")
        lst = json.loads(self.cli("dead", "list", "--json").stdout)
        entry = [d for d in lst if d["id"] == "deadcli"]
        self.assertEqual(len(entry), 1, lst)
        self.assertEqual(entry[0]["reason"], "attempts_exhausted")
        self.assertIn("deadcli", self.cli("dead", "list").stdout)
        # Listing leaves the messages in the queue.
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.dead") >= 1, 15, what="dead letter still there")
        r = self.cli("dead", "retry", "deadcli")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("deadcli requeued", r.stdout)
        # The revived job ran again from attempt 1 (and, being a failing job, died again).
        wait_for(lambda: env.redis().hget(self.prefix + "job:deadcli", "state") == "dead", 20, what="dead again")
        self.assertEqual(env.redis().hget(self.prefix + "job:deadcli", "attempt"), "1")
        self.assertEqual(self.cli("dead", "retry", "no-such").returncode, 1)
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.dead") >= 1, 15, what="dead again in queue")
        # One job's letter by id: only it goes, and the job stays dead.
        p = self.cli("submit", "system.fail", "--id", "deadcli2", "--arg", "transient=true", "--max-attempts", "1",
                     "--wait")
        self.assertEqual(p.returncode, 1)
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.dead") >= 2, 15, what="two dead letters")
        one = self.cli("dead", "purge", "deadcli2")
        self.assertEqual((one.returncode, one.stdout), (0, "purged 1 dead messages\n"), one.stderr)
        ids = [d["id"] for d in json.loads(self.cli("dead", "list", "--json").stdout)]
        self.assertIn("deadcli", ids)
        self.assertNotIn("deadcli2", ids)
        self.assertEqual(env.redis().hget(self.prefix + "job:deadcli2", "state"), "dead")
        self.assertEqual(self.cli("dead", "purge", "deadcli2").returncode, 1)  # no such letter now
        pg = self.cli("dead", "purge")
        self.assertEqual(pg.returncode, 0, pg.stderr)
        self.assertRegex(pg.stdout, r"purged [1-9]\d* dead messages")
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.dead") == 0, 15, what="dead queue empty")


if __name__ == "__main__":
    unittest.main()
