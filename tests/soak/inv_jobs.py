"""The invariants about single jobs: 1 (each accepted job ends in one
terminal state its type allows), 2 (no terminal state is rewritten) and 10
(duplicate runs only inside the windows the docs allow). Each takes the
history (history.py) and returns a judge.Judgement; unique submits are
judged in inv_unique.py.
"""
import history
import inv_unique
from judge import (TERMINAL, REDELIVERY_COVER, RENEW_COVER, TIMEOUT_COVER, Judgement, cancel_answer, cancel_found,
                   fail_code, failover_lost)

RULE_TERMINAL = (
    "every accepted submit (ok) ends in a terminal state its `expect` allows: succeeded; failed with error = "
    "the fail code, never retried; dead with error = the fail code, attempt = max_attempts and a dead letter "
    "(attempts_exhausted). Also allowed: cancelled (error cancelled) when a cancel was sent (a cancel answered "
    "`cancelled` before the start must end cancelled and the job must not start after it, unless a Redis master "
    "kill may have lost the cancel); failed/timeout when a run's worker was SIGSTOPped or its Redis stalled "
    "(partition, maxmemory, master kill) during it; dead/abandoned "
    "on the last attempt when a run's worker could not renew its lease; dead/redelivery_limit when more than "
    "max_redeliveries runs each lost their delivery to a fault. A delayed job never starts before run_at; one "
    "missing after the drain is allowed only if a Redis master kill may have lost its submit (the client does "
    "not WAIT). A unique dedup must return a job that was live, has the same type/target/args and did not run "
    "itself; two unique submits accepted while the first was live need a Redis master kill in between. "
    "Non-terminal end states are judged by nothing_stuck.")
RULE_REWRITE = (
    "for every id in events.jsonl: the final hash state equals the first terminal word, and no word after the "
    "first terminal word differs from it, unless a Redis master kill came within 1 s after that word (a write "
    "nobody WAITs for, a client's cancel or the reaper's, is lost with the master); a cancel told `already "
    "finished: it is <state>` names the final state.")
RULE_DUPLICATES = (
    "a later run of a job (another `run started` in any worker log that is not the retry of a run that ended "
    "`fail` for a transient job) needs, between the earlier run's start and the later run's start, a kill, "
    "stop or Redis/AMQP partition of the earlier run's worker, a RabbitMQ node stop or a Redis master kill "
    "(the fault's end extended by two AMQP heartbeats, at least 5 s); `redeliveries` > 0 with no second run "
    "logged (a delivery lost before its `run started` line) needs such a fault on any worker between the "
    "job's submit and its last run or finish. Each allowed duplicate is counted.")


def judge_terminal(h):
    j = Judgement("terminal_state", RULE_TERMINAL)
    for jid, recs in h.submits.items():
        ok = [r for r in recs if r.get("ok")]
        if not jid or not ok:
            continue
        rec = ok[0]
        if rec.get("returned_id") and rec["returned_id"] != jid:
            inv_unique.judge_dedup(h, j, jid, rec)
            continue
        j.count += 1
        judge_one(h, j, jid, rec)
    inv_unique.judge_unique_twice(h, j)
    return j


def judge_one(h, j, jid, rec):
    fin = h.final.get(jid)
    if not fin or fin.get("missing"):
        lost = failover_lost(h, rec.get("t", 0), rec.get("t_end")) if rec.get("run_at") else []
        if lost and not h.runs.get(jid):
            j.allow(h, "delayed submit lost with the Redis master (client does not WAIT)", jid, lost)
        else:
            j.bad(h, "lost: accepted but unknown after the drain", jid)
        return
    early = [r for r in h.runs.get(jid, []) if rec.get("run_at") and r.start < int(rec["run_at"]) - 1]
    if early:
        j.bad(h, "delayed job started %d ms before its run_at" % (int(rec["run_at"]) - early[0].start), jid)
    state = fin.get("state")
    if state not in TERMINAL:
        j.note("not terminal (judged by nothing_stuck)")
        return
    verdict, why, faults = explain_end(h, jid, rec, fin)
    if verdict == "bad":
        j.bad(h, why, jid)
    elif verdict == "allowed":
        j.allow(h, why, jid, faults)
    j.note("ended " + state)


def explain_end(h, jid, rec, fin):
    """("ok" | "allowed" | "bad", why, faults) for a terminal job."""
    state, error = fin.get("state"), fin.get("error")
    expect = rec.get("expect") or "succeeded"
    answers = [(c, cancel_answer(c)) for c in h.cancels.get(jid, [])]
    before = [c for c, a in answers if a == "cancelled"]
    if before and state != "cancelled":
        lost = failover_lost(h, before[0].get("t", 0), before[0].get("t_end"))
        if not lost:
            return "bad", "a cancel answered `cancelled` (before its start) but the job ended %s" % state, ()
        return "allowed", "cancel lost with the Redis master (client does not WAIT)", lost
    if before:
        after = [r for r in h.runs.get(jid, []) if r.start > (before[0].get("t_end") or before[0].get("t", 0))]
        if after:
            return "bad", "started after a cancel answered `cancelled`", ()
    if state == "cancelled":
        if not [a for _, a in answers if a in ("cancelled", "requested", "unknown")]:
            return "bad", "cancelled, but no cancel that could have done it (%s)" % (
                ", ".join(a for _, a in answers) or "none sent"), ()
        if error != "cancelled":
            return "bad", "cancelled with error %r" % error, ()
        return "ok", "", ()
    if state == "failed" and error == "timeout" and timed_out_by_design(rec):
        return "ok", "", ()
    if state == expect and (state, error) != ("failed", "timeout"):
        return expected_end(h, jid, rec, fin)
    return unexpected_end(h, jid, fin, expect)


def timed_out_by_design(rec):
    """A sleep submitted with a timeout_s shorter than its sleep."""
    ms = (rec.get("args") or {}).get("ms")
    return bool(rec.get("timeout_s")) and isinstance(ms, int) and ms > 1000 * int(rec["timeout_s"])


def expected_end(h, jid, rec, fin):
    state, error, code = fin.get("state"), fin.get("error"), fail_code(rec.get("args"))
    if state == "failed":
        if error != code:
            return "bad", "failed with error %r, expected %r" % (error, code), ()
        if any(w == "retrying" for _, w in h.events.get(jid, [])):
            return "bad", "a permanent failure was retried", ()
    if state == "dead" and error not in ("abandoned", "redelivery_limit"):
        if error != code:
            return "bad", "dead with error %r, expected %r" % (error, code), ()
        if history.num(fin.get("attempt")) != history.num(fin.get("max_attempts"), -1):
            return "bad", "dead after %s of %s attempts" % (fin.get("attempt"), fin.get("max_attempts")), ()
        if rec.get("max_attempts") and history.num(fin.get("max_attempts")) != int(rec["max_attempts"]):
            return "bad", "max_attempts %s, submitted %s" % (fin.get("max_attempts"), rec["max_attempts"]), ()
        if h.dead_letters_read and "attempts_exhausted" not in dead_letter_reasons(h, jid):
            return "bad", "dead without an attempts_exhausted dead letter", ()
    if state == "dead" and error in ("abandoned", "redelivery_limit"):
        return unexpected_end(h, jid, fin, "dead")
    return "ok", "", ()


def unexpected_end(h, jid, fin, expect):
    """The ends a fault may force on any job: timeout, abandoned, redelivery_limit."""
    state, error = fin.get("state"), fin.get("error")
    runs = h.runs.get(jid, [])
    if state == "failed" and error == "timeout":
        # The deadline is on the monotonic clock, which runs on while a worker
        # is stopped; a handler's own Redis writes (system.log lines, progress)
        # wait while its Redis is partitioned, full or failing over.
        cover = [f for r in runs for f in h.covering(TIMEOUT_COVER, r.worker, r.start, r.end)]
        if cover:
            return "allowed", "timed out: its worker was stopped or its Redis stalled during the run", cover
        return "bad", "timed out (expected %s) with no stop or Redis stall during a run" % expect, ()
    if state == "dead" and error == "abandoned":
        if history.num(fin.get("attempt")) < history.num(fin.get("max_attempts"), 1):
            return "bad", "abandoned on attempt %s of %s" % (fin.get("attempt"), fin.get("max_attempts")), ()
        cover = [f for r in runs for f in h.covering(RENEW_COVER, r.worker, r.start, r.end, h.effect_lag())]
        if cover:
            return "allowed", "abandoned: its worker could not renew the lease on the last attempt", cover
        return "bad", "abandoned (expected %s) with no fault on its worker during a run" % expect, ()
    if state == "dead" and error == "redelivery_limit":
        return explain_redelivery_limit(h, jid, fin, runs)
    return "bad", "ended %s (error %r); its type allows %s" % (state, error, expect), ()


def explain_redelivery_limit(h, jid, fin, runs):
    limit = int(h.cfg["max_redeliveries"])
    lost = [r for i, r in enumerate(runs) if run_lost(h, r, runs[i + 1].start if i + 1 < len(runs) else None)]
    if h.dead_letters_read and "redelivery_limit" not in dead_letter_reasons(h, jid):
        return "bad", "dead/redelivery_limit without its dead letter", ()
    if history.num(fin.get("redeliveries")) > limit and len(lost) > limit:
        faults = [f for r in lost for f in run_cover(h, r, None)]
        return "allowed", "redelivery_limit: %d runs each lost to a fault (limit %d)" % (len(lost), limit), faults
    why = "redelivery_limit with %d runs lost to faults, redeliveries %s, limit %d: deaths do not explain it"
    return "bad", why % (len(lost), fin.get("redeliveries"), limit), ()


def run_cover(h, r, next_start):
    """Faults that can have lost run r's delivery before the next run started."""
    hi = next_start if next_start is not None else (h.drained or r.end)
    return h.covering(REDELIVERY_COVER, r.worker, r.start, max(hi, r.start), h.effect_lag())


def run_lost(h, r, next_start):
    return bool(run_cover(h, r, next_start))


def dead_letter_reasons(h, jid):
    out = set()
    for m in h.final_stats.get("dead_letters") or []:
        hd = m.get("headers") or m
        if hd.get("wharf-job-id") == jid:
            out.add(hd.get("wharf-reason"))
    return out


def judge_rewrite(h):
    j = Judgement("no_rewrite", RULE_REWRITE)
    for jid, evs in h.events.items():
        words = [w for _, w in evs]
        first = next((i for i, w in enumerate(words) if w in TERMINAL), None)
        if first is None:
            continue
        j.count += 1
        term, t_term = words[first], evs[first][0]
        later = [w for w in words[first + 1:] if w != term]
        fin = h.final.get(jid)
        why = None
        if later:
            why = "%s was followed by %s" % (term, ", ".join(later[:5]))
        elif fin and not fin.get("missing") and fin.get("state") != term:
            why = "first terminal event %s, final hash says %s" % (term, fin.get("state"))
        if why:
            # Writes nobody WAITs for (cancel.lua from a client, the reaper's)
            # can be lost with the master, and the job then ends otherwise.
            lost = failover_lost(h, t_term, t_term)
            if lost:
                j.allow(h, why + ": that write was lost with the Redis master", jid, lost)
            else:
                j.bad(h, why, jid)
    for jid, cancels in h.cancels.items():
        fin = h.final.get(jid) or {}
        for c in cancels:
            said = cancel_found(c)
            if not said or not fin.get("state"):
                continue
            j.count += 1
            if fin["state"] != said:
                j.bad(h, "a cancel was told the job had finished %s; final hash says %s" % (
                    said, fin.get("state")), jid)
    return j


def job_span(h, jid):
    """From the job's first submit (or event, or run) to its last run or its finish."""
    runs, fin = h.runs.get(jid, []), h.final.get(jid) or {}
    starts = [s.get("t") for s in h.submits.get(jid, [])] + [t for t, _ in h.events.get(jid, [])[:1]]
    starts += [r.start for r in runs[:1]]
    ends = [r.end for r in runs] + [history.num(fin.get("finished_at")) or None]
    lo = min([t for t in starts if t] or [h.started])
    return lo, max([t for t in ends if t] or [h.drained or lo])


def is_retry(h, jid, prev):
    """A run after `prev` is a retry (not a duplicate) when prev failed transiently."""
    if prev.outcome != "fail" or not prev.ended:
        return False
    recs = h.submits.get(jid) or []
    return any(r.get("expect") == "dead" or (r.get("args") or {}).get("transient") for r in recs)


def judge_duplicates(h):
    j = Judgement("duplicate_runs", RULE_DUPLICATES)
    for jid in sorted(set(h.runs) | {i for i, f in h.final.items() if history.num(f.get("redeliveries"))}):
        runs = h.runs.get(jid, [])
        j.count += 1
        dup = False
        for prev, nxt in zip(runs, runs[1:]):
            if is_retry(h, jid, prev):
                continue
            dup = True
            j.note("duplicate runs")
            cover = run_cover(h, prev, nxt.start)
            if cover:
                j.allow(h, "ran again after a fault on %s's run" % prev.worker, jid, cover)
            else:
                j.bad(h, "ran again (%s after %s) with no fault that explains it" % (nxt.worker, prev.worker), jid)
        redeliv = history.num((h.final.get(jid) or {}).get("redeliveries"))
        if redeliv and not dup:
            # A delivery lost before its "run started" line (the worker died
            # right after start.lua) is not in any log: any worker's fault will do.
            lo, hi = job_span(h, jid)
            cover = h.covering({k: "any" for k in REDELIVERY_COVER}, None, lo, hi, h.effect_lag())
            if cover:
                j.allow(h, "redeliveries=%d after a fault during its run" % redeliv, jid, cover)
            else:
                j.bad(h, "redeliveries=%d with no fault during the job's life" % redeliv, jid)
        if dup or redeliv:
            j.note("jobs run more than once or redelivered")
    return j
