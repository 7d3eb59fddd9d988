"""A STAND-IN for tests/soak/checker.py and report.py (delete it when they
land): checks that the run directory is well formed and judges three of the
invariants roughly, so the runner can be tried end to end.
    main(run_dir) -> 0 iff ok (writes verdict.json); write(run_dir) -> report.md
"""
import json
import os

FILES = ("meta.json", "submits.jsonl", "cancels.jsonl", "faults.jsonl", "procs.jsonl", "events.jsonl",
         "samples.jsonl", "final.jsonl", "final_stats.json")
TERMINAL = ("succeeded", "failed", "dead", "cancelled")


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def judge(d):
    inv = {}
    bad = [f for f in FILES if not os.path.exists(os.path.join(d, f))]
    rows = {}
    for f in FILES:
        if f in bad:
            continue
        try:
            rows[f] = _jsonl(os.path.join(d, f)) if f.endswith(".jsonl") else json.load(open(os.path.join(d, f)))
        except ValueError as ex:
            bad.append("%s: %s" % (f, ex))
    inv["files_well_formed"] = {"ok": not bad, "count": len(FILES), "violations": bad}
    final = {j["id"]: j for j in rows.get("final.jsonl", [])}
    cancelled = {c["id"] for c in rows.get("cancels.jsonl", [])}
    wrong, left, seen = [], [], set()
    for s in rows.get("submits.jsonl", []):
        if not s["ok"] or s["returned_id"] in seen:
            continue
        seen.add(s["returned_id"])
        j = final.get(s["returned_id"], {})
        st = j.get("state")
        if st not in TERMINAL:
            left.append(s["returned_id"])
        elif st != s["expect"] and not (st == "cancelled" and s["returned_id"] in cancelled):
            wrong.append({"id": s["returned_id"], "state": st, "expect": s["expect"], "error": j.get("error")})
    inv["accepted_terminal_as_expected"] = {"ok": not wrong, "count": len(wrong), "violations": wrong[:50]}
    inv["nothing_left_running"] = {"ok": not left, "count": len(left), "violations": left[:50]}
    return {"ok": all(v["ok"] for v in inv.values()), "invariants": inv}


def main(run_dir):
    v = judge(run_dir)
    with open(os.path.join(run_dir, "verdict.json"), "w") as f:
        json.dump(v, f, indent=1)
    return 0 if v["ok"] else 1


def write(run_dir):
    with open(os.path.join(run_dir, "verdict.json")) as f:
        v = json.load(f)
    meta = json.load(open(os.path.join(run_dir, "meta.json")))
    out = ["# Soak report (stand-in checker)", "",
           "seed %s, %s min; replay: `tests/soak/run --minutes %s --seed %s`" % (
               meta["seed"], meta["minutes"], meta["minutes"], meta["seed"]), ""]
    for name, r in v["invariants"].items():
        out.append("- **%s**: %s (%d) %s" % (name, "ok" if r["ok"] else "VIOLATED", r["count"],
                                            json.dumps(r["violations"][:5])))
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write("\n".join(out) + "\n")
