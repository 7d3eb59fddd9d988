"""What the checker's invariants share: one judgement per invariant, the
fault windows the docs allow, and the context printed around a violation.

    j = Judgement("terminal_state", "rule text")
    j.count += 1                           # one more thing judged
    j.bad(h, "why", job_id)                # a violation, with its context
    j.allow(h, "why", job_id, faults)      # inside a documented window
    j.result()                             # the verdict.json entry

Sizes are bounded: at most CAP violations and CAP allowed entries are kept
per invariant (the totals are always exact), and each context holds a few
events, runs, faults and log lines.
"""
import json
import re

import history

CAP = 50
TERMINAL = ("succeeded", "failed", "dead", "cancelled")
# A write the old Redis master acknowledged reaches the replica well under a
# millisecond later on loopback (docs/operations.md, Redis Sentinel); a write
# up to this long before the master died may be lost with it.
REPL_SLACK_MS = 1000

# Which faults explain what, by kind: "worker" = it must hit the worker that
# ran the job, "any" = it hits every worker. docs/reliability.md: a job runs
# again when its worker dies or loses its connection (at least once), or when
# its lease or lock runs out while its worker cannot renew it.
# An earlier run's delivery was lost and its worker left the registry (its
# key expires three heartbeats after its last beat): the job runs again. A
# worker that only lost its broker connection (partition_amqp, its node
# stopped) is alive, and the copy waits for its run (start.lua: busy).
REDELIVERY_COVER = {
    "worker_kill": "worker", "worker_stop": "worker", "partition_redis": "worker", "redis_maxmemory": "any",
    "redis_master_kill": "any",
}
RENEW_COVER = {  # its worker could not renew a lease (renew.lua needs a writable master)
    "worker_kill": "worker", "worker_stop": "worker", "partition_redis": "worker", "redis_maxmemory": "any",
    "redis_master_kill": "any",
}
TIMEOUT_COVER = {  # the handler's clock ran on while it was frozen, or its Redis writes stalled
    "worker_stop": "worker", "partition_redis": "worker", "redis_maxmemory": "any", "redis_master_kill": "any",
}
LOCK_COVER = {  # the holder is alive but silent: its lock expires under it
    "worker_stop": "worker", "partition_redis": "worker", "redis_maxmemory": "any",
}
# The scheduler's leader is not named in the run directory (wharf serve can
# lead too), so anything that can stall a leader's loop explains a late tick:
# its death or stop, Redis refusing its writes, or a publish it waits on.
LEADER_COVER = {k: "any" for k in ("worker_kill", "worker_stop", "partition_redis", "partition_amqp",
                                   "rmq_node_stop", "redis_master_kill", "redis_maxmemory", "disk_alarm")}


class Judgement:
    def __init__(self, name, rule):
        self.name, self.rule = name, rule
        self.count = 0
        self.violations, self.allowed = [], []
        self.n_bad = self.n_allowed = 0
        self.notes = {}

    def note(self, key, n=1):
        self.notes[key] = self.notes.get(key, 0) + n

    def bad(self, h, why, job=None, **extra):
        self.n_bad += 1
        if len(self.violations) < CAP:
            self.violations.append(entry(h, why, job, extra))

    def allow(self, h, why, job=None, faults=(), **extra):
        self.n_allowed += 1
        if len(self.allowed) < CAP:
            e = entry(h, why, job, extra, full=False)
            e["window"] = [history.fault_brief(f) for f in list(faults)[:4]]
            self.allowed.append(e)

    def result(self):
        return {"ok": self.n_bad == 0, "rule": self.rule, "count": self.count,
                "violations_total": self.n_bad, "violations": self.violations,
                "allowed_total": self.n_allowed, "allowed": self.allowed, "notes": self.notes}


def entry(h, why, job, extra, full=True):
    e = {"why": why}
    if job is not None:
        e["id"] = job
    e.update(extra)
    if job is not None and full:
        e["context"] = context(h, job)
    return e


FINAL_FIELDS = ("state", "error", "error_message", "attempt", "max_attempts", "redeliveries", "worker",
                "started_at", "finished_at", "run_at", "lock")


def context(h, job):
    """What surrounds a job: its last events, its runs, its final hash, the
    faults during its life (the worker log lines are added by add_log_lines)."""
    fin = h.final.get(job) or {}
    runs = h.runs.get(job, [])
    subs = h.submits.get(job, [])
    times = [s.get("t") for s in subs] + [r.start for r in runs] + [r.end for r in runs]
    times += [t for t, _ in h.events.get(job, [])] + [history.num(fin.get("finished_at")) or None]
    times = [t for t in times if t]
    ctx = {"final": {k: fin[k] for k in FINAL_FIELDS if k in fin} if fin else None,
           "events": [[t, w] for t, w in h.events.get(job, [])[-10:]],
           "runs": [r.brief() for r in runs[:6]],
           "submits": [{k: s.get(k) for k in ("t", "t_end", "via", "ok", "expect", "returned_id")} for s in subs[:3]],
           "cancels": [{k: c.get(k) for k in ("t", "t_end", "ok", "answer")} for c in h.cancels.get(job, [])[:3]]}
    if times:
        lo, hi = min(times) - 5000, max(times) + 5000
        ctx["faults"] = [history.fault_brief(f) for f in h.faults
                         if f.get("start", 0) <= hi and h.fault_end(f) >= lo][:8]
    return ctx


def add_log_lines(h, judgements, per_job=8, max_jobs=300):
    """Fill each violation's context with the worker log lines that name its job."""
    want = {}
    for j in judgements:
        for v in j.violations:
            if "context" in v and v.get("id") and len(want) < max_jobs:
                want.setdefault(v["id"], []).append(v["context"])
    if not want:
        return
    found = {k: [] for k in want}
    for name, path in h.log_files():
        rel = path[len(h.dir):].lstrip("/")
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = history.JOB_FIELD.search(line)
                if m and m.group(1) in found and len(found[m.group(1)]) < per_job:
                    found[m.group(1)].append(rel + ": " + line.strip()[:300])
    for k, ctxs in want.items():
        for c in ctxs:
            c["log"] = found[k]


def fail_code(args):
    """The error a system.fail job records: its `code`, "failed" by default (schemas 7)."""
    return (args or {}).get("code") or "failed"


HTTP_CANCEL = {200: "cancelled", 202: "requested", 409: "finished", 404: "missing"}
CODE_CANCEL = {"conflict": "finished", "not_found": "missing"}
STATE_CANCEL = {"cancelled": "cancelled", "running": "requested", "cancelling": "requested"}
FINISHED_AS = re.compile(r"already finished(?:: it is |\s*\()([a-z]+)")


def cancel_answer(c):
    """What a cancel call said (cancels.jsonl `answer`, as workload.py records
    it per client): "cancelled" (ended before it started: HTTP 200, library
    or CLI `cancelled`), "requested" (running, asked to stop: 202,
    `running`, `cancelling`), "finished" (409 / conflict), "missing" (404 /
    not_found) or "unknown" (the call failed: it may or may not have acted)."""
    a = c.get("answer")
    if not isinstance(a, dict):
        a = {"out": str(a or "")}
    if isinstance(a.get("status"), int):
        return HTTP_CANCEL.get(a["status"], "unknown")
    if a.get("rc") not in (None, 0) or a.get("code"):
        text = "%s %s" % (a.get("code") or "", a.get("err") or "")
        return next((v for k, v in CODE_CANCEL.items() if k in text), "unknown")
    words = str(a.get("state") or a.get("out") or "").split()
    return STATE_CANCEL.get(words[-1].lower() if words else "", "unknown")


def cancel_found(c):
    """The terminal state a cancel was told the job already had, or None."""
    m = FINISHED_AS.search(json.dumps(c.get("answer")).lower())
    return m.group(1) if m and m.group(1) in TERMINAL else None


def failover_lost(h, t, t_end):
    """The Redis master kills that may have lost a write acknowledged between
    t and t_end (asynchronous replication, docs/operations.md)."""
    return [f for f in h.faults if f.get("kind") == "redis_master_kill"
            and t <= f.get("start", 0) <= (t_end or t) + REPL_SLACK_MS]
