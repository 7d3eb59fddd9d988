"""Helpers for wharf integration tests (python3 stdlib + python3-redis).

Run under tests/run, which starts private RabbitMQ/Redis servers and exports:
  WHARF_SRC, WHARF_BIN, WHARF_TEST_AMQP_URL, WHARF_TEST_REDIS_URL,
  WHARF_TEST_MGMT_URL, WHARF_TEST_RABBITMQCTL, WHARF_TEST_TMP

    import wharftest
    env = wharftest.Env()
    url = env.new_vhost()                 # isolated vhost per test
    prefix = env.new_prefix()             # isolated Redis prefix per test
    w = env.start_worker(url, prefix, concurrency=2)
    cp = env.wharf(["submit", "system.noop", "--wait"], url, prefix)
    ...
    w.stop()

Every worker started here is stopped when the interpreter exits (atexit) and,
should the test process be killed outright, by the kernel
(PR_SET_PDEATHSIG), so a failing test leaves no process behind.
"""

import atexit
import base64
import ctypes
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import redis

__all__ = ["Env", "Worker", "wait_for", "REQUIRED_VARS"]

REQUIRED_VARS = (
    "WHARF_TEST_AMQP_URL",
    "WHARF_TEST_REDIS_URL",
    "WHARF_TEST_MGMT_URL",
    "WHARF_TEST_TMP",
)

_live_workers = []
_live_lock = threading.Lock()
_created_vhosts = []  # (Env, vhost) to delete at exit


def wait_for(predicate, timeout=10, interval=0.05, what="condition"):
    """Call predicate() until it returns a truthy value and return that value.

    Raises AssertionError naming `what` (and the last value seen) after
    `timeout` seconds. Exceptions raised by the predicate propagate.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                "timed out after %.1fs waiting for %s (last value: %r)" % (timeout, what, last))
        time.sleep(interval)


def _tail(text, lines=60):
    parts = text.splitlines()
    return "\n".join(parts[-lines:])


def _set_pdeathsig():
    # Runs in the child between fork and exec: die with the parent.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class Worker:
    """A running wharf-worker process started by Env.start_worker."""

    def __init__(self, proc, log_path, prefix, amqp_url, logf):
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self.prefix = prefix
        self.amqp_url = amqp_url
        self.worker_id = None
        self._logf = logf

    @property
    def returncode(self):
        return self.proc.poll()

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        """Everything the worker wrote to stdout/stderr so far."""
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        return _tail(self.log_text(), lines)

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=None):
        rc = self.proc.wait(timeout=timeout)
        self._forget()
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send `sig`, wait up to `timeout` s and return the exit status
        (negative = killed by that signal, as in subprocess). If the worker
        does not exit in time it is SIGKILLed and AssertionError is raised."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._forget()
                raise AssertionError(
                    "wharf-worker pid %d did not exit within %ss after signal %s; killed.\n"
                    "--- log tail (%s) ---\n%s" % (
                        self.pid, timeout, signal.Signals(sig).name, self.log_path, self.log_tail()))
        self._forget()
        return self.proc.returncode

    def kill(self):
        """SIGKILL the worker and reap it; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        self._forget()
        return rc

    def _forget(self):
        with _live_lock:
            if self in _live_workers:
                _live_workers.remove(self)
        if self._logf is not None:
            try:
                self._logf.close()
            except OSError:
                pass
            self._logf = None

    def __repr__(self):
        return "<Worker pid=%d id=%s rc=%r>" % (self.pid, self.worker_id, self.proc.poll())


def _stop_all_workers():
    """Stop every worker still running (SIGTERM, then SIGKILL after 10 s)."""
    with _live_lock:
        workers = list(_live_workers)
    for w in workers:
        if w.proc.poll() is None:
            try:
                w.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + 10
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        w._forget()


def _at_exit():
    _stop_all_workers()
    # Drop the vhosts this process created so a long test run does not pile
    # up idle quorum queues on the shared broker. WHARF_TEST_KEEP_VHOSTS=1 keeps them.
    if os.environ.get("WHARF_TEST_KEEP_VHOSTS") == "1":
        return
    for env, vhost in list(_created_vhosts):
        try:
            env._mgmt("DELETE", "/api/vhosts/" + env._q(vhost), ok_404=True, timeout=30)
        except Exception:
            pass
    del _created_vhosts[:]


atexit.register(_at_exit)


class Env:
    """The test environment described by the WHARF_TEST_* variables."""

    def __init__(self, environ=None):
        e = os.environ if environ is None else environ
        for name in REQUIRED_VARS:
            if not e.get(name):
                raise RuntimeError(
                    "%s is not set: run the tests through tests/run "
                    "(it starts private RabbitMQ/Redis and exports WHARF_TEST_*)" % name)
        self.amqp_url = e["WHARF_TEST_AMQP_URL"]
        self.redis_url = e["WHARF_TEST_REDIS_URL"]
        self.mgmt_url = e["WHARF_TEST_MGMT_URL"].rstrip("/")
        self.tmp = e["WHARF_TEST_TMP"]
        self.src = e.get("WHARF_SRC") or os.path.abspath(
            os.path.join(os.path.dirname(__file__), "..", ".."))
        self.bin = e.get("WHARF_BIN") or ""
        self.rabbitmqctl_cmd = e.get("WHARF_TEST_RABBITMQCTL") or ""
        u = urllib.parse.urlsplit(self.amqp_url)
        self.amqp_user = urllib.parse.unquote(u.username or "guest")
        self.amqp_password = urllib.parse.unquote(u.password or "guest")
        self._amqp_netloc = u.netloc
        self._amqp_scheme = u.scheme or "amqp"
        self._redis = None
        self._redis_raw = None
        self._seq = 0
        os.makedirs(self.tmp, exist_ok=True)

    # ------------------------------------------------------------ naming

    def _unique(self):
        self._seq += 1
        return "%s%d" % (secrets.token_hex(4), self._seq)

    def new_prefix(self):
        """A fresh Redis key prefix such as 't1a2b3c4d:'."""
        return "t%s:" % secrets.token_hex(4)

    # ------------------------------------------------------------ management API

    def _mgmt(self, method, path, body=None, timeout=10, ok_404=False):
        url = self.mgmt_url + path
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        token = base64.b64encode(("%s:%s" % (self.amqp_user, self.amqp_password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as ex:
            if ex.code == 404 and ok_404:
                return None
            detail = ex.read().decode("utf-8", "replace")
            raise RuntimeError("management API %s %s -> HTTP %d: %s" % (method, path, ex.code, detail)) from None
        if not raw:
            return {}
        return json.loads(raw)

    def mgmt(self, method, path, body=None, timeout=10, ok_404=False):
        """Call the RabbitMQ management HTTP API (path like '/api/overview');
        returns the decoded JSON ({} for an empty body; None for a 404 when
        ok_404). Other HTTP errors raise RuntimeError."""
        return self._mgmt(method, path, body, timeout, ok_404)

    @staticmethod
    def _q(s):
        return urllib.parse.quote(s, safe="")

    def vhost_of(self, amqp_url):
        """The (decoded) vhost name of an amqp URL; '/' when the URL has no path."""
        path = urllib.parse.urlsplit(amqp_url).path
        if path in ("", "/"):
            return "/"
        return urllib.parse.unquote(path[1:])

    def url_for_vhost(self, vhost):
        return "%s://%s/%s" % (self._amqp_scheme, self._amqp_netloc, self._q(vhost))

    def new_vhost(self, name=None):
        """Create a unique vhost with full permissions for the test user and
        return the amqp URL for it (vhost percent-encoded)."""
        vhost = name or "wharft-" + self._unique()
        qv = self._q(vhost)
        self._mgmt("PUT", "/api/vhosts/" + qv, {})
        self._mgmt("PUT", "/api/permissions/%s/%s" % (qv, self._q(self.amqp_user)),
                   {"configure": ".*", "write": ".*", "read": ".*"})

        def vhost_running():
            info = self._mgmt("GET", "/api/vhosts/" + qv, ok_404=True)
            if not info:
                return False
            states = info.get("cluster_state") or {}
            return all(s == "running" for s in states.values())

        _created_vhosts.append((self, vhost))
        wait_for(vhost_running, timeout=15, interval=0.05, what="vhost %r to be running" % vhost)
        return self.url_for_vhost(vhost)

    def delete_vhost(self, amqp_url):
        """Delete the URL's vhost (and everything in it); no error if absent.
        Vhosts made by new_vhost() are deleted at interpreter exit anyway."""
        vhost = self.vhost_of(amqp_url)
        self._mgmt("DELETE", "/api/vhosts/" + self._q(vhost), ok_404=True, timeout=30)
        _created_vhosts[:] = [(e, v) for (e, v) in _created_vhosts if v != vhost]

    def queue_info(self, amqp_url, queue):
        """GET /api/queues/<vhost>/<queue>; None if the queue does not exist."""
        return self._mgmt("GET", "/api/queues/%s/%s" % (self._q(self.vhost_of(amqp_url)), self._q(queue)),
                          ok_404=True)

    def queue_depth(self, amqp_url, queue, timeout=10):
        """Number of messages (ready + unacked) in `queue`, from the management
        API. Retries up to `timeout` s while the queue or its stats are not yet
        known (a new quorum queue has none for ~2 s). The value lags the
        broker: ~1 s for classic, ~2 s for quorum queues under tests/run
        (5-10 s on a default broker), so assert depths with wait_for(), e.g.
            wait_for(lambda: env.queue_depth(url, "wharf.dead") == 1, timeout=15)
        """
        deadline = time.monotonic() + timeout
        while True:
            info = self.queue_info(amqp_url, queue)
            if info is not None and isinstance(info.get("messages"), int):
                return info["messages"]
            if time.monotonic() >= deadline:
                if info is None:
                    raise AssertionError("queue %r does not exist in vhost %r"
                                         % (queue, self.vhost_of(amqp_url)))
                raise AssertionError("queue %r in vhost %r has no message stats yet: %r"
                                     % (queue, self.vhost_of(amqp_url), info))
            time.sleep(0.1)

    def list_queues(self, amqp_url):
        """Names of the queues in the URL's vhost."""
        qs = self._mgmt("GET", "/api/queues/%s?columns=name" % self._q(self.vhost_of(amqp_url)))
        return sorted(q["name"] for q in qs)

    def get_messages(self, amqp_url, queue, count):
        """Peek at up to `count` messages (ackmode ack_requeue_true: they stay
        in the queue). Each result is the management API's dict with
        'payload' decoded to bytes (also as 'body'), 'properties' (incl.
        'headers') and 'headers' (= properties.get('headers', {}))."""
        path = "/api/queues/%s/%s/get" % (self._q(self.vhost_of(amqp_url)), self._q(queue))
        msgs = self._mgmt("POST", path, {
            "count": int(count),
            "ackmode": "ack_requeue_true",
            "encoding": "base64",
            "truncate": 64 * 1024 * 1024,
        })
        out = []
        for m in msgs:
            m = dict(m)
            payload = m.get("payload", "")
            if m.get("payload_encoding") == "base64":
                body = base64.b64decode(payload)
            else:
                body = payload.encode("utf-8")
            m["payload"] = body
            m["body"] = body
            props = m.get("properties") or {}
            if isinstance(props, list):  # the API renders empty properties as []
                props = {}
            m["properties"] = props
            m["headers"] = props.get("headers") or {}
            out.append(m)
        return out

    def publish_raw(self, amqp_url, exchange, routing_key, body, properties=None):
        """Publish bytes through the management API (exchange '' = default).
        Returns True if the message was routed to at least one queue."""
        ex = exchange if exchange else "amq.default"
        path = "/api/exchanges/%s/%s/publish" % (self._q(self.vhost_of(amqp_url)), self._q(ex))
        res = self._mgmt("POST", path, {
            "properties": properties or {},
            "routing_key": routing_key,
            "payload": base64.b64encode(bytes(body)).decode(),
            "payload_encoding": "base64",
        })
        return bool(res.get("routed"))

    # ------------------------------------------------------------ Redis

    def redis(self):
        """redis.Redis on the test server, decode_responses=True (one shared
        client per Env, so calling this in a polling loop is cheap)."""
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url, decode_responses=True)
        return self._redis

    def redis_raw(self):
        """redis.Redis on the test server returning bytes (shared, like redis())."""
        if self._redis_raw is None:
            self._redis_raw = redis.Redis.from_url(self.redis_url, decode_responses=False)
        return self._redis_raw

    @staticmethod
    def _glob_escape(s):
        out = []
        for ch in s:
            if ch in "*?[]\\":
                out.append("\\")
            out.append(ch)
        return "".join(out)

    def worker_keys(self, prefix):
        r = self.redis()
        return set(r.scan_iter(match=self._glob_escape(prefix) + "worker:*", count=1000))

    # ------------------------------------------------------------ processes

    def _bin(self, name):
        if not self.bin:
            raise RuntimeError("WHARF_BIN is not set: run the tests through tests/run")
        path = os.path.join(self.bin, name)
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s is not an executable (is the build complete?)" % path)
        return path

    def child_env(self, amqp_url, prefix, queue_type="quorum", extra_env=None):
        """Environment for wharf/wharf-worker pointed at the test servers."""
        env = dict(os.environ)
        env["WHARF_AMQP_URL"] = amqp_url
        env["WHARF_REDIS_URL"] = self.redis_url
        env["WHARF_REDIS_PREFIX"] = prefix
        if queue_type is not None:
            env["WHARF_AMQP_QUEUE_TYPE"] = queue_type
        for k, v in (extra_env or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def start_worker(self, amqp_url, prefix, concurrency=4, families="system", extra_env=None,
                     args=None, log_path=None, queue_type="quorum", ready_timeout=20, die_with_parent=True,
                     bin_dir=None):
        """Start $WHARF_BIN/wharf-worker and wait (<= ready_timeout s) until it
        has registered itself in Redis (a `<prefix>worker:*` hash with its pid,
        or a new such key). Raises RuntimeError with the log tail if it exits
        or does not register in time. extra_env values of None unset a var.
        stdout+stderr go to log_path (default: a new file under WHARF_TEST_TMP).

        die_with_parent: the kernel SIGKILLs the worker when the *thread* that
        started it exits (PR_SET_PDEATHSIG); pass False when starting workers
        from short-lived threads.

        bin_dir: take wharf-worker from there instead of WHARF_BIN (e.g. a
        Release build from relbuild.ensure)."""
        exe = os.path.join(bin_dir, "wharf-worker") if bin_dir else self._bin("wharf-worker")
        cmd = [exe]
        if concurrency is not None:
            cmd += ["-c", str(concurrency)]
        if families is not None:
            cmd += ["--families", families]
        cmd += list(args or [])
        env = self.child_env(amqp_url, prefix, queue_type, extra_env)
        if log_path is None:
            log_path = os.path.join(self.tmp, "worker-%s-%s.log" % (prefix.rstrip(":"), self._unique()))
        before = self.worker_keys(prefix)
        logf = open(log_path, "ab")
        logf.write(("# %s\n" % " ".join(shlex.quote(c) for c in cmd)).encode())
        logf.flush()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                preexec_fn=_set_pdeathsig if die_with_parent else None, cwd=self.tmp)
        w = Worker(proc, log_path, prefix, amqp_url, logf)
        with _live_lock:
            _live_workers.append(w)
        r = self.redis()
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                rc = proc.returncode
                w._forget()
                raise RuntimeError("wharf-worker exited with status %s before registering.\n"
                                   "--- log tail (%s) ---\n%s" % (rc, log_path, w.log_tail()))
            for key in self.worker_keys(prefix):
                try:
                    pid = r.hget(key, "pid")
                except redis.ResponseError:
                    pid = None
                if pid == str(proc.pid) or (key not in before and pid is None):
                    w.worker_id = key[len(prefix) + len("worker:"):]
                    return w
            if time.monotonic() >= deadline:
                w.kill()
                raise RuntimeError("wharf-worker pid %d did not register %sworker:* in Redis within %ss; killed.\n"
                                   "--- log tail (%s) ---\n%s" % (proc.pid, prefix, ready_timeout, log_path,
                                                                  w.log_tail()))
            time.sleep(0.05)

    def wharf(self, args, amqp_url, prefix, timeout=60, input=None, extra_env=None, queue_type="quorum"):
        """Run the CLI $WHARF_BIN/wharf with ARGS against the test servers and
        return subprocess.CompletedProcess (stdout/stderr captured; text
        unless `input` is bytes). After `timeout` s the CLI is killed and
        AssertionError is raised with the output it had written."""
        cmd = [self._bin("wharf")] + [str(a) for a in args]
        env = self.child_env(amqp_url, prefix, queue_type, extra_env)
        text = not isinstance(input, (bytes, bytearray))
        try:
            return subprocess.run(cmd, env=env, input=input, capture_output=True, text=text, timeout=timeout,
                                  cwd=self.tmp, stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as ex:
            def show(b):
                if b is None:
                    return ""
                return b.decode("utf-8", "replace") if isinstance(b, bytes) else b
            raise AssertionError("%s timed out after %ss\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
                " ".join(shlex.quote(c) for c in cmd), timeout, _tail(show(ex.stdout)),
                _tail(show(ex.stderr)))) from None

    def rabbitmqctl(self, args, timeout=120):
        """Run rabbitmqctl against the test node; returns CompletedProcess (text)."""
        if not self.rabbitmqctl_cmd:
            raise RuntimeError("WHARF_TEST_RABBITMQCTL is not set: run the tests through tests/run")
        cmd = shlex.split(self.rabbitmqctl_cmd) + [str(a) for a in args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    # Tiny smoke check: python3 wharftest.py
    e = Env()
    print("vhost url:", e.new_vhost())
    print("prefix:", e.new_prefix())
    print("redis ping:", e.redis().ping())
    sys.exit(0)
