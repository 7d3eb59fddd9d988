"""A private Podman service for the runtime tests (Debian's podman 4.3).

    import podman
    p = podman.Podman.start(tmpdir, insecure=["127.0.0.1:5000"])
                                          # own root, runroot, config, socket
    p.sock                                # unix socket of its Docker-compatible API
    p.docker(["ps", "-a"])                # the docker CLI against this service only
    p.podman(["commit", ...])             # podman --remote against this service only
    img = p.busybox_image()               # "wharf-busybox:test", imported, never pulled
    p.build_image("a:1", cmd=[...])       # busybox + metadata (podman commit --change)
    p.stop()                              # SIGTERM by PID, SIGKILL after 20 s

It offers what tests/lib/dockerd.py's Dockerd offers to the runtime cases
(sock, docker, subnet, busybox_image, build_image, import_image, stop), so
the same cases run against either engine. `kind` is "podman" here and
"docker" there.

`podman system service --time=0 unix://<dir>/podman.sock` runs with its own
--root, --runroot and vfs storage, and a containers.conf (CONTAINERS_CONF)
and registries.conf (CONTAINERS_REGISTRIES_CONF) of its own:
- default_ulimits = []: on machines whose container runtime may not raise
  RLIMIT_NPROC (as this one) every container start fails with `error
  setting rlimit type 7: operation not permitted` otherwise;
- network_config_dir is private, and so is the default network: a file of
  ours names it, with a bridge called wpm<X>0 and the subnet 10.X.250.0/24,
  where 10.X.0.0/16 is a pool no interface of the host uses (as Dockerd's).
  The Docker-compatible API puts every container on the default network,
  so without this two services would both want the bridge podman0;
- registries given as `insecure` are reached over plain HTTP (the
  Docker-compatible pull has no tlsVerify parameter: Podman reads it from
  registries.conf only).
Podman's bridge networks are set up by netavark, which adds iptables rules
for their subnets (and removes them with a network's last container);
stop() removes the containers and networks first, then deletes any rule
naming our pool and any bridge of ours that is left behind.

The service is stopped at interpreter exit; with PR_SET_PDEATHSIG the kernel
kills it if the test process dies outright. conmon processes of containers
still running are found by our root in their command line and killed.
"""

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import dockerd

__all__ = ["Podman"]

# Services started here join dockerd's list: its exit hook stops them too.
_live = dockerd._live


def _need(prog):
    path = shutil.which(prog, path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin")
    if not path:
        # Fail, never skip: tests/run installs podman (tests/lib/packages.txt).
        raise RuntimeError("%s not found: install Debian's podman (tests/lib/packages.txt)" % prog)
    return path


class Podman(dockerd.Dockerd):
    """One private Podman service. Use Podman.start(); stop() is idempotent."""

    kind = "podman"

    def __init__(self, root, insecure=()):
        dockerd.Dockerd.__init__(self, root)
        self.sock = os.path.join(root, "podman.sock")
        self.pidfile = None
        self.log_path = os.path.join(root, "podman.log")
        self.insecure = list(insecure)
        self.bridge = "wpm%d0" % self.pool_octet

    @classmethod
    def start(cls, parent=None, timeout=60, insecure=()):
        """Start a service in a new dir under `parent` (default: WHARF_TEST_TMP
        or the system temp dir) and wait until it answers /version. Registries
        in `insecure` ("host:port") are pulled from over HTTP. Raises
        RuntimeError with the log tail if it does not come up."""
        parent = parent or os.environ.get("WHARF_TEST_TMP") or tempfile.gettempdir()
        os.makedirs(parent, exist_ok=True)
        root = tempfile.mkdtemp(prefix="pmd-", dir=parent)
        p = cls(root, insecure)
        if len(p.sock) > 100:  # unix socket paths are capped at 107 bytes
            p = cls(tempfile.mkdtemp(prefix="wharf-pmd-"), insecure)
        p._spawn(timeout)
        return p

    def _write_config(self):
        netdir = os.path.join(self.root, "networks")
        os.makedirs(netdir)
        with open(os.path.join(self.root, "containers.conf"), "w") as f:
            f.write("[containers]\ndefault_ulimits = []\n"
                    "[network]\nnetwork_backend = \"netavark\"\nnetwork_config_dir = \"%s\"\n"
                    "default_network = \"podman\"\n"
                    "default_subnet_pools = [{\"base\" = \"10.%d.0.0/16\", \"size\" = 24}]\n"
                    "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
                    "events_logfile_path = \"%s\"\ntmp_dir = \"%s\"\n"
                    % (netdir, self.pool_octet, os.path.join(self.root, "events.log"),
                       os.path.join(self.root, "tmp")))
        net = {"name": "podman", "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
               "driver": "bridge", "network_interface": self.bridge,
               "created": "2026-01-01T00:00:00Z",
               "subnets": [{"subnet": "10.%d.250.0/24" % self.pool_octet,
                            "gateway": "10.%d.250.1" % self.pool_octet}],
               "ipv6_enabled": False, "internal": False, "dns_enabled": False,
               "ipam_options": {"driver": "host-local"}}
        with open(os.path.join(netdir, "podman.json"), "w") as f:
            json.dump(net, f)
        with open(os.path.join(self.root, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n")
            for r in self.insecure:
                f.write("[[registry]]\nlocation = \"%s\"\ninsecure = true\n" % r)

    def env(self):
        """Environment for podman and the docker CLI pointed at this service only."""
        e = dockerd.Dockerd.env(self)
        e["CONTAINERS_CONF"] = os.path.join(self.root, "containers.conf")
        e["CONTAINERS_REGISTRIES_CONF"] = os.path.join(self.root, "registries.conf")
        e.pop("CONTAINER_HOST", None)
        e.pop("CONTAINER_CONNECTION", None)
        return e

    def _spawn(self, timeout):
        exe = _need("podman")
        _need("docker")
        self._write_config()
        cmd = [exe, "--root", os.path.join(self.root, "root"), "--runroot", os.path.join(self.root, "run"),
               "--storage-driver", "vfs", "--log-level", "warn",
               "system", "service", "--time=0", "unix://" + self.sock]
        logf = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     env=self.env(), preexec_fn=dockerd._pdeathsig, start_new_session=True)
        logf.close()
        _live.append(self)
        self._wait_answering(t0, timeout, "podman")

    def podman(self, args, check=True, input=None, timeout=120):
        """Run `podman --remote` against this service; CompletedProcess (bytes)."""
        e = self.env()
        e.pop("DOCKER_CONFIG")  # podman would read credentials from there
        cp = subprocess.run([_need("podman"), "--remote", "--url", "unix://" + self.sock] + list(args),
                            env=e, input=input, capture_output=True, timeout=timeout,
                            stdin=None if input is not None else subprocess.DEVNULL)
        if check and cp.returncode != 0:
            raise RuntimeError("podman %s -> %d: %s" % (" ".join(args), cp.returncode,
                                                        cp.stderr.decode(errors="replace")))
        return cp

    def build_image(self, tag, base=dockerd.BUSYBOX_IMAGE, cmd=None, entrypoint=None, labels=None,
                    healthcheck=None, env=None):
        """As Dockerd.build_image, through `podman commit --change` (Podman's
        Docker-compatible /commit wants a body the docker CLI does not send).
        HEALTHCHECK needs the docker image format."""
        if base == dockerd.BUSYBOX_IMAGE:
            self.busybox_image()
        changes = dockerd.build_changes(cmd, entrypoint, labels, healthcheck, env)
        name = "wharf-build-" + os.urandom(6).hex()
        self.podman(["create", "--name", name, base])
        try:
            args = ["commit", "--format", "docker"]
            for c in changes:
                args += ["--change", c]
            return self.podman(args + [name, tag]).stdout.decode().strip().splitlines()[-1]
        finally:
            self.podman(["rm", name], check=False)

    def push(self, ref, creds=None):
        """`podman push ref` (over HTTP when the registry is one of
        `insecure`), as user creds=(user, password) if given; returns the
        manifest digest the registry stored. (Podman's /auth has no way to
        log in to a plain HTTP registry, so there is no `docker login`.)"""
        host, rest = ref.split("/", 1)
        args = ["push"]
        if host in self.insecure:
            args.append("--tls-verify=false")
        if creds:
            args += ["--creds", "%s:%s" % creds]
        self.podman(args + [ref], timeout=300)
        # (--digestfile is not offered by podman --remote: ask the registry)
        repo, tag = rest.rsplit(":", 1)
        req = urllib.request.Request("%s://%s/v2/%s/manifests/%s" % (
            "http" if host in self.insecure else "https", host, repo, tag), method="HEAD", headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                      "application/vnd.oci.image.manifest.v1+json"})
        if creds:
            req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % creds).encode()).decode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.headers["Docker-Content-Digest"]

    def _cleanup_objects(self):
        """Remove every container and every network but the default one."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.podman(["rm", "-af", "-t", "0"], check=False, timeout=60)
            self.podman(["network", "prune", "-f"], check=False, timeout=60)
        except Exception:
            pass

    def _drop_firewall_rules(self):
        """netavark removes a network's iptables rules with its last
        container; a service stopped with containers still on it leaves
        them. Delete every rule of the nat and filter tables that names our
        pool (10.X.), then the per-network chains those rules jumped to.
        The shared NETAVARK chains stay (other services may use them)."""
        pool = " 10.%d." % self.pool_octet
        for table in ("nat", "filter"):
            rules = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True,
                                   text=True).stdout.splitlines()
            chains = set()
            for rule in rules:
                if rule.startswith("-A ") and pool in rule:
                    chains.update(re.findall(r" -j (NETAVARK-(?:DN-)?[0-9A-F]{8,})\b", rule))
                    subprocess.run(["iptables", "-w", "-t", table, "-D"] + shlex.split(rule[3:]),
                                   capture_output=True)
            for chain in sorted(chains):
                subprocess.run(["iptables", "-w", "-t", table, "-F", chain], capture_output=True)
                subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True)

    def _own_conmons(self):
        """PIDs of conmon processes whose command line names our root."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                cmd = dockerd._proc_text(int(entry), "cmdline")
                if cmd.startswith("/usr/bin/conmon ") and (" %s/" % self.root) in cmd:
                    found.append(int(entry))
        return found

    def stop(self, timeout=20):
        """Remove our containers and networks, SIGTERM the service by its PID
        (SIGKILL after `timeout` s), kill conmons of ours left behind, delete
        bridges of ours left behind, and remove the dir."""
        if self in _live:
            _live.remove(self)
        if self.proc is None:
            return
        self._cleanup_objects()
        self._terminate(self.proc.pid, timeout)
        for pid in self._own_conmons():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._drop_firewall_rules()
        for link in os.listdir("/sys/class/net"):
            if link.startswith("wpm%d" % self.pool_octet):
                subprocess.run(["ip", "link", "del", link], check=False, capture_output=True)
        for mp in self._own_mounts():
            subprocess.run(["umount", "-l", mp], capture_output=True)
        subprocess.run(["rm", "-rf", "--one-file-system", self.root], check=False)


if __name__ == "__main__":
    # Self check: python3 tests/lib/podman.py
    p = Podman.start()
    print("podman up in %.2fs at %s" % (p.start_s, p.sock))
    t = time.monotonic()
    print("image", p.busybox_image(), "imported in %.2fs" % (time.monotonic() - t))
    print(p.docker(["run", "--rm", dockerd.BUSYBOX_IMAGE, "echo", "hello from busybox"]).stdout.decode().strip())
    print("built", p.build_image("wharf-built:1", cmd=["echo", "built"]))
    print(p.docker(["run", "--rm", "wharf-built:1"]).stdout.decode().strip())
    p.docker(["run", "-d", "--name", "left", dockerd.BUSYBOX_IMAGE, "sleep", "300"])
    p.docker(["network", "create", "--subnet", p.subnet(7), "selfnet"])
    p.docker(["run", "-d", "--name", "web", "--network", "selfnet", "-p", "127.0.0.1::80",
              dockerd.BUSYBOX_IMAGE, "sleep", "300"])
    t = time.monotonic()
    p.stop()
    print("stopped in %.2fs" % (time.monotonic() - t))
    pool = " 10.%d." % p.pool_octet
    left = [r for t in ("nat", "filter") for r in subprocess.run(["iptables", "-t", t, "-S"], capture_output=True,
                                                                  text=True).stdout.splitlines() if pool in r]
    if left or p._own_conmons():
        raise SystemExit("left behind: %s" % (left or "conmon processes"))
