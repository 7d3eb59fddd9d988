#!/usr/bin/python3
"""The runtime family over ssh:// in socket mode: the inventory host `dock`
names the engine's unix socket (`socket = ...`) and the worker forwards it
over the SSH session (a direct-streamlocal channel to a private sshd on
127.0.0.14), with no docker CLI involved. Every case of test_runtime.py runs
here against the private dockerd; test_runtime_podman_ssh.py runs them
against a private Podman. On top: the socket comes only from the inventory
(a job cannot name one), and a socket the host cannot connect to says so."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sshd  # noqa: E402
import test_runtime  # noqa: E402

env = test_runtime.env


class SshSocketCases(test_runtime.RuntimeCases):
    """The cases with `dock` reached through its engine socket over SSH,
    plus the socket-mode ones."""

    ssh_address = "127.0.0.14"

    @classmethod
    def start_transport(cls):
        cls.s = sshd.Sshd.start(cls.ssh_address, env.tmp)

    @classmethod
    def stop_transport(cls):
        if getattr(cls, "s", None):
            cls.s.stop()

    @classmethod
    def host_sections(cls, with_gone=True):
        # `docker_cmd` names a command that does not exist: socket mode never runs it
        hosts = [("dock", {"roots": cls.roots, "socket": cls.d.sock}),
                 ("nosock", {"socket": cls.roots + "/no-engine.sock"})]
        text = ""
        for name, extra in hosts:
            text += "[host.%s]\n" % name
            for k, v in cls.s.inventory(name, docker="ssh://", docker_cmd="/nonexistent/docker", **extra).items():
                text += "%s = %s\n" % (k.split(".", 2)[2], v)
        if with_gone:
            text += "[host.gone]\ndocker = unix://%s/nothing.sock\n" % cls.roots
        return text

    # ---------------------------------------------------------------- socket mode only

    def test_socket_mode_needs_no_cli_and_reuses_sessions(self):
        self.job("host.ping")
        logins = self.s.log_text_count("Accepted publickey")
        self.job("container.run", {"name": "sockc", "image": test_runtime.IMG, "cmd": ["sleep", "300"]})
        s = self.job("container.exec", {"name": "sockc", "cmd": ["echo", "exec-ok"]})
        self.assertEqual(s["result"]["exit_code"], 0)
        self.job("container.remove", {"name": "sockc", "force": True})
        self.assertLessEqual(self.s.log_text_count("Accepted publickey") - logins, 4)
        # the channels were stream-local forwards, never an exec of docker_cmd
        self.assertEqual(self.s.log_text_count("/nonexistent/docker"), 0)

    def test_a_socket_the_host_cannot_reach_is_unreachable(self):
        s = self.job("host.ping", target="nosock", ok="unreachable", extra=["--max-attempts", "1"])
        self.assertIn("could not connect to socket %s/no-engine.sock" % self.roots, s["error_message"])
        self.assertIn("docker on host nosock", s["error_message"])

    def test_a_job_cannot_choose_the_socket(self):
        # The socket is an inventory field only: no runtime type has an arg for it.
        for type_ in ("host.ping", "container.list", "container.inspect"):
            args = {"socket": "/var/run/docker.sock"}
            if type_ == "container.inspect":
                args["name"] = "x"
            p = env.wharf(["submit", "runtime." + type_, "--target", "nosock", "--args-json", json.dumps(args)],
                          self.amqp, self.prefix)
            self.assertEqual(p.returncode, 2, (type_, p.stderr))
            self.assertIn("args.socket", p.stderr)
            # straight to the worker, past the CLI's check: refused there too,
            # before any channel is opened
            before = self.s.log_text_count("streamlocal")
            s = self.job(type_, args, target="nosock", ok="bad_args", extra=["--no-validate"])
            self.assertIn("args.socket", s["error_message"])
            self.assertEqual(self.s.log_text_count("streamlocal"), before)

    def test_socket_outside_ssh_or_relative_is_refused_by_the_config(self):
        for extra, needle in (("docker = unix:///tmp/x.sock\nsocket = /run/podman/podman.sock\n",
                               "host.bad.socket: only for docker = ssh:// endpoints"),
                              ("docker = ssh://127.0.0.1\nsocket = run/podman.sock\n",
                               "host.bad.socket: must be an absolute path")):
            cfg = os.path.join(env.tmp, "socket-bad-%s.ini" % os.urandom(4).hex())
            with open(cfg, "w") as f:
                f.write("[host.bad]\n" + extra)
            p = subprocess.run([os.path.join(env.bin, "wharf-worker"), "--check-config", "-f", cfg],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 78, p.stdout)  # EX_CONFIG
            self.assertIn(needle, p.stderr)


class RuntimeSshSocketTest(SshSocketCases, unittest.TestCase):
    """The private dockerd's socket over SSH."""


if __name__ == "__main__":
    unittest.main()
