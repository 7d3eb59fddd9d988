#!/usr/bin/env python3
"""The soak checker on synthetic run directories (no servers, seconds).

A clean history passes every invariant; then, for each invariant, a history
that breaks it is flagged by exactly that invariant, and each documented
window (a fault that explains a duplicate run, a lock overlap, a skipped
tick, a timeout, an abandoned job, a lost delayed submit) is allowed and
counted, not flagged.
"""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checker  # noqa: E402
import history  # noqa: E402
import report  # noqa: E402
from synthrun import S, T0, Soak  # noqa: E402


class CheckerCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="soakcheck")
        self.soak = Soak().clean()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fresh(self):
        """A clean history and an empty directory again (for subTests)."""
        self.tearDown()
        self.setUp()

    def verdict(self):
        return checker.check(self.soak.write(self.tmp))

    def assertOnly(self, name, v=None):
        """Exactly invariant `name` is violated."""
        v = v or self.verdict()
        bad = sorted(n for n, i in v["invariants"].items() if not i["ok"])
        self.assertEqual(bad, [name], json.dumps({n: v["invariants"][n]["violations"][:2] for n in bad}, indent=1))
        self.assertFalse(v["ok"])
        return v["invariants"][name]

    def assertAllowed(self, name, v=None):
        """Every invariant holds, and `name` counted an allowed window."""
        v = v or self.verdict()
        bad = {n: i["violations"][:2] for n, i in v["invariants"].items() if not i["ok"]}
        self.assertEqual(bad, {}, json.dumps(bad, indent=1))
        self.assertGreater(v["invariants"][name]["allowed_total"], 0, v["invariants"][name])
        return v["invariants"][name]

    def ids(self, inv):
        return sorted({e.get("id") for e in inv["violations"]})


class Clean(CheckerCase):
    def test_a_clean_history_passes_and_is_reported(self):
        path = self.soak.write(self.tmp)
        v = checker.check(path)
        bad = {n: i["violations"][:2] for n, i in v["invariants"].items() if not i["ok"]}
        self.assertEqual(bad, {}, json.dumps(bad, indent=1))
        self.assertEqual(len(v["invariants"]), 10)
        inv = v["invariants"]
        self.assertEqual(inv["terminal_state"]["count"], 50)  # the dedup'd submit points at uniq1
        self.assertEqual(inv["schedule_once"]["count"], 39)
        self.assertEqual(inv["dead_letter_reason"]["count"], 1)
        self.assertEqual(inv["no_crash"]["notes"].get("killed by the nemesis"), 1)
        self.assertEqual(inv["rss_flat"]["count"], 4)  # w1, w2, and w3 before and after its restart
        self.assertEqual(inv["duplicate_runs"]["violations_total"] + inv["duplicate_runs"]["allowed_total"], 0)

    def main(self, path):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = checker.main(["checker.py", path])
        self.assertIn("verdict: ", out.getvalue())
        return rc

    def test_the_cli_writes_verdict_and_report_and_exits_0(self):
        path = self.soak.write(self.tmp)
        self.assertEqual(self.main(path), 0)
        with open(os.path.join(path, "verdict.json")) as f:
            self.assertTrue(json.load(f)["ok"])
        with open(os.path.join(path, "report.md")) as f:
            text = f.read()
        self.assertIn("tests/soak/run --minutes 3 --seed 21", text)
        self.assertIn("| worker_kill | 1 | no |", text)
        self.assertIn("does NOT hold", text)
        self.assertIn("Scaled to this run's 3 minutes (at least 1 of each kind): does NOT hold (worker_stop,", text)
        self.assertIn("## Throughput (per 10 s)", text)
        self.assertIn("### duplicate_runs: ok", text)

    def test_the_cli_exits_1_on_a_violation_and_reports_it(self):
        self.soak.stats["ok"] += 1
        path = self.soak.write(self.tmp)
        self.assertEqual(self.main(path), 1)
        with open(os.path.join(path, "report.md")) as f:
            self.assertIn("### stats_exact: VIOLATED", f.read())


    def test_soak_py_calls_main_and_write_with_the_run_dir_only(self):
        path = self.soak.write(self.tmp)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(checker.main(path), 0)
        os.remove(os.path.join(path, "report.md"))
        report.write(path)
        self.assertTrue(os.path.exists(os.path.join(path, "report.md")))

    def test_the_run_settings_come_from_meta_then_worker_keys_then_defaults(self):
        cfg = history.config({"lease_s": 8, "worker_keys": {"scheduler.leader_ttl_ms": 4000, "jobs.lease_s": 9,
                                                            "amqp.heartbeat_s": 5}, "heartbeat_s": 2})
        self.assertEqual((cfg["lease_s"], cfg["lock_ttl_ms"], cfg["leader_ttl_ms"], cfg["heartbeat_s"],
                          cfg["amqp_heartbeat_s"], cfg["tick_ms"]), (8, 8000, 4000, 2, 5, 200))
        self.assertEqual(history.drain_end({"drained": True, "drain_ms": 500}, 1000), (1500, True))
        self.assertEqual(history.drain_end({"drained": False, "finished": 9000}, 1000), (9000, False))
        self.assertEqual(history.drain_end({"drained": 7000}, 1000), (7000, True))


class TerminalState(CheckerCase):
    def test_a_lost_job_is_flagged(self):
        self.soak.submits.append({"t": T0 + 50 * S, "t_end": T0 + 50 * S + 5, "id": "lost1", "type": "system.noop",
                                  "args": {}, "ok": True, "returned_id": "lost1", "expect": "succeeded"})
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["lost1"])

    def test_a_failed_submit_is_not_judged(self):
        self.soak.submits.append({"t": T0 + 50 * S, "t_end": T0 + 50 * S + 5, "id": "nope", "type": "system.noop",
                                  "args": {}, "ok": False, "error_code": "broker_blocked", "expect": "succeeded"})
        v = self.verdict()
        self.assertTrue(v["ok"], v["invariants"]["terminal_state"]["violations"])

    def test_a_delayed_submit_lost_with_the_redis_master_is_allowed(self):
        t = T0 + 50 * S
        self.soak.submits.append({"t": t, "t_end": t + 5, "id": "late1", "type": "system.noop", "args": {},
                                  "ok": True, "returned_id": "late1", "expect": "succeeded", "run_at": t + 9000})
        self.soak.fault("redis_master_kill", "r1", t + 200, t + 20 * S)
        self.assertAllowed("terminal_state")

    def test_a_delayed_job_that_started_early_is_flagged(self):
        self.soak.job("early1", T0 + 60 * S, runs=(("w1.0", 100, 110, "ok"),), run_at=T0 + 62 * S)
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["early1"])

    def test_a_wrong_end_state_is_flagged(self):
        self.soak.job("perm2", T0 + 60 * S, runs=(("w1.0", 40, 41, "fail"),), type_="system.fail",
                      args={"code": "boom"}, expect="failed", state="succeeded")
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["perm2"])

    def test_a_permanent_failure_with_another_code_is_flagged(self):
        self.soak.job("perm3", T0 + 60 * S, runs=(("w1.0", 40, 41, "fail"),), type_="system.fail",
                      args={"code": "boom"}, expect="failed", error="other")
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["perm3"])

    def test_a_transient_failure_dead_too_early_or_without_a_dead_letter_is_flagged(self):
        self.soak.job("trans2", T0 + 60 * S, runs=(("w1.0", 40, 41, "fail"), ("w2.0", 1100, 1101, "fail")),
                      type_="system.fail", args={"code": "flaky", "transient": True}, expect="dead", error="flaky")
        self.soak.dead_letters.append({"headers": {"wharf-reason": "attempts_exhausted", "wharf-job-id": "trans2"}})
        self.soak.job("trans3", T0 + 70 * S, runs=(("w1.0", 40, 41, "fail"), ("w2.0", 1100, 1101, "fail"),
                                                   ("w3.0", 6200, 6201, "fail")),
                      type_="system.fail", args={"code": "flaky", "transient": True}, expect="dead", error="flaky")
        inv = self.assertOnly("terminal_state")
        self.assertEqual(self.ids(inv), ["trans2", "trans3"])

    def test_cancelled_without_a_cancel_is_flagged(self):
        self.soak.job("cxl9", T0 + 60 * S, runs=(), state="cancelled", error="cancelled")
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["cxl9"])

    def test_cancelled_after_a_cancel_that_found_it_finished_is_flagged(self):
        t = T0 + 60 * S
        self.soak.job("cxl7", t, runs=(), state="cancelled", error="cancelled")
        self.soak.cancels.append({"t": t + 10, "t_end": t + 20, "id": "cxl7", "via": "lib", "ok": False,
                                  "answer": {"code": "conflict",
                                             "message": "job cxl7 already finished: it is cancelled"}})
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["cxl7"])

    def test_a_cancel_answered_cancelled_must_end_cancelled_and_not_run(self):
        t = T0 + 60 * S
        self.soak.job("cxl8", t, runs=(("w1.0", 100, 110, "ok"),))
        self.soak.cancels.append({"t": t + 10, "t_end": t + 20, "id": "cxl8", "via": "lib", "ok": True,
                                  "answer": {"state": "cancelled"}})
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["cxl8"])

    def test_a_timeout_is_allowed_only_when_its_worker_was_stopped(self):
        t = T0 + 60 * S
        self.soak.job("slow1", t, runs=(("w2.0", 100, 9000, "interrupted"),), type_="system.sleep",
                      args={"ms": 3000}, state="failed", error="timeout")
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["slow1"])
        self.soak.fault("worker_stop", "w2", t + 1000, t + 8900)
        self.assertAllowed("terminal_state")

    def test_a_timeout_is_allowed_when_its_redis_stalled(self):
        t = T0 + 60 * S
        self.soak.job("slow2", t, runs=(("w2.0", 100, 9000, "interrupted"),), type_="system.log",
                      args={"lines": 50}, state="failed", error="timeout")
        self.soak.fault("partition_redis", "w1", t + 1000, t + 8900)
        self.assertOnly("terminal_state")  # another worker's partition does not explain it
        self.soak.fault("partition_redis", "w2", t + 1000, t + 8900)
        self.assertAllowed("terminal_state")

    def test_abandoned_is_allowed_on_the_last_attempt_after_a_kill(self):
        t = T0 + 60 * S
        self.soak.job("aband1", t, runs=(("w1.0", 100, 500, "ok"),), type_="system.sleep", args={"ms": 9000},
                      state="dead", error="abandoned", counted=None, attempt=3)
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["aband1"])
        self.soak.fault("worker_stop", "w1", t + 300, t + 20 * S)
        self.assertAllowed("terminal_state")

    def test_redelivery_limit_needs_enough_runs_lost_to_faults(self):
        t = T0 + 60 * S
        self.soak.job("killer1", t, runs=(("w1.0", 100, None, "ok"), ("w2.0", 10000, None, "ok"),
                                          ("w1.0", 20000, None, "ok")),
                      state="dead", error="redelivery_limit", redeliveries=3)
        self.soak.dead_letters.append({"headers": {"wharf-reason": "redelivery_limit", "wharf-job-id": "killer1"}})
        for i, w in enumerate(("w1", "w2", "w1")):
            self.soak.fault("partition_redis", w, t + 1000 + 10000 * i,
                            t + 1500 + 10000 * i)
        self.assertAllowed("terminal_state")
        self.soak.faults.pop()  # the third run's death is no longer explained
        inv = self.assertOnly("terminal_state")
        self.assertIn("deaths do not explain it", inv["violations"][0]["why"])

    def test_a_dedup_pointing_at_a_finished_job_is_flagged(self):
        self.soak.submits.append({"t": T0 + 80 * S, "t_end": T0 + 80 * S + 4, "via": "http", "id": "uniq3",
                                  "type": "system.noop", "args": {}, "ok": True, "returned_id": "uniq1",
                                  "expect": "succeeded", "unique_for_s": 60})
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["uniq3"])

    def test_a_dedup_to_a_job_whose_outcome_was_written_late_is_allowed(self):
        # uniq1's finished_at is before the submit, but its finish write was
        # retried (no replica answered): the outcome was not visible yet
        self.soak.submits.append({"t": T0 + 14 * S, "t_end": T0 + 14 * S + 4, "via": "http", "id": "uniq3",
                                  "type": "system.noop", "args": {}, "ok": True, "returned_id": "uniq1",
                                  "expect": "succeeded", "unique_for_s": 60})
        self.soak.events = [e for e in self.soak.events if e["id"] != "uniq1"]
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["uniq3"])
        self.soak.log("w1.0", T0 + 13 * S, "status write failed; retrying", "uniq1", level="warn", op="finish",
                      error="redis: write reached 0 of 1 replica(s) in 1000 ms")
        self.assertAllowed("terminal_state")

    def test_a_unique_job_accepted_twice_is_flagged_unless_redis_failed_over(self):
        t = T0 + 12 * S + 100
        self.soak.job("uniq4", t, runs=(("w2.0", 500, 600, "ok"),), unique_for_s=60)
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["uniq4"])
        self.soak.fault("redis_master_kill", "r1", t - 50, t + 10 * S)
        self.assertAllowed("terminal_state")


class Rewrite(CheckerCase):
    def test_a_terminal_state_followed_by_another_is_flagged(self):
        self.soak.event(T0 + 150 * S, "noop03", "failed")
        self.assertEqual(self.ids(self.assertOnly("no_rewrite")), ["noop03"])

    def test_a_terminal_write_lost_with_the_redis_master_is_allowed(self):
        t = T0 + 150 * S
        self.soak.event(t, "noop03", "failed")
        self.soak.final["noop03"]["state"] = "failed"
        self.soak.events = [e for e in self.soak.events if not (e["id"] == "noop03" and e["word"] == "succeeded")]
        self.soak.event(t - 100, "noop03", "cancelled")
        self.soak.fault("redis_master_kill", "r1", t - 50, t + 5 * S)
        v = self.verdict()
        self.assertEqual(v["invariants"]["no_rewrite"]["allowed_total"], 1, v["invariants"]["no_rewrite"])
        self.assertTrue(v["invariants"]["no_rewrite"]["ok"])

    def test_a_final_hash_that_differs_from_the_first_terminal_event_is_flagged(self):
        h = self.soak.final["perm1"]
        self.soak.events = [e for e in self.soak.events if not (e["id"] == "perm1" and e["word"] == "failed")]
        self.soak.event(int(h["finished_at"]), "perm1", "succeeded")
        self.assertEqual(self.ids(self.assertOnly("no_rewrite")), ["perm1"])


    def test_a_cancel_told_another_end_state_is_flagged(self):
        self.soak.cancels.append({"t": T0 + 30 * S, "t_end": T0 + 30 * S + 3, "id": "perm1", "via": "http",
                                  "ok": False, "answer": {"rc": 1, "out": "",
                                  "err": "perm1: job perm1 already finished: it is succeeded (conflict)"}})
        self.assertEqual(self.ids(self.assertOnly("no_rewrite")), ["perm1"])


class Schedule(CheckerCase):
    def drop(self, jid):
        self.soak.final.pop(jid)
        self.soak.stats["ok"] -= 1
        self.soak.events = [e for e in self.soak.events if e["id"] != jid]
        for log in self.soak.logs:
            self.soak.logs[log] = [r for r in self.soak.logs[log] if '"%s"' % jid not in r[1]]

    def test_a_tick_fired_twice_is_flagged(self):
        self.soak.log("w3.0", T0 + 50 * S + 25, "schedule fired", "tick-%d" % ((T0 + 50 * S) // 1000), level="info")
        self.assertOnly("schedule_once")

    def test_a_missing_tick_is_flagged(self):
        self.drop("tick-%d" % ((T0 + 50 * S) // 1000))
        inv = self.assertOnly("schedule_once")
        self.assertIn("never fired", inv["violations"][0]["why"])

    def test_ticks_skipped_by_a_late_leader_are_allowed_only_with_a_fault(self):
        for k in (10, 11, 12):
            self.drop("tick-%d" % ((T0 + k * 5 * S) // 1000))
        late = T0 + 10 * 5 * S
        self.soak.firing(late, created=late + 11 * S)  # fired 11 s late: ticks +5 s, +10 s skipped
        inv = self.assertOnly("schedule_once")
        self.assertEqual(inv["violations_total"], 2)
        self.soak.fault("worker_kill", "w2", late - 1000, late + 500)
        self.assertEqual(self.assertAllowed("schedule_once")["allowed_total"], 2)

    def test_a_firing_run_to_completion_twice_needs_a_fault(self):
        jid = "tick-%d" % ((T0 + 60 * S) // 1000)
        self.soak.run(jid, "w3.0", T0 + 60 * S + 900, T0 + 60 * S + 905)
        v = self.verdict()
        self.assertEqual(sorted(n for n, i in v["invariants"].items() if not i["ok"]),
                         ["duplicate_runs", "schedule_once"])
        self.soak.fault("partition_redis", "w1", T0 + 60 * S + 40, T0 + 60 * S + 600)
        self.assertAllowed("schedule_once")

    def test_a_firing_off_the_grid_is_flagged(self):
        self.soak.firing(T0 + 52 * S)
        self.assertOnly("schedule_once")


class Locks(CheckerCase):
    def overlap(self):
        t = T0 + 70 * S
        self.soak.job("lockC", t, runs=(("w1.0", 0, 8000, "ok"),), lock="L2")
        self.soak.job("lockD", t, runs=(("w2.0", 6500, 6800, "ok"),), lock="L2")
        return t

    def test_overlapping_lock_holders_are_flagged(self):
        self.overlap()
        self.assertEqual(self.ids(self.assertOnly("lock_exclusive")), ["lockD"])

    # (fault kind, target, start and end after the first holder's start, allowed); lock_ttl_ms is 5 s
    COVERS = (
        ("worker_stop", "w1", 100, 7800, True),      # the holder stopped past the TTL: its lock expired
        ("redis_maxmemory", "r1", 100, 7000, True),  # Redis refused its renewals past the TTL
        ("worker_stop", "w1", 3000, 7800, False),    # stopped for less than the TTL before lockD started
        ("worker_stop", "w3", 100, 7800, False),     # another worker
        ("worker_kill", "w1", 100, 600, False),      # no excuse: a killed run ends at the kill
    )

    def test_only_a_silent_holder_past_the_lock_ttl_excuses_an_overlap(self):
        for kind, target, start, end, allowed in self.COVERS:
            with self.subTest(kind=kind, target=target, start=start):
                self.fresh()
                t = self.overlap()
                self.soak.fault(kind, target, t + start, t + end)
                (self.assertAllowed if allowed else self.assertOnly)("lock_exclusive")

    def test_an_overlap_with_a_duplicate_run_says_so(self):
        t = self.overlap()
        self.soak.run("lockC", "w3.0", t - 3000, t - 2900)  # its delivery was lost: it ran again on w1
        self.soak.fault("worker_kill", "w3", t - 2950, t - 2000)
        inv = self.assertOnly("lock_exclusive")
        self.assertIn("ran 2 times", inv["violations"][0]["why"])


class Stats(CheckerCase):
    def test_a_stats_mismatch_is_flagged(self):
        self.soak.stats["dead"] += 1
        inv = self.assertOnly("stats_exact")
        self.assertIn("dead", inv["violations"][0]["why"])

    def test_a_cancel_before_the_start_is_not_counted(self):
        self.soak.stats["failed"] += 1  # as if cxl1 (cancel.lua) had counted
        self.assertOnly("stats_exact")

    def test_a_cancel_while_running_counted_failed_is_flagged(self):
        self.soak.stats["cancelled"] -= 1  # cxl3, as finish.lua counted it before `cancelled`
        self.soak.stats["failed"] += 1
        inv = self.assertOnly("stats_exact")
        self.assertIn("cancelled", " ".join(v["why"] for v in inv["violations"]))


class Stuck(CheckerCase):
    def test_a_job_left_running_is_flagged(self):
        self.soak.job("stuck1", T0 + 80 * S, runs=(("w1.0", 40, None, "ok"),), state="running")
        self.assertEqual(self.ids(self.assertOnly("nothing_stuck")), ["stuck1"])

    def test_a_lease_left_behind_is_flagged(self):
        self.soak.leases["sleep1"] = T0 + 300 * S
        self.assertEqual(self.ids(self.assertOnly("nothing_stuck")), ["sleep1"])

    def test_an_outcome_lost_without_wait_replicas_is_allowed(self):
        t = T0 + 80 * S
        self.soak.meta["config"]["wait_replicas"] = 0
        self.soak.job("stuck2", t, runs=(("w1.0", 40, 60, "ok"),), state="running")
        self.soak.fault("redis_master_kill", "r1", t + 200, t + 9000)
        self.assertAllowed("nothing_stuck")


class DeadLetters(CheckerCase):
    def test_a_dead_letter_without_a_reason_is_flagged(self):
        self.soak.dead_letters.append({"headers": {"wharf-job-id": "trans1"}})
        self.assertOnly("dead_letter_reason")

    def test_a_dead_letter_for_a_job_that_succeeded_is_flagged(self):
        self.soak.dead_letters.append({"headers": {"wharf-reason": "attempts_exhausted", "wharf-job-id": "noop01"}})
        self.assertEqual(self.ids(self.assertOnly("dead_letter_reason")), ["noop01"])

    def test_an_unreadable_dead_letter_queue_is_flagged_once(self):
        self.soak.dead_letters.clear()
        self.soak.dead_letters_error = "ConnectionRefusedError()"
        inv = self.assertOnly("dead_letter_reason")
        self.assertEqual(inv["violations_total"], 1)

    def test_bad_input_is_excepted(self):
        self.soak.dead_letters.append({"headers": {"wharf-reason": "bad_msgpack"}})
        self.assertTrue(self.verdict()["ok"])


class Rss(CheckerCase):
    def test_a_growing_rss_is_flagged(self):
        self.soak.rss_growth["w2"] = 100  # kB per second: +20 MB over the run
        inv = self.assertOnly("rss_flat")
        self.assertIn("w2", inv["violations"][0]["why"])


class Crashes(CheckerCase):
    def test_an_unexpected_crash_is_flagged(self):
        self.soak.proc("w1", T0 + 120 * S, "exit", signal=11)
        self.soak.proc("w1", T0 + 121 * S, "start")
        self.assertOnly("no_crash")

    def test_a_negative_returncode_is_a_signal(self):
        self.soak.proc("w1", T0 + 120 * S, "exit", status=-6)
        self.soak.proc("w1", T0 + 121 * S, "start")
        inv = self.assertOnly("no_crash")
        self.assertIn("signal ABRT", inv["violations"][0]["why"])

    def test_a_sanitizer_report_is_flagged(self):
        self.soak.logs["w2.0"].append((T0 + 130 * S, "==4242==ERROR: AddressSanitizer: heap-use-after-free"))
        self.assertOnly("no_crash")


class Duplicates(CheckerCase):
    def test_a_duplicate_run_outside_a_window_is_flagged(self):
        self.soak.job("dup1", T0 + 90 * S, runs=(("w1.0", 40, 60, "ok"), ("w2.0", 2000, 2010, "ok")))
        self.assertEqual(self.ids(self.assertOnly("duplicate_runs")), ["dup1"])

    def test_a_duplicate_run_after_its_worker_was_killed_is_allowed_and_counted(self):
        t = T0 + 90 * S
        self.soak.job("dup2", t, runs=(("w1.0", 40, None, "ok"), ("w2.0", 2000, 2010, "ok")), redeliveries=1)
        self.soak.fault("worker_kill", "w1", t + 500, t + 900)
        inv = self.assertAllowed("duplicate_runs")
        self.assertEqual(inv["notes"]["duplicate runs"], 1)

    def test_a_worker_running_its_own_redelivered_copy_pairs_the_runs_in_order(self):
        t = T0 + 90 * S
        self.soak.job("dup5", t, runs=(("w1.0", 0, 300, "ok"), ("w1.0", 100, 400, "ok")), lock="L3")
        self.soak.job("dup6", t, runs=(("w2.0", 500, 600, "ok"),), lock="L3")
        self.soak.fault("worker_stop", "w1", t + 50, t + 90)
        self.assertAllowed("duplicate_runs")

    def test_a_fault_the_nemesis_could_not_apply_explains_nothing(self):
        t = T0 + 90 * S
        self.soak.job("dup7", t, runs=(("w1.0", 40, 60, "ok"), ("w2.0", 2000, 2010, "ok")))
        self.soak.fault("partition_redis", "w1", t + 50, t + 900, apply_error="RuntimeError('iptables')")
        self.assertOnly("duplicate_runs")

    def test_a_worker_cut_off_from_the_broker_alone_does_not_explain_a_duplicate(self):
        # it is alive (it beats in Redis): the copy the broker hands out again
        # waits for its run (start.lua: busy)
        t = T0 + 90 * S
        self.soak.job("dup8", t, runs=(("w1.0", 40, 600, "ok"), ("w2.0", 2000, 2010, "ok")))
        self.soak.fault("partition_amqp", "w1", t + 50, t + 900)
        self.soak.fault("rmq_node_stop", "n1", t + 50, t + 900)
        self.assertOnly("duplicate_runs")

    def test_a_kill_of_another_worker_does_not_explain_a_duplicate(self):
        t = T0 + 90 * S
        self.soak.job("dup3", t, runs=(("w1.0", 40, 60, "ok"), ("w2.0", 2000, 2010, "ok")))
        self.soak.fault("worker_kill", "w3", t + 500, t + 900)
        self.assertOnly("duplicate_runs")

    def test_redeliveries_without_a_fault_are_flagged(self):
        self.soak.job("dup4", T0 + 95 * S, runs=(("w1.0", 40, 60, "ok"),), redeliveries=1)
        self.assertEqual(self.ids(self.assertOnly("duplicate_runs")), ["dup4"])


if __name__ == "__main__":
    unittest.main()
