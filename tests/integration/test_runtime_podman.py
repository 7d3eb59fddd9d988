#!/usr/bin/python3
"""The runtime family against a private Podman service (tests/lib/podman.py)
over its unix socket: every case of test_runtime.py runs again here with the
inventory host `dock` naming Podman's Docker-compatible API. One service
serves all the cases of this file."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podman  # noqa: E402
import test_runtime  # noqa: E402

env = test_runtime.env


class RuntimePodmanTest(test_runtime.RuntimeCases, unittest.TestCase):
    """The cases over Podman's unix socket."""

    @classmethod
    def start_engine(cls):
        return podman.Podman.start(env.tmp, insecure=[cls.reghost])


if __name__ == "__main__":
    unittest.main()
