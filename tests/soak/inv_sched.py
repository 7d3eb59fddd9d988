"""Invariants 3 (each schedule tick fires once) and 4 (lock holders never
overlap). Each takes the history (history.py) and returns a judge.Judgement.

How wh_sched.c handles ticks: firings fall on multiples of every_s since the
epoch, each with the id "<name>-<fire time in unix s>"; the leader fires
the due tick T0 at `now` (the firing's created_at) and sets the next firing
to the first tick after max(T0, now). A leader that was behind therefore
fires the first missed tick late and skips the ones up to `now`: those
are the only missing ticks the checker allows, and only when a fault may
have stalled the leader then.
"""
import re

import history
import inv_jobs
from judge import LEADER_COVER, LOCK_COVER, Judgement, failover_lost

RULE_SCHEDULE = (
    "for each schedule: every tick T (a multiple of every_s from `created` + 1 s to the end of the workload "
    "minus tick_ms + 2 s) has a firing `<name>-<T s>`; a missing T is allowed only when an earlier tick T0 "
    "fired at or after T (the leader was behind and wh_sched skips the ticks up to `now`) and a fault that "
    "can stall the leader overlaps [T0 - leader_ttl_ms, T0's created_at]. No firing off the grid; a firing "
    "created twice (`schedule fired` twice) only around a Redis master kill; a firing runs to completion at "
    "most once (twice only in a duplicate_runs window); each firing ends as its type allows.")
RULE_LOCK = (
    "runs (worker logs) of different jobs with the same lock never overlap; an overlap is allowed only when "
    "the earlier holder's worker was SIGSTOPped or partitioned from Redis (or Redis refused writes: "
    "maxmemory) during its run for at least lock_ttl_ms - 1.25 s (one renewal period and jitter) before "
    "the later run started: its lock expired under it.")
RENEW_MS = 1250  # locks are renewed every second; 250 ms of jitter


def schedules(h):
    s = h.meta.get("schedule") or []
    return [s] if isinstance(s, dict) else list(s)


def firing_time(h, jid):
    """When a firing was created (its hash's created_at, else the log line)."""
    t = history.num((h.final.get(jid) or {}).get("created_at")) or None
    if not t and h.fired.get(jid):
        t = h.fired[jid][0]["t"]
    return t


def judge_schedule(h):
    j = Judgement("schedule_once", RULE_SCHEDULE)
    for sc in schedules(h):
        judge_one_schedule(h, j, sc)
    return j


def firings(h, name):
    pat = re.compile(re.escape(name) + r"-(\d+)$")
    out = {}
    for jid in h.job_ids() | set(h.fired):
        m = pat.match(jid or "")
        fin = h.final.get(jid)
        seen = (fin and not fin.get("missing")) or h.fired.get(jid) or h.events.get(jid) or h.runs.get(jid)
        if m and seen:
            out[int(m.group(1)) * 1000] = jid
    return out


def judge_one_schedule(h, j, sc):
    name, every = sc.get("name"), int(sc.get("every_s") or 0) * 1000
    if not name or every <= 0:
        return j.bad(h, "meta.json schedule without name/every_s: %r" % sc)
    fired = firings(h, name)
    for tick, jid in sorted(fired.items()):
        judge_firing(h, j, sc, tick, jid, every)
    # The first firing is the first tick after the add's own clock: a tick
    # within a second of the recorded `created` may precede it.
    created = int(sc.get("created") or h.started) + 1000
    end = int(sc.get("removed") or h.ended or h.drained or created)
    horizon = end - int(h.cfg["tick_ms"]) - 2000
    ticks = sorted(fired)
    for tick in range((created // every + 1) * every, horizon + 1, every):
        j.count += 1
        if tick in fired:
            continue
        earlier = [t for t in ticks if t < tick]
        t0 = earlier[-1] if earlier else None
        at = firing_time(h, fired[t0]) if t0 is not None else None
        if at is None or at < tick:
            j.bad(h, "tick %s-%d never fired" % (name, tick // 1000))
            continue
        cover = h.covering(LEADER_COVER, None, t0 - int(h.cfg["leader_ttl_ms"]), at)
        if cover:
            j.allow(h, "tick %d skipped: tick %d fired %d ms late" % (tick // 1000, t0 // 1000, at - t0),
                    fired[t0], cover)
        else:
            j.bad(h, "tick %d skipped: tick %d fired %d ms late with no fault to stall the leader" % (
                tick // 1000, t0 // 1000, at - t0), fired[t0])


def judge_firing(h, j, sc, tick, jid, every):
    j.note("firings")
    if tick % every:
        j.bad(h, "firing %s is off the %d s grid" % (jid, every // 1000), jid)
    at = firing_time(h, jid)
    if at and at - tick > int(h.cfg["tick_ms"]) + 1000:
        j.note("firings late by more than tick_ms + 1 s")
    made = h.fired.get(jid, [])
    if len(made) > 1:
        lost = failover_lost(h, made[0]["t"] - 5000, made[-1]["t"])
        if lost:
            j.allow(h, "fired %d times around a Redis master kill" % len(made), jid, lost)
        else:
            j.bad(h, "fired %d times (by %s)" % (len(made), ", ".join(m["worker"] for m in made)), jid)
    done = [r for r in h.runs.get(jid, []) if r.ended and r.outcome in ("ok", "fail")]
    for prev, nxt in zip(done, done[1:]):
        cover = inv_jobs.run_cover(h, prev, nxt.start)
        if cover:
            j.allow(h, "firing ran to completion again after a fault", jid, cover)
        else:
            j.bad(h, "firing ran to completion twice", jid)
    fin = h.final.get(jid)
    if not fin or fin.get("missing"):
        return j.bad(h, "firing %s lost" % jid, jid)
    if fin.get("state") in ("succeeded", "failed", "dead", "cancelled"):
        rec = {"expect": sc.get("expect") or "succeeded", "args": sc.get("args")}
        verdict, why, faults = inv_jobs.explain_end(h, jid, rec, fin)
        if verdict == "bad":
            j.bad(h, "firing: " + why, jid)
        elif verdict == "allowed":
            j.allow(h, "firing: " + why, jid, faults)


def judge_locks(h):
    j = Judgement("lock_exclusive", RULE_LOCK)
    ttl = int(h.cfg["lock_ttl_ms"])
    by_lock = {}
    for jid, recs in h.submits.items():
        lock = next((r.get("lock") for r in recs if r.get("ok") and r.get("lock")), None)
        if lock:
            by_lock.setdefault(lock, []).extend(h.runs.get(jid, []))
    for lock, runs in sorted(by_lock.items()):
        runs.sort(key=lambda r: r.start)
        active = []
        for b in runs:
            j.count += 1
            active = [a for a in active if a.end > b.start]
            for a in active:
                if a.job != b.job:
                    judge_overlap(h, j, lock, a, b, ttl)
            active.append(b)
    return j


def judge_overlap(h, j, lock, a, b, ttl):
    cover = [f for f in h.covering(LOCK_COVER, a.worker, a.start, b.start)
             if min(h.fault_end(f), b.start) - max(f.get("start", 0), a.start) >= ttl - RENEW_MS]
    what = "%s (%s, %s..%s) and %s (%s from %s) overlap on lock %s" % (
        a.job, a.worker, h.rel(a.start), h.rel(a.end), b.job, b.worker, h.rel(b.start), lock)
    if len(h.runs.get(a.job, [])) > 1:
        what += " (%s ran %d times: the overlap may come from a duplicate run)" % (a.job, len(h.runs[a.job]))
    if cover:
        j.allow(h, what + ": the earlier holder's lock expired while its worker was silent", b.job, cover)
    else:
        j.bad(h, what, b.job, holder=a.job)
