"""The soak's nemesis: faults of eight kinds at random times from a seed,
overlapping, each undone after a random few seconds.

    n = Nemesis(topology, seed, minutes, log_fault=None)   # log_fault(dict): one faults.jsonl line
    n.start()            # a thread; writes RUN/nemesis_plan.json
    ...                  # the workload runs
    summary = n.stop()   # ends the thread, undoes what is active, heal_all()

The schedule is plan(seed, minutes), a pure function: which kinds, when
(seconds after start()), for how long, and how to choose a target (a
number in [0, 1) that picks among the targets free at that moment; for a
RabbitMQ node, whether to take the job queue's leader or a node that does
not lead it). A replay with the
same seed and minutes runs the same plan; only what the plan cannot fix
(which node leads, which Redis is master, how long a node takes to boot)
comes from the run.

Each kind occurs max(1, ceil(13 * minutes / 30)) times (13 in 30 minutes,
2 in 3), at uniform random times in the first 72% of the run, so all are
over before the end even when a fault waits for its turn. A fault waits
(it is never dropped) while starting it would break a rule:
  - at most 2 of the 3 workers under a fault at once, one fault per worker;
  - one RabbitMQ node down at a time; node 3 is not filled while it is down;
  - one Redis fault at a time, and the master is killed only when its
    replica is in sync and every Sentinel knows it (never both down).
Records (ms since the epoch), written as each fault ends:
  {kind, target, start, end, detail}   detail: what the primitive returned,
  plus seq (index in the plan), planned_at/started_at (s after start()),
  hold_s, and apply_error/undo_error if a step failed.
"""
import json
import math
import os
import random
import threading
import time

import topology

KINDS = ("worker_kill", "worker_stop", "rmq_node_stop", "redis_master_kill", "partition_redis",
         "partition_amqp", "disk_alarm", "redis_maxmemory")
PER_30_MIN = 13          # faults of each kind in a 30-minute run (>= 10 asked for)
WINDOW = (0.05, 0.72)    # faults start within this fraction of the run
MAX_LEAD_S = 10          # ... but no later than this after start() for the first
HOLD_S = {               # how long a fault is held before its undo (uniform in the range)
    "worker_kill": (1, 6),          # dead time before the replacement starts
    "worker_stop": (4, 16),         # > worker.heartbeat_s (2): registration expires; some > jobs.lease_s (8)
    "rmq_node_stop": (2, 10),       # then the node boots (tens of seconds more)
    "redis_master_kill": (1, 5),    # after the promotion, before the old master restarts
    "partition_redis": (2, 12),
    "partition_amqp": (2, 12),      # > amqp.heartbeat_s * 2 (10) sometimes: the broker drops the connection
    "disk_alarm": (2, 8),           # after the alarm shows
    "redis_maxmemory": (2, 6),
}
MODES = {"rmq_node_stop": ("kill", "stop"), "partition_redis": ("stall", "reset"),
         "partition_amqp": ("stall", "reset")}
TICK_S = 0.5


def per_kind(minutes):
    return max(1, math.ceil(PER_30_MIN * minutes / 30.0))


def plan(seed, minutes):
    """The schedule for (seed, minutes): a list of {seq, at, kind, hold,
    pick, mode, leader}, sorted by `at` (seconds after start())."""
    rng = random.Random(seed)
    total = minutes * 60.0
    lo, hi = min(WINDOW[0] * total, MAX_LEAD_S), WINDOW[1] * total
    out = []
    for kind in KINDS:
        # Modes and the leader flag alternate (from a random phase), so even
        # a short run has each mode and a leader stop as soon as a kind
        # occurs twice.
        # (k + k // 2 makes the leader flag meet both modes every 4 faults.)
        modes, phase, lphase = MODES.get(kind, (None,)), rng.randrange(2), rng.randrange(2)
        for k in range(per_kind(minutes)):
            out.append({"at": round(rng.uniform(lo, hi), 3), "kind": kind,
                        "hold": round(rng.uniform(*HOLD_S[kind]), 2), "pick": round(rng.random(), 4),
                        "mode": modes[(k + phase) % len(modes)], "leader": (k + k // 2 + lphase) % 2 == 0})
    out.sort(key=lambda e: (e["at"], KINDS.index(e["kind"])))
    for i, e in enumerate(out):
        e["seq"] = i
    return out


# ---------------------------------------------------------------- claims
# Each returns (target, resources to hold) or None when the fault must wait.

def _claim_worker(n, e):
    free = [w for w in topology.WORKERS if "w:" + w not in n.held]
    if len(topology.WORKERS) - len(free) >= len(topology.WORKERS) - 1 or not free:
        return None
    w = free[int(e["pick"] * len(free))]
    return w, {"w:" + w}


def _claim_rmq(n, e):
    if "rmq" in n.held:
        return None
    # The plan's leader flag: the job queue's leader, or (so that both cases
    # occur) a node that does not lead it.
    free = [i for i in (1, 2, 3) if "n%d" % i not in n.held]
    lead = n.topo.rmq_leader()
    if e["leader"] and lead in free:
        node = lead
    else:
        others = [i for i in free if i != lead] or free
        node = others[int(e["pick"] * len(others))]
    return "n%d" % node, {"rmq", "n%d" % node}


def _claim_disk(n, e):
    return None if "n3" in n.held else ("n3", {"n3"})


def _claim_redis_kill(n, e):
    if "redis" in n.held or not n.topo.redis_ready_for_failover():
        return None
    return n.topo.redis.master_name(), {"redis"}


def _claim_redis(n, e):
    return None if "redis" in n.held else (n.topo.redis.master_name(), {"redis"})


def _node(target):
    return int(target[1:])


# kind -> (claim, apply(topo, target, entry) -> detail, undo(topo, target, entry, detail) -> detail)
TABLE = {
    "worker_kill": (_claim_worker, lambda t, w, e: t.kill_worker(w), lambda t, w, e, d: t.start_worker(w)),
    "worker_stop": (_claim_worker, lambda t, w, e: t.stop_worker(w), lambda t, w, e, d: t.cont_worker(w)),
    "partition_redis": (_claim_worker, lambda t, w, e: t.partition(w, "redis", e["mode"]),
                        lambda t, w, e, d: t.heal(w, "redis")),
    "partition_amqp": (_claim_worker, lambda t, w, e: t.partition(w, "amqp", e["mode"]),
                       lambda t, w, e, d: t.heal(w, "amqp")),
    "rmq_node_stop": (_claim_rmq, lambda t, n, e: t.stop_rmq_node(_node(n), e["mode"]),
                      lambda t, n, e, d: t.start_rmq_node(_node(n))),
    "redis_master_kill": (_claim_redis_kill, lambda t, r, e: t.kill_redis_master(),
                          lambda t, r, e, d: t.restart_redis(d.get("killed", r))),
    "disk_alarm": (_claim_disk, lambda t, n, e: t.disk_fill(_node(n)), lambda t, n, e, d: t.disk_free(_node(n))),
    "redis_maxmemory": (_claim_redis, lambda t, r, e: t.redis_maxmemory(True),
                        lambda t, r, e, d: t.redis_maxmemory(False)),
}


class Nemesis:
    def __init__(self, topo, seed, minutes, log_fault=None):
        self.topo, self.seed, self.minutes = topo, seed, minutes
        self.plan = plan(seed, minutes)
        self._log = log_fault or self._append
        self._log_lock = threading.Lock()
        self.held = set()           # resources of the faults running now
        self._held_lock = threading.Lock()
        self._running = []          # their threads
        self._stop = threading.Event()
        self._thread = None
        self.done, self.started = [], []

    def _append(self, rec):
        with self._log_lock, open(os.path.join(self.topo.run, "faults.jsonl"), "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")

    def start(self):
        with open(os.path.join(self.topo.run, "nemesis_plan.json"), "w") as f:
            json.dump({"seed": self.seed, "minutes": self.minutes, "plan": self.plan}, f, indent=1)
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="nemesis", daemon=True)
        self._thread.start()

    def _loop(self):
        pending = list(self.plan)
        while pending and not self._stop.is_set():
            now = time.monotonic() - self._t0
            for e in [e for e in pending if e["at"] <= now]:
                try:
                    claim = TABLE[e["kind"]][0](self, e)
                except Exception:  # noqa: BLE001 - a server being asked is down: try again next tick
                    claim = None
                if claim:
                    pending.remove(e)
                    self._launch(e, *claim)
            self._stop.wait(TICK_S)
        self.skipped = pending

    def _launch(self, e, target, res):
        with self._held_lock:
            self.held |= res
        th = threading.Thread(target=self._fault, args=(e, target, res), name="fault-%d" % e["seq"], daemon=True)
        self._running.append(th)
        self.started.append(e["seq"])
        th.start()

    def _fault(self, e, target, res):
        _, apply, undo = TABLE[e["kind"]]
        detail = {"seq": e["seq"], "planned_at": e["at"], "started_at": round(time.monotonic() - self._t0, 2),
                  "hold_s": e["hold"]}
        rec = {"kind": e["kind"], "target": target, "start": _ms(), "end": None, "detail": detail}
        d = {}
        try:
            d = apply(self.topo, target, e) or {}
            detail.update(d)
        except Exception as ex:  # noqa: BLE001 - recorded; the undo (and heal_all) still run
            detail["apply_error"] = repr(ex)
        self._stop.wait(e["hold"])
        try:
            detail["undo"] = undo(self.topo, target, e, d) or {}
        except Exception as ex:  # noqa: BLE001
            detail["undo_error"] = repr(ex)
        rec["end"] = _ms()
        try:
            self._log(rec)
        finally:
            self.done.append(e["seq"])
            with self._held_lock:
                self.held -= res

    def stop(self, timeout=300):
        """End the schedule, let running faults undo themselves (their holds
        are cut short), then heal_all(). Returns {planned, done, skipped,
        heal}; skipped = plan entries never started."""
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        deadline = time.monotonic() + timeout
        for th in list(self._running):
            th.join(max(1, deadline - time.monotonic()))
        heal = self.topo.heal_all()
        return {"planned": len(self.plan), "done": len(self.done),
                "skipped": [e["seq"] for e in getattr(self, "skipped", [])], "heal": heal}


def _ms():
    return int(time.time() * 1000)
