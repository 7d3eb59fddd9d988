#!/usr/bin/env python3
"""amqp.url as a list (the nodes of a cluster; tests/cluster fails a real
cluster): against the one test broker, a first URL that refuses is skipped by
the worker, the CLI and the C library; a malformed entry is a configuration
error naming its position; --check-config masks every password of the list
and of a Sentinel URL."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import wharftest  # noqa: E402

DEAD = "amqp://guest:dead-canary-pw@127.0.0.1:1/%2f"  # port 1 on loopback refuses at once


class AmqpUrlListTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = wharftest.Env()
        cls.amqp = cls.env.new_vhost()

    @classmethod
    def tearDownClass(cls):
        cls.env.delete_vhost(cls.amqp)

    def test_a_refusing_first_url_is_skipped(self):
        prefix = self.env.new_prefix()
        urls = DEAD + ", " + self.amqp
        w = self.env.start_worker(urls, prefix)
        out = self.env.wharf(["submit", "system.noop", "--wait"], urls, prefix)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("succeeded", out.stdout)
        # The C library: one long-lived client over the same list.
        probe = subprocess.run([self.env._bin("wharf-client-probe")], input="submit system.noop {}\n",
                               env=self.env.child_env(urls, prefix), capture_output=True, text=True, timeout=60)
        lines = probe.stdout.split("\n")
        self.assertEqual(lines[0], "ready", probe.stdout + probe.stderr)
        self.assertTrue(lines[1].startswith("ok "), lines[1])
        job = lines[1].split()[1]
        r = self.env.redis()
        deadline = time.monotonic() + 20
        while r.hget(prefix + "job:" + job, "state") != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(r.hget(prefix + "job:" + job, "state"), "succeeded")
        self.assertEqual(w.stop(), 0, w.log_tail())
        self.assertNotIn("dead-canary-pw", w.log_text())

    def test_all_refusing_is_an_error_naming_the_count(self):
        prefix = self.env.new_prefix()
        urls = DEAD + "," + DEAD.replace(":1/", ":2/")
        out = self.env.wharf(["submit", "system.noop"], urls, prefix, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("tried all 2 brokers", out.stderr)
        self.assertNotIn("dead-canary-pw", out.stderr + out.stdout)

    def test_a_malformed_entry_is_a_config_error(self):
        prefix = self.env.new_prefix()
        env = self.env.child_env(self.amqp + ",http://127.0.0.1:1/", prefix)
        out = subprocess.run([self.env._bin("wharf-worker"), "--check-config"], env=env, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 78, out.stdout + out.stderr)
        self.assertIn("amqp.url: URL 2 must start with amqp:// or amqps://", out.stderr)

    def test_check_config_masks_every_password(self):
        prefix = self.env.new_prefix()
        env = self.env.child_env("amqp://u:first-canary@h1/%2f,amqp://u:second-canary@h2/%2f", prefix,
                                 extra_env={"WHARF_REDIS_URL": "redis://:third-canary@unused/3",
                                            "WHARF_REDIS_SENTINELS": "127.0.0.1:26379,127.0.0.2:26379",
                                            "WHARF_REDIS_MASTER_NAME": "main"})
        out = subprocess.run([self.env._bin("wharf-worker"), "--check-config"], env=env, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("url = amqp://u:***@h1/%2f,amqp://u:***@h2/%2f", out.stdout)
        self.assertIn("url = redis-sentinel://:***@127.0.0.1:26379,127.0.0.2:26379/main/3", out.stdout)
        for canary in ("first-canary", "second-canary", "third-canary"):
            self.assertNotIn(canary, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
