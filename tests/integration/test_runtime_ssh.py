#!/usr/bin/python3
"""The runtime family over an ssh:// endpoint: `docker system dial-stdio` on
a private sshd (127.0.0.11) whose user runs the docker CLI against a private
dockerd. Sessions are reused across jobs; a changed host key is refused."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import sshd  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
IMG = dockerd.BUSYBOX_IMAGE


class RuntimeSshTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = dockerd.Dockerd.start(env.tmp)
        cls.d.busybox_image()
        cls.s = sshd.Sshd.start("127.0.0.11", env.tmp)
        # The remote "docker" is the CLI pointed at the private engine only.
        cls.dir = tempfile.mkdtemp(prefix="rtssh-", dir=env.tmp)
        wrapper = os.path.join(cls.dir, "docker-private")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec /usr/local/bin/docker -H unix://%s \"$@\"\n" % cls.d.sock
                    if os.path.exists("/usr/local/bin/docker") else
                    "#!/bin/sh\nexec docker -H unix://%s \"$@\"\n" % cls.d.sock)
        os.chmod(wrapper, 0o755)
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cfg = os.path.join(cls.dir, "worker.ini")
        with open(cfg, "w") as f:
            for name, extra in (("remote", {}), ("badkey", {"fingerprint": "SHA256:" + "A" * 43})):
                f.write("[host.%s]\n" % name)
                for k, v in cls.s.inventory(name, docker="ssh://", docker_cmd=wrapper, **extra).items():
                    f.write("%s = %s\n" % (k.split(".", 2)[2], v))
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=2, families="runtime",
                                      args=["--config", cfg])

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        cls.s.stop()
        cls.d.stop()

    def job(self, type_, args=None, target="remote", ok=True):
        p = env.wharf(["submit", "runtime." + type_, "--target", target, "--args-json", json.dumps(args or {}),
                       "--max-attempts", "1", "--wait", "--timeout", "60"], self.amqp, self.prefix, timeout=90)
        s = json.loads(env.wharf(["status", "--json", p.stdout.split()[0]], self.amqp, self.prefix).stdout)
        if ok is True:
            self.assertEqual(s["state"], "succeeded", s)
        else:
            self.assertEqual(s.get("error"), ok, s)
        return s

    def test_lifecycle_logs_and_exec_over_ssh(self):
        s = self.job("host.ping")
        self.assertEqual(s["result"]["api_version"], "1.41")
        logins = self.s.log_text_count("Accepted publickey")
        self.job("container.run", {"name": "sshc", "image": IMG, "cmd": ["sh", "-c", "echo over-ssh; sleep 300"]})
        s = self.job("container.exec", {"name": "sshc", "cmd": ["echo", "exec-ok"]})
        self.assertEqual(s["result"]["exit_code"], 0)
        self.job("container.logs", {"name": "sshc"})
        key = "%shost:remote:ctr:sshc:log" % self.prefix
        self.assertEqual([e[1]["l"] for e in env.redis().xrange(key)], ["over-ssh"])
        self.job("container.stop", {"name": "sshc", "timeout_s": 0})
        s = self.job("container.stop", {"name": "sshc"}, ok="conflict")
        self.assertIn("not running", s["error_message"])
        self.job("container.remove", {"name": "sshc"})
        self.assertEqual(self.d.docker(["ps", "-aq"]).stdout.strip(), b"")
        # every request above rode on the same pooled session(s): no new logins per job
        self.assertLessEqual(self.s.log_text_count("Accepted publickey") - logins, 2)

    def test_pinned_fingerprint_mismatch_is_refused(self):
        s = self.job("host.ping", target="badkey", ok="host_key_mismatch")
        self.assertIn("does not match the pinned fingerprint", s["error_message"])


if __name__ == "__main__":
    unittest.main()
