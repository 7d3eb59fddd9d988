#!/usr/bin/python3
"""The runtime family over an ssh:// endpoint: `docker system dial-stdio` on
a private sshd (127.0.0.11) whose user runs the docker CLI against a private
dockerd. Every case of test_runtime.py runs again here, unchanged, with the
inventory host `dock` reached over SSH (backups are written on the host over
SFTP, HTTP health probes go through a direct-tcpip channel, binds are
checked by the engine on the host). On top: sessions are reused across
jobs, a changed host key is refused, and when the remote docker_cmd cannot
reach its engine the job says what the command said."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sshd  # noqa: E402
import test_runtime  # noqa: E402

env = test_runtime.env
IMG = test_runtime.IMG


class RuntimeSshTest(test_runtime.RuntimeCases, unittest.TestCase):
    """The cases over ssh://, plus the SSH-only ones."""

    @classmethod
    def start_transport(cls):
        cls.s = sshd.Sshd.start("127.0.0.11", env.tmp)
        # The remote "docker" is the CLI pointed at the private engine only.
        cls.dir = tempfile.mkdtemp(prefix="rtssh-", dir=env.tmp)
        cls.wrapper = os.path.join(cls.dir, "docker-private")
        with open(cls.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec docker -H unix://%s \"$@\"\n" % cls.d.sock)
        os.chmod(cls.wrapper, 0o755)
        # A docker CLI the SSH user may run but that cannot reach an engine,
        # as when the user is not allowed on the docker socket.
        cls.denied = os.path.join(cls.dir, "docker-denied")
        with open(cls.denied, "w") as f:
            f.write("#!/bin/sh\necho 'permission denied while trying to connect to the Docker daemon socket at "
                    "unix:///var/run/docker.sock' >&2\nexit 1\n")
        os.chmod(cls.denied, 0o755)
        # One that works until the file `broken` appears, then fails the same way.
        cls.broken = os.path.join(cls.dir, "broken")
        cls.flaky = os.path.join(cls.dir, "docker-flaky")
        with open(cls.flaky, "w") as f:
            f.write("#!/bin/sh\n[ -e %s ] && exec %s \"$@\"\nexec %s \"$@\"\n" % (cls.broken, cls.denied, cls.wrapper))
        os.chmod(cls.flaky, 0o755)
        # Where nothing listens: an address of our own, a port no sshd has.
        cls.gone_port = sshd.free_port("127.0.0.12")

    @classmethod
    def stop_transport(cls):
        if getattr(cls, "s", None):
            cls.s.stop()

    @classmethod
    def host_sections(cls, with_gone=True):
        hosts = [("dock", {"roots": cls.roots}), ("badkey", {"fingerprint": "SHA256:" + "A" * 43}),
                 ("denied", {"docker_cmd": cls.denied}), ("nocmd", {"docker_cmd": cls.dir + "/no-such-docker"}),
                 ("flaky", {"docker_cmd": cls.flaky})]
        text = ""
        for name, extra in hosts:
            text += "[host.%s]\n" % name
            for k, v in cls.s.inventory(name, docker="ssh://", **dict({"docker_cmd": cls.wrapper}, **extra)).items():
                text += "%s = %s\n" % (k.split(".", 2)[2], v)
        if with_gone:
            text += ("[host.gone]\ndocker = ssh://\naddress = 127.0.0.12\nport = %d\nuser = %s\nkey_file = %s\n"
                     "known_hosts = %s\nconnect_timeout_s = 2\n"
                     % (cls.gone_port, cls.s.user, cls.s.key_file, cls.s.known_hosts))
        return text

    # ---------------------------------------------------------------- SSH only

    def test_ssh_sessions_are_reused_across_jobs(self):
        self.job("host.ping")
        logins = self.s.log_text_count("Accepted publickey")
        self.job("container.run", {"name": "sshc", "image": IMG, "cmd": ["sh", "-c", "echo over-ssh; sleep 300"]})
        s = self.job("container.exec", {"name": "sshc", "cmd": ["echo", "exec-ok"]})
        self.assertEqual(s["result"]["exit_code"], 0)
        self.job("container.logs", {"name": "sshc"})
        key = "%shost:dock:ctr:sshc:log" % self.prefix
        self.assertEqual([e[1]["l"] for e in env.redis().xrange(key)], ["over-ssh"])
        self.job("container.stop", {"name": "sshc", "timeout_s": 0})
        self.job("container.remove", {"name": "sshc"})
        # every request above rode on pooled sessions: a few logins at most
        # (one per job thread that needed a second session), not one per request
        self.assertLessEqual(self.s.log_text_count("Accepted publickey") - logins, 4)

    def test_ssh_backup_goes_through_sftp_on_the_host(self):
        before = self.s.log_text_count("subsystem 'sftp'")
        self.job("volume.create", {"name": "sftpv"})
        dest = os.path.join(self.roots, "sftpv.tar")
        s = self.job("volume.backup", {"name": "sftpv", "image": IMG, "dest": dest})["result"]
        self.assertEqual(s["bytes"], os.path.getsize(dest))
        self.assertGreater(self.s.log_text_count("subsystem 'sftp'"), before)
        # a directory that does not exist on the host: the error comes from there
        s = self.job("volume.backup", {"name": "sftpv", "image": IMG, "dest": self.roots + "/no/dir/x.tar"},
                     ok="io_error")
        self.assertIn("on host dock", s["error_message"])
        self.job("volume.remove", {"name": "sftpv"})

    def test_docker_cmd_that_cannot_reach_the_engine_says_why(self):
        s = self.job("host.ping", target="denied", ok="unreachable", extra=["--max-attempts", "1"])
        self.assertIn("permission denied while trying to connect to the Docker daemon socket", s["error_message"])
        self.assertIn("exit status 1", s["error_message"])
        self.assertIn("docker on host denied", s["error_message"])
        s = self.job("host.ping", target="nocmd", ok="unreachable", extra=["--max-attempts", "1"])
        self.assertIn("no-such-docker", s["error_message"])
        self.assertIn("not found", s["error_message"])
        self.assertIn("exit status 127", s["error_message"])

    def test_engine_lost_after_it_answered_says_why_on_the_retry(self):
        self.job("host.ping", target="flaky")
        with open(self.broken, "w"):
            pass
        try:
            # The first attempt's request was already under way when the
            # command failed; the retry checks the channel first.
            s = self.job("host.ping", target="flaky", ok="unreachable", extra=["--max-attempts", "2"])
        finally:
            os.unlink(self.broken)
        self.assertEqual(s["attempt"], 2, s)
        self.assertIn("permission denied while trying to connect", s["error_message"])
        self.job("host.ping", target="flaky")

    def established(self, peer_port):
        """Established TCP connections whose far end is port `peer_port` on
        loopback (the client ends of SSH sessions, or sshd's forwarded
        connections to a published port)."""
        out = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % peer_port],
                             capture_output=True, text=True, check=True).stdout
        return len([line for line in out.splitlines() if line.strip()])

    def test_failed_http_probes_reuse_the_pooled_session_and_close_their_channels(self):
        """HTTP health probes over ssh:// take the pooled session like every
        request: failing probes open no new logins, and once the job ended no
        forwarded channel (sshd's connection to the published port) is left
        and no more sessions are held than the pool keeps."""
        self.job("network.create", {"name": "hpnet", "subnet": self.d.subnet(81)})
        self.addCleanup(self.d.docker, ["network", "rm", "hpnet"], check=False)
        self.job("host.ping")  # a pooled session exists before the probes
        cases = [
            # the port is published, so the host's proxy accepts, but nothing listens behind it
            ("hp-none", ["sleep", "300"], 9),
            # something accepts and never answers: every probe runs into its own timeout
            ("hp-mute", ["sh", "-c", "sleep 300 | nc -l -p 8090"], 3),
        ]
        for name, cmd, probes in cases:
            # Other tests' hosts of this class share the sshd and keep their
            # pooled sessions: count what this job adds.
            held = self.established(self.s.port)
            logins = self.s.log_text_count("Accepted publickey")
            self.addCleanup(self.d.docker, ["rm", "-f", name], check=False)
            s = self.job("container.run", {"name": name, "image": IMG, "network": "hpnet",
                                           "ports": [{"container": 8090}], "cmd": cmd,
                                           "health": {"http_port": 8090, "interval_ms": 100, "retries": probes}},
                         ok="unhealthy")
            self.assertIn("after %d probes" % probes, s["error_message"])
            self.assertLessEqual(self.s.log_text_count("Accepted publickey") - logins, 1, name)
            port = int(self.job("container.inspect", {"name": name})["result"]["NetworkSettings"]["Ports"]
                       ["8090/tcp"][0]["HostPort"])
            # the channels were closed with the job: nothing waits for them to time out
            self.assertEqual(self.established(port), 0, "%s: forwarded connections left to :%d" % (name, port))
            self.assertLessEqual(self.established(self.s.port) - held, 1, "%s: SSH sessions held" % name)

    def test_pinned_fingerprint_mismatch_is_refused(self):
        s = self.job("host.ping", target="badkey", ok="host_key_mismatch", extra=["--max-attempts", "1"])
        self.assertIn("does not match the pinned fingerprint", s["error_message"])


if __name__ == "__main__":
    unittest.main()
