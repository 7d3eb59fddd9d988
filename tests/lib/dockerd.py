"""A private Docker Engine for the runtime tests (Debian's docker.io).

    import dockerd
    d = dockerd.Dockerd.start(tmpdir)     # own data-root, exec-root, pidfile, socket
    d.sock                                # unix socket path; no TCP listener unless asked:
    d = dockerd.Dockerd.start(tmpdir, tls=dockerd.Tls("127.0.0.1", port, ca, cert, key))
                                          # also tcp://127.0.0.1:port with --tlsverify (client
                                          # certificates signed by `ca` only)
    d.docker(["ps", "-a"])                # the docker CLI against this engine only
    img = d.busybox_image()               # "wharf-busybox:test", imported, never pulled
    d.build_image("h:5000/a:1", cmd=[...])  # busybox + metadata, no pull; d.push("h:5000/a:1") -> digest
    d.stop()                              # SIGTERM by pidfile, SIGKILL after 20 s, then reap
    d.reap_leftovers()                    # a dead daemon's shims, containers and mounts

The daemon never touches the host's own engine: it listens only on its own
unix socket, has no default bridge (--bridge=none), changes no iptables rules
and no sysctl (--iptables=false --ip-masq=false --ip-forward=false), and the
subnets of networks it creates come from a /16 of its own (10.X.0.0/16 with X
in 200..254 not used by any interface of the host when it starts; subnet(k)
gives 10.X.k.0/24 for tests that name one). stop() removes the containers
and networks first, then deletes any bridge of ours the daemon left behind,
so nothing stays on the host. Containers are reached only
through ports published on 127.0.0.1 (docker-proxy) or through exec. dockerd
starts its own containerd under the exec-root and stops it with itself.

The storage driver is vfs: it works on any filesystem (the test dir may be
on overlayfs, where overlay2 cannot nest) and busybox images are ~1 MB.

Every daemon started here is stopped at interpreter exit; with
PR_SET_PDEATHSIG the kernel kills it if the test process dies outright.
"""

import atexit
import ctypes
import glob
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

__all__ = ["Dockerd", "BUSYBOX_IMAGE"]

BUSYBOX_IMAGE = "wharf-busybox:test"

_live = []


class Tls:
    """A TCP listener with TLS: the engine's certificate and key, and the CA
    its clients' certificates must come from (dockerd --tlsverify)."""

    def __init__(self, host, port, ca, cert, key):
        self.host, self.port, self.ca, self.cert, self.key = host, port, ca, cert, key

    def args(self):
        return ["-H", "tcp://%s:%d" % (self.host, self.port), "--tlsverify", "--tlscacert", self.ca,
                "--tlscert", self.cert, "--tlskey", self.key]


def _pdeathsig():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _need(prog):
    path = shutil.which(prog, path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin")
    if not path:
        # Fail, never skip: tests/run installs docker.io (tests/lib/packages.txt).
        raise RuntimeError("%s not found: install Debian's docker.io (tests/lib/packages.txt)" % prog)
    return path


class Dockerd:
    """One private dockerd. Use Dockerd.start(); stop() is idempotent."""

    kind = "docker"  # the engine, as wharf's host.ping reports it (tests/lib/podman.py: "podman")

    def __init__(self, root, tls=None):
        self.root = root
        self.tls = tls
        self.sock = os.path.join(root, "docker.sock")
        self.pidfile = os.path.join(root, "docker.pid")
        self.log_path = os.path.join(root, "dockerd.log")
        self.proc = None
        self.start_s = None  # seconds from exec to the first answered /version
        self.pool_octet = self._free_octet()

    @staticmethod
    def _free_octet():
        used = set(int(m) for m in re.findall(r"inet 10\.(\d+)\.", subprocess.run(
            ["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout))
        free = [x for x in range(200, 255) if x not in used]
        if not free:
            raise RuntimeError("no free 10.X.0.0/16 pool for a private dockerd")
        return random.SystemRandom().choice(free)

    def subnet(self, k):
        """A /24 of this daemon's own pool, for tests that name a subnet."""
        return "10.%d.%d.0/24" % (self.pool_octet, k)

    @classmethod
    def start(cls, parent=None, timeout=60, tls=None):
        """Start a daemon in a new dir under `parent` (default: WHARF_TEST_TMP
        or the system temp dir) and wait until it answers; with `tls` (a Tls)
        it also listens there. Raises RuntimeError with the log tail if it
        does not come up."""
        parent = parent or os.environ.get("WHARF_TEST_TMP") or tempfile.gettempdir()
        os.makedirs(parent, exist_ok=True)
        # A short path: unix socket paths are capped at 107 bytes.
        root = tempfile.mkdtemp(prefix="dkd-", dir=parent)
        d = cls(root, tls)
        if len(d.sock) > 100:
            root = tempfile.mkdtemp(prefix="wharf-dkd-")
            d = cls(root, tls)
        d._spawn(timeout)
        return d

    def _spawn(self, timeout):
        exe = _need("dockerd")
        _need("containerd")
        _need("docker")
        cmd = [exe,
               "--data-root", os.path.join(self.root, "data"),
               "--exec-root", os.path.join(self.root, "exec"),
               "--pidfile", self.pidfile,
               "-H", "unix://" + self.sock,
               "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
               "--userland-proxy=true",
               "--default-address-pool", "base=10.%d.0.0/16,size=24" % self.pool_octet,
               "--storage-driver=vfs",
               "--log-level=warn"] + (self.tls.args() if self.tls else [])
        logf = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     preexec_fn=_pdeathsig, start_new_session=True)
        logf.close()
        _live.append(self)
        self._wait_answering(t0, timeout, "dockerd")

    def _wait_answering(self, t0, timeout, what):
        """Wait until the engine just started (at monotonic t0) answers
        `docker version` on our socket; set start_s. Raises RuntimeError
        with the log tail (after stop()) when it exits or stays silent."""
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (what, self.proc.returncode, self.log_tail()))
            if os.path.exists(self.sock) and self.docker(["version", "--format", "{{.Server.Version}}"],
                                                         check=False).returncode == 0:
                self.start_s = time.monotonic() - t0
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not answer within %ss:\n%s" % (what, timeout, self.log_tail()))
            time.sleep(0.05)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def env(self):
        """Environment for the docker CLI pointed at this daemon only."""
        e = dict(os.environ)
        e["DOCKER_HOST"] = "unix://" + self.sock
        e["DOCKER_CONFIG"] = os.path.join(self.root, "cli-config")
        e.pop("DOCKER_CONTEXT", None)
        e.pop("DOCKER_TLS_VERIFY", None)
        e.pop("DOCKER_CERT_PATH", None)
        return e

    def docker(self, args, check=True, input=None, timeout=120):
        """Run the docker CLI against this daemon; CompletedProcess (bytes)."""
        cp = subprocess.run([_need("docker"), "-H", "unix://" + self.sock] + list(args), env=self.env(),
                            input=input, capture_output=True, timeout=timeout,
                            stdin=None if input is not None else subprocess.DEVNULL)
        if check and cp.returncode != 0:
            raise RuntimeError("docker %s -> %d: %s" % (" ".join(args), cp.returncode,
                                                        cp.stderr.decode(errors="replace")))
        return cp

    def busybox_image(self, tag=BUSYBOX_IMAGE):
        """Import busybox-static as `tag` (once per daemon) and return the tag.
        The rootfs is /bin/busybox plus one symlink per applet, /tmp and /etc."""
        if self.docker(["image", "inspect", tag], check=False).returncode == 0:
            return tag
        bb = shutil.which("busybox", path="/bin:/usr/bin")
        if not bb:
            raise RuntimeError("busybox not found: install busybox-static (tests/lib/packages.txt)")
        rootfs = tempfile.mkdtemp(prefix="rootfs-", dir=self.root)
        for d in ("bin", "tmp", "etc", "data"):
            os.makedirs(os.path.join(rootfs, d))
        shutil.copy2(bb, os.path.join(rootfs, "bin", "busybox"))
        applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for a in applets:
            if a != "busybox" and "/" not in a:
                os.symlink("busybox", os.path.join(rootfs, "bin", a))
        with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
        with open(os.path.join(rootfs, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        tar = subprocess.run(["tar", "-C", rootfs, "-c", "."], capture_output=True, check=True).stdout
        self.docker(["import", "-c", "CMD [\"/bin/sh\"]", "-", tag], input=tar)
        shutil.rmtree(rootfs, ignore_errors=True)
        return tag

    def build_image(self, tag, base=BUSYBOX_IMAGE, cmd=None, entrypoint=None, labels=None, healthcheck=None,
                    env=None):
        """Make image `tag` from `base` (default: the busybox image, imported
        first) by `docker commit --change` of a container created from it and
        never started: only metadata is set (ENTRYPOINT, CMD, LABEL, ENV,
        HEALTHCHECK), the new layer is empty and nothing is pulled. A unique
        label makes every call a new image (a new digest once pushed). About
        7x cheaper than the classic builder on vfs. Returns the image id."""
        if base == BUSYBOX_IMAGE:
            self.busybox_image()
        changes = build_changes(cmd, entrypoint, labels, healthcheck, env)
        name = "wharf-build-" + os.urandom(6).hex()
        self.docker(["create", "--name", name, base])
        try:
            args = ["commit"]
            for c in changes:
                args += ["-c", c]
            return self.docker(args + [name, tag]).stdout.decode().strip()
        finally:
            self.docker(["rm", name], check=False)

    def import_image(self, tag, files, changes=()):
        """Import a one-layer image `tag` whose root holds only `files`
        ({path: bytes}), with Dockerfile `changes` (e.g. 'CMD ["/x"]').
        Without busybox in `files` nothing in it runs: a broken image."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as t:
            for name, data in sorted(files.items()):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode = len(data), 0o755
                t.addfile(ti, io.BytesIO(data))
        args = ["import"]
        for c in changes:
            args += ["-c", c]
        self.docker(args + ["-", tag], input=raw.getvalue())
        return tag

    def push(self, ref, creds=None):
        """`docker push ref` from this engine (log in first for a registry
        with auth, or pass creds=(user, password): logged in for this push
        only); returns the manifest digest the registry stored."""
        host = ref.split("/")[0]
        if creds:
            self.docker(["login", "-u", creds[0], "--password-stdin", host], input=creds[1].encode())
        try:
            out = self.docker(["push", ref], timeout=300).stdout.decode()
        finally:
            if creds:
                self.docker(["logout", host], check=False)
        m = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
        if not m:
            raise RuntimeError("docker push %s printed no digest:\n%s" % (ref, out))
        return m.group(1)

    def _cleanup_objects(self):
        """Remove every container and user network; return the bridge names
        of our networks (br-<first 12 of the id>)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            ids = self.docker(["ps", "-aq"], check=False, timeout=30).stdout.decode().split()
            if ids:
                self.docker(["rm", "-f"] + ids, check=False, timeout=60)
            nets = self.docker(["network", "ls", "-q", "--no-trunc", "--filter", "driver=bridge"],
                               check=False, timeout=30).stdout.decode().split()
            self.docker(["network", "prune", "-f"], check=False, timeout=60)
            return ["br-" + n[:12] for n in nets]
        except Exception:
            return []

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------ leftovers
    #
    # A daemon that dies (or is SIGKILLed) leaves its containerd, one
    # containerd-shim per container (with the container's processes), and
    # mounts under its own root (netns bind mounts, container shm). They are
    # found only through this daemon's own exec-root and data-root: pidfiles
    # under <exec-root>/containerd, each checked against /proc before any
    # signal, and /proc/self/mountinfo entries under self.root. Nothing is
    # ever found by name.

    def _own_pids(self):
        """(pid, kind) of what our exec-root names and /proc confirms:
        container inits ('init': the pid in a bundle's init.pid, with the
        bundle's id in its cgroup), their shims ('shim': a process whose
        command line is `-id <a bundle id of ours> -address <our exec-root>/
        containerd/containerd.sock`; containerd-shim-runc-v2 writes no
        pidfile) and containerd ('containerd': containerd.pid, our exec-root
        in its command line)."""
        execroot = os.path.join(self.root, "exec")
        found = []
        bundles = glob.glob(os.path.join(execroot, "containerd", "daemon", "*", "*", "*"))
        ids = set(os.path.basename(b) for b in bundles)
        for b in bundles:
            pid = _read_pid(os.path.join(b, "init.pid"))
            if pid and os.path.basename(b) in _proc_text(pid, "cgroup"):
                found.append((pid, "init"))
        address = "-address %s " % os.path.join(execroot, "containerd", "containerd.sock")
        for entry in os.listdir("/proc") if ids else ():
            if entry.isdigit():
                cmd = _proc_text(int(entry), "cmdline") + " "
                m = re.search(r" -id (\S+) ", cmd)
                if address in cmd and m and m.group(1) in ids:
                    found.append((int(entry), "shim"))
        pid = _read_pid(os.path.join(execroot, "containerd", "containerd.pid"))
        if pid and execroot in _proc_text(pid, "cmdline"):
            found.append((pid, "containerd"))
        return found

    def _own_mounts(self):
        """Mount points under our root, deepest first."""
        root = os.path.realpath(self.root) + "/"
        points = []
        try:
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
                    if mp.startswith(root):
                        points.append(mp)
        except OSError:
            pass
        return sorted(set(points), key=lambda p: (-p.count("/"), p))

    def reap_leftovers(self):
        """Kill what a dead daemon left (container inits first, then shims,
        then containerd) and unmount its mounts. Returns what it did, as
        (pids killed, mount points unmounted). Safe to call any time after
        the daemon itself is gone."""
        killed = []
        for want in ("init", "shim", "containerd"):
            for pid, kind in self._own_pids():
                if kind == want:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                    except ProcessLookupError:
                        pass
            deadline = time.monotonic() + 5
            while any(k == want and _alive(p) for p, k in self._own_pids()) and time.monotonic() < deadline:
                time.sleep(0.05)
        unmounted = []
        for mp in self._own_mounts():
            if subprocess.run(["umount", "-l", mp], capture_output=True).returncode == 0:
                unmounted.append(mp)
        return killed, unmounted

    def _terminate(self, pid, timeout):
        """SIGTERM `pid` (the daemon: our child or the one it became), wait
        for our child up to `timeout` s, SIGKILL it after; proc is None then."""
        if self.proc.poll() is None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self, timeout=20):
        """SIGTERM the daemon named by our pidfile (it stops its containers
        and its containerd), SIGKILL after `timeout` s; then reap what it
        left (reap_leftovers: always, as a daemon that died or was killed
        leaves shims and mounts) and remove the dir."""
        if self in _live:
            _live.remove(self)
        if self.proc is None:
            return
        bridges = self._cleanup_objects()
        pid = self.pid()
        if pid != self.proc.pid:
            pid = self.proc.pid  # pidfile not written yet: our own child
        self._terminate(pid, timeout)
        self.reap_leftovers()
        for b in bridges:  # bridges outlive the daemon: delete ours that are left
            if os.path.exists("/sys/class/net/" + b):
                subprocess.run(["ip", "link", "del", b], check=False, capture_output=True)
        # vfs layers may hold read-only dirs; containers are gone with dockerd.
        subprocess.run(["rm", "-rf", "--one-file-system", self.root], check=False)


def build_changes(cmd=None, entrypoint=None, labels=None, healthcheck=None, env=None):
    """The Dockerfile instructions of build_image (`commit --change`): a
    unique label first, so that every build is a new image."""
    changes = ["LABEL wharf.test.build=%s" % os.urandom(8).hex()]
    for k, v in sorted((labels or {}).items()):
        changes.append("LABEL %s=%s" % (k, json.dumps(v)))
    for k, v in sorted((env or {}).items()):
        changes.append("ENV %s=%s" % (k, json.dumps(v)))
    if entrypoint is not None:  # before CMD: setting ENTRYPOINT clears the CMD
        changes.append("ENTRYPOINT " + json.dumps(list(entrypoint)))
    if cmd is not None:
        changes.append("CMD " + json.dumps(list(cmd)))
    if healthcheck:
        changes.append("HEALTHCHECK " + healthcheck)
    return changes


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _proc_text(pid, name):
    """/proc/<pid>/<name> as text ('' when the process is gone)."""
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@atexit.register
def _stop_all():
    for d in list(_live):
        try:
            d.stop()
        except Exception:
            pass


if __name__ == "__main__":
    # Self check and start-time measurement: python3 tests/lib/dockerd.py
    t = time.monotonic()
    d = Dockerd.start()
    print("dockerd up in %.2fs at %s" % (d.start_s, d.sock))
    t = time.monotonic()
    print("image", d.busybox_image(), "imported in %.2fs" % (time.monotonic() - t))
    print(d.docker(["run", "--rm", BUSYBOX_IMAGE, "echo", "hello from busybox"]).stdout.decode().strip())
    t = time.monotonic()
    d.stop()
    print("stopped in %.2fs" % (time.monotonic() - t))
    # A killed daemon: stop() reaps its containerd, shims, containers and mounts.
    d = Dockerd.start()
    d.busybox_image()
    for i in range(3):
        d.docker(["run", "-d", "--name", "orphan%d" % i, BUSYBOX_IMAGE, "sleep", "300"])
    os.kill(d.pid(), signal.SIGKILL)
    d.proc.wait()
    left, mounts = d._own_pids(), d._own_mounts()
    print("killed dockerd left", sorted(k for _, k in left), "and", len(mounts), "mounts")
    d.stop()
    alive = [p for p, _ in left if _alive(p)]
    with open("/proc/self/mountinfo") as f:
        still = [m for m in mounts if (" %s " % m) in f.read()]
    print("after stop(): %d of them alive, %d mounts left" % (len(alive), len(still)))
    if alive or still or not any(k == "shim" for _, k in left):
        raise SystemExit("leftovers not reaped (or none seen to reap)")
