"""tests/soak/run [--minutes N] [--seed S] [--out DIR]: the chaos soak (issue 21).

Brings the topology up (topology.py), runs the workload (workload.py through
clients.py, with the watchers of observe.py, all writing through soaklog.py)
and the nemesis (nemesis.py) for N minutes,
stops the nemesis (which heals every fault), stops producing, waits until
every accepted job is terminal (bounded: meta.json says `drained`), writes
the final state (final.py), brings the topology down, whatever happened, and
then judges the run directory (checker.py, report.py). Exit 0 iff every
invariant holds. SIGINT / SIGTERM end the run early, down() still runs.

The parts are used through these interfaces only:
  Topology(run_dir, seed, log_proc): up(), down(), meta() -> {config, workers, ...}
      (merged into meta.json), attributes amqp_urls (list), redis_url (the
      producers' URL, redis-sentinel://...), prefix, serve_url, serve_token,
      redis() -> a client on the current master (decode_responses=True).
  Nemesis(topology, seed, minutes, log_fault): start(), stop() (heals all).
  checker.main(run_dir) -> exit code; report.write(run_dir).
log_proc / log_fault are soaklog.Recorder's (their keywords are the
procs.jsonl and faults.jsonl fields).
"""
import argparse
import json
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from soaklog import Recorder, now_ms, read_jsonl, write_json  # noqa: E402


class Interrupted(Exception):
    pass


def parts():
    """(Topology, Nemesis, checker, report)."""
    from topology import Topology
    from nemesis import Nemesis
    import checker
    import report
    return Topology, Nemesis, checker, report


def parse(argv):
    ap = argparse.ArgumentParser(prog="tests/soak/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    ap.add_argument("--out", help="run directory (default: a new one under $WHARF_TEST_TMP or /tmp)")
    ap.add_argument("--rate", type=float, default=float(os.environ.get("WHARF_SOAK_RATE", 60)),
                    help="jobs per second over all producers (default 60)")
    ap.add_argument("--drain-s", type=int, default=300, help="longest wait for the drain (default 300)")
    a = ap.parse_args(argv)
    if a.seed is None:
        a.seed = int(time.time()) % 100000
    if not a.out:
        base = os.environ.get("WHARF_TEST_TMP") or tempfile.gettempdir()
        os.makedirs(base, exist_ok=True)
        a.out = tempfile.mkdtemp(prefix="soak-s%d-" % a.seed, dir=base)
    os.makedirs(a.out, exist_ok=True)
    return a


def on_signal(signum, frame):
    # the first signal ends the run; later ones must not cut the cleanup short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted("signal %d" % signum)


class Run:
    def __init__(self, a):
        self.a, self.dir = a, a.out
        self.rec = Recorder(a.out)
        self.meta = {"seed": a.seed, "minutes": a.minutes, "rate": a.rate, "started": now_ms(), "ended": None,
                     "drained": None, "version": 1, "replay": "tests/soak/run --minutes %g --seed %d" % (
                         a.minutes, a.seed), "bin": os.environ.get("WHARF_SOAK_BIN") or os.environ.get("WHARF_BIN")}
        self.topo = self.nem = self.wl = self.events = self.sampler = None

    def save_meta(self):
        write_json(os.path.join(self.dir, "meta.json"), self.meta)

    def up(self, Topology):
        self.save_meta()
        self.topo = Topology(self.dir, self.a.seed, self.rec.log_proc)
        self.topo.up()
        # up() merged the topology's part into meta.json: keep it
        with open(os.path.join(self.dir, "meta.json")) as f:
            self.meta = dict(json.load(f), **self.meta)
        self.meta.update(self.topo.meta())
        self.meta["prefix"] = self.topo.prefix
        self.meta.setdefault("config", {})
        self.meta["up"] = now_ms()
        self.save_meta()

    def load(self, Nemesis):
        import observe
        import workload
        self.events = observe.Events(self.topo, self.rec)
        self.events.start()
        self.sampler = observe.Sampler(self.topo, self.rec, self.events)
        self.sampler.start()
        hold = int(self.meta["config"].get("max_hold_s") or 5)
        self.wl = workload.Workload(self.topo, self.rec, self.a.seed, rate=self.a.rate, max_hold_s=hold)
        self.wl.terminal = self.events.terminal
        self.wl.start()
        self.meta["schedule"] = self.wl.schedule
        self.meta["load_started"] = now_ms()
        self.save_meta()
        self.nem = Nemesis(self.topo, self.a.seed, self.a.minutes, self.rec.log_fault)
        self.nem.start()
        print("soak: load and nemesis running for %g min (run dir %s)" % (self.a.minutes, self.dir), flush=True)
        time.sleep(self.a.minutes * 60)
        self.stop_load()

    def stop_load(self):
        if self.nem is not None:
            self.nem.stop()
            self.meta["nemesis_stopped"] = now_ms()
            self.nem = None
        if self.wl is not None and not self.wl.stop_ev.is_set():
            self.wl.stop_producing()
            self.meta["ended"] = now_ms()
            self.meta["schedule"] = self.wl.schedule
            self.save_meta()

    def ids(self):
        ids = self.wl.accepted_ids() | self.events.ids()
        ids.discard(None)
        return ids

    def finish(self):
        import final
        print("soak: load stopped; draining", flush=True)
        t0 = now_ms()
        ok, left = final.drain(self.topo, self.ids, self.a.drain_s, refused_fn=self.wl.refused_ids)
        self.meta.update({"drained": ok, "drain_ms": now_ms() - t0, "not_drained": dict(list(left.items())[:200])})
        self.save_meta()
        submitted = set()
        for s in read_jsonl(os.path.join(self.dir, "submits.jsonl")):
            submitted.update((s.get("id"), s.get("returned_id")))
        name = (self.meta.get("schedule") or {}).get("name")
        n = final.dump(self.topo, self.dir, submitted | self.ids(), name)
        self.meta["final_jobs"] = n
        self.save_meta()

    def down(self):
        """Everything stopped, in order; each step runs whatever the last one did."""
        steps = (self.stop_load, lambda: self.sampler and self.sampler.stop(),
                 lambda: self.events and self.events.stop(), lambda: self.wl and self.wl.close(),
                 lambda: self.topo and self.topo.down())
        for step in steps:
            try:
                step()
            except BaseException as ex:  # noqa: BLE001 - keep bringing things down
                print("soak: during shutdown: %r" % (ex,), file=sys.stderr)
        self.meta["finished"] = now_ms()
        self.save_meta()
        self.rec.close()


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    Topology, Nemesis, checker, report = parts()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run = Run(a)
    print("soak: seed %d, %g min, run dir %s" % (a.seed, a.minutes, a.out), flush=True)
    failed = None
    try:
        run.up(Topology)
        run.load(Nemesis)
        run.finish()
    except (Interrupted, Exception) as ex:  # noqa: BLE001 - reported below, after the cleanup
        failed = ex
        run.meta["aborted"] = repr(ex)
        import traceback
        traceback.print_exc()
    finally:
        run.down()
    if isinstance(failed, Interrupted):
        print("soak: interrupted; run dir %s" % a.out)
        return 130
    rc = checker.main(a.out)
    report.write(a.out)
    verdict = {}
    try:
        with open(os.path.join(a.out, "verdict.json")) as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        pass
    ok = rc == 0 and verdict.get("ok") is True and failed is None
    print("soak: report %s" % os.path.join(a.out, "report.md"))
    print("soak: verdict %s (checker exit %s%s)" % ("ok" if ok else "FAILED", rc,
                                                     "; run aborted: %r" % failed if failed else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
