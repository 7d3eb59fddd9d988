"""The client packages as users get them, for the tests: the Python wheel
installed in a fresh virtual environment and the npm tarball installed in a
fresh project, so tests run against the built artifacts, never the source
tree.

    py = clientpkg.python_env()      # .python (venv interpreter), .wheel, .venv
    js = clientpkg.node_project()    # .dir (node_modules/wharf-client), .tarball

Both are built once per test run and shared: they live under
$WHARF_TEST_TMP/clientpkg (a file lock keeps parallel tests from building
twice). node_project() needs producer/typescript/node_modules (tests/run
runs `npm ci` there) and npm; it raises Unavailable when node or npm is
missing.
"""

import fcntl
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WHARF_SRC") or os.path.dirname(os.path.dirname(HERE))
PY_SRC = os.path.join(SRC, "producer", "python")
TS_SRC = os.path.join(SRC, "producer", "typescript")


class Unavailable(Exception):
    """A tool the artifact needs (node, npm) is not installed."""


class Built:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _base():
    base = os.path.join(os.environ.get("WHARF_TEST_TMP") or "/tmp", "clientpkg")
    os.makedirs(base, exist_ok=True)
    return base


def _run(cmd, cwd, timeout=600, env=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                       env=env)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:],
                                                        p.stderr[-3000:]))
    return p.stdout


class _Lock:
    def __init__(self, name):
        self.path = os.path.join(_base(), name + ".lock")

    def __enter__(self):
        self.f = open(self.path, "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def python_env():
    """Build the wheel (python3 -m build --no-isolation, as users do offline)
    and install it into a venv that sees Debian's pika, redis, msgpack and
    aio-pika (--system-site-packages)."""
    out = os.path.join(_base(), "python")
    venv = os.path.join(out, "venv")
    py = os.path.join(venv, "bin", "python")
    with _Lock("python"):
        if not os.path.exists(os.path.join(out, "done")):
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            dist = os.path.join(out, "dist")
            # The sdist first, then the wheel from the sdist (what an index would
            # hold); its build dirs in the source tree are git-ignored.
            _run(["/usr/bin/python3", "-m", "build", "--no-isolation", "--outdir", dist, PY_SRC], out)
            _run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], out)
            wheel = glob.glob(os.path.join(dist, "*.whl"))[0]
            _run([py, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", wheel], out)
            open(os.path.join(out, "done"), "w").close()
    wheel = glob.glob(os.path.join(out, "dist", "*.whl"))[0]
    sdist = glob.glob(os.path.join(out, "dist", "*.tar.gz"))[0]
    return Built(python=py, venv=venv, wheel=wheel, sdist=sdist)


def node_project():
    """npm pack the TypeScript package (its prepack builds it) and npm install
    the tarball into a fresh project, with the registry's cache preferred."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise Unavailable("node or npm is not installed")
    out = os.path.join(_base(), "node")
    proj = os.path.join(out, "project")
    with _Lock("node"):
        if not os.path.exists(os.path.join(out, "done")):
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(proj)
            if not os.path.isdir(os.path.join(TS_SRC, "node_modules", "typescript")):
                _run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], TS_SRC)
            tgz = _run(["npm", "pack", "--silent", "--pack-destination", out], TS_SRC).strip().splitlines()[-1]
            with open(os.path.join(proj, "package.json"), "w") as f:
                f.write('{"name": "wharf-client-test", "version": "0.0.0", "private": true}\n')
            _run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error",
                  os.path.join(out, tgz)], proj)
            open(os.path.join(out, "done"), "w").close()
    tarball = glob.glob(os.path.join(out, "*.tgz"))[0]
    return Built(dir=proj, tarball=tarball, tsc=os.path.join(TS_SRC, "node_modules", "typescript", "bin", "tsc"),
                 types=os.path.join(TS_SRC, "node_modules", "@types"))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "python"
    print((python_env() if what == "python" else node_project()).__dict__)
