#!/usr/bin/python3
"""The runtime family against a private Podman service over ssh:// in
socket mode (the inventory names Podman's socket; the worker forwards it
over a private sshd on 127.0.0.15): every case of test_runtime.py and the
socket-mode cases of test_runtime_ssh_socket.py. Podman has no
`docker system dial-stdio`, so this is how a Podman-only host is reached."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podman  # noqa: E402
import test_runtime_ssh_socket  # noqa: E402

env = test_runtime_ssh_socket.env


class RuntimePodmanSshTest(test_runtime_ssh_socket.SshSocketCases, unittest.TestCase):
    """Podman's socket over SSH."""

    ssh_address = "127.0.0.15"

    @classmethod
    def start_engine(cls):
        return podman.Podman.start(env.tmp, insecure=[cls.reghost])


if __name__ == "__main__":
    unittest.main()
