#!/usr/bin/python3
"""clients.python: the Python package as users get it.

Builds the sdist and the wheel with Debian's python3-build (offline,
--no-isolation), installs the wheel into a fresh venv that sees Debian's
pika, redis, msgpack and aio-pika, type-checks the installed package and
example.py with mypy --strict, then runs test_client.py with the venv's
interpreter (so it imports the installed package, never the source tree).
Exit status: that of the first step that failed.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
SRC = os.environ.get("WHARF_SRC", os.path.dirname(os.path.dirname(PKG)))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import clientpkg  # noqa: E402


def step(what, cmd, cwd):
    print("==> %s" % what, flush=True)
    return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, timeout=900).returncode


def main():
    py = clientpkg.python_env()
    print("wheel: %s\nsdist: %s\nvenv: %s" % (py.wheel, py.sdist, py.venv), flush=True)
    mypy = ["/usr/bin/python3", "-m", "mypy", "--strict", "--config-file", os.path.join(PKG, "pyproject.toml"),
            "--python-executable", py.python, "--no-incremental"]
    work = os.path.dirname(py.venv)   # outside the source tree: no local import can shadow the package
    return (step("mypy --strict on the installed package", mypy + ["-p", "wharf_client"], work)
            or step("mypy --strict on example.py", mypy + [os.path.join(PKG, "example.py")], work)
            or step("tests against the installed package", [py.python, os.path.join(HERE, "test_client.py"), "-v"],
                    work))


if __name__ == "__main__":
    sys.exit(main())
