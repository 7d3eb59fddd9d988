"""Start `wharf serve` for a test and talk HTTP to it (python3 stdlib only).

    import wharfserve
    srv = wharfserve.start(env, amqp_url, prefix)      # free loopback port, a fresh token
    status, headers, body = srv.request("GET", "/v1/workers")   # body: parsed JSON or text
    srv.stop()

The server runs with die-with-parent (PR_SET_PDEATHSIG) and is stopped at
interpreter exit, so a failing test leaves nothing behind.
"""
import atexit
import http.client
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import freeport  # noqa: E402
import wharftest  # noqa: E402

_live = []


class Server:
    def __init__(self, proc, port, token, log_path, logf):
        self.proc, self.port, self.token, self.log_path, self._logf = proc, port, token, log_path, logf

    def log_text(self):
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=True, headers=None, content_type="application/json",
                timeout=30):
        """One request; returns (status, headers dict (lower-case names), body).
        body: a dict/list is sent as JSON; bytes/str as is. token=True sends
        this server's token, a string sends that, None sends none. The reply
        body is parsed as JSON when the reply says application/json."""
        h = dict(headers or {})
        if token is True:
            token = self.token
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (
                body.encode() if isinstance(body, str) else body)
            if content_type:
                h["Content-Type"] = content_type
        if data is not None and len(data) > BIG_BODY:
            status, hdrs, raw = self._expect_continue(method, path, h, data, timeout)
        else:
            c = self.conn(timeout)
            try:
                c.request(method, path, body=data, headers=h)
                r = c.getresponse()
                raw = r.read()
                status, hdrs = r.status, {k.lower(): v for k, v in r.getheaders()}
            finally:
                c.close()
        ctype = hdrs.get("content-type", "")
        if ctype.startswith("application/json") and raw:
            return status, hdrs, json.loads(raw)
        return status, hdrs, raw.decode("utf-8", "replace")

    def _expect_continue(self, method, path, h, data, timeout):
        """A large body the way curl sends one: with `Expect: 100-continue`,
        the body only after the server's 100. A server that refuses at the
        head (413) answers at once and the body is never sent; sending it
        blindly races the server's close (EPIPE or a reset under load)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n" % (
                method, path, len(data))
            head += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
            s.sendall(head.encode())
            f = s.makefile("rb")
            status, hdrs = _read_head(f)
            if status == 100:
                s.sendall(data)
                status, hdrs = _read_head(f)
            raw = f.read(int(hdrs.get("content-length", "0")))
            f.close()
            return status, hdrs, raw
        finally:
            s.close()

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("wharf serve did not stop within %ss on SIGTERM" % timeout)
        if self in _live:
            _live.remove(self)
        if self._logf:
            self._logf.close()
            self._logf = None
        return self.proc.returncode


BIG_BODY = 64 * 1024  # request bodies above this are sent with Expect: 100-continue


def _read_head(f):
    """Status and headers (lower-case names) of one HTTP response."""
    line = f.readline()
    if not line.startswith(b"HTTP/1."):
        raise ConnectionError("no HTTP response: %r" % line[:100])
    status = int(line.split()[1])
    hdrs = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            return status, hdrs
        k, _, v = line.decode("latin-1").partition(":")
        hdrs[k.strip().lower()] = v.strip()


def sse_iter(lines):
    """Server-Sent Events from an iterable of raw lines (bytes), one
    (event, id, data text) per event as it completes; comments skipped."""
    ev, eid, data = "message", None, []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield ev, eid, "\n".join(data)
            ev, eid, data = "message", None, []
        elif line.startswith(":"):
            continue
        else:
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "event":
                ev = v
            elif k == "id":
                eid = v
            elif k == "data":
                data.append(v)


def free_port():
    for _ in range(200):
        import random
        p = random.SystemRandom().randrange(20000, 32000)
        if freeport.port_free(p):
            return p
    raise RuntimeError("no free loopback port")


def start(env, amqp_url, prefix, args=None, token=None, extra_env=None, no_auth=False, ready_timeout=20,
          config=None):
    """Start $WHARF_BIN/wharf serve on 127.0.0.1:<free port> with a token file
    holding `token` (default: a fresh random one) and wait for /healthz.
    config: a configuration file for `wharf --config` (its inventory, serve.*)."""
    token = token or secrets.token_hex(24)
    tok_path = os.path.join(env.tmp, "tokens-%s" % secrets.token_hex(4))
    with open(tok_path, "w") as f:
        f.write("# test tokens\n%s\n" % token)
    port = free_port()
    cmd = [env._bin("wharf")] + (["--config", config] if config else []) + ["serve", "--listen",
                                                                             "127.0.0.1:%d" % port]
    cmd += ["--insecure-no-auth"] if no_auth else ["--token-file", tok_path]
    cmd += list(args or [])
    log_path = os.path.join(env.tmp, "serve-%d.log" % port)
    logf = open(log_path, "ab")
    logf.write(("# %s\n" % " ".join(shlex.quote(c) for c in cmd)).encode())
    logf.flush()
    proc = subprocess.Popen(cmd, env=env.child_env(amqp_url, prefix, extra_env=extra_env), stdin=subprocess.DEVNULL,
                            stdout=logf, stderr=subprocess.STDOUT, preexec_fn=wharftest._set_pdeathsig,
                            cwd=env.tmp)
    srv = Server(proc, port, token, log_path, logf)
    _live.append(srv)
    deadline = time.monotonic() + ready_timeout
    while True:
        if proc.poll() is not None:
            _live.remove(srv)
            raise RuntimeError("wharf serve exited with %s:\n%s" % (proc.returncode, srv.log_text()))
        try:
            st, _, _ = srv.request("GET", "/healthz", token=None, timeout=5)
            if st in (200, 503):
                return srv
        except OSError:
            pass
        if time.monotonic() > deadline:
            srv.stop()
            raise RuntimeError("wharf serve did not answer /healthz within %ss:\n%s" % (ready_timeout,
                                                                                          srv.log_text()))
        time.sleep(0.05)


@atexit.register
def _stop_all():
    for s in list(_live):
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            s.proc.kill()


class ServeCase(unittest.TestCase):
    """A test class with a vhost, a key prefix and a `wharf serve` of its own
    (cls.amqp, cls.prefix, cls.srv); serve must then exit 0, which in the
    sanitizer build also means LeakSanitizer found nothing. Set `env` (the
    module's wharftest.Env) on the subclass."""
    env = None

    @classmethod
    def setUpClass(cls):
        cls.amqp = cls.env.new_vhost()
        cls.prefix = cls.env.new_prefix()
        cls.srv = start(cls.env, cls.amqp, cls.prefix)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, "wharf serve exited %s:\n%s" % (rc, cls.srv.log_text()[-4000:])
