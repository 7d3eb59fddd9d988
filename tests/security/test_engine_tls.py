#!/usr/bin/python3
"""The runtime family against a private dockerd that speaks TLS on a
tcp:// listener and verifies client certificates (--tlsverify), with
certificates made here with openssl: the engine's CA signs the engine's
certificate and the good client certificate; another CA signs a stranger's.

A client certificate the engine refuses, or an engine certificate we do not
trust, is a permanent `tls_error` naming the side that refused and why: one attempt, never retried, and the same message every time
(the peer's alert can arrive as an alert, a reset or a broken pipe: a
stand-in engine that resets every connection right after a TLS 1.3
handshake, before any answer, reads the same as dockerd's alert)."""


class ResetAfterHandshake:
    """A TLS 1.3 listener with the engine's certificate that completes each
    handshake and then resets the connection (SO_LINGER 0) without reading
    or answering: how a refused client certificate looks when the reset
    overtakes the server's alert."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                t = self.ctx.wrap_socket(c, server_side=True)
                self.handshakes += 1
                t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                t.close()
            except (OSError, ssl.SSLError):
                c.close()

    def stop(self):
        self.sock.close()
import json
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import freeport  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()


def ossl(d, *args):
    cp = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], cp.stderr))


def make_ca(d, name, cn):
    ossl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".pem",
         "-days", "2", "-subj", "/CN=" + cn)


def make_cert(d, name, ca, usage, san=None):
    ossl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
         "-subj", "/CN=" + name)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=%s\n" % usage)
        if san:
            f.write("subjectAltName=%s\n" % san)
    ossl(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
         "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")


class EngineTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        d = cls.dir = tempfile.mkdtemp(prefix="engtls-", dir=env.tmp)
        make_ca(d, "ca", "wharf engine CA")
        make_ca(d, "other", "some other CA")
        make_cert(d, "engine", "ca", "serverAuth", san="IP:127.0.0.1")
        make_cert(d, "client", "ca", "clientAuth")
        make_cert(d, "stranger", "other", "clientAuth")
        port = cls._port()
        f = lambda n: os.path.join(d, n)  # noqa: E731
        cls.d = dockerd.Dockerd.start(env.tmp, tls=dockerd.Tls("127.0.0.1", port, f("ca.pem"), f("engine.pem"),
                                                                 f("engine.key")))
        cls.resetter = ResetAfterHandshake(f("engine.pem"), f("engine.key"))
        hosts = {
            "good": (port, f("ca.pem"), f("client.pem"), f("client.key")),
            "stranger": (port, f("ca.pem"), f("stranger.pem"), f("stranger.key")),
            "untrusted": (port, f("other.pem"), f("client.pem"), f("client.key")),
            "resetter": (cls.resetter.port, f("ca.pem"), f("client.pem"), f("client.key")),
        }
        cfg = os.path.join(d, "worker.ini")
        with open(cfg, "w") as out:
            for name, (p, ca, cert, key) in hosts.items():
                out.write("[host.%s]\ndocker = tcp://127.0.0.1:%d\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n"
                          % (name, p, ca, cert, key))
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=2, families="runtime",
                                      args=["--config", cfg])

    @staticmethod
    def _port():
        for _ in range(200):
            p = random.randrange(20000, 32000)
            if freeport.port_free(p):
                return p
        raise RuntimeError("no free port")

    @classmethod
    def tearDownClass(cls):
        for stop in (lambda: cls.worker.stop(), lambda: cls.d.stop(), lambda: cls.resetter.stop()):
            try:
                stop()
            except AttributeError:
                pass  # set-up failed before it was made

    def ping(self, target):
        p = env.wharf(["submit", "runtime.host.ping", "--target", target, "--max-attempts", "3", "--wait",
                       "--timeout", "60"], self.amqp, self.prefix, timeout=90)
        jid = p.stdout.split()[0] if p.stdout.split() else None
        self.assertIsNotNone(jid, p.stderr)
        return json.loads(env.wharf(["status", "--json", jid], self.amqp, self.prefix).stdout)

    def assert_tls_error(self, target, says):
        """Five jobs: each one attempt, `failed` with tls_error, the same
        message, naming the cause."""
        seen = set()
        for _ in range(5):
            s = self.ping(target)
            self.assertEqual((s["state"], s.get("error"), s["attempt"]), ("failed", "tls_error", 1), s)
            self.assertIn(says, s["error_message"])
            self.assertIn("host %s" % target, s["error_message"])
            seen.add(s["error_message"])
        self.assertEqual(len(seen), 1, seen)
        return seen.pop()

    def test_good_client_certificate_works(self):
        s = self.ping("good")
        self.assertEqual(s["state"], "succeeded", s)

    def test_client_certificate_from_another_ca_is_a_permanent_tls_error(self):
        m = self.assert_tls_error("stranger", "engine refused the TLS handshake with our client certificate")
        self.assertIn("stranger.pem", m)
        self.assertIn("failed to verify client certificate", self.d.log_tail(200))

    def test_a_reset_right_after_the_handshake_reads_as_the_same_refusal(self):
        before = self.resetter.handshakes
        self.assert_tls_error("resetter", "engine refused the TLS handshake with our client certificate")
        self.assertGreaterEqual(self.resetter.handshakes - before, 5)  # the handshakes did complete

    def test_untrusted_engine_certificate_is_a_permanent_tls_error(self):
        m = self.assert_tls_error("untrusted", "engine certificate not trusted")
        self.assertIn("tls_ca", m)


if __name__ == "__main__":
    unittest.main()
