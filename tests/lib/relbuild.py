"""A Release build (no sanitizers) for the packaging tests.

    import relbuild
    bdir = relbuild.ensure(["wharf", "wharf-worker"])   # built, up to date
    relbuild.install(bdir, destdir)                     # cmake --install, prefix /usr

tests/run builds build/asan; what gets installed or put into an image must be
a plain Release build, so the deploy tests build one themselves, economically:
one incremental build dir ($WHARF_RELEASE_BUILD, default build/deploy) with
WHARF_TESTS=OFF, only the targets asked for, -j2. ctest may run two deploy
tests at once: a lock file serialises the configure and the builds.
"""

import fcntl
import os
import subprocess
import time

__all__ = ["ensure", "install", "build_dir"]

CONFIG = ["-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_INSTALL_PREFIX=/usr", "-DWHARF_TESTS=OFF",
          "-DWHARF_SANITIZE=OFF", "-DWHARF_INSTALL_SYSTEMD=ON"]


def _src():
    return os.environ.get("WHARF_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def build_dir():
    return os.environ.get("WHARF_RELEASE_BUILD") or os.path.join(_src(), "build", "deploy")


def _run(cmd, timeout):
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise RuntimeError("%s -> %d\n%s\n%s" % (" ".join(cmd), cp.returncode, cp.stdout[-4000:],
                                                 cp.stderr[-4000:]))
    return cp


def ensure(targets, timeout=900):
    """Configure (if needed) and build `targets` in the Release build dir;
    return the dir. Raises RuntimeError with the tail of the output."""
    bdir = build_dir()
    os.makedirs(bdir, exist_ok=True)
    with open(os.path.join(bdir, ".relbuild.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        _run(["cmake", "-S", _src(), "-B", bdir] + CONFIG, timeout)
        cmd = ["cmake", "--build", bdir, "-j2"]
        for t in targets:
            cmd += ["--target", t]
        _run(cmd, timeout)
        print("relbuild: %s ready in %s (%.0f s)" % (", ".join(targets), bdir, time.monotonic() - t0), flush=True)
    return bdir


def install(bdir, destdir, timeout=300):
    """cmake --install into DESTDIR (the prefix is /usr)."""
    env = dict(os.environ, DESTDIR=destdir)
    cp = subprocess.run(["cmake", "--install", bdir], capture_output=True, text=True, timeout=timeout,
                        env=env, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise RuntimeError("cmake --install %s -> %d\n%s" % (bdir, cp.returncode, cp.stderr[-4000:]))
    return cp.stdout
