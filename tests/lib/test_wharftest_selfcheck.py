#!/usr/bin/python3
"""Self-check of tests/lib/wharftest.py against the servers started by tests/run.

Needs no wharf binary: worker/CLI handling is checked with small fake
executables written to a temporary directory.
"""
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wharftest  # noqa: E402

try:
    import pika
except ImportError:  # python3-pika is in tests/lib/packages.txt
    pika = None

FAKE_WORKER = textwrap.dedent("""\
    #!/bin/sh
    echo "fake-worker args: $*"
    echo "fake-worker queue_type=$WHARF_AMQP_QUEUE_TYPE prefix=$WHARF_REDIS_PREFIX" >&2
    key="${WHARF_REDIS_PREFIX}worker:fake-$$"
    trap 'echo "fake-worker got TERM" >&2; redis-cli -u "$WHARF_REDIS_URL" del "$key" >/dev/null; exit 0' TERM
    [ -n "$FAKE_EXIT" ] && exit "$FAKE_EXIT"
    [ -n "$FAKE_NO_REGISTER" ] || redis-cli -u "$WHARF_REDIS_URL" hset "$key" pid $$ host fake >/dev/null
    while :; do sleep 0.05; done
    """)

FAKE_CLI = textwrap.dedent("""\
    #!/bin/sh
    echo "args=$*"
    echo "amqp=$WHARF_AMQP_URL"
    echo "prefix=$WHARF_REDIS_PREFIX"
    [ "$1" = "cat" ] && cat
    [ "$1" = "hang" ] && exec sleep 30
    exit 0
    """)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): check its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class SelfCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = wharftest.Env()
        cls.fakedir = tempfile.mkdtemp(prefix="fakebin-", dir=cls.env.tmp)
        for name, text in (("wharf-worker", FAKE_WORKER), ("wharf", FAKE_CLI)):
            p = os.path.join(cls.fakedir, name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        fake_environ = dict(os.environ)
        fake_environ["WHARF_BIN"] = cls.fakedir
        cls.fake = wharftest.Env(environ=fake_environ)

    def test_missing_variable_is_named(self):
        environ = {"WHARF_TEST_AMQP_URL": "amqp://x/", "WHARF_TEST_REDIS_URL": "redis://x/0"}
        with self.assertRaises(RuntimeError) as cm:
            wharftest.Env(environ=environ)
        self.assertIn("WHARF_TEST_MGMT_URL", str(cm.exception))

    def test_new_prefix(self):
        a, b = self.env.new_prefix(), self.env.new_prefix()
        self.assertRegex(a, r"^t[0-9a-f]{8}:$")
        self.assertNotEqual(a, b)

    def test_redis(self):
        p = self.env.new_prefix()
        r = self.env.redis()
        self.assertTrue(r.ping())
        r.set(p + "k", "v\u00e9")
        self.assertEqual(r.get(p + "k"), "v\u00e9")
        self.assertEqual(self.env.redis_raw().get(p + "k"), "v\u00e9".encode())

    def test_new_vhost(self):
        url = self.env.new_vhost()
        v = self.env.vhost_of(url)
        self.assertTrue(v.startswith("wharft-"), v)
        self.assertTrue(url.endswith("/" + v), url)
        info = self.env.mgmt("GET", "/api/vhosts/" + v)
        self.assertEqual(info["name"], v)
        perms = self.env.mgmt("GET", "/api/vhosts/%s/permissions" % v)
        self.assertIn(self.env.amqp_user, [p["user"] for p in perms])
        self.assertNotEqual(self.env.vhost_of(self.env.new_vhost()), v)
        self.assertEqual(self.env.vhost_of(self.env.amqp_url), "/")
        self.assertEqual(self.env.vhost_of("amqp://h/a%2Fb"), "a/b")
        self.assertEqual(self.env.vhost_of("amqp://h"), "/")

    def test_vhost_name_needing_encoding(self):
        url = self.env.new_vhost("wharft-" + self.env.new_prefix().strip(":") + "/x y")
        self.assertIn("%2Fx%20y", url)
        self.assertTrue(self.env.vhost_of(url).endswith("/x y"))
        self.env.delete_vhost(url)
        self.assertIsNone(self.env.mgmt("GET", "/api/vhosts/" + self.env._q(self.env.vhost_of(url)), ok_404=True))

    @unittest.skipIf(pika is None, "python3-pika not installed")
    def test_queue_depth_and_get_messages(self):
        url = self.env.new_vhost()
        conn = pika.BlockingConnection(pika.URLParameters(url))
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            for qname, qtype in (("q.classic", "classic"), ("q.quorum", "quorum")):
                ch.queue_declare(qname, durable=True, arguments={"x-queue-type": qtype})
                for i in range(3):
                    ch.basic_publish("", qname, b"\x81\xa1i" + bytes([i]),
                                     pika.BasicProperties(content_type="application/msgpack", delivery_mode=2,
                                                          message_id="m%d" % i, type="system.noop",
                                                          headers={"wharf-schema": 1, "s": "x"}),
                                     mandatory=True)
        finally:
            conn.close()
        for qname in ("q.classic", "q.quorum"):
            depth = wharftest.wait_for(lambda: self.env.queue_depth(url, qname) == 3 and 3,
                                       timeout=15, what="depth of %s == 3" % qname)
            self.assertEqual(depth, 3)
            msgs = self.env.get_messages(url, qname, 5)
            self.assertEqual(len(msgs), 3)
            self.assertEqual([m["payload"] for m in msgs], [b"\x81\xa1i" + bytes([i]) for i in range(3)])
            self.assertEqual(msgs[0]["body"], msgs[0]["payload"])
            self.assertEqual(msgs[0]["properties"]["content_type"], "application/msgpack")
            self.assertEqual(msgs[0]["properties"]["message_id"], "m0")
            self.assertEqual(msgs[0]["headers"]["wharf-schema"], 1)
            self.assertEqual(msgs[0]["headers"]["s"], "x")
            # ack_requeue_true: still there
            wharftest.wait_for(lambda: self.env.queue_depth(url, qname) == 3, timeout=15,
                               what="depth of %s still 3 after peeking" % qname)
        self.assertEqual(self.env.list_queues(url), ["q.classic", "q.quorum"])
        # another vhost does not see these queues
        other = self.env.new_vhost()
        self.assertIsNone(self.env.queue_info(other, "q.classic"))
        self.assertEqual(self.env.list_queues(other), [])

    def test_queue_depth_missing_queue(self):
        url = self.env.new_vhost()
        with self.assertRaises(AssertionError):
            self.env.queue_depth(url, "nope", timeout=0.3)

    def test_publish_raw(self):
        url = self.env.new_vhost()
        self.env.mgmt("PUT", "/api/queues/%s/raw" % self.env._q(self.env.vhost_of(url)),
                      {"durable": True, "arguments": {"x-queue-type": "quorum"}})
        self.assertTrue(self.env.publish_raw(url, "", "raw", b"\xc1\x00\xff",
                                             {"headers": {"wharf-schema": 1}, "delivery_mode": 2}))
        self.assertFalse(self.env.publish_raw(url, "", "no-such-queue", b"x"))
        wharftest.wait_for(lambda: self.env.queue_depth(url, "raw") == 1, timeout=15, what="raw depth 1")
        (m,) = self.env.get_messages(url, "raw", 1)
        self.assertEqual(m["payload"], b"\xc1\x00\xff")
        self.assertEqual(m["headers"]["wharf-schema"], 1)  # quorum queues add x-delivery-count

    def test_wait_for(self):
        t0 = time.monotonic()
        calls = []
        self.assertEqual(wharftest.wait_for(lambda: calls.append(1) or (len(calls) >= 3 and "ok")), "ok")
        with self.assertRaises(AssertionError) as cm:
            wharftest.wait_for(lambda: 0, timeout=0.2, what="the impossible")
        self.assertIn("the impossible", str(cm.exception))
        self.assertLess(time.monotonic() - t0, 5)

    def test_fake_worker_lifecycle(self):
        url = self.env.new_vhost()
        prefix = self.env.new_prefix()
        w1 = self.fake.start_worker(url, prefix, concurrency=2, families="system", queue_type="classic")
        w2 = self.fake.start_worker(url, prefix)
        self.assertEqual(w1.worker_id, "fake-%d" % w1.pid)
        self.assertEqual(w2.worker_id, "fake-%d" % w2.pid)
        self.assertTrue(w1.alive())
        r = self.env.redis()
        self.assertEqual(r.hget(prefix + "worker:" + w1.worker_id, "pid"), str(w1.pid))
        log = w1.log_text()
        self.assertIn("fake-worker args: -c 2 --families system", log)
        self.assertIn("queue_type=classic prefix=" + prefix, log)
        self.assertIn("queue_type=quorum", w2.log_text())
        self.assertEqual(w1.stop(), 0)
        self.assertIn("fake-worker got TERM", w1.log_text())
        self.assertFalse(r.exists(prefix + "worker:" + w1.worker_id))
        self.assertEqual(w2.kill(), -signal.SIGKILL)
        self.assertFalse(_alive(w2.pid))

    def test_fake_worker_exits_early(self):
        with self.assertRaises(RuntimeError) as cm:
            self.fake.start_worker(self.env.amqp_url, self.env.new_prefix(), extra_env={"FAKE_EXIT": "3"})
        self.assertIn("exited with status 3", str(cm.exception))
        self.assertIn("fake-worker args", str(cm.exception))

    def test_fake_worker_never_registers(self):
        t0 = time.monotonic()
        with self.assertRaises(RuntimeError) as cm:
            self.fake.start_worker(self.env.amqp_url, self.env.new_prefix(), ready_timeout=1,
                                   extra_env={"FAKE_NO_REGISTER": "1"})
        self.assertIn("did not register", str(cm.exception))
        self.assertLess(time.monotonic() - t0, 10)

    def test_workers_stopped_at_exit(self):
        # A child interpreter starts a worker and exits without stopping it
        # (atexit must stop it); another is SIGKILLed (PDEATHSIG must).
        lib = os.path.dirname(os.path.abspath(__file__))
        script = textwrap.dedent("""\
            import os, sys, time
            sys.path.insert(0, %r)
            import wharftest
            env = wharftest.Env()
            url = env.new_vhost()
            w = env.start_worker(url, env.new_prefix())
            print(w.pid, url, flush=True)
            if sys.argv[1] == "hang":
                time.sleep(60)
            """ % lib)
        environ = dict(os.environ, WHARF_BIN=self.fakedir)
        for mode in ("exit", "hang"):
            p = subprocess.Popen([sys.executable, "-c", script, mode], env=environ, stdout=subprocess.PIPE,
                                 text=True)
            pid, url = p.stdout.readline().split()
            pid = int(pid)
            self.assertTrue(_alive(pid))
            if mode == "hang":
                p.kill()
            p.wait(timeout=30)
            p.stdout.close()
            wharftest.wait_for(lambda: not _alive(pid), timeout=10, what="worker %d gone (%s)" % (pid, mode))
            vhost_path = "/api/vhosts/" + self.env._q(self.env.vhost_of(url))
            if mode == "exit":  # atexit also deleted the vhost it created
                self.assertIsNone(self.env.mgmt("GET", vhost_path, ok_404=True))
            else:
                self.env.delete_vhost(url)

    def test_wharf_cli(self):
        url = self.env.new_vhost()
        prefix = self.env.new_prefix()
        cp = self.fake.wharf(["status", "abc"], url, prefix)
        self.assertEqual(cp.returncode, 0)
        self.assertIn("args=status abc", cp.stdout)
        self.assertIn("amqp=" + url, cp.stdout)
        self.assertIn("prefix=" + prefix, cp.stdout)
        cp = self.fake.wharf(["cat"], url, prefix, input="hello\n")
        self.assertTrue(cp.stdout.endswith("hello\n"))
        cp = self.fake.wharf(["cat"], url, prefix, input=b"\x00\x01")
        self.assertTrue(cp.stdout.endswith(b"\x00\x01"))
        t0 = time.monotonic()
        with self.assertRaises(AssertionError) as cm:
            self.fake.wharf(["hang"], url, prefix, timeout=1)
        self.assertIn("timed out after 1s", str(cm.exception))
        self.assertIn("args=hang", str(cm.exception))
        self.assertLess(time.monotonic() - t0, 10)

    def test_rabbitmqctl(self):
        if not self.env.rabbitmqctl_cmd:
            self.skipTest("WHARF_TEST_RABBITMQCTL not set")
        url = self.env.new_vhost()
        cp = self.env.rabbitmqctl(["list_vhosts", "--quiet"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(self.env.vhost_of(url), cp.stdout.split())


if __name__ == "__main__":
    unittest.main(verbosity=2)
