#!/usr/bin/env python3
"""The soak's checker: judges a run directory against every invariant of the
chaos soak (issue 21) and writes RUN/verdict.json and RUN/report.md.

    python3 tests/soak/checker.py RUN_DIR      # exit 0 iff every invariant holds

    import checker
    verdict = checker.check(run_dir)           # the verdict.json structure

verdict.json: {ok, seed, minutes, run_dir, invariants: {name: {ok, rule,
count, violations_total, violations: [...], allowed_total, allowed: [...],
notes: {...}}}}. A violation is {why, id?, context?: {final, events, runs,
submits, cancels, faults, log}}; an allowed entry (a documented window,
counted) is {why, id?, window: [faults]}. Lists are capped (judge.CAP), the
totals are exact.

The invariants, in the order of the soak's design:
 1 terminal_state      every accepted job ends in a state its type allows
 2 no_rewrite          no terminal state is ever rewritten
 3 schedule_once       each schedule tick fires once
 4 lock_exclusive      lock holders never overlap
 5 stats_exact         stats counts equal the terminal counts
 6 nothing_stuck       nothing left running/queued, no stale lease
 7 dead_letter_reason  every dead letter has a reason and a dead/failed job
 8 rss_flat            worker RSS flat after warm-up
 9 no_crash            no crash but the nemesis' kills, no sanitizer report
10 duplicate_runs      duplicate runs only in the windows the docs allow
Each invariant's exact rule is in its module (inv_jobs, inv_unique,
inv_sched, inv_system) and printed in the report.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import history  # noqa: E402
import inv_jobs  # noqa: E402
import inv_sched  # noqa: E402
import inv_system  # noqa: E402
import judge  # noqa: E402

INVARIANTS = (
    inv_jobs.judge_terminal,
    inv_jobs.judge_rewrite,
    inv_sched.judge_schedule,
    inv_sched.judge_locks,
    inv_system.judge_stats,
    inv_system.judge_stuck,
    inv_system.judge_dead_letters,
    inv_system.judge_rss,
    inv_system.judge_crashes,
    inv_jobs.judge_duplicates,
)


def check(run_dir):
    """Judge the run directory; returns the verdict (see the module comment).
    Reads only the run directory; writes nothing."""
    return judge_history(history.load(run_dir))


def judge_history(h):
    """check() for a history already loaded (history.load)."""
    judgements = [inv(h) for inv in INVARIANTS]
    judge.add_log_lines(h, judgements)
    inv = {j.name: j.result() for j in judgements}
    return {
        "ok": all(v["ok"] for v in inv.values()),
        "seed": h.meta.get("seed"),
        "minutes": h.meta.get("minutes"),
        "run_dir": os.path.abspath(h.dir),
        "invariants": inv,
        "summary": summary(h),
    }


def summary(h):
    """Counts the report prints in its header."""
    ok = sum(1 for recs in h.submits.values() if any(r.get("ok") for r in recs))
    kinds = {}
    for f in h.faults:
        kinds[f.get("kind")] = kinds.get(f.get("kind"), 0) + 1
    return {"submits": sum(len(v) for v in h.submits.values()), "accepted": ok,
            "cancels": sum(len(v) for v in h.cancels.values()), "jobs_final": len(h.final),
            "runs": sum(len(v) for v in h.runs.values()), "faults": len(h.faults), "faults_by_kind": kinds,
            "resubscribed": len(h.resubscribed), "started": h.started, "ended": h.ended, "drained": h.drained,
            "drain_complete": h.drain_ok}


def main(argv):
    """CLI: checker.py RUN_DIR (argv, or the run directory itself). Writes
    verdict.json and report.md into RUN_DIR, prints one line per invariant,
    returns 0 iff every invariant holds (1 otherwise, 2 on bad usage)."""
    if isinstance(argv, str):  # main(run_dir), as soak.py calls it
        argv = ["checker.py", argv]
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: checker.py RUN_DIR\n")
        return 2
    import report
    run_dir = argv[1]
    h = history.load(run_dir)
    verdict = judge_history(h)
    with open(os.path.join(run_dir, "verdict.json"), "w", encoding="utf-8") as f:
        json.dump(verdict, f, indent=1, sort_keys=True)
    report.write(run_dir, verdict, h)
    for name, v in verdict["invariants"].items():
        print("%-20s %-4s judged %-7d violations %-5d allowed %d" % (
            name, "ok" if v["ok"] else "FAIL", v["count"], v["violations_total"], v["allowed_total"]))
    print("verdict: %s (%s)" % ("ok" if verdict["ok"] else "FAIL", os.path.join(run_dir, "report.md")))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
