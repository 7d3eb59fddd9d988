"""The invariants about the whole system after the drain: 5 (stats equal
terminal counts), 6 (nothing stuck), 7 (dead letters have a reason), 8
(worker RSS flat) and 9 (no crash but the nemesis' kills). Each takes the
history (history.py) and returns a judge.Judgement.
"""
import statistics

import history
from judge import TERMINAL, Judgement, failover_lost

RULE_STATS = (
    "summed stats counters (schemas 9.5, counted by finish.lua with each outcome) equal the final hashes: "
    "ok = succeeded; failed = failed; cancelled = cancelled by the worker while running (error_message "
    "\"cancelled while running\"; cancel.lua and start.lua do not count); dead = dead - dead/abandoned "
    "(reap.lua does not count). Stats that go down between samples are noted.")
RULE_STUCK = (
    "after the drain no job hash is queued, running, retrying or scheduled (a scheduled run_at beyond the "
    "drain excepted); no lease is left for a finished job or past its deadline; nothing overdue stays in "
    "the scheduled set. With wait_replicas = 0 only, a job whose outcome write a Redis master kill may have "
    "lost (docs/operations.md) is allowed to stay running/queued.")
RULE_DEAD = (
    "every message in wharf.dead has a wharf-reason from schemas 8 (abandoned is the reaper's copy, "
    "wh_sched.c); bad-input reasons are excepted from the rest; every other one names a wharf-job-id "
    "whose final state is dead or failed.")
RULE_RSS = (
    "per worker process: samples after a %d s warm-up, with at least %d of them; the median of the last "
    "quarter <= median of the first quarter x 1.25 + 2048 kB. Under ASan the allocator's quarantine "
    "(ASAN_OPTIONS quarantine_size_mb, 256 MB by default) fills first: run the workers with a small one "
    "(quarantine_size_mb=4, as hostile.test_corpus does) or a plain build.")
RULE_CRASH = (
    "every process exit in procs.jsonl is clean (status 0, no signal), by the nemesis, or a SIGTERM/SIGINT "
    "at or after the end of the workload; no sanitizer report (ASan, LSan, UBSan) in any log of the run.")

BAD_INPUT = ("too_large", "bad_msgpack", "bad_envelope", "unsupported_schema", "unknown_type", "bad_args")
DEAD_REASONS = BAD_INPUT + ("attempts_exhausted", "redelivery_limit", "redis_error", "abandoned")
WORKER_CANCEL = "cancelled while running"  # wk_exec_outcome.c: the only counted cancel
WARMUP_MS, MIN_SAMPLES = 60000, 40


def final_hashes(h):
    return [f for f in h.final.values() if not f.get("missing")]


def judge_stats(h):
    j = Judgement("stats_exact", RULE_STATS)
    hashes = final_hashes(h)
    j.count = len(hashes)
    n = {s: sum(1 for f in hashes if f.get("state") == s) for s in TERMINAL}
    worker_cancels = sum(1 for f in hashes if f.get("state") == "cancelled" and f.get("error_message") == WORKER_CANCEL)
    abandoned = sum(1 for f in hashes if f.get("state") == "dead" and f.get("error") == "abandoned")
    want = {"ok": n["succeeded"], "failed": n["failed"], "cancelled": worker_cancels, "dead": n["dead"] - abandoned}
    st = h.final_stats.get("stats") or h.final_stats
    for key, exp in want.items():
        got = st.get(key)
        if got is None:
            j.bad(h, "final_stats has no %r counter" % key)
        elif int(got) != exp:
            j.bad(h, "stats %s = %s, the final hashes say %d" % (key, got, exp), expected=want,
                  got={k: st.get(k) for k in ("ok", "failed", "retried", "dead", "cancelled")},
                  states=n, worker_cancels=worker_cancels, abandoned=abandoned)
    prev = {}
    for s in h.samples:
        for key in ("stats_ok", "stats_failed", "stats_dead"):
            v = s.get(key)
            if v is not None and prev.get(key) is not None and v < prev[key]:
                j.note("samples where %s went down" % key)
            prev[key] = v if v is not None else prev.get(key)
    return j


def zset_items(z):
    """A zset dumped as {member: score}, [[member, score], ...] or a flat list."""
    if isinstance(z, dict):
        return [(k, float(v)) for k, v in z.items()]
    z = list(z or [])
    if z and not isinstance(z[0], (list, tuple)):
        z = list(zip(z[0::2], z[1::2]))
    return [(m, float(s)) for m, s in z]


def judge_stuck(h):
    j = Judgement("nothing_stuck", RULE_STUCK)
    end = h.drained or 0
    for jid, fin in sorted(h.final.items()):
        if fin.get("missing"):
            continue
        j.count += 1
        st = fin.get("state")
        if st in TERMINAL:
            continue
        if st == "scheduled" and history.num(fin.get("run_at")) > end:
            j.note("scheduled beyond the drain")
            continue
        runs = h.runs.get(jid, [])
        lost = failover_lost(h, runs[-1].end, runs[-1].end) if runs and int(h.cfg["wait_replicas"]) == 0 else []
        if lost:
            j.allow(h, "left %s: its outcome may be lost with the Redis master (wait_replicas = 0)" % st, jid, lost)
        else:
            j.bad(h, "left %s after the drain" % st, jid)
    for jid, score in zset_items(h.final_stats.get("leases")):
        st = (h.final.get(jid) or {}).get("state")
        if st in TERMINAL:
            j.bad(h, "%s job still has a lease" % st, jid)
        elif score < end:
            j.bad(h, "lease expired %d ms before the drain ended" % (end - score), jid)
    for jid, score in zset_items(h.final_stats.get("scheduled")):
        if score < end - 1000:
            j.bad(h, "still in the scheduled set, due %d ms before the drain ended" % (end - score), jid)
    return j


def judge_dead_letters(h):
    j = Judgement("dead_letter_reason", RULE_DEAD)
    if not h.dead_letters_read:
        j.bad(h, "wharf.dead could not be read: %s" % h.final_stats.get("dead_letters_error"))
    for m in h.final_stats.get("dead_letters") or []:
        j.count += 1
        hd = m.get("headers") or m
        reason, jid = hd.get("wharf-reason"), hd.get("wharf-job-id")
        if not reason:
            j.bad(h, "dead letter without wharf-reason", jid, headers=hd)
        elif reason not in DEAD_REASONS:
            j.bad(h, "dead letter with an unknown reason %r" % reason, jid, headers=hd)
        elif reason in BAD_INPUT:
            j.note("bad input (excepted)")
        elif not jid:
            j.bad(h, "%s dead letter without wharf-job-id" % reason, headers=hd)
        elif (h.final.get(jid) or {}).get("state") not in ("dead", "failed"):
            j.bad(h, "%s dead letter for a job that is %s" % (reason, (h.final.get(jid) or {}).get("state")), jid)
        else:
            j.note(reason)
    return j


def rss_series(h):
    """(process label, [(t, kB)]) per worker process lifetime. A sample's
    `pids` names the process behind each name; without it a name is cut at
    each of its (re)starts in procs.jsonl. Only the workers of meta.json are
    judged (the sampler also reports servers, `wharf serve`, producers)."""
    workers = set(h.meta.get("workers") or {})
    series = {}
    for s in h.samples:
        pids = s.get("pids") or {}
        for k, v in (s.get("rss_kb") or {}).items():
            if v is not None and (not workers or k in workers):
                series.setdefault((k, pids.get(k)), []).append((s.get("t", 0), v))
    out = []
    for (k, pid), pts in sorted(series.items(), key=lambda kv: (kv[0][0], kv[1][0][0])):
        if pid is not None:
            out.append(("%s (pid %s)" % (k, pid), pts))
            continue
        starts = sorted(p.get("t", 0) for p in h.procs if p.get("name") == k and p.get("event") == "start")
        cuts = starts[1:] + [float("inf")]
        lo = float("-inf")
        for i, hi in enumerate(cuts):
            seg = [p for p in pts if lo <= p[0] < hi]
            if seg:
                out.append(("%s#%d" % (k, i) if len(cuts) > 1 else k, seg))
            lo = hi
    return out


def judge_rss(h):
    j = Judgement("rss_flat", RULE_RSS % (WARMUP_MS // 1000, MIN_SAMPLES))
    for label, seg in rss_series(h):
        post = [v for t, v in seg if t >= seg[0][0] + WARMUP_MS]
        if len(post) < MIN_SAMPLES:
            j.note("processes too short-lived to judge")
            continue
        j.count += 1
        q = len(post) // 4
        first, last = statistics.median(post[:q]), statistics.median(post[-q:])
        limit = first * 1.25 + 2048
        if last > limit:
            medians = [statistics.median(post[i * q:(i + 1) * q]) for i in range(4)]
            j.bad(h, "%s grew from %d kB to %d kB (limit %d kB)" % (label, first, last, limit), process=label,
                  quarter_medians_kb=medians, samples=len(post))
    return j


def signal_name(sig):
    if sig in (None, 0, ""):
        return None
    if isinstance(sig, str):
        s = sig.upper()
        return s[3:] if s.startswith("SIG") else s
    return {2: "INT", 6: "ABRT", 9: "KILL", 11: "SEGV", 15: "TERM"}.get(int(sig), str(sig))


def judge_crashes(h):
    j = Judgement("no_crash", RULE_CRASH)
    for p in h.procs:
        if p.get("event") != "exit":
            continue
        j.count += 1
        sig, status = signal_name(p.get("signal")), p.get("status")
        if not sig and isinstance(status, int) and status < 0:  # Popen's returncode: -signal
            sig, status = signal_name(-status), None
        what = "%s (pid %s) exited status %s signal %s" % (p.get("name"), p.get("pid"), status, sig)
        if p.get("by_nemesis"):
            j.note("killed by the nemesis")
        elif not sig and status in (0, None):
            j.note("clean exits" if p.get("t", 0) >= (h.ended or 0) else "clean exits before the end")
        elif sig in ("TERM", "INT") and p.get("t", 0) >= (h.ended or 0):
            j.note("stopped at the end")
        else:
            j.bad(h, what, proc=p)
    for s in h.sanitizer:
        j.bad(h, "sanitizer report in %s:%d: %s" % (s["log"], s["line"], s["text"]))
    return j
