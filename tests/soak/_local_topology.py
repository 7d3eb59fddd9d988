"""A STAND-IN for tests/soak/topology.py and nemesis.py, to develop the soak's
runner against until the real ones land; delete it then (soak.parts() picks
the real modules whenever they exist).

One RabbitMQ node and one Redis (tests/fault/faultlib.py Servers), three
workers (tests/lib/wharftest.py) as root, `wharf serve`; the nemesis only
SIGKILLs a worker (and starts a new one) or SIGSTOPs one for a few seconds.
Same interface as the design's Topology / Nemesis (see soak.py).
"""
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fault"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import faultlib  # noqa: E402
import redis  # noqa: E402
import wharfserve  # noqa: E402

# max_hold_s above the longest SIGSTOP plus a short job's run: the workload
# gives short jobs timeout_s = max_hold_s, and a stop counts against it
CONFIG = {"max_hold_s": 10, "heartbeat_s": 2, "lease_s": 10, "lock_ttl_ms": 10000, "max_redeliveries": 5,
          "max_attempts_default": 3, "concurrency": 8}


def _now():
    return int(time.time() * 1000)


class Topology:
    NAMES = ("w1", "w2", "w3")

    def __init__(self, run_dir, seed, log_proc):
        self.dir, self.seed, self.log_proc = run_dir, seed, log_proc
        self.prefix = "soak%d:" % seed
        self.workers, self.restarts = {}, dict.fromkeys(self.NAMES, 0)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.srv = self.serve = None

    def up(self):
        os.makedirs(os.path.join(self.dir, "workers"), exist_ok=True)
        self.srv = faultlib.Servers("soak")
        self.srv.rabbit_start()
        self.srv.redis_start()
        self.env = self.srv.env()
        self.amqp_urls = [self.srv.amqp_url()]
        self.redis_url = self.srv.redis_url()
        self._redis = redis.Redis.from_url(self.redis_url, decode_responses=True)
        for n in self.NAMES:
            self.start_worker(n)
        self.serve = wharfserve.start(self.env, self.amqp_urls[0], self.prefix,
                                      extra_env={"WHARF_JOBS_MAX_HOLD_S": CONFIG["max_hold_s"]})
        self.log_proc("serve", self.serve.proc.pid, "start")
        self.serve_url, self.serve_token = "http://127.0.0.1:%d" % self.serve.port, self.serve.token
        threading.Thread(target=self._watch, daemon=True).start()

    def meta(self):
        return {"config": dict(CONFIG), "workers": {n: {"uid": os.getuid()} for n in self.NAMES},
                "topology": "stand-in: 1 RabbitMQ, 1 Redis, 3 workers"}

    def redis(self):
        return self._redis

    def down(self):
        self.stop_ev.set()
        with self.lock:
            workers = dict(self.workers)
        for n, w in workers.items():
            rc = w.stop(timeout=30) if w.alive() else w.returncode
            self._exit(n, w, rc, False)
        if self.serve:
            rc = self.serve.stop()
            self.log_proc("serve", self.serve.proc.pid, "exit", status=rc if rc >= 0 else None,
                          signal=-rc if rc < 0 else None)
        if self.srv:
            self.srv.close()

    # ------------------------------------------------------------ workers

    def start_worker(self, name):
        k = self.restarts[name]
        self.restarts[name] += 1
        env = {"WHARF_LOG_LEVEL": "debug", "WHARF_LOG_FORMAT": "json", "WHARF_WORKER_ID": "%s-%d" % (name, k),
               "WHARF_JOBS_MAX_HOLD_S": CONFIG["max_hold_s"], "WHARF_WORKER_HEARTBEAT_S": CONFIG["heartbeat_s"],
               "WHARF_JOBS_LEASE_S": CONFIG["lease_s"]}
        w = self.env.start_worker(self.amqp_urls[0], self.prefix, concurrency=CONFIG["concurrency"], extra_env=env,
                                  log_path=os.path.join(self.dir, "workers", "%s.%d.log" % (name, k)),
                                  die_with_parent=False)
        with self.lock:
            self.workers[name] = w
        self.log_proc(name, w.pid, "start")

    def _exit(self, name, w, rc, by_nemesis):
        with self.lock:
            if getattr(w, "_soak_logged", False):
                return
            w._soak_logged = True
        self.log_proc(name, w.pid, "exit", status=rc if rc is not None and rc >= 0 else None,
                      signal=-rc if rc is not None and rc < 0 else None, by_nemesis=by_nemesis)

    def _watch(self):
        # a worker that exits on its own is logged when seen
        while not self.stop_ev.wait(1):
            with self.lock:
                workers = dict(self.workers)
            for n, w in workers.items():
                if w.returncode is not None and not self.stop_ev.is_set():
                    self._exit(n, w, w.returncode, False)

    def kill_worker(self, name):
        with self.lock:
            w = self.workers[name]
            w._soak_logged = True  # logged here, as the nemesis' doing
        rc = w.kill()
        self.log_proc(name, w.pid, "exit", status=None, signal=-rc if rc < 0 else None, by_nemesis=True)

    def stop_worker(self, name):
        self.workers[name].send_signal(signal.SIGSTOP)

    def cont_worker(self, name):
        self.workers[name].send_signal(signal.SIGCONT)

    def heal_all(self):
        for w in list(self.workers.values()):
            w.send_signal(signal.SIGCONT)


class Nemesis:
    """Every 15-35 s (seeded): SIGKILL a worker and start a new one, or
    SIGSTOP one for 3-6 s (longer than the heartbeat)."""

    def __init__(self, topology, seed, minutes, log_fault):
        self.t, self.r, self.log = topology, random.Random(seed), log_fault
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join(60)
        self.t.heal_all()

    def _run(self):
        while not self.stop_ev.wait(self.r.uniform(15, 35)):
            name = self.r.choice(Topology.NAMES)
            start = _now()
            if self.r.random() < 0.5:
                self.t.kill_worker(name)
                self.t.start_worker(name)
                self.log("worker_kill", name, start, _now(), {})
            else:
                self.t.stop_worker(name)
                s = self.r.uniform(3, 6)
                self.stop_ev.wait(s)
                self.t.cont_worker(name)
                self.log("worker_stop", name, start, _now(), {"seconds": round(s, 1)})
