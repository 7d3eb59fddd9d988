#!/usr/bin/env python3
"""The soak checker on synthetic run directories (no servers, seconds).

A clean history passes every invariant; then, for each invariant, a history
that breaks it is flagged by exactly that invariant, and each documented
window (a fault that explains a duplicate run, a lock overlap, a skipped
tick, a timeout, an abandoned job, a lost delayed submit) is allowed and
counted, not flagged.
"""
import contextlib
import datetime
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
import report  # noqa: E402

T0 = 1_800_000_000_000  # a multiple of the schedule's 5 s period
S = 1000


def iso(ms):
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


class Soak:
    """A synthetic run directory: clean as built; tests break one thing."""

    def __init__(self):
        self.meta = {"seed": 21, "minutes": 3, "started": T0, "ended": T0 + 200 * S, "drained": T0 + 210 * S,
                     "prefix": "soak:", "version": "test",
                     "config": {"max_hold_s": 5, "heartbeat_s": 1, "amqp_heartbeat_s": 2, "lock_ttl_ms": 5000,
                                "lease_s": 5, "max_redeliveries": 2, "max_attempts_default": 3,
                                "leader_ttl_ms": 3000, "tick_ms": 200, "wait_replicas": 1},
                     "schedule": {"name": "tick", "every_s": 5, "created": T0 + 500},
                     "workers": {"w1": {"uid": 60001}, "w2": {"uid": 60002}, "w3": {"uid": 60003}}}
        self.submits, self.cancels, self.faults, self.procs, self.events, self.samples = [], [], [], [], [], []
        self.final, self.logs, self.dead_letters = {}, {}, []
        self.stats = {"ok": 0, "failed": 0, "retried": 0, "dead": 0}
        self.leases, self.scheduled = {}, {}
        self.rss = {"w1": 20000, "w2": 21000, "w3": 19000}
        self.rss_growth = {}
        self._pid = 1000
        for w in ("w1", "w2", "w3"):
            self.proc(w, T0, "start")
            self.logs[w + ".0"] = []

    # ---- building blocks ----

    def proc(self, name, t, event, signal=None, status=None, by_nemesis=False):
        if event == "start":
            self._pid += 1
        self.procs.append({"t": t, "name": name, "pid": self._pid if event == "start" else self.pid_of(name),
                           "event": event, "status": status, "signal": signal, "by_nemesis": by_nemesis})

    def pid_of(self, name):
        return [p["pid"] for p in self.procs if p["name"] == name and p["event"] == "start"][-1]

    def log(self, log, t, msg, job=None, level="debug", **fields):
        o = {"ts": iso(t), "level": level, "component": "wharf-worker", "msg": msg}
        if job:
            o["job"] = job
        o.update(fields)
        self.logs.setdefault(log, []).append((t, json.dumps(o, separators=(",", ":"))))

    def run(self, job, log, start, end, outcome="ok", type_="system.noop"):
        self.log(log, start, "run started", job, type=type_)
        if end is not None:
            self.log(log, end, "run ended", job, outcome=outcome)

    def event(self, t, job, word):
        self.events.append({"t": t, "id": job, "word": word})

    def job(self, jid, t, runs=(("w1.0", 50, 60, "ok"),), type_="system.noop", args=None, expect="succeeded",
            state=None, error=None, counted="auto", submit=True, **fields):
        """One accepted job: its submit, runs (log, start offset, end offset,
        outcome), events, final hash and stats count, as a clean run has them."""
        state = state or expect
        if submit:
            self.submits.append({"t": t, "t_end": t + 5, "via": "lib", "id": jid, "type": type_, "args": args or {},
                                 "ok": True, "error_code": None, "returned_id": jid, "expect": expect,
                                 "lock": fields.pop("lock", None), "unique_for_s": fields.pop("unique_for_s", None),
                                 "run_at": fields.get("run_at"), "max_attempts": fields.get("max_attempts")})
        self.event(t + 3, jid, "queued")
        for log, a, b, outcome in runs:
            self.run(jid, log, t + a, None if b is None else t + b, outcome, type_)
            self.event(t + a, jid, "running")
            if outcome == "fail" and state == "dead" and (log, a, b, outcome) != tuple(runs[-1]):
                self.event(t + b + 1, jid, "retrying")
                self.stats["retried"] += 1
        end = t + (runs[-1][2] or runs[-1][1]) + 2 if runs else t + 10
        if state in ("succeeded", "failed", "dead", "cancelled"):
            self.event(end, jid, state)
        h = {"id": jid, "type": type_, "state": state, "attempt": str(max(1, len(runs))),
             "max_attempts": str(fields.pop("max_attempts", None) or 3), "created_at": str(t),
             "finished_at": str(end), "redeliveries": "0"}
        if error:
            h["error"] = error
        h.update({k: str(v) for k, v in fields.items()})
        self.final[jid] = h
        if counted == "auto":
            counted = {"succeeded": "ok", "failed": "failed", "dead": "dead"}.get(state)
        if counted:
            self.stats[counted] += 1
        return h

    def firing(self, tick, created=None, log="w2.0", run_log="w1.0"):
        jid = "tick-%d" % (tick // 1000)
        created = created or tick + 20
        self.log(log, created, "schedule fired", jid, level="info", schedule="tick")
        h = self.job(jid, created, runs=((run_log, 30, 35, "ok"),), submit=False)
        h["run_at"] = str(tick)
        return jid

    def fault(self, kind, target, start, end, **detail):
        self.faults.append({"kind": kind, "target": target, "start": start, "end": end, "detail": detail})

    def clean(self):
        """The clean history: every kind of job the workload sends, a schedule,
        one nemesis kill with its restart."""
        for i in range(40):
            w = "w%d.0" % (1 + i % 3) if T0 + i * 4 * S < T0 + 100 * S or i % 3 != 2 else "w3.1"
            self.job("noop%02d" % i, T0 + 1000 + i * 4 * S, runs=((w, 50, 52, "ok"),))
        self.job("sleep1", T0 + 2 * S, runs=(("w2.0", 40, 1040, "ok"),), type_="system.sleep", args={"ms": 1000})
        self.job("perm1", T0 + 3 * S, runs=(("w1.0", 40, 41, "fail"),), type_="system.fail",
                 args={"code": "boom"}, expect="failed", error="boom")
        self.job("trans1", T0 + 4 * S, runs=(("w1.0", 40, 41, "fail"), ("w2.0", 1100, 1101, "fail"),
                                             ("w3.0", 6200, 6201, "fail")),
                 type_="system.fail", args={"code": "flaky", "transient": True}, expect="dead", error="flaky")
        self.dead_letters.append({"headers": {"wharf-reason": "attempts_exhausted", "wharf-job-id": "trans1",
                                              "wharf-error-code": "flaky", "wharf-attempts": 3}})
        self.job("cxl1", T0 + 5 * S, runs=(), state="cancelled", error="cancelled",
                 error_message="cancelled before it ran (was queued)")
        self.cancels.append({"t": T0 + 5 * S + 1, "t_end": T0 + 5 * S + 4, "id": "cxl1", "via": "http", "ok": True,
                             "answer": "200 cancelled"})
        self.job("cxl2", T0 + 6 * S, runs=(("w2.0", 40, 900, "ok"),), type_="system.sleep", args={"ms": 860})
        self.cancels.append({"t": T0 + 6 * S + 500, "t_end": T0 + 6 * S + 504, "id": "cxl2", "via": "lib", "ok": True,
                             "answer": "running"})
        self.job("cxl3", T0 + 7 * S, runs=(("w3.0", 40, 600, "interrupted"),), type_="system.sleep",
                 args={"ms": 5000}, state="cancelled", error="cancelled", error_message="cancelled while running",
                 counted="failed")
        self.cancels.append({"t": T0 + 7 * S + 500, "t_end": T0 + 7 * S + 504, "id": "cxl3", "via": "lib", "ok": True,
                             "answer": "running"})
        self.job("lockA", T0 + 10 * S, runs=(("w1.0", 0, 500, "ok"),), lock="L1")
        self.job("lockB", T0 + 10 * S, runs=(("w2.0", 600, 900, "ok"),), lock="L1")
        self.job("uniq1", T0 + 12 * S, runs=(("w1.0", 300, 500, "ok"),), unique_for_s=60)
        self.submits.append({"t": T0 + 12 * S + 100, "t_end": T0 + 12 * S + 105, "via": "http", "id": "uniq2",
                             "type": "system.noop", "args": {}, "ok": True, "returned_id": "uniq1",
                             "expect": "succeeded", "unique_for_s": 60})
        self.job("delay1", T0 + 14 * S, runs=(("w3.0", 3100, 3110, "ok"),), run_at=T0 + 17 * S)
        for k in range(1, 40):
            self.firing(T0 + k * 5 * S)
        self.fault("worker_kill", "w3", T0 + 100 * S, T0 + 100 * S + 500)
        self.proc("w3", T0 + 100 * S, "exit", signal=9, by_nemesis=True)
        self.proc("w3", T0 + 100 * S + 500, "start")
        self.logs.setdefault("w3.1", [])
        return self

    # ---- the directory ----

    def write(self, path):
        os.makedirs(os.path.join(path, "workers"), exist_ok=True)
        for w in ("w1", "w2", "w3"):
            self.proc(w, T0 + 211 * S, "exit", signal=15)
        self.samples_make()
        files = {"meta.json": self.meta,
                 "final_stats.json": {"stats": self.stats, "leases": self.leases, "scheduled": self.scheduled,
                                      "dead_letters": self.dead_letters}}
        for name, obj in files.items():
            with open(os.path.join(path, name), "w") as f:
                json.dump(obj, f)
        lines = {"submits.jsonl": self.submits, "cancels.jsonl": self.cancels, "faults.jsonl": self.faults,
                 "procs.jsonl": self.procs, "events.jsonl": sorted(self.events, key=lambda e: e["t"]),
                 "samples.jsonl": self.samples, "final.jsonl": list(self.final.values())}
        for name, rows in lines.items():
            with open(os.path.join(path, name), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
        for log, rows in self.logs.items():
            with open(os.path.join(path, "workers", log + ".log"), "w") as f:
                f.writelines(line + "\n" for _, line in sorted(rows, key=lambda r: r[0]))
        return path

    def samples_make(self):
        done = sorted(int(h["finished_at"]) for h in self.final.values() if h.get("finished_at"))
        for i in range(0, 211):
            t = T0 + i * S
            rss = {w: kb + self.rss_growth.get(w, 0) * i + (i % 3) * 50 for w, kb in self.rss.items()}
            self.samples.append({"t": t, "stats_ok": sum(1 for d in done if d <= t), "stats_failed": 0,
                                 "stats_dead": 0, "rss_kb": rss, "queue_depth": 0})


class CheckerCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="soakcheck")
        self.soak = Soak().clean()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

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
        self.assertIn("## Throughput (per 10 s)", text)
        self.assertIn("### duplicate_runs: ok", text)

    def test_the_cli_exits_1_on_a_violation_and_reports_it(self):
        self.soak.stats["ok"] += 1
        path = self.soak.write(self.tmp)
        self.assertEqual(self.main(path), 1)
        with open(os.path.join(path, "report.md")) as f:
            self.assertIn("### stats_exact: VIOLATED", f.read())


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

    def test_a_cancel_answered_cancelled_must_end_cancelled_and_not_run(self):
        t = T0 + 60 * S
        self.soak.job("cxl8", t, runs=(("w1.0", 100, 110, "ok"),))
        self.soak.cancels.append({"t": t + 10, "t_end": t + 20, "id": "cxl8", "via": "lib", "ok": True,
                                  "answer": "cancelled"})
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["cxl8"])

    def test_a_timeout_is_allowed_only_when_its_worker_was_stopped(self):
        t = T0 + 60 * S
        self.soak.job("slow1", t, runs=(("w2.0", 100, 9000, "interrupted"),), type_="system.sleep",
                      args={"ms": 3000}, state="failed", error="timeout")
        self.assertEqual(self.ids(self.assertOnly("terminal_state")), ["slow1"])
        self.soak.fault("worker_stop", "w2", t + 1000, t + 8900)
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
            self.soak.fault("partition_amqp", w, t + 1000 + 10000 * i,
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

    def test_a_final_hash_that_differs_from_the_first_terminal_event_is_flagged(self):
        h = self.soak.final["perm1"]
        self.soak.events = [e for e in self.soak.events if not (e["id"] == "perm1" and e["word"] == "failed")]
        self.soak.event(int(h["finished_at"]), "perm1", "succeeded")
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

    def test_an_overlap_after_the_holder_was_stopped_past_the_lock_ttl_is_allowed(self):
        t = self.overlap()
        self.soak.fault("worker_stop", "w1", t + 100, t + 7800)
        self.assertAllowed("lock_exclusive")

    def test_a_stop_shorter_than_the_lock_ttl_does_not_cover_an_overlap(self):
        t = self.overlap()
        self.soak.fault("worker_stop", "w1", t + 3000, t + 7800)
        self.assertOnly("lock_exclusive")

    def test_a_stop_of_another_worker_does_not_cover_an_overlap(self):
        t = self.overlap()
        self.soak.fault("worker_stop", "w3", t + 100, t + 7800)
        self.assertOnly("lock_exclusive")


class Stats(CheckerCase):
    def test_a_stats_mismatch_is_flagged(self):
        self.soak.stats["dead"] += 1
        inv = self.assertOnly("stats_exact")
        self.assertIn("dead", inv["violations"][0]["why"])

    def test_a_cancel_before_the_start_is_not_counted(self):
        self.soak.stats["failed"] += 1  # as if cxl1 (cancel.lua) had counted
        self.assertOnly("stats_exact")


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
