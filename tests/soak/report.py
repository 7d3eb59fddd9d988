"""RUN/report.md from a run directory and its verdict (checker.check).

    report.write(run_dir, verdict)   # writes RUN/report.md, returns its path

Sections: the header (seed, minutes, the replay command, counts), the fault
timeline (a table, then counts per kind against the issue's target of ten of
each kind in 30 minutes), throughput per 10 s (samples.jsonl), and each
invariant with its rule, verdict, counts, allowed windows and violations
(ids, events, runs, faults and log lines around them). Times are seconds
since the start of the run. Bounded: at most MAX_ROWS rows per list.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import history  # noqa: E402

FAULT_KINDS = ("worker_kill", "worker_stop", "rmq_node_stop", "redis_master_kill", "partition_redis",
               "partition_amqp", "disk_alarm", "redis_maxmemory")
TARGET_PER_KIND = 10  # issue 21: at least ten faults of each kind in a 30-minute soak
MAX_ROWS = 20
BUCKET_MS = 10000


def rel(t, t0):
    return "" if t is None else "%.1f" % ((t - t0) / 1000.0)


def header(h, v):
    s = v.get("summary", {})
    minutes = "%g" % float(v.get("minutes") or h.meta.get("minutes") or 0)
    replay = h.meta.get("replay") or "tests/soak/run --minutes %s --seed %s" % (minutes, v.get("seed"))
    out = ["# Chaos soak report", "",
           "**Verdict: %s**" % ("every invariant holds" if v["ok"] else "VIOLATED: " + ", ".join(
               n for n, i in v["invariants"].items() if not i["ok"])), "",
           "- seed %s, %s minutes, version %s, binaries %s" % (v.get("seed"), minutes, h.meta.get("version"),
                                                               h.meta.get("bin") or "?"),
           "- replay: `%s`" % replay,
           "- drain: %s" % ("every job terminal" if h.drain_ok else "TIMED OUT with jobs not terminal"),
           "- %d submits (%d accepted), %d cancels, %d jobs in the final dump, %d handler runs, %d faults, "
           "%d event re-subscriptions" % (s.get("submits", 0), s.get("accepted", 0), s.get("cancels", 0),
                                          s.get("jobs_final", 0), s.get("runs", 0), s.get("faults", 0),
                                          s.get("resubscribed", 0)),
           "- config: " + ", ".join("%s=%s" % kv for kv in sorted(h.cfg.items()))]
    if h.untimed:
        out.append("- records without their time, not judged: " + ", ".join(
            "%s %d" % kv for kv in sorted(h.untimed.items())))
    out.append("")
    return out


def fault_section(h):
    t0 = h.started
    out = ["## Faults", "", "| kind | target | start s | end s | duration s | detail |", "|---|---|---|---|---|---|"]
    for f in h.faults:
        dur = "" if not f.get("end") else "%.1f" % ((f["end"] - f.get("start", 0)) / 1000.0)
        detail = str(f.get("detail") or "").replace("|", "/")[:80]
        out.append("| %s | %s | %s | %s | %s | %s |" % (f.get("kind"), f.get("target") or "", rel(f.get("start"), t0),
                                                        rel(f.get("end"), t0), dur, detail))
    counts = {}
    for f in h.faults:
        counts[f.get("kind")] = counts.get(f.get("kind"), 0) + 1
    out += ["", "| kind | count | >= %d |" % TARGET_PER_KIND, "|---|---|---|"]
    for k in list(FAULT_KINDS) + sorted(set(counts) - set(FAULT_KINDS)):
        out.append("| %s | %d | %s |" % (k, counts.get(k, 0), "yes" if counts.get(k, 0) >= TARGET_PER_KIND else "no"))
    short = [k for k in FAULT_KINDS if counts.get(k, 0) < TARGET_PER_KIND]
    minutes = float(h.meta.get("minutes") or 30)
    scaled = max(1, math.ceil(TARGET_PER_KIND * minutes / 30.0))
    low = [k for k in FAULT_KINDS if counts.get(k, 0) < scaled]
    out += ["", "Issue 21's target (at least %d faults of each kind, for a 30-minute soak): %s." % (
        TARGET_PER_KIND, "holds" if not short else "does NOT hold (%s)" % ", ".join(short)),
        "Scaled to this run's %g minutes (at least %d of each kind): %s." % (
            minutes, scaled, "holds" if not low else "does NOT hold (%s)" % ", ".join(low)), ""]
    return out


def throughput_section(h):
    """Per 10 s: jobs finished (ok + failed + dead stats deltas), accepted
    submits, the queue depth at the bucket's end, and the faults active."""
    t0 = h.started or (h.samples[0].get("t", 0) if h.samples else 0)
    out = ["## Throughput (per 10 s)", "", "| from s | finished | per s | accepted | queue depth | faults active |",
           "|---|---|---|---|---|---|"]
    buckets = {}
    for s in h.samples:
        buckets.setdefault((s.get("t", 0) - t0) // BUCKET_MS, []).append(s)
    accepted = {}
    for recs in h.submits.values():
        for r in recs:
            if r.get("ok"):
                b = (r.get("t", 0) - t0) // BUCKET_MS
                accepted[b] = accepted.get(b, 0) + 1
    prev, total = None, 0
    for b in sorted(buckets):
        last = buckets[b][-1]
        vals = [s for s in buckets[b] if s.get("stats_ok") is not None]  # None: Redis failing over
        if vals:
            total = sum(vals[-1].get(k) or 0 for k in ("stats_ok", "stats_failed", "stats_dead", "stats_cancelled"))
        done = total - prev if prev is not None else total
        prev = total
        lo, hi = t0 + b * BUCKET_MS, t0 + (b + 1) * BUCKET_MS
        active = sorted({f.get("kind") for f in h.faults if f.get("start", 0) < hi and h.fault_end(f) >= lo})
        out.append("| %d | %d | %.1f | %d | %s | %s |" % (b * 10, done, done / 10.0, accepted.get(b, 0),
                                                         last.get("queue_depth", ""), " ".join(active)))
    return out + [""]


def entry_lines(e, t0):
    head = "- %s%s" % ("`%s`: " % e["id"] if e.get("id") else "", e["why"])
    out = [head]
    if e.get("window"):
        out.append("  - window: " + "; ".join("%s %s %s..%s s" % (f["kind"], f.get("target") or "", rel(
            f.get("start"), t0), rel(f.get("end"), t0)) for f in e["window"]))
    for k, val in sorted(e.items()):
        if k not in ("id", "why", "window", "context"):
            out.append("  - %s: `%s`" % (k, json.dumps(val, sort_keys=True)[:300]))
    c = e.get("context")
    if not c:
        return out
    if c.get("final"):
        out.append("  - final: " + ", ".join("%s=%s" % kv for kv in sorted(c["final"].items()))[:300])
    for sub in c.get("submits", []):
        out.append("  - submit via %s at %s s: ok=%s expect=%s returned=%s" % (
            sub.get("via"), rel(sub.get("t"), t0), sub.get("ok"), sub.get("expect"), sub.get("returned_id")))
    for cx in c.get("cancels", []):
        out.append("  - cancel at %s s: ok=%s answer=`%s`" % (rel(cx.get("t"), t0), cx.get("ok"),
                                                              json.dumps(cx.get("answer"))[:120]))
    if c.get("events"):
        out.append("  - events: " + ", ".join("%s@%s" % (w, rel(t, t0)) for t, w in c["events"]))
    for r in c.get("runs", []):
        out.append("  - run on %s: %s..%s s, %s" % (r["worker"], rel(r["start"], t0), rel(r["end"], t0), r["outcome"]))
    for f in c.get("faults", []):
        out.append("  - fault %s %s: %s..%s s" % (f["kind"], f.get("target") or "", rel(f.get("start"), t0),
                                                    rel(f.get("end"), t0)))
    for line in c.get("log", []):
        out.append("  - log: `%s`" % line[:240].replace("`", "'"))
    return out


def invariant_section(h, name, i):
    t0 = h.started
    out = ["### %s: %s" % (name, "ok" if i["ok"] else "VIOLATED"), "", "Rule: " + i["rule"], "",
           "Judged %d; violations %d; allowed (documented windows) %d." % (
               i["count"], i["violations_total"], i["allowed_total"])]
    if i.get("notes"):
        out.append("Counts: " + ", ".join("%s %s" % (k, v) for k, v in sorted(i["notes"].items())) + ".")
    out.append("")
    for title, key, total in (("Violations", "violations", "violations_total"),
                              ("Allowed", "allowed", "allowed_total")):
        if not i[key]:
            continue
        out.append("%s (first %d of %d):" % (title, min(MAX_ROWS, len(i[key])), i[total]))
        out.append("")
        for e in i[key][:MAX_ROWS]:
            out += entry_lines(e, t0)
        out.append("")
    return out


def write(run_dir, verdict=None, h=None):
    """Write RUN/report.md for `verdict` (checker.check's result; None: the
    run's verdict.json, else judged now); returns its path. `h`: the run's
    history if already loaded (history.load)."""
    h = h or history.load(run_dir)
    if verdict is None:
        verdict = history.read_json(os.path.join(run_dir, "verdict.json"))
    if verdict is None:
        import checker
        verdict = checker.judge_history(h)
    lines = header(h, verdict) + fault_section(h) + throughput_section(h) + ["## Invariants", ""]
    for name, i in verdict["invariants"].items():
        lines += invariant_section(h, name, i)
    path = os.path.join(run_dir, "report.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path
