"""The unique submits of invariant 1 (terminal_state), schemas 15
`unique_for_s`: while the uniqueness key names a queued, scheduled, running
or retrying job, a submit with the same type, target and args returns that
job's id instead (a dedup); otherwise it makes a new job. Both directions
are judged: a dedup must point at a live, equal job and not be enqueued
itself; a second job accepted while the first held the key needs a Redis
master kill in between (the client does not WAIT: docs/operations.md).
"""
import json

import history
import judge


def material(rec):
    return (rec.get("type"), rec.get("target") or "", json.dumps(rec.get("args") or {}, sort_keys=True))


def judge_dedup(h, j, jid, rec):
    """A unique submit that returned an existing job (schemas 15, unique_for_s)."""
    j.note("unique dedups")
    rid = rec["returned_id"]
    first = [r for r in h.submits.get(rid, []) if r.get("ok")]
    fin = h.final.get(rid)
    if not first and (not fin or fin.get("missing")):
        return j.bad(h, "dedup returned %s, a job never accepted" % rid, jid)
    if first and material(first[0]) != material(rec):
        return j.bad(h, "dedup returned %s, whose type/target/args differ" % rid, jid)
    done = history.num((fin or {}).get("finished_at")) or None
    if done and done < rec.get("t", 0):
        # finished_at is the worker's clock when it made the outcome; the
        # outcome is visible once written: its event, or a retried write
        seen = [t for t, w in h.events.get(rid, []) if w in judge.TERMINAL]
        if seen and min(seen) >= rec.get("t", 0) or not seen and h.finish_retried.get(rid):
            j.allow(h, "dedup returned %s: finished_at %d ms before the submit, written after it" %
                    (rid, rec["t"] - done), jid)
        else:
            return j.bad(h, "dedup returned %s, which had finished %d ms before the submit" % (rid, rec["t"] - done),
                         jid)
    if first and first[0].get("unique_for_s"):
        expiry = first[0].get("t_end", first[0].get("t", 0)) + 1000 * int(first[0]["unique_for_s"])
        if rec.get("t", 0) > expiry + 1000:
            return j.bad(h, "dedup returned %s after its uniqueness window expired" % rid, jid)
    mine = h.final.get(jid)
    if h.runs.get(jid) or (mine and not mine.get("missing")):
        return j.bad(h, "a deduplicated submit was enqueued too", jid)


def judge_unique_twice(h, j):
    """Two unique submits accepted while the first still held the uniqueness key."""
    held = {}
    for jid, recs in sorted(h.submits.items(), key=lambda kv: kv[1][0].get("t", 0)):
        ok = [r for r in recs if r.get("ok") and r.get("unique_for_s")]
        if not ok or (ok[0].get("returned_id") or jid) != jid:
            continue
        rec, key = ok[0], material(ok[0])
        prev = held.get(key)
        if prev:
            pid, p = prev
            done = history.num((h.final.get(pid) or {}).get("finished_at")) or float("inf")
            until = min(done, p.get("t", 0) + 1000 * int(p["unique_for_s"]))
            if (rec.get("t_end") or rec.get("t", 0)) < until:
                lost = [f for f in h.faults if f.get("kind") == "redis_master_kill"
                        and p.get("t", 0) <= f.get("start", 0) <= rec.get("t_end", rec.get("t", 0))]
                if lost:
                    j.allow(h, "unique job accepted twice around a Redis master kill (%s)" % pid, jid, lost)
                else:
                    j.bad(h, "accepted while %s held its uniqueness window" % pid, jid, holder=pid)
        held[key] = (jid, rec)
