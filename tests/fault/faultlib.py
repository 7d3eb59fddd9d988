"""Shared pieces of the fault tests (tests/fault/test_*.py).

Every fault test runs against its OWN RabbitMQ and Redis, started here
through tests/lib/servers.sh (the same launcher tests/run and tests/cluster
use) in a fresh directory under WHARF_TEST_TMP, on loopback, on free ports.
The shared servers of tests/run are never touched: the tests stop, kill and
block the private ones.

    srv = faultlib.Servers("storm")          # private state dir
    srv.rabbit_start(); srv.redis_start()
    env = srv.env()                          # a wharftest.Env on them
    ...
    srv.rabbit_stop(); srv.rabbit_start()    # same ports, queues kept
    srv.redis_stop(); srv.redis_start()      # same port, data gone
    srv.close()                              # stop whatever still runs

close() runs at interpreter exit as well, and a small watchdog (started with
the first server) stops both servers when the test process dies without
running it (SIGKILL by ctest's timeout, say). Servers are only ever stopped
through servers.sh, which signals nothing but the PIDs recorded in their
state directories.
"""
import atexit
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "..", "lib")
sys.path.insert(0, LIB)
import wharftest  # noqa: E402

SERVERS_SH = os.path.join(LIB, "servers.sh")
LONG = os.environ.get("WHARF_LONG") == "1"
TERMINAL = ("succeeded", "failed", "dead", "cancelled")

_live = []


def _sh(script, *args, timeout=300, extra_env=None):
    """Run `script` in bash after sourcing servers.sh; $1.. are args."""
    env = dict(os.environ)
    env.update(extra_env or {})
    return subprocess.run(["bash", "-c", 'source "$0"; ' + script, SERVERS_SH] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)


class Servers:
    """A private RabbitMQ node and Redis server for one test file."""

    def __init__(self, name):
        base = os.environ.get("WHARF_TEST_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="fault-%s-" % name, dir=base)
        self.rmq_dir = os.path.join(self.dir, "rabbitmq")
        self.redis_dir = os.path.join(self.dir, "redis")
        self.node = "wharff%d" % os.getpid()
        self.amqp_port = self.mgmt_port = self.redis_port = None
        self._watchdog = None
        self._envs = []
        _live.append(self)

    # ------------------------------------------------------------ RabbitMQ

    def rabbit_start(self):
        """Start the node (again: on the same ports, with its queues and
        messages kept). Returns the seconds it took to be ready."""
        t0 = time.monotonic()
        again = self.amqp_port is not None
        r = _sh('wharf_rabbit_start "$1" "$2" "$3" "$4" && echo "$WHARF_RMQ_AMQP_PORT $WHARF_RMQ_MGMT_PORT"',
                self.rmq_dir, self.amqp_port or "", self.mgmt_port or "", self.node,
                extra_env={"WHARF_SERVERS_KEEP_DATA": "1" if again else "0"})
        if r.returncode != 0:
            raise RuntimeError("private rabbitmq did not start:\n%s" % r.stderr[-4000:])
        amqp, mgmt = (int(p) for p in r.stdout.split()[-2:])
        if again and amqp != self.amqp_port:
            raise RuntimeError("rabbitmq came back on another AMQP port: %d" % amqp)
        # servers.sh replaces a management port still held (TIME_WAIT) by
        # the last run: follow it.
        self.amqp_port, self.mgmt_port = amqp, mgmt
        for e in self._envs:
            e.mgmt_url = "http://127.0.0.1:%d" % mgmt
        self._ensure_watchdog()
        return time.monotonic() - t0

    def rabbit_stop(self):
        """Stop the node (rabbitmqctl stop; the PIDs if that fails)."""
        r = _sh('wharf_rabbit_stop "$1"', self.rmq_dir)
        if r.returncode != 0:
            raise RuntimeError("private rabbitmq did not stop:\n%s" % r.stderr[-3000:])

    def rabbit_kill(self):
        """SIGKILL the node's Erlang VM (by the PID in its state dir)."""
        r = _sh('p=$(_wharf_read_pid "$1/beam.pid"); _wharf_pid_ok "$p" beam && kill -KILL "$p" && '
                '_wharf_wait_gone 30 "$p:beam"', self.rmq_dir)
        if r.returncode != 0:
            raise RuntimeError("could not kill the private rabbitmq:\n%s" % r.stderr[-3000:])
        self.rabbit_stop()  # epmd and helpers (nothing else carries our tag)

    def rabbitmqctl(self, *args, timeout=120):
        return subprocess.run([os.path.join(self.rmq_dir, "bin", "rabbitmqctl")] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def amqp_url(self, vhost="%2f"):
        return "amqp://guest:guest@127.0.0.1:%d/%s" % (self.amqp_port, vhost)

    def amqp_up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=1) as s:
                s.settimeout(2)
                s.sendall(b"AMQP\x00\x00\x09\x01")
                return s.recv(1)[:1] == b"\x01"
        except OSError:
            return False

    # ------------------------------------------------------------ Redis

    def redis_start(self):
        """Start Redis (again: on the same port, empty: no persistence)."""
        t0 = time.monotonic()
        r = _sh('wharf_redis_start "$1" "$2" && echo "$WHARF_REDIS_PORT"', self.redis_dir, self.redis_port or "")
        if r.returncode != 0:
            raise RuntimeError("private redis did not start:\n%s" % r.stderr[-3000:])
        self.redis_port = int(r.stdout.split()[-1])
        self._ensure_watchdog()
        return time.monotonic() - t0

    def redis_stop(self):
        r = _sh('wharf_redis_stop "$1"', self.redis_dir)
        if r.returncode != 0:
            raise RuntimeError("private redis did not stop:\n%s" % r.stderr[-3000:])

    def redis_url(self):
        return "redis://127.0.0.1:%d/0" % self.redis_port

    # ------------------------------------------------------------ tests

    def env(self):
        """A wharftest.Env on the private servers (vhosts, prefixes,
        workers, the CLI: see tests/lib/wharftest.py)."""
        e = {"WHARF_TEST_AMQP_URL": self.amqp_url(),
             "WHARF_TEST_REDIS_URL": self.redis_url(),
             "WHARF_TEST_MGMT_URL": "http://127.0.0.1:%d" % self.mgmt_port,
             "WHARF_TEST_RABBITMQCTL": os.path.join(self.rmq_dir, "bin", "rabbitmqctl"),
             "WHARF_TEST_TMP": os.path.join(self.dir, "work")}
        for k in ("WHARF_SRC", "WHARF_BIN"):
            if os.environ.get(k):
                e[k] = os.environ[k]
        env = wharftest.Env(environ=e)
        self._envs.append(env)
        return env

    def close(self):
        """Stop both servers (no error if they are not running)."""
        errs = []
        for f in (self.redis_stop, self.rabbit_stop):
            try:
                f()
            except Exception as ex:  # keep going: stop the other one too
                errs.append(str(ex))
        if self._watchdog and self._watchdog.poll() is None:
            self._watchdog.kill()
            self._watchdog.wait()
        if self in _live:
            _live.remove(self)
        if errs:
            raise RuntimeError("; ".join(errs))

    def _ensure_watchdog(self):
        if self._watchdog is not None:
            return
        # Its own session, so it outlives us; it polls our PID once a second.
        script = ('source "$0"; while kill -0 "$1" 2>/dev/null; do sleep 1; done; '
                  'wharf_redis_stop "$3"; wharf_rabbit_stop "$2"')
        self._watchdog = subprocess.Popen(
            ["setsid", "bash", "-c", script, SERVERS_SH, str(os.getpid()), self.rmq_dir, self.redis_dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class FaultTest(unittest.TestCase):
    """A test class with private servers of its own: set `name` (the
    state directory's tag); setUpClass starts RabbitMQ and Redis as
    cls.srv (a Servers) with cls.env (a wharftest.Env on them), and
    tearDownClass stops them, also when the start failed halfway."""
    name = "fault"

    @classmethod
    def setUpClass(cls):
        cls.srv = Servers(cls.name)
        try:
            cls.srv.rabbit_start()
            cls.srv.redis_start()
        except Exception:
            cls.srv.close()
            raise
        cls.env = cls.srv.env()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()


@atexit.register
def _close_all():
    for s in list(_live):
        try:
            s.close()
        except Exception as ex:
            print("faultlib: %s" % ex, file=sys.stderr)


# ---------------------------------------------------------------- helpers

def job_states(r, prefix, ids, fields=("state",)):
    """{id: [field values]} for many job hashes in one pipelined round."""
    out = {}
    ids = list(ids)
    for i in range(0, len(ids), 2000):
        chunk = ids[i:i + 2000]
        p = r.pipeline(transaction=False)
        for j in chunk:
            p.hmget(prefix + "job:" + j, *fields)
        out.update(zip(chunk, p.execute()))
    return out


def not_succeeded(r, prefix, ids, timeout):
    """Wait (at most `timeout` s) until every job of `ids` is `succeeded`;
    {id: state} of those that are not by then (None: no status at all)."""
    deadline = time.monotonic() + timeout
    while True:
        st = job_states(r, prefix, ids)
        bad = {i: v[0] for i, v in st.items() if v[0] != "succeeded"}
        if not bad or time.monotonic() > deadline:
            return bad
        time.sleep(0.5)


def stats_total(r, prefix, types, field="ok"):
    """Sum of `field` over the per-minute stats rollups of `types`."""
    n = 0
    for t in types:
        for k in r.scan_iter(match="%sstats:%s:1m:*" % (prefix, t), count=1000):
            n += int(r.hget(k, field) or 0)
    return n


class Publisher:
    """Publishes wharf envelopes with publisher confirms (pika), standing in
    for a producer that publishes straight to the broker. publish() returns
    True once the broker confirmed the message."""

    def __init__(self, amqp_url):
        import pika
        self._pika = pika
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    def publish(self, id, type, args):
        import msgpack
        body = msgpack.packb({"v": 1, "id": id, "type": type, "args": args,
                              "created_at": int(time.time() * 1000)})
        props = self._pika.BasicProperties(content_type="application/msgpack", delivery_mode=2, message_id=id,
                                           type=type, headers={"wharf-schema": 1})
        self.ch.basic_publish("wharf.jobs", type.split(".")[0], body, props, mandatory=True)
        return True

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


def in_thread(fn, *args):
    """Run fn(*args) in a daemon thread; returns the thread."""
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------- producers

ERR_NAME = re.compile(r"\(([a-z_]+)\)\s*$")


class Load:
    """Three producers submitting jobs side by side until stop(): the C
    client library (one long-lived wharf-client-probe), the CLI (one `wharf
    submit` process per job) and the HTTP API (one long-lived `wharf
    serve`). Each records every attempt in `results` as
    (kind, t_start, t_end, id or None, error code name or None, detail).
    An attempt that took longer than `bound_s` is a hang (see hangs())."""

    KINDS = ("lib", "cli", "http")

    def __init__(self, env, url, prefix, job_type="system.noop", args=None, pause_s=0.25, bound_s=60):
        import wharfserve
        self.env, self.url, self.prefix = env, url, prefix
        self.type, self.args, self.pause, self.bound = job_type, args or {}, pause_s, bound_s
        self.results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        e = env.child_env(url, prefix)
        self.probe = subprocess.Popen([env._bin("wharf-client-probe")], env=e, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                      preexec_fn=wharftest._set_pdeathsig)
        first = self.probe.stdout.readline().strip()
        if first != "ready":
            self.probe.kill()
            raise RuntimeError("client probe did not start: %r" % first)
        self.serve = wharfserve.start(env, url, prefix)
        self.threads = [in_thread(self._loop, k) for k in self.KINDS]

    def _note(self, kind, t0, id, code, detail):
        with self._lock:
            self.results.append((kind, t0, time.monotonic(), id, code, detail))

    def _one(self, kind):
        args = json.dumps(self.args)
        if kind == "lib":
            self.probe.stdin.write("submit %s %s\n" % (self.type, args))
            self.probe.stdin.flush()
            line = self.probe.stdout.readline().strip()
            if line.startswith("ok "):
                return line.split()[1], None, line
            parts = line.split(" ", 2)
            return None, parts[1] if len(parts) > 1 and parts[0] == "err" else "?", line
        if kind == "cli":
            p = subprocess.run([self.env._bin("wharf"), "submit", self.type, "--args-json", args],
                               env=self.env.child_env(self.url, self.prefix), capture_output=True, text=True,
                               timeout=self.bound * 2, stdin=subprocess.DEVNULL)
            if p.returncode == 0:
                return p.stdout.strip(), None, ""
            m = ERR_NAME.search(p.stderr.strip())
            return None, m.group(1) if m else "?", "rc %d: %s" % (p.returncode, p.stderr.strip()[-300:])
        st, _, b = self.serve.request("POST", "/v1/jobs", {"type": self.type, "args": self.args},
                                      timeout=self.bound * 2)
        if st in (200, 201) and isinstance(b, dict) and b.get("id"):
            return b["id"], None, ""
        code = b.get("error", {}).get("code", "?") if isinstance(b, dict) else "?"
        return None, code, "HTTP %d: %s" % (st, str(b)[:300])

    def _loop(self, kind):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                id, code, detail = self._one(kind)
            except Exception as ex:  # a hang (subprocess/HTTP timeout) or a dead producer
                id, code, detail = None, "exception", repr(ex)
            self._note(kind, t0, id, code, detail)
            if code == "exception" and kind == "lib":
                return
            self._stop.wait(self.pause)

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(self.bound * 3)
        self.probe.stdin.close()
        self.probe.wait(30)
        self.serve.stop()

    # ------------------------------------------------------------ results

    def confirmed(self, kind=None, after=None):
        """Ids whose submit succeeded (of one kind; started after `after`)."""
        with self._lock:
            return [r[3] for r in self.results
                    if r[3] and (kind is None or r[0] == kind) and (after is None or r[1] > after)]

    def errors(self, kind=None):
        with self._lock:
            return [r for r in self.results if not r[3] and (kind is None or r[0] == kind)]

    def hangs(self):
        with self._lock:
            return [r for r in self.results if r[2] - r[1] > self.bound]

    def summary(self):
        out = []
        for k in self.KINDS:
            rs = [r for r in self.results if r[0] == k]
            errs = [r for r in rs if not r[3]]
            codes = sorted({r[4] for r in errs})
            slow = max([r[2] - r[1] for r in rs] or [0])
            out.append("%s: %d ok, %d errors %s, slowest %.1f s" % (k, len(rs) - len(errs), len(errs), codes, slow))
        return "; ".join(out)


# ---------------------------------------------------------------- network

class Proxy:
    """A TCP proxy on 127.0.0.1:<free port> to 127.0.0.1:`upstream`, with
    faults: `delay_s` (latency added to every chunk, each way), stall()
    (stop moving bytes on every connection, new ones too, sockets kept open:
    a partition that sends no FIN or RST), resume(), mute() (the upstream's
    bytes are read and dropped, the client's still go through: requests are
    made, their replies lost), unmute(), reset() (close every connection
    with an RST). Threads: one accepting, two per connection."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.delay_s = 0.0
        self._stalled = threading.Event()
        self._muted = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._conns = []
        self.accepted = 0
        self._ls = socket.socket()
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(64)
        self._ls.settimeout(0.2)
        self.port = self._ls.getsockname()[1]
        self._t = in_thread(self._accept)

    def _accept(self):
        while not self._closing.is_set():
            try:
                c, _ = self._ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                c.close()
                continue
            with self._lock:
                self._conns.append((c, u))
                self.accepted += 1
            in_thread(self._pump, c, u)
            in_thread(self._pump, u, c, True)

    def _pump(self, src, dst, replies=False):
        import select
        src.settimeout(None)
        while not self._closing.is_set():
            if self._stalled.is_set():
                time.sleep(0.05)
                continue
            try:
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready or self._stalled.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                if replies and self._muted.is_set():
                    continue
                if self.delay_s:
                    time.sleep(self.delay_s)
                dst.sendall(data)
            except (OSError, ValueError):
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stall(self):
        self._stalled.set()

    def resume(self):
        self._stalled.clear()

    def mute(self):
        self._muted.set()

    def unmute(self):
        self._muted.clear()

    def reset(self):
        """RST every open connection (both sides)."""
        import struct
        with self._lock:
            conns, self._conns = self._conns, []
        for pair in conns:
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.close()
                except OSError:
                    pass
        return len(conns)

    def close(self):
        self._closing.set()
        self.reset()
        self._ls.close()
        self._t.join(5)
