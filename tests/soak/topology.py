"""The system under the soak (issue 21), private on loopback, and every
fault the nemesis injects into it (issue 21). It writes its part of the
run directory: meta.json (merged), procs.jsonl, workers/<name>.<n>.log.

    t = Topology(RUN, seed, log_proc)     # log_proc(dict) writes one procs.jsonl line (None: we append it)
    t.up()                                # RabbitMQ x3 (quorum queues), Redis + Sentinels, w1..w3, wharf serve
    t.amqp_url, t.redis_url, t.prefix     # what producers need; t.env: a wharftest.Env on them
    t.serve, t.serve_url, t.serve_token   # wharfserve.Server
    t.redis_master()                      # redis.Redis on the current master (decode_responses)
    t.kill_worker("w2"); t.start_worker("w2")   # ... every primitive returns a detail dict
    t.heal_all()                          # undo every fault still active
    t.down()                              # stop all, remove the chain, unmount; also at exit

Workers run as their own uid (setpriv), a block of uids per live Topology
(60000 + 10*slot + k), so a partition is an iptables owner rule on lo.
Binaries: $WHARF_SOAK_BIN, else $WHARF_BIN (tests/run: the ASan build).
A cluster already up (`broker.py up DIR`) is reused with WHARF_SOAK_RMQ_DIR=DIR.
"""
import atexit
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import broker  # noqa: E402
import cleanup  # noqa: E402
import firewall  # noqa: E402
import primitives  # noqa: E402
import procs  # noqa: E402
import redisset  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

WORKERS = ("w1", "w2", "w3")
ORDERS = {"w1": [1, 2, 3], "w2": [2, 3, 1], "w3": [3, 1, 2]}   # AMQP URL order per worker
QUEUE = primitives.QUEUE
UID_BASE = 60000
READY_TIMEOUT_S = 60            # a worker registers within this at up()
# Worker configuration (WHARF_<SECTION>_<KEY>), recorded in meta.json.
WORKER_CONFIG = {
    "log.level": "debug", "log.format": "json",
    "amqp.queue_type": "quorum", "amqp.heartbeat_s": 5,
    "redis.master_name": redisset.MASTER, "redis.wait_replicas": 1, "redis.wait_timeout_ms": 1000,
    "worker.concurrency": 4, "worker.families": "system", "worker.heartbeat_s": 2, "worker.grace_s": 10,
    "jobs.max_hold_s": 5, "jobs.lease_s": 8, "jobs.max_redeliveries": 5, "jobs.max_attempts": 3,
    # a due job whose publish was written but not confirmed is published
    # again after this (600 s by default): within the drain
    "jobs.republish_s": 30,
    "retry.tiers": "1000,5000,30000,120000,600000", "scheduler.leader_ttl_ms": 5000, "scheduler.tick_ms": 200,
}


def _env_name(key):
    return "WHARF_" + key.replace(".", "_").upper()


def _uid_slot():
    """A block of 10 uids no other live Topology on this machine holds: the
    flock is held for our lifetime. Returns (slot, open lock file)."""
    for slot in range(100):
        f = open("/tmp/wharf-soak-uids.%d.lock" % slot, "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, f
        except OSError:
            f.close()
    raise RuntimeError("no free uid slot for the soak workers")


class SoakEnv(wharftest.Env):
    """wharftest.Env whose children (CLI, client probe, serve) reach Redis
    through the Sentinels and whose redis() is the current master."""

    def __init__(self, topo, environ):
        super().__init__(environ)
        self._topo = topo

    def child_env(self, amqp_url, prefix, queue_type="quorum", extra_env=None):
        e = {"WHARF_REDIS_URL": self._topo.redis_url}
        e.update(extra_env or {})
        return super().child_env(amqp_url, prefix, queue_type, e)

    def redis(self):
        return self._topo.redis_master()


class Topology(primitives.Primitives):
    def __init__(self, run_dir, seed, log_proc=None):
        self.run = os.path.abspath(run_dir)
        self.seed = seed
        os.makedirs(os.path.join(self.run, "workers"), exist_ok=True)
        self._log_lock = threading.Lock()
        self._log_proc = log_proc or self._append_proc
        self.bin = os.environ.get("WHARF_SOAK_BIN") or os.environ.get("WHARF_BIN") or ""
        if not os.access(os.path.join(self.bin, "wharf-worker"), os.X_OK):
            raise RuntimeError("no wharf-worker in %r: set WHARF_SOAK_BIN or WHARF_BIN" % self.bin)
        self.prefix = "soak%s:" % secrets.token_hex(4)
        self.vhost = "soak-" + self.prefix.rstrip(":")
        self.slot, self._slot_lock = _uid_slot()
        self.uids = {w: UID_BASE + 10 * self.slot + k for k, w in enumerate(WORKERS, 1)}
        self.workers = {}       # name -> procs.Proc (the current process)
        self.generation = {w: -1 for w in WORKERS}   # n of workers/<name>.<n>.log
        self.broker = self.redis = self.fw = self.serve = self.env = None
        self.pt = self._guard = None
        self._active = {"killed": set(), "stopped": set(), "rmq_down": {}, "redis_down": set(),
                        "partitions": set(), "disk": set()}
        self._lock = threading.Lock()
        self._downed = False
        atexit.register(self.down)
        _install_signal_handlers()

    # ------------------------------------------------------------ logging

    def _append_proc(self, rec):
        with self._log_lock, open(os.path.join(self.run, "procs.jsonl"), "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")

    def _server_event(self, name, pid, event, by_nemesis=False, extra=None):
        rec = {"t": procs.now_ms(), "name": name, "pid": pid, "event": event, "status": None, "signal": None,
               "by_nemesis": by_nemesis}
        rec.update(extra or {})
        self._log_proc(rec)

    # ------------------------------------------------------------ up

    def up(self):
        """Bring everything up; on failure everything started is stopped and
        the exception propagates."""
        try:
            self._up()
        except BaseException:
            self.down()
            raise

    def _up(self):
        t0 = time.monotonic()
        self.fw = firewall.Firewall()
        self.chain = self.fw.chain
        cleanup.record(self.run, chain=self.chain, down=False)
        with open(self._path("guard.log"), "ab") as out:
            self._guard = subprocess.Popen([sys.executable, os.path.join(HERE, "cleanup.py"), "--guard",
                                            str(os.getpid()), self.run], stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        self.pt = procs.ProcTable(self._log_proc)
        reuse = os.environ.get("WHARF_SOAK_RMQ_DIR")
        self.broker = broker.Broker(reuse or self._path("rabbitmq"), reuse=bool(reuse))
        cleanup.record(self.run, rmq_dir=self.broker.dir, rmq_reused=bool(reuse), mount=self.broker.mount_path(),
                       fill_file=self.broker.fill_path(), redis_dir=redisset.dir_for(self.run))
        self.broker.up()
        for i in range(1, broker.NODES + 1):
            self._server_event("rmq-n%d" % i, self.broker.beam_pid(i), "start")
        self.broker.new_vhost(self.vhost)
        self.redis = redisset.RedisSet(self.run)
        for n in ("r1", "r2", "s1", "s2", "s3"):
            self._server_event("redis-" + n, self.redis.pid(n), "start")
        self.amqp_urls = [self.broker.urls([i], self.vhost) for i in range(1, broker.NODES + 1)]
        self.amqp_url = self.broker.urls([1, 2, 3], self.vhost)
        self.redis_url = self.redis.sentinel_url()
        self.sentinels = self.redis.sentinels
        self.master_name = redisset.MASTER
        self.env = SoakEnv(self, {"WHARF_TEST_AMQP_URL": self.amqp_url, "WHARF_TEST_REDIS_URL": self.redis_url,
                                  "WHARF_TEST_MGMT_URL": "http://127.0.0.1:%d" % self.broker.mgmt[1],
                                  "WHARF_TEST_TMP": os.path.join(self.run, "serve"), "WHARF_BIN": self.bin})
        for w in WORKERS:
            self.start_worker(w, ready_timeout=READY_TIMEOUT_S, by_nemesis=False)
        self._start_serve()
        self._write_meta()
        self.up_s = round(time.monotonic() - t0, 1)

    def _start_serve(self):
        self.serve = self.pt.call(wharfserve.start, self.env, self.amqp_url, self.prefix,
                                  extra_env=self.redis_env(), ready_timeout=60)
        self.serve_url = "http://127.0.0.1:%d" % self.serve.port
        self.serve_token = self.serve.token
        self._serve_proc = procs.Proc("serve", self.serve.proc, self.serve.log_path, None)
        self.pt.adopt(self._serve_proc, {"log": os.path.relpath(self.serve.log_path, self.run)})

    def redis_env(self):
        """Environment that points a worker or `wharf serve` at Redis through
        the Sentinels (redis.sentinels, as the docs configure a worker);
        producers get the redis-sentinel:// URL instead (client_env)."""
        return {"WHARF_REDIS_URL": "redis://127.0.0.1/0", "WHARF_REDIS_SENTINELS":
                ",".join("127.0.0.1:%d" % p for _, p in self.sentinels),
                "WHARF_REDIS_MASTER_NAME": redisset.MASTER,
                "WHARF_REDIS_WAIT_REPLICAS": str(WORKER_CONFIG["redis.wait_replicas"])}

    def client_env(self, extra=None):
        """Environment for the wharf CLI / wharf-client-probe as a producer."""
        return self.env.child_env(self.amqp_url, self.prefix, extra_env=extra)

    def redis_master(self):
        """redis.Redis (decode_responses) on the current master; follows failovers."""
        return self.redis.master()

    def worker_env(self, name):
        e = dict(os.environ)
        e.update({_env_name(k): str(v) for k, v in WORKER_CONFIG.items()})
        e.update(self.redis_env())
        e.update({"WHARF_AMQP_URL": self.broker.urls(ORDERS[name], self.vhost), "WHARF_REDIS_PREFIX": self.prefix})
        return e

    def meta(self):
        """meta.json's topology/config part (merged into RUN/meta.json by up())."""
        c = WORKER_CONFIG
        config = {"max_hold_s": c["jobs.max_hold_s"], "heartbeat_s": c["worker.heartbeat_s"],
                  "lease_s": c["jobs.lease_s"], "lock_ttl_ms": c["jobs.lease_s"] * 1000,
                  "max_redeliveries": c["jobs.max_redeliveries"], "max_attempts_default": c["jobs.max_attempts"],
                  "amqp_heartbeat_s": c["amqp.heartbeat_s"], "wait_replicas": c["redis.wait_replicas"],
                  "worker_keys": {k: c[k] for k in sorted(c)}}
        return {"prefix": self.prefix, "vhost": self.vhost, "config": config, "version": self._version(),
                "workers": {w: {"uid": self.uids[w], "amqp_order": ORDERS[w]} for w in WORKERS},
                "topology": {"amqp_urls": self.amqp_urls, "mgmt_ports": self.broker.mgmt, "queue": QUEUE,
                             "disk_node": broker.DISK_NODE, "rmq_dir": self.broker.dir, "redis_dir": self.redis.dir,
                             "redis_ports": self.redis.port, "redis_url": self.redis_url,
                             "serve_url": self.serve_url, "chain": self.fw.chain, "bin": self.bin}}

    def _version(self):
        r = subprocess.run([os.path.join(self.bin, "wharf"), "--version"], capture_output=True, text=True)
        return r.stdout.strip()

    def _write_meta(self):
        path = os.path.join(self.run, "meta.json")
        with self._log_lock:
            try:
                with open(path) as f:
                    m = json.load(f)
            except (OSError, ValueError):
                m = {}
            m.update(self.meta())
            with open(path + ".tmp", "w") as f:
                json.dump(m, f, indent=1, sort_keys=True)
            os.replace(path + ".tmp", path)

    # ------------------------------------------------------------ down

    def down(self):
        """Undo every fault, stop every process we started (by PID), the
        servers, remove our iptables chain and unmount our tmpfs. Safe to call
        twice and after a failed up(); runs at exit too. Returns a list of
        problems (empty: all clean)."""
        with self._lock:
            if self._downed:
                return []
            self._downed = True
        problems = []
        steps = [("heal", self._heal_for_down), ("processes", self._stop_processes),
                 ("redis", self._redis_down),
                 ("rabbitmq", self._broker_down),
                 ("iptables", lambda: self.fw.destroy() if self.fw else [])]
        for what, fn in steps:
            try:
                problems += ["%s: %s" % (what, p) for p in (fn() or [])]
            except Exception as e:  # noqa: BLE001 - go on with the rest of the cleanup
                problems.append("%s: %r" % (what, e))
        if self._slot_lock:
            self._slot_lock.close()
            self._slot_lock = None
        if self._guard:
            cleanup.record(self.run, down=True)
            self._guard.terminate()
            self._guard.wait(10)
        return problems

    def _path(self, *parts):
        return os.path.join(self.run, *parts)

    def _heal_for_down(self):
        # Only what keeps processes from stopping: SIGCONT (stop does it too)
        # and our firewall rules; servers are stopped as they are.
        problems = []
        if self.redis and self.redis.maxmemory_active():
            self.redis.maxmemory_off()
        if self.broker:
            self.broker.remove_fill()
        return problems

    def _stop_processes(self):
        problems = []
        if self.pt is None:
            return problems
        for p in self.pt.live():
            rc = self.pt.stop(p, grace=WORKER_CONFIG["worker.grace_s"] + 20)
            if rc != 0:
                problems.append("%s (pid %d) exited with %s" % (p.name, p.pid, rc))
        if self.serve:
            self.serve.stop()
        self.pt.close()
        return problems

    def _redis_down(self):
        if not self.redis:
            return []
        pids = {n: self.redis.pid(n) for n in ("r1", "r2", "s1", "s2", "s3")}
        problems = self.redis.down()
        for n, pid in pids.items():
            if pid:
                self._server_event("redis-" + n, pid, "exit")
        return problems

    def _broker_down(self):
        if not self.broker:
            return []
        if self.broker.reuse:
            self.broker.delete_vhost(self.vhost)
        pids = {i: self.broker.beam_pid(i) for i in range(1, broker.NODES + 1)}
        problems = self.broker.down()
        for i, pid in pids.items():
            if pid and not self.broker.reuse:
                self._server_event("rmq-n%d" % i, pid, "exit")
        return problems


def _install_signal_handlers():
    """SIGTERM/SIGHUP end the process through SystemExit, so atexit's down()
    runs; only where nobody installed a handler already (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)
