#!/usr/bin/python3
"""Hostile HTTP clients against `wharf serve`, on loopback.

- every bad request gets its 4xx quickly (bounded at 2 s here; the server
  answers in milliseconds): oversized bodies declared or chunked, bad JSON,
  wrong content types, path traversal in ids, missing and wrong tokens,
  oversized heads;
- slowloris: request heads that trickle in get 408 and are closed once
  `serve.header_timeout_s` has passed, and an attacker's address cannot hold
  more than `serve.max_per_ip` connections;
- while attacked from another loopback address, the server keeps answering
  other clients.

The attacker binds 127.0.0.66 as its source address; the good client uses
127.0.0.1."""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
ATTACKER = "127.0.0.66"
HEAD_TIMEOUT_S = 2
PER_IP = 8
FAST_S = 2.0  # a 4xx must come back within this


def connect(port, source=ATTACKER, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s, limit=1 << 20):
    """Everything until the peer closes (or the socket timeout)."""
    out = b""
    try:
        while len(out) < limit:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def status_of(raw):
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


class HostileHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.srv = wharfserve.start(env, cls.amqp, cls.prefix, extra_env={
            "WHARF_SERVE_HEADER_TIMEOUT_S": str(HEAD_TIMEOUT_S),
            "WHARF_SERVE_MAX_PER_IP": str(PER_IP),
            "WHARF_SERVE_MAX_BODY": "65536"})

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        env.delete_vhost(cls.amqp)
        assert rc == 0, "wharf serve exited %s:\n%s" % (rc, cls.srv.log_text()[-4000:])

    def raw(self, data, source="127.0.0.1"):
        """Send raw request bytes; return (status, reply bytes, seconds)."""
        t0 = time.monotonic()
        s = connect(self.srv.port, source)
        try:
            s.sendall(data)
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            reply = read_all(s)
        finally:
            s.close()
        return status_of(reply), reply, time.monotonic() - t0

    def good_client_ok(self):
        st, _, _ = self.srv.request("GET", "/v1/workers", timeout=FAST_S)
        return st == 200

    def test_bad_requests_get_their_4xx_fast(self):
        tok = self.srv.token
        auth = "Authorization: Bearer %s\r\n" % tok
        cases = [
            ("declared 10 GB body", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
             "Content-Length: 10737418240\r\n\r\n{" % auth, 413),
            ("chunked body over the cap", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n" % auth + ("8000\r\n" + "x" * 0x8000 + "\r\n") * 3 + "0\r\n\r\n",
             413),
            ("bad JSON", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
             "Content-Length: 9\r\n\r\n{\"type\":," % auth, 400),
            ("JSON not an object", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
             "Content-Length: 2\r\n\r\n[]" % auth, 400),
            ("wrong content type", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Type: text/plain\r\n"
             "Content-Length: 2\r\n\r\n{}" % auth, 415),
            ("no content type", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n%sContent-Length: 2\r\n\r\n{}" % auth, 415),
            ("traversal id", "GET /v1/jobs/..%%2f..%%2fetc%%2fpasswd HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth,
             (400, 404)),  # decoded, the path has more segments than any route: 404 no such route
            ("traversal in logs", "GET /v1/jobs/..%%2f..%%2fx/logs HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth,
             (400, 404)),
            ("dot-dot id", "GET /v1/jobs/.. HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth, 400),
            ("NUL in id", "GET /v1/jobs/a%%00b HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth, 400),
            ("glob id", "POST /v1/jobs/*/cancel HTTP/1.1\r\nHost: x\r\n%sContent-Length: 0\r\n\r\n" % auth, 400),
            ("missing token", "GET /v1/workers HTTP/1.1\r\nHost: x\r\n\r\n", 401),
            ("wrong token", "GET /v1/workers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
             % ("0" * len(tok)), 401),
            ("token prefix", "GET /v1/workers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % tok[:-1],
             401),
            ("basic scheme", "GET /v1/workers HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n" % tok, 401),
            ("head over the cap", "GET /v1/workers HTTP/1.1\r\nHost: x\r\n%sX-Pad: %s\r\n\r\n" % (auth, "y" * 40000),
             (413, 431)),
        ]
        problems = []
        for name, data, want in cases:
            st, reply, took = self.raw(data.encode())
            want = want if isinstance(want, tuple) else (want,)
            if st not in want:
                problems.append("%s: status %s, want %s: %r" % (name, st, want, reply[:200]))
            elif took > FAST_S:
                problems.append("%s: answered in %.2f s" % (name, took))
            elif st != 431 and st != 413 and b'"error"' not in reply:
                problems.append("%s: no JSON error body: %r" % (name, reply[:300]))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertTrue(self.good_client_ok())

    def test_slow_heads_get_408_and_the_server_stays_responsive(self):
        port = self.srv.port
        slow = []
        for _ in range(PER_IP):
            s = connect(port)
            s.sendall(b"GET /v1/workers HTTP/1.1\r\nHost: x\r\n")
            slow.append((s, time.monotonic()))
        # beyond the per-address limit: refused at once
        extra = connect(port)
        t0 = time.monotonic()
        got = read_all(extra)
        extra.close()
        self.assertIn(status_of(got), (None, 503), got[:200])
        self.assertLess(time.monotonic() - t0, FAST_S, "a connection over max_per_ip was not refused promptly")

        # trickle a header byte per connection every 0.3 s, while a good client
        # from another address keeps asking
        stop = threading.Event()
        answered = []

        def good():
            while not stop.is_set():
                t = time.monotonic()
                ok = self.good_client_ok()
                answered.append((ok, time.monotonic() - t))
                time.sleep(0.1)

        g = threading.Thread(target=good)
        g.start()
        replies = {}
        try:
            deadline = time.monotonic() + HEAD_TIMEOUT_S + 3
            while time.monotonic() < deadline and len(replies) < len(slow):
                for i, (s, started) in enumerate(slow):
                    if i in replies:
                        continue
                    try:
                        s.sendall(b"X")
                    except OSError:
                        pass
                    s.settimeout(0.01)
                    try:
                        data = s.recv(4096)
                        replies[i] = (data, time.monotonic() - started)
                    except socket.timeout:
                        pass
                    except OSError as e:
                        replies[i] = (b"", time.monotonic() - started, e)
                time.sleep(0.3)
        finally:
            stop.set()
            g.join()
            for s, _ in slow:
                s.close()
        self.assertEqual(len(replies), len(slow), "slow connections still open after %d s" % (HEAD_TIMEOUT_S + 3))
        for i, r in replies.items():
            data, took = r[0], r[1]
            self.assertEqual(status_of(data), 408, (i, data[:200]))
            self.assertIn(b"request_timeout", data)
            self.assertGreaterEqual(took, HEAD_TIMEOUT_S - 0.2, "closed before the head timeout")
            self.assertLess(took, HEAD_TIMEOUT_S + 1.5, "408 came %.2f s after connect" % took)
        self.assertGreater(len(answered), 5)
        self.assertTrue(all(ok for ok, _ in answered), answered)
        self.assertLess(max(t for _, t in answered), FAST_S, answered)
        # the attacker's address has its slots back
        st, _, _ = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", source=ATTACKER)
        self.assertEqual(st, 200)

    def test_idle_keepalive_is_closed_but_a_long_request_is_not(self):
        s = connect(self.srv.port, "127.0.0.1")
        s.sendall(("GET /v1/workers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % self.srv.token).encode())
        first = s.recv(65536)
        self.assertEqual(status_of(first), 200)
        t0 = time.monotonic()
        rest = read_all(s)  # idle keep-alive: the next head never comes
        s.close()
        self.assertIn(b"408", rest)
        self.assertLess(time.monotonic() - t0, HEAD_TIMEOUT_S + 1.5)

    def test_flood_of_bad_requests_does_not_starve_good_clients(self):
        stop = threading.Event()
        sent = [0]

        def flood():
            while not stop.is_set():
                try:
                    self.raw(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
                             source=ATTACKER)
                    sent[0] += 1
                except OSError:
                    time.sleep(0.01)

        floods = [threading.Thread(target=flood) for _ in range(PER_IP)]
        for f in floods:
            f.start()
        try:
            times = []
            for _ in range(20):
                t = time.monotonic()
                self.assertTrue(self.good_client_ok())
                times.append(time.monotonic() - t)
        finally:
            stop.set()
            for f in floods:
                f.join()
        self.assertGreater(sent[0], 20)
        self.assertLess(max(times), FAST_S, times)


if __name__ == "__main__":
    unittest.main()
