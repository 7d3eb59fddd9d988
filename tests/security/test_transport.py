#!/usr/bin/python3
"""Transport security against real servers started by this test:

- a RabbitMQ with a TLS listener (certificates made here with openssl: a CA
  and a server certificate for 127.0.0.1) and a password user of its own;
- a Redis with `requirepass` and an ACL user.

A worker and the CLI run jobs over amqps:// with user and password and
Redis AUTH (password, then ACL user and password). Wrong CA, wrong
passwords and plain AMQP against the TLS port each fail with a clear error
that never contains the password; the passwords appear in no log, no Redis
key and no value."""
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import redis  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
SRC = env.src
AMQP_PASS = "amqp-canary-" + secrets.token_hex(8)
REDIS_PASS = "redis-canary-" + secrets.token_hex(8)
ACL_PASS = "acl-canary-" + secrets.token_hex(8)
CANARIES = (AMQP_PASS, REDIS_PASS, ACL_PASS)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def free_port():
    ports = run([sys.executable, os.path.join(SRC, "tests", "lib", "freeport.py")]).stdout.split()
    return int(ports[0])


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1 / localhost."""
    def ossl(*args):
        cp = run(["openssl"] + list(args), cwd=d)
        if cp.returncode != 0:
            raise RuntimeError("openssl %s: %s" % (args[0], cp.stderr))
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=wharf test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    # a second CA that signed nothing here: "wrong CA"
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2",
         "-subj", "/CN=some other CA")
    os.chmod(os.path.join(d, "server.key"), 0o644)  # read by the broker's own user (root here)


class TransportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="transport-", dir=env.tmp)
        make_certs(cls.dir)
        cls.tls_port = free_port()
        extra = os.path.join(cls.dir, "tls.conf")
        with open(extra, "w") as f:
            f.write("listeners.ssl.default = 127.0.0.1:%d\n" % cls.tls_port)
            f.write("ssl_options.cacertfile = %s/ca.pem\n" % cls.dir)
            f.write("ssl_options.certfile = %s/server.pem\n" % cls.dir)
            f.write("ssl_options.keyfile = %s/server.key\n" % cls.dir)
            f.write("ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n")
        cls.rmq = os.path.join(cls.dir, "rabbitmq")
        script = ('source "$1/tests/lib/servers.sh" && WHARF_RMQ_EXTRA_CONF="$2" wharf_rabbit_start "$3" && '
                  'echo "PORT=$WHARF_RMQ_AMQP_PORT"')
        cp = run(["bash", "-c", script, "x", SRC, extra, cls.rmq], timeout=300)
        if cp.returncode != 0:
            raise RuntimeError("private RabbitMQ did not start:\n%s\n%s" % (cp.stdout, cp.stderr))
        cls.plain_port = int(cp.stdout.strip().split("PORT=")[-1])
        ctl = os.path.join(cls.rmq, "bin", "rabbitmqctl")
        for args in (["add_user", "wharfu", AMQP_PASS], ["set_permissions", "-p", "/", "wharfu", ".*", ".*", ".*"]):
            r = run([ctl] + args, timeout=120)
            if r.returncode != 0:
                cls.tearDownClass()
                raise RuntimeError("rabbitmqctl %s: %s" % (args[0], r.stderr))
        # Redis with a password for the default user and an ACL user
        cls.redis_port = free_port()
        rdir = os.path.join(cls.dir, "redis")
        os.makedirs(rdir)
        cls.redis_log = open(os.path.join(rdir, "redis.log"), "w")
        cls.redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(cls.redis_port), "--bind", "127.0.0.1", "--dir", rdir, "--save", "",
             "--appendonly", "no", "--requirepass", REDIS_PASS,
             "--user", "wharfacl", "on", ">" + ACL_PASS, "~*", "&*", "+@all"],
            stdout=cls.redis_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=wharftest._set_pdeathsig)
        r = redis.Redis(host="127.0.0.1", port=cls.redis_port, password=REDIS_PASS, decode_responses=True)
        wharftest.wait_for(lambda: cls._ping(r), 10, what="the private Redis")
        cls.r = r

    @staticmethod
    def _ping(r):
        try:
            return r.ping()
        except redis.exceptions.ConnectionError:
            return False

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "redis_proc", None) and cls.redis_proc.poll() is None:
            cls.redis_proc.send_signal(signal.SIGTERM)
            cls.redis_proc.wait(timeout=20)
        if getattr(cls, "redis_log", None):
            cls.redis_log.close()
        run(["bash", "-c", 'source "$1/tests/lib/servers.sh" && wharf_rabbit_stop "$2"', "x", SRC, cls.rmq],
            timeout=180)
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def amqps(self, password=AMQP_PASS, port=None, scheme="amqps"):
        return "%s://wharfu:%s@localhost:%d/%%2f" % (scheme, password, port or self.tls_port)

    def redis_url(self, user="", password=REDIS_PASS):
        return "redis://%s:%s@127.0.0.1:%d/0" % (user, password, self.redis_port)

    def child_env(self, amqp, redis_url, prefix, ca=None):
        e = env.child_env(amqp, prefix)
        e["WHARF_REDIS_URL"] = redis_url
        e["WHARF_AMQP_CACERT"] = ca or os.path.join(self.dir, "ca.pem")
        return e

    def cli(self, args, amqp, redis_url, prefix, ca=None, timeout=60):
        return run([env._bin("wharf")] + args, env=self.child_env(amqp, redis_url, prefix, ca), timeout=timeout)

    def worker(self, amqp, redis_url, prefix, ca=None, seconds=None):
        """Start a worker; with `seconds`, let it run that long, stop it and
        return (returncode, output)."""
        log = os.path.join(self.dir, "worker-%s.log" % secrets.token_hex(4))
        f = open(log, "w")
        p = subprocess.Popen([env._bin("wharf-worker"), "-c", "2", "--families", "system"],
                             env=self.child_env(amqp, redis_url, prefix, ca), stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, preexec_fn=wharftest._set_pdeathsig)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(), f.close()))
        if seconds is None:
            return p, log
        try:
            rc = p.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
        with open(log, errors="replace") as g:
            return rc, g.read()

    def assert_no_canary(self, text, where):
        for c in CANARIES:
            self.assertNotIn(c, text, "a password leaked into %s" % where)

    def assert_redis_clean(self):
        for key in self.r.scan_iter(count=1000):
            self.assert_no_canary(key, "a Redis key")
            t = self.r.type(key)
            if t == "hash":
                self.assert_no_canary(repr(self.r.hgetall(key)), "hash " + key)
            elif t == "string":
                self.assert_no_canary(repr(self.r.get(key)), "string " + key)
            elif t == "list":
                self.assert_no_canary(repr(self.r.lrange(key, 0, -1)), "list " + key)
            elif t == "zset":
                self.assert_no_canary(repr(self.r.zrange(key, 0, -1)), "zset " + key)
            elif t == "stream":
                self.assert_no_canary(repr(self.r.xrange(key)), "stream " + key)

    # ---------------------------------------------------------------- tests

    def run_job_through(self, redis_url):
        prefix = env.new_prefix()
        p, log = self.worker(self.amqps(), redis_url, prefix)
        sub = self.cli(["submit", "system.log", "--arg", "lines=3", "--wait", "--timeout", "60"],
                       self.amqps(), redis_url, prefix)
        self.assertEqual(sub.returncode, 0, sub.stdout + sub.stderr)
        jid = sub.stdout.split()[0]
        self.assertEqual(self.r.hget(prefix + "job:" + jid, "state"), "succeeded")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=30), 0)
        with open(log, errors="replace") as g:
            self.assert_no_canary(g.read(), "the worker log")
        self.assert_no_canary(sub.stdout + sub.stderr, "the CLI output")

    def test_jobs_over_amqps_with_a_password_user_and_redis_auth(self):
        self.run_job_through(self.redis_url())
        self.assert_redis_clean()

    def test_redis_acl_user(self):
        self.run_job_through(self.redis_url("wharfacl", ACL_PASS))
        self.assert_redis_clean()

    def test_wrong_ca_is_refused_clearly(self):
        sub = self.cli(["submit", "system.noop"], self.amqps(), self.redis_url(), env.new_prefix(),
                       ca=os.path.join(self.dir, "other.pem"))
        self.assertNotEqual(sub.returncode, 0)
        out = sub.stdout + sub.stderr
        self.assertRegex(out.lower(), r"tls|ssl|certificate|verify")
        self.assert_no_canary(out, "the CLI error")

    def test_plain_amqp_against_the_tls_port_fails_and_does_not_hang(self):
        t0 = time.monotonic()
        sub = self.cli(["submit", "system.noop"], self.amqps(scheme="amqp"), self.redis_url(), env.new_prefix(),
                       timeout=120)
        self.assertNotEqual(sub.returncode, 0)
        self.assertLess(time.monotonic() - t0, 60)
        self.assert_no_canary(sub.stdout + sub.stderr, "the CLI error")

    def test_wrong_amqp_password_is_a_clear_error(self):
        wrong = "wrong-" + secrets.token_hex(6)
        sub = self.cli(["submit", "system.noop"], self.amqps(password=wrong), self.redis_url(), env.new_prefix())
        self.assertNotEqual(sub.returncode, 0)
        out = sub.stdout + sub.stderr
        self.assertRegex(out.lower(), r"access_refused|login|auth|refused")
        self.assertNotIn(wrong, out)
        rc, log = self.worker(self.amqps(password=wrong), self.redis_url(), env.new_prefix(), seconds=5)
        self.assertRegex(log.lower(), r"access_refused|login|auth|refused")
        self.assertNotIn(wrong, log)
        self.assert_no_canary(log, "the worker log")

    def test_wrong_redis_password_is_a_clear_error(self):
        wrong = "wrong-" + secrets.token_hex(6)
        for url in (self.redis_url(password=wrong), self.redis_url("wharfacl", wrong)):
            sub = self.cli(["submit", "system.noop"], self.amqps(), url, env.new_prefix())
            self.assertNotEqual(sub.returncode, 0)
            out = sub.stdout + sub.stderr
            self.assertRegex(out.lower(), r"auth|password|wrongpass")
            self.assertNotIn(wrong, out)
            rc, log = self.worker(self.amqps(), url, env.new_prefix(), seconds=5)
            self.assertRegex(log.lower(), r"auth|password|wrongpass")
            self.assertNotIn(wrong, log)

    def test_no_password_on_a_password_redis_is_a_clear_error(self):
        sub = self.cli(["submit", "system.noop"], self.amqps(), "redis://127.0.0.1:%d/0" % self.redis_port,
                       env.new_prefix())
        self.assertNotEqual(sub.returncode, 0)
        self.assertRegex((sub.stdout + sub.stderr).lower(), r"noauth|auth")


if __name__ == "__main__":
    unittest.main()
