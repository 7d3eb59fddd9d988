"""The history of one soak run, read back from its run directory.

    h = history.load(run_dir)
    h.meta, h.cfg            # meta.json, and its config with the defaults
    h.submits[id]            # [submit records] in time order
    h.final[id]              # the job hash after the drain ({"missing": True})
    h.runs[id]               # [Run] from the worker logs, by start
    h.faults                 # [fault] from faults.jsonl, by start
    h.covering(table, worker, lo, hi)   # faults that explain something

The run directory is the contract of tests/soak (see soak.py): every time
is in ms since the epoch. The worker logs are the witness of which handler
ran where and when (worker/wk_exec.c: "run started" / "run ended" at debug
level), so duplicate runs and lock overlaps are judged without trusting
Redis, whose writes a failover can lose. Nothing here judges: checker.py
does.
"""
import calendar
import glob
import json
import os
import re

from soaklog import read_jsonl  # noqa: F401 - also read by the invariants through history

# The configuration the checker needs, with wharf's own defaults
# (common/adapters/wh_cfg.c) for whatever meta.json leaves out.
CFG_DEFAULTS = {
    "max_hold_s": 1500, "heartbeat_s": 5, "amqp_heartbeat_s": 10, "lease_s": 30, "lock_ttl_ms": None,
    "max_redeliveries": 5, "max_attempts_default": 3, "leader_ttl_ms": 5000, "tick_ms": 200, "wait_replicas": 0,
}
# The worker's config keys (wh_cfg.c) behind them.
WORKER_KEYS = {
    "jobs.max_hold_s": "max_hold_s", "worker.heartbeat_s": "heartbeat_s", "amqp.heartbeat_s": "amqp_heartbeat_s",
    "jobs.lease_s": "lease_s", "jobs.max_redeliveries": "max_redeliveries", "jobs.max_attempts": "max_attempts_default",
    "scheduler.leader_ttl_ms": "leader_ttl_ms", "scheduler.tick_ms": "tick_ms", "redis.wait_replicas": "wait_replicas",
}

# Lines of a sanitizer report (ASan, LSan, UBSan) in any log we keep.
SANITIZER = re.compile(r"==\d+==ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error: |==\d+==ABORTING")
JOB_FIELD = re.compile(r'"job":"([^"]+)"')
WORKER_LOG = re.compile(r"^(?P<name>.+)\.(?P<n>\d+)\.log$")


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


_ts_cache = {}


def ts_ms(ts):
    """A log time "2026-12-07T15:15:46.123Z" (UTC) in ms since the epoch, or None."""
    if not ts or len(ts) < 19:
        return None
    head = ts[:19]
    base = _ts_cache.get(head)
    if base is None:
        try:
            base = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]),
                                    int(ts[11:13]), int(ts[14:16]), int(ts[17:19]))) * 1000
        except ValueError:
            return None
        _ts_cache[head] = base
    frac = ts[20:23] if len(ts) >= 23 and ts[19] == "." else "0"
    return base + int(frac) if frac.isdigit() else base


def num(v, default=0):
    """A hash field (text) as an int."""
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def config(given):
    """The settings the checker needs: meta.json's config, then the worker's
    own keys it lists ("worker_keys": {"scheduler.tick_ms": 200, ...}), then
    wharf's defaults."""
    cfg = dict(CFG_DEFAULTS)
    for k, v in (given.get("worker_keys") or {}).items():
        if k in WORKER_KEYS and v is not None:
            cfg[WORKER_KEYS[k]] = v
    cfg.update({k: v for k, v in given.items() if k in CFG_DEFAULTS and v is not None})
    if not cfg["lock_ttl_ms"]:  # the lock lives as long as the lease (wk_exec.c)
        cfg["lock_ttl_ms"] = int(cfg["lease_s"]) * 1000
    return cfg


def drain_end(meta, ended):
    """(when the drain ended, ms; whether every job got terminal). meta's
    `drained` is that time, or a bool next to `drain_ms` (soak.py)."""
    d = meta.get("drained")
    if isinstance(d, bool) or d is None:
        t = (ended + num(meta.get("drain_ms"))) if ended and meta.get("drain_ms") is not None else None
        return t or num(meta.get("finished")) or ended, d is not False
    return num(d) or ended, True


class Run:
    """One handler run: from "run started" to "run ended" in one worker log."""
    __slots__ = ("job", "worker", "log", "start", "end", "outcome", "type", "ended")

    def __init__(self, job, worker, log, start, type_):
        self.job, self.worker, self.log, self.start, self.type = job, worker, log, start, type_
        self.end, self.outcome, self.ended = None, None, False

    def brief(self):
        return {"worker": self.worker, "log": self.log, "start": self.start, "end": self.end,
                "outcome": self.outcome if self.ended else "no end (worker died or was stopped)"}


class History:
    def __init__(self, run_dir):
        self.dir = run_dir
        self.meta = read_json(os.path.join(run_dir, "meta.json"), {}) or {}
        self.cfg = config(self.meta.get("config") or {})
        self.started = num(self.meta.get("started"))
        self.ended = num(self.meta.get("ended")) or None
        self.drained, self.drain_ok = drain_end(self.meta, self.ended)
        self._load_records()
        self._load_final()
        self._load_logs()

    def _timed(self, name, key="t"):
        """The records of RUN/<name> with a numeric time `key`, in time order;
        the others are counted in self.untimed (the report says so)."""
        rows = read_jsonl(os.path.join(self.dir, name))
        good = [r for r in rows if isinstance(r, dict) and isinstance(r.get(key), (int, float))]
        if len(good) < len(rows):
            self.untimed[name] = len(rows) - len(good)
        return sorted(good, key=lambda r: r[key])

    def _load_records(self):
        self.untimed = {}
        j = self._timed
        self.submits = {}
        for s in j("submits.jsonl"):
            self.submits.setdefault(s.get("id"), []).append(s)
        self.cancels = {}
        for c in j("cancels.jsonl"):
            self.cancels.setdefault(c.get("id"), []).append(c)
        self.faults = j("faults.jsonl", "start")
        self.procs = j("procs.jsonl")
        self.events = {}
        self.resubscribed = []
        for e in j("events.jsonl"):
            if e.get("word") == "#resubscribed":
                self.resubscribed.append(e.get("t"))
            elif e.get("id"):
                self.events.setdefault(e["id"], []).append((e["t"], e.get("word")))
        self.samples = j("samples.jsonl")

    def _load_final(self):
        self.final = {}
        for h in read_jsonl(os.path.join(self.dir, "final.jsonl")):
            if h.get("id"):
                self.final[h["id"]] = h
        self.final_stats = read_json(os.path.join(self.dir, "final_stats.json"), {}) or {}
        # final.py records why wharf.dead could not be read; then no job is
        # judged by its dead letters (dead_letter_reason says so once).
        self.dead_letters_read = not self.final_stats.get("dead_letters_error") or bool(
            self.final_stats.get("dead_letters"))

    def log_files(self):
        """(worker name, path) of every worker log, by name then restart number."""
        out = []
        for p in glob.glob(os.path.join(self.dir, "workers", "*.log")):
            m = WORKER_LOG.match(os.path.basename(p))
            name, n = (m.group("name"), int(m.group("n"))) if m else (os.path.basename(p)[:-4], 0)
            out.append((name, n, p))
        return [(name, p) for name, _, p in sorted(out)]

    def _proc_exits(self):
        """Worker name -> [(start t, exit t or None)] per process, in start order."""
        lives, by_pid = {}, {}
        for p in self.procs:
            if p.get("event") == "start":
                life = [p.get("t"), None, p]
                lives.setdefault(p.get("name"), []).append(life)
                by_pid[(p.get("name"), p.get("pid"))] = life
            elif p.get("event") == "exit" and (p.get("name"), p.get("pid")) in by_pid:
                by_pid[(p.get("name"), p.get("pid"))][1] = p.get("t")
        return lives

    def _load_logs(self):
        """Runs, schedule firings, leadership and sanitizer lines from the worker logs."""
        self.runs, self.fired, self.sanitizer = {}, {}, []
        # job -> times its finish was written again: finished_at is the
        # worker's stamp of the first try, the outcome was visible only later
        self.finish_retried = {}
        self.log_last = {}
        lives = self._proc_exits()
        seen = {}
        for name, path in self.log_files():
            k = seen.get(name, 0)
            seen[name] = k + 1
            life = lives.get(name, [])[k] if k < len(lives.get(name, [])) else None
            self._read_log(name, path, life)
        workers = os.path.join(self.dir, "workers") + os.sep
        for path in sorted(glob.glob(os.path.join(self.dir, "**", "*.log"), recursive=True)):
            if not path.startswith(workers):
                self._scan_sanitizer(path)

    def _scan_sanitizer(self, path):
        """Sanitizer reports in a log other than a worker's (wharf serve, say)."""
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if SANITIZER.search(line):
                    self.sanitizer.append({"log": os.path.relpath(path, self.dir), "line": i + 1,
                                           "text": line.strip()[:300]})

    def _read_log(self, name, path, life):
        rel = os.path.relpath(path, self.dir)
        open_runs, last = {}, None
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if SANITIZER.search(line):
                    self.sanitizer.append({"log": rel, "line": i + 1, "text": line.strip()[:300]})
                if not line.startswith("{"):
                    continue
                if '"msg":"status write failed; retrying"' in line and '"op":"finish"' in line:
                    o = json.loads(line)
                    self.finish_retried.setdefault(o.get("job"), []).append(ts_ms(o.get("ts")))
                if '"msg":"run ' not in line and '"msg":"schedule fired"' not in line:
                    if '"ts":"' in line:
                        last = ts_ms(line[7:31]) or last
                    continue
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                t, job, msg = ts_ms(o.get("ts")), o.get("job"), o.get("msg")
                if t is None or not job:
                    continue
                last = t
                if msg == "run started":
                    r = Run(job, name, rel, t, o.get("type"))
                    open_runs.setdefault(job, []).append(r)
                    self.runs.setdefault(job, []).append(r)
                elif msg == "run ended" and open_runs.get(job):
                    # A worker can run a redelivered copy of a job it is still
                    # running (its AMQP connection was lost): first in, first out.
                    r = open_runs[job].pop(0)
                    r.end, r.outcome, r.ended = t, o.get("outcome"), True
                elif msg == "schedule fired":
                    self.fired.setdefault(job, []).append({"t": t, "worker": name, "log": rel})
        self.log_last[rel] = last
        # A run without an end lasted until its process died (procs.jsonl), or at
        # least until the last line that process wrote.
        death = life[1] if life and life[1] else None
        for rs in open_runs.values():
            for r in rs:
                r.end = death or last or r.start
        for rs in self.runs.values():
            rs.sort(key=lambda r: r.start or 0)

    def rel(self, t):
        """A time as seconds since the start of the run, for messages."""
        return "?" if t is None else "%+.3f s" % ((t - self.started) / 1000.0)

    # ---- windows ----

    def fault_end(self, f):
        """When a fault was undone; one never undone lasts to the end of the run."""
        return f.get("end") or self.drained or float("inf")

    def covering(self, table, worker, lo, hi, lag=0):
        """The faults that explain something happening to `worker` between lo and hi.

        `table` maps a fault kind to "worker" (it must target that worker) or
        "any" (it affects every worker: a broker node, the Redis master). A
        fault covers when [start, end + lag] overlaps [lo, hi]: `lag` is how
        long its effect can outlast its undoing (a dead connection is noticed
        by heartbeats)."""
        out = []
        for f in self.faults:
            if isinstance(f.get("detail"), dict) and f["detail"].get("apply_error"):
                continue  # the nemesis could not apply it: it explains nothing
            scope = table.get(f.get("kind"))
            if not scope or (scope == "worker" and f.get("target") != worker):
                continue
            if f.get("start", 0) <= hi and self.fault_end(f) + lag >= lo:
                out.append(f)
        return out

    def effect_lag(self):
        """How long a fault's effect can outlast it: two AMQP heartbeats (a stalled
        connection is declared lost after 2 x amqp.heartbeat_s), at least 5 s."""
        return max(5000, 2000 * int(self.cfg["amqp_heartbeat_s"]))

    def job_ids(self):
        """Every id the run knows: submitted, in the final dump, seen in events or logs."""
        return set(self.submits) | set(self.final) | set(self.events) | set(self.runs)


def fault_brief(f):
    return {k: f.get(k) for k in ("kind", "target", "start", "end")}


def load(run_dir):
    return History(run_dir)
