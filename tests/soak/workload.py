"""The soak's workload: producers, cancels and the schedule (issue 21).

    wl = workload.Workload(topo, rec, seed, rate=60)
    wl.start()              # the schedule, two C-library producers, one HTTP producer, the canceller
    ...
    wl.stop_producing()     # producers and canceller stop; the schedule is removed
    wl.accepted_ids()       # every id an accepted submit named (its own and a dedup's answer)
    wl.refused_ids()        # every id of a failed submit
    wl.close()              # the client processes exit

Producers go through the C library (tests/integration/client_probe.c, one
wharf-client-probe process each, its `submitj` command) and through the HTTP
API of `wharf serve` (POST /v1/jobs). Every attempt is one line of
submits.jsonl, every cancel one line of cancels.jsonl (the formats are the
run directory's contract of the soak design). A submit that
errors is recorded with ok=false and never sent again under the same id.

The job mix is drawn from one random.Random per producer, seeded from the
run's seed, so a seed gives the same sequence of specs (not the same
timings: those follow the faults). Jobs that should keep the ack-after-finish
path get timeout_s = max_hold_s (a job whose timeout is above it is acked at
start and held under a lease, worker/wk_exec.c); the long sleeps get a
timeout above it, so leases and the reaper are exercised. A timeout is
wall-clock time, SIGSTOP included: the topology's max_hold_s must exceed its
longest worker stop by a short job's run, or such jobs may end `failed`
(error `timeout`) rather than as their `expect` says.
"""
import collections
import http.client
import os
import random
import subprocess
import threading
import time

from clients import Http, Probe, bin_path, client_env, submit_http, submit_lib
from soaklog import now_ms

LOCKS = ["soak-lock-%d" % i for i in range(5)]
SCHEDULE = "soak-tick"
EXPECT = {"system.noop": "succeeded", "system.sleep": "succeeded", "system.log": "succeeded"}


class JobMix:
    """Seeded job specs: (spec dict for submitj / POST /v1/jobs, expect, twice).
    twice: submit the same unique spec again under another id."""

    def __init__(self, rnd, max_hold_s):
        self.r, self.hold = rnd, max_hold_s
        self.table = [(25, self._noop), (20, self._sleep), (1, self._long_sleep), (8, self._fail_perm),
                      (5, self._fail_transient), (8, self._log), (8, self._delayed), (12, self._locked),
                      (10, self._unique), (2, self._default_timeout)]
        self.total = sum(w for w, _ in self.table)

    def next(self):
        k = self.r.randrange(self.total)
        for w, fn in self.table:
            if k < w:
                return fn()
            k -= w
        raise AssertionError("unreachable")

    def _job(self, type, args, expect=None, **extra):
        spec = {"type": type, "args": args, "timeout_s": self.hold}
        spec.update(extra)
        return spec, expect or EXPECT[type], False

    def _noop(self):
        return self._job("system.noop", {"n": self.r.randrange(1000000)})

    def _sleep(self):
        return self._job("system.sleep", {"ms": self.r.randrange(5, 200)})

    def _long_sleep(self):
        # longer than jobs.max_hold_s: acked at start, held under a lease
        ms = (self.hold + 1) * 1000 + self.r.randrange(2000)
        return self._job("system.sleep", {"ms": ms}, timeout_s=self.hold + 20)

    def _fail_perm(self):
        return self._job("system.fail", {"code": "soak_permanent", "message": "permanent by design"}, "failed")

    def _fail_transient(self):
        return self._job("system.fail", {"code": "soak_transient", "transient": True}, "dead", max_attempts=2)

    def _log(self):
        return self._job("system.log", {"lines": self.r.randrange(1, 60), "bytes": 40})

    def _delayed(self):
        run_at = now_ms() + self.r.randrange(2000, 6000)
        if self.r.random() < 0.5:
            return self._job("system.noop", {"delayed": True}, run_at=run_at)
        return self._job("system.sleep", {"ms": self.r.randrange(5, 100)}, run_at=run_at)

    def _locked(self):
        return self._job("system.sleep", {"ms": self.r.randrange(50, 500)}, lock=self.r.choice(LOCKS))

    def _unique(self):
        # a small pool of args, so equal jobs meet inside their window
        spec, expect, _ = self._job("system.sleep", {"ms": 300 + 10 * self.r.randrange(12)}, unique_for_s=30)
        return spec, expect, self.r.random() < 0.4

    def _default_timeout(self):
        # no timeout_s: the worker's jobs.timeout_s decides the path
        return {"type": "system.noop", "args": {"default_timeout": True}}, "succeeded", False


class Workload:
    """Producers, the canceller and the schedule on one topology; see the module doc."""

    def __init__(self, topo, rec, seed, rate=60.0, cancel_rate=1.5, schedule_every_s=2, max_hold_s=5):
        self.topo, self.rec, self.seed = topo, rec, seed
        self.rate, self.cancel_rate, self.every_s, self.hold = rate, cancel_rate, schedule_every_s, max_hold_s
        self.api = Http(topo.serve_url, topo.serve_token)
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.accepted = set()
        self.refused = set()                # ids of failed submits (their job may exist or not)
        self.recent = collections.deque()   # (t, id) of accepted submits, for the canceller
        self.terminal = None                 # set by the caller: a callable id -> bool (from the events)
        self.probes, self.threads, self.schedule = [], [], None
        self.seq = 0

    # ------------------------------------------------------------ life cycle

    def start(self):
        clients = os.path.join(self.rec.dir, "clients")
        os.makedirs(clients, exist_ok=True)
        self.schedule = self._create_schedule()
        self.probes = [Probe("probe%d" % k, self.topo, self.rec, clients) for k in (1, 2, 3)]
        share = self.rate / 3.0
        producers = [("lib", self.probes[0], 1), ("lib", self.probes[1], 2), ("http", None, 3)]
        for via, probe, k in producers:
            self._spawn(self._produce, via, probe, random.Random(self.seed * 1000 + k), share, k)
        self._spawn(self._cancel_loop, random.Random(self.seed * 1000 + 9))

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def stop_producing(self):
        """Stop the producers and the canceller (each finishes its attempt
        in flight, bounded by the client timeouts) and remove the schedule."""
        self.stop_ev.set()
        for t in self.threads:
            t.join(60)
        if self.schedule:
            self.schedule["removed"] = self._remove_schedule()

    def close(self):
        for p in self.probes:
            p.close()

    def accepted_ids(self):
        with self.lock:
            return set(self.accepted)

    def refused_ids(self):
        with self.lock:
            return set(self.refused)

    # ------------------------------------------------------------ the schedule

    def _create_schedule(self):
        body = {"name": SCHEDULE, "type": "system.noop", "every_s": self.every_s, "args": {"tick": True}}
        deadline = time.monotonic() + 60
        while True:
            try:
                st, b = self.api.request("POST", "/v1/schedules", body)
                if st in (200, 201):
                    return {"name": SCHEDULE, "every_s": self.every_s, "created": now_ms()}
            except OSError as ex:
                b = repr(ex)
            if time.monotonic() > deadline:
                raise RuntimeError("could not create the schedule: %s" % (b,))
            time.sleep(1)

    def _remove_schedule(self):
        for _ in range(30):
            try:
                st, _ = self.api.request("DELETE", "/v1/schedules/" + SCHEDULE)
                if st in (204, 404):
                    return now_ms()
            except OSError:
                pass
            time.sleep(1)
        return None

    # ------------------------------------------------------------ producing

    def _next_id(self, k):
        with self.lock:
            self.seq += 1
            return "s%d-p%d-%06d" % (self.seed, k, self.seq)

    def _produce(self, via, probe, rnd, rate, k):
        mix = JobMix(rnd, self.hold)
        period, next_t = 1.0 / rate, time.monotonic()
        while not self.stop_ev.is_set():
            spec, expect, twice = mix.next()
            first = self._submit(via, probe, dict(spec, id=self._next_id(k)), expect, None)
            if twice:
                self._submit(via, probe, dict(spec, id=self._next_id(k)), expect, first)
            next_t = max(next_t + period, time.monotonic() - 1.0)  # no bursts to catch up
            self.stop_ev.wait(max(0.0, next_t - time.monotonic()))

    def _submit(self, via, probe, spec, expect, dup_of):
        t = now_ms()
        ok, code, rid = submit_lib(probe, spec) if via == "lib" else submit_http(self.api, spec)
        self.rec.submit({"t": t, "t_end": now_ms(), "via": via, "id": spec["id"], "type": spec["type"],
                         "args": spec["args"], "ok": ok, "error_code": code, "returned_id": rid, "expect": expect,
                         "lock": spec.get("lock"), "unique_for_s": spec.get("unique_for_s"),
                         "run_at": spec.get("run_at"), "max_attempts": spec.get("max_attempts"),
                         "timeout_s": spec.get("timeout_s"), "dup_of": dup_of})
        with self.lock:
            if ok:
                self.accepted.add(rid)  # a dedup's own id names no job: its answer does
                self.recent.append((time.monotonic(), rid))
            else:
                self.refused.add(spec["id"])
        return spec["id"]

    # ------------------------------------------------------------ cancels

    def _pick(self, rnd):
        """A random recently accepted id not yet known terminal."""
        with self.lock:
            while self.recent and self.recent[0][0] < time.monotonic() - 15:
                self.recent.popleft()
            live = [i for _, i in self.recent if not (self.terminal and self.terminal(i))]
        return rnd.choice(live) if live else None

    def _cancel_loop(self, rnd):
        while not self.stop_ev.wait(rnd.expovariate(self.cancel_rate)):
            id = self._pick(rnd)
            if id is None:
                continue
            via = rnd.choice(("http", "http", "lib", "lib", "cli"))
            t = now_ms()
            ok, answer = getattr(self, "_cancel_" + via)(id)
            self.rec.cancel({"t": t, "t_end": now_ms(), "id": id, "via": via, "ok": ok, "answer": answer})

    def _cancel_http(self, id):
        try:
            st, b = self.api.request("POST", "/v1/jobs/%s/cancel" % id)
        except (OSError, http.client.HTTPException) as ex:
            return False, {"error": type(ex).__name__}
        state = b.get("state") if isinstance(b, dict) else None
        code = (b.get("error") or {}).get("code") if isinstance(b, dict) and isinstance(b.get("error"), dict) else None
        return st in (200, 202), {"status": st, "state": state, "code": code}

    def _cancel_lib(self, id):
        line = self.probes[2].call("cancel " + id) or "err probe_gone"
        parts = line.split(" ", 2)
        if parts[0] == "ok":
            return True, {"state": parts[1] if len(parts) > 1 else None}
        return False, {"code": parts[1] if len(parts) > 1 else "?", "message": parts[2] if len(parts) > 2 else ""}

    def _cancel_cli(self, id):
        try:
            p = subprocess.run([bin_path("wharf"), "cancel", id], env=client_env(self.topo), capture_output=True,
                               text=True, timeout=60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False, {"code": "timeout"}
        return p.returncode == 0, {"rc": p.returncode, "out": p.stdout.strip()[-200:], "err": p.stderr.strip()[-200:]}
