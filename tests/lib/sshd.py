"""Private sshd instances for tests (Debian openssh-server), python3 stdlib only.

    import sshd
    s = sshd.Sshd.start("127.0.0.11", tmp)     # own dir, host key, port, config
    s.port, s.user, s.key_file, s.known_hosts, s.fingerprint
    s.inventory("web1", roots="/tmp")         # {'host.web1.address': ..., ...}
    s.stop()                                   # by pidfile; also at exit

Each instance lives in its own directory (mkdtemp under `tmp`): an ed25519
host key, an ed25519 client key for the test user, an authorized_keys file,
a known_hosts file with the host key, and an sshd_config that points only
into that directory. sshd runs in the foreground (-D) with -e, logging to
<dir>/sshd.log, and is stopped by the pid in its own pidfile. The system
sshd and its config are never read or touched (sshd -f names our config;
only the privilege-separation directory /run/sshd, which Debian's sshd
insists on, is created empty when missing).

The test user is the user running the tests (root under tests/run): we log
in with a key listed only in the private authorized_keys file, so no system
account is created. sshd runs in a private mount namespace (unshare -m)
where that user's login shell is /bin/sh (a copy of /etc/passwd is bind
mounted over it), so the machine's own shell rc files never run. StrictModes is off because the private dir lives under
a world-writable temp tree.

    s = sshd.Sshd.start("127.0.0.13", tmp, password="pw")

also accepts password logins for the test user with that password. The
system's /etc/shadow is not changed: sshd runs in a private mount namespace
(unshare -m) where a copy of it, with the user's hash replaced, is bind
mounted over /etc/shadow. Only that sshd sees the copy.
"""

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time
import random
import pwd

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"

_live = []


def _pdeathsig():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def free_port(address, lo=20000, hi=32000):
    """A port on `address` that nothing is bound to or listening on."""
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randrange(lo, hi)
        s = socket.socket()
        try:
            s.bind((address, port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free port on %s" % address)


def keygen(path, comment="wharf-test"):
    """Generate an unencrypted ed25519 key pair at path / path.pub."""
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return path


def fingerprint(pub_path):
    """'SHA256:...' of a public key file."""
    out = subprocess.run([SSH_KEYGEN, "-l", "-E", "sha256", "-f", pub_path], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


class Sshd:
    """One private sshd. Use Sshd.start(); stop() is idempotent."""

    def __init__(self, address, root, password=None):
        if not os.access(SSHD, os.X_OK):
            raise RuntimeError("%s is missing: install openssh-server (tests/lib/packages.txt)" % SSHD)
        self.address = address
        self.dir = tempfile.mkdtemp(prefix="sshd-%s-" % address, dir=root)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.host_key = keygen(os.path.join(self.dir, "host_ed25519"), "host-" + address)
        self.key_file = keygen(os.path.join(self.dir, "user_ed25519"), "user")
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        with open(self.key_file + ".pub") as f, open(self.authorized_keys, "w") as out:
            out.write(f.read())
        self.fingerprint = fingerprint(self.host_key + ".pub")
        self.pidfile = os.path.join(self.dir, "sshd.pid")
        self.log_path = os.path.join(self.dir, "sshd.log")
        self.port = free_port(address)
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        with open(self.host_key + ".pub") as f:
            kt, kb = f.read().split()[:2]
        with open(self.known_hosts, "w") as out:
            out.write("[%s]:%d %s %s\n" % (address, self.port, kt, kb))
        self.passwd = os.path.join(self.dir, "passwd")
        with open("/etc/passwd") as f:
            rows = [l.split(":") for l in f.read().splitlines()]
        with open(self.passwd, "w") as out:
            for r in rows:
                if len(r) == 7 and r[0] == self.user:
                    r[6] = "/bin/sh"
                out.write(":".join(r) + "\n")
        os.chmod(self.passwd, 0o644)
        self.password = password
        self.shadow = None
        if password is not None:
            self.shadow = os.path.join(self.dir, "shadow")
            hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, text=True,
                                    capture_output=True, check=True).stdout.strip()
            with open("/etc/shadow") as f:
                lines = f.read().splitlines()
            out = [":".join([l.split(":")[0], hashed] + l.split(":")[2:]) if l.split(":")[0] == self.user else l
                   for l in lines]
            fd = os.open(self.shadow, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(out) + "\n")
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write("\n".join([
                "ListenAddress %s:%d" % (address, self.port),
                "HostKey %s" % self.host_key,
                "PidFile %s" % self.pidfile,
                "AuthorizedKeysFile %s" % self.authorized_keys,
                "PermitRootLogin %s" % ("yes" if password is not None else "prohibit-password"),
                "PubkeyAuthentication yes",
                "PasswordAuthentication %s" % ("yes" if password is not None else "no"),
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "AllowAgentForwarding no",
                "AllowTcpForwarding yes",
                "AllowStreamLocalForwarding yes",  # socket = ... hosts (direct-streamlocal)
                "X11Forwarding no",
                "PrintMotd no",
                "MaxSessions 64",
                "MaxStartups 100:30:200",
                "Subsystem sftp internal-sftp",
                "LogLevel %s" % os.environ.get("WHARF_TEST_SSHD_LOGLEVEL", "VERBOSE"),
                "AcceptEnv WHARF_*",
                "",
            ]))
        self.proc = None

    @classmethod
    def start(cls, address, root, timeout=10, password=None):
        s = cls(address, root, password=password)
        s._run(timeout)
        return s

    def _run(self, timeout):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        # -t first: a bad config fails here with sshd's own message.
        chk = subprocess.run([SSHD, "-t", "-f", self.config], capture_output=True, text=True)
        if chk.returncode != 0:
            raise RuntimeError("sshd -t refused %s: %s" % (self.config, chk.stderr.strip()))
        logf = open(self.log_path, "ab")
        argv = [SSHD, "-D", "-e", "-f", self.config, "-o", "PidFile=" + self.pidfile]
        # sshd runs every command through the user's login shell, and bash
        # reads ~/.bashrc when sshd starts it; the machine's root rc may do
        # a lot (on the CI machine it spawns ~100 processes, 200 ms, per
        # command). In a private mount namespace the test user's shell is
        # /bin/sh instead: a copy of /etc/passwd is bind mounted over it (and
        # the shadow copy over /etc/shadow for password logins). unshare
        # execs sh, which execs sshd: the Popen pid stays sshd's.
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/passwd && { [ -z "$1" ] || mount --bind "$1" /etc/shadow; } && '
                'shift && exec "$@"', self.passwd, self.shadow or ""] + argv
        self.proc = subprocess.Popen(argv,
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     preexec_fn=_pdeathsig)
        logf.close()
        _live.append(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    pass
                if os.path.exists(self.pidfile):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sshd on %s:%d did not listen within %ss:\n%s"
                                   % (self.address, self.port, timeout, self.log_tail()))
            time.sleep(0.05)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def log_text_count(self, needle):
        """How many lines of this sshd's log contain `needle`."""
        try:
            with open(self.log_path, errors="replace") as f:
                return sum(1 for line in f if needle in line)
        except OSError:
            return 0

    def ssh_cmd(self, *remote):
        """argv running `remote` through the ssh client with this host's settings."""
        return ["/usr/bin/ssh", "-F", "/dev/null", "-i", self.key_file, "-p", str(self.port),
                "-o", "UserKnownHostsFile=" + self.known_hosts, "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-l", self.user, self.address] + list(remote)

    def inventory(self, name, **extra):
        """--set style pairs for a [host.NAME] entry reaching this sshd."""
        d = {"address": self.address, "port": str(self.port), "user": self.user,
             "key_file": self.key_file, "known_hosts": self.known_hosts}
        d.update({k: str(v) for k, v in extra.items()})
        return {"host.%s.%s" % (name, k): v for k, v in d.items()}

    def stop(self):
        """Stop this sshd by its pidfile (then its Popen pid), and wait."""
        pid = None
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        if self.proc is not None and self.proc.poll() is None:
            if pid != self.proc.pid:
                pid = self.proc.pid
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _live:
            _live.remove(self)


def _stop_all():
    for s in list(_live):
        try:
            s.stop()
        except Exception:
            pass


atexit.register(_stop_all)
