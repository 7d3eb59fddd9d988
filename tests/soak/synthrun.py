"""Synthetic run directories for the soak checker's tests (test_checker.py).

    soak = synthrun.Soak().clean()    # the clean history: every invariant holds
    soak.job(...), soak.fault(...)    # break (or excuse) one thing
    soak.write(path)                  # the run directory, as tests/soak writes it

The clean history has every kind of job the workload sends (noop, sleep,
permanent and transient fail, cancels before and during a run, two jobs
sharing a lock, a unique submit and its dedup, a delayed job), a schedule
firing every 5 s, flat RSS and one nemesis kill with its restart. Its
stats are counted as finish.lua counts them, not from the checker's rule.
"""
import datetime
import json
import os

T0 = 1_800_000_000_000  # a multiple of the schedule's 5 s period
S = 1000


def iso(ms):
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


class Soak:
    """A synthetic run directory: clean as built; tests break one thing."""

    def __init__(self):
        # As soak.py and topology.py write it: `drained` is whether the drain
        # completed (it took drain_ms); scheduler settings are worker keys.
        self.meta = {"seed": 21, "minutes": 3, "started": T0, "ended": T0 + 200 * S, "drained": True,
                     "drain_ms": 10 * S, "prefix": "soak:", "version": "test",
                     "config": {"max_hold_s": 5, "heartbeat_s": 1, "amqp_heartbeat_s": 2, "lock_ttl_ms": 5000,
                                "lease_s": 5, "max_redeliveries": 2, "max_attempts_default": 3, "wait_replicas": 1,
                                "worker_keys": {"scheduler.leader_ttl_ms": 3000, "scheduler.tick_ms": 200,
                                                "amqp.heartbeat_s": 2, "worker.heartbeat_s": 1}},
                     "schedule": {"name": "tick", "every_s": 5, "created": T0 + 500},
                     "workers": {"w1": {"uid": 60001}, "w2": {"uid": 60002}, "w3": {"uid": 60003}}}
        self.submits, self.cancels, self.faults, self.procs, self.events, self.samples = [], [], [], [], [], []
        self.final, self.logs, self.dead_letters = {}, {}, []
        self.stats = {"ok": 0, "failed": 0, "retried": 0, "dead": 0, "cancelled": 0}
        self.leases, self.scheduled, self.dead_letters_error = {}, {}, None
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
                             "answer": {"status": 200, "state": "cancelled", "code": None}})
        self.job("cxl2", T0 + 6 * S, runs=(("w2.0", 40, 900, "ok"),), type_="system.sleep", args={"ms": 860})
        self.cancels.append({"t": T0 + 6 * S + 500, "t_end": T0 + 6 * S + 504, "id": "cxl2", "via": "lib", "ok": True,
                             "answer": {"state": "running"}})
        self.job("cxl3", T0 + 7 * S, runs=(("w3.0", 40, 600, "interrupted"),), type_="system.sleep",
                 args={"ms": 5000}, state="cancelled", error="cancelled", error_message="cancelled while running",
                 counted="cancelled")
        self.cancels.append({"t": T0 + 7 * S + 500, "t_end": T0 + 7 * S + 504, "id": "cxl3", "via": "cli", "ok": True,
                             "answer": {"rc": 0, "out": "cxl3 cancelling", "err": ""}})
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
                 "final_stats.json": dict(self.stats, leases=self.leases, scheduled=self.scheduled,
                                          dead_letters=self.dead_letters, dead_letters_error=self.dead_letters_error)}
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
            pids = {w: self.pid_at(w, t) for w in self.rss}
            rss = {w: kb + self.rss_growth.get(w, 0) * i + (i % 3) * 50 for w, kb in self.rss.items() if pids[w]}
            rss["rmq1"] = 100000 + 500 * i  # a server: the sampler reports it, RSS flatness is for workers
            self.samples.append({"t": t, "stats_ok": sum(1 for d in done if d <= t), "stats_failed": 0,
                                 "stats_dead": 0, "rss_kb": rss, "pids": {w: p for w, p in pids.items() if p},
                                 "queue_depth": 0})

    def pid_at(self, name, t):
        """The pid `name` stood for at t (procs.jsonl), or None."""
        pid = None
        for p in self.procs:
            if p["name"] == name and p["t"] <= t:
                pid = p["pid"] if p["event"] == "start" else None
        return pid
