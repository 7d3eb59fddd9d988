#!/usr/bin/python3
"""deploy/compose/docker-compose.yml through Debian's docker-compose
(`config` validates against the Compose schema and resolves it), then the
resolved model: four services with healthchecks, a worker service that can
scale (no container_name, no host port), drains within stop_grace_period,
loopback-only ports, and a worker.ini the worker accepts. A schema mistake
in a copy must make docker-compose fail."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402

env = wharftest.Env()
SRC = os.path.join(env.src, "deploy", "compose")


def compose():
    exe = shutil.which("docker-compose")
    if not exe:  # fail, never skip: tests/run installs it (tests/lib/packages.txt)
        raise RuntimeError("docker-compose not found: apt-get install docker-compose (tests/lib/packages.txt)")
    return exe


class ComposeTest(unittest.TestCase):
    def copy(self):
        d = tempfile.mkdtemp(prefix="compose-", dir=env.tmp)
        for f in os.listdir(SRC):
            shutil.copy(os.path.join(SRC, f), d)
        with open(os.path.join(d, "tokens"), "w") as f:
            f.write("a-test-token-of-enough-length\n")
        return d

    def config(self, d, ok=True):
        e = dict(os.environ, WHARF_MQ_PASSWORD="pw-from-env")
        for k in ("DOCKER_HOST", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME"):
            e.pop(k, None)
        cp = subprocess.run([compose(), "-f", os.path.join(d, "docker-compose.yml"), "config"], capture_output=True,
                            text=True, timeout=120, env=e, cwd=d, stdin=subprocess.DEVNULL)
        if ok:
            self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp

    def test_config_resolves_cleanly(self):
        d = self.copy()
        cp = self.config(d)
        self.assertEqual(cp.stderr.strip(), "", "docker-compose warned (something would be ignored?)")
        m = yaml.safe_load(cp.stdout)
        svc = m["services"]
        self.assertEqual(sorted(svc), ["rabbitmq", "redis", "serve", "worker"])
        for name, s in svc.items():
            self.assertIn("test", s.get("healthcheck", {}), "%s has no healthcheck" % name)
            for p in s.get("ports", []):
                self.assertTrue(str(p).startswith("127.0.0.1:"), "%s publishes %s beyond loopback" % (name, p))
        w = svc["worker"]
        self.assertNotIn("container_name", w, "a fixed name breaks --scale worker=N")
        self.assertNotIn("ports", w, "a host port breaks --scale worker=N")
        for s in ("serve", "worker"):
            self.assertEqual(svc[s]["depends_on"], {"rabbitmq": {"condition": "service_healthy"},
                                                     "redis": {"condition": "service_healthy"}})
            self.assertIn("amqp://wharf:pw-from-env@rabbitmq:5672/", svc[s]["environment"]["WHARF_AMQP_URL"])
            self.assertTrue(svc[s].get("read_only"), s)
        self.assertEqual(svc["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"], "pw-from-env")
        self.assertTrue(any(v.endswith(":/etc/wharf/worker.ini:ro") for v in w["volumes"]), w["volumes"])
        self.assertEqual(w["command"], ["--config", "/etc/wharf/worker.ini"])
        self.assertIn("wharf_tokens", m["secrets"])
        self.assertIn("/run/secrets/wharf_tokens", svc["serve"]["command"])

        # the drain fits: stop_grace_period outlasts the worker's grace_s
        grace = self.worker_grace(os.path.join(d, "worker.ini"))
        g = re.fullmatch(r"(\d+)s", w["stop_grace_period"])
        self.assertIsNotNone(g, w["stop_grace_period"])
        self.assertGreaterEqual(int(g.group(1)), grace + 10)
        self.assertEqual(w.get("stop_signal"), "SIGTERM")

    def worker_grace(self, ini):
        cp = subprocess.run([os.path.join(env.bin, "wharf-worker"), "--config", ini, "--check-config"],
                            capture_output=True, text=True, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("format = json", cp.stdout)
        return int(re.search(r"^grace_s = (\d+) +; ", cp.stdout, re.M).group(1))

    def test_schema_mistakes_fail(self):
        d = self.copy()
        path = os.path.join(d, "docker-compose.yml")
        with open(path) as f:
            good = f.read()
        with open(path, "w") as f:  # a misspelt key in the worker service
            f.write(good.replace("    stop_grace_period: 45s", "    stop_grace_perod: 45s"))
        cp = self.config(d, ok=False)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("stop_grace_perod", cp.stderr)
        with open(path, "w") as f:  # a wrong type: healthcheck retries as text
            f.write(good.replace("      retries: 12\n", "      retries: twelve\n", 1))
        cp = self.config(d, ok=False)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("retries", cp.stderr)


if __name__ == "__main__":
    unittest.main()
