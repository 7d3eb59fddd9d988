"""Network partitions for the soak: iptables rules on `lo` that match a
worker's uid (`-m owner --uid-owner`), in one private chain of our own.

    fw = firewall.Firewall()            # chain wharfsoak<pid>, jumped to from OUTPUT (-o lo)
    fw.block("w1-redis", 60011, [6379, 26379], "reset")   # or "stall"
    fw.unblock("w1-redis")
    fw.destroy()                        # every rule of ours, the jump, the chain

"stall" drops the worker's outgoing packets (its connections hang, new ones
time out); "reset" rejects them with a TCP reset (its connections break at
once, new ones are refused). Only the owner match on the sender is used, so
the servers' own packets are never touched. No other rule or chain is ever
modified. Needs root and iptables (checked here with 1.8.9, nf_tables).
"""
import os
import subprocess
import threading

MODES = {
    "stall": ["-j", "DROP"],
    "reset": ["-j", "REJECT", "--reject-with", "tcp-reset"],
}


class FirewallError(RuntimeError):
    pass


def _ipt(*args, check=True):
    # -w: other users of iptables on this machine (podman) may hold its lock.
    r = subprocess.run(["iptables", "-w", "10"] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise FirewallError("iptables %s: %s" % (" ".join(str(a) for a in args), r.stderr.strip()))
    return r.returncode == 0


class Firewall:
    def __init__(self, chain=None):
        self.chain = chain or "wharfsoak%d" % os.getpid()
        self._rules = {}  # key -> rule spec (list), as added
        self._lock = threading.Lock()
        self._jump = ["OUTPUT", "-o", "lo", "-j", self.chain]
        _ipt("-N", self.chain)
        try:
            _ipt("-I", *self._jump)
        except FirewallError:
            _ipt("-X", self.chain, check=False)
            raise

    def block(self, key, uid, ports, mode):
        """Add rule `key`: TCP from uid to any of `ports` on lo, per `mode`."""
        if mode not in MODES:
            raise FirewallError("mode %r: not one of %s" % (mode, sorted(MODES)))
        spec = ["-o", "lo", "-p", "tcp", "-m", "owner", "--uid-owner", str(uid), "-m", "multiport",
                "--dports", ",".join(str(p) for p in ports)] + MODES[mode]
        with self._lock:
            if key in self._rules:
                raise FirewallError("rule %s is already in place" % key)
            _ipt("-A", self.chain, *spec)
            self._rules[key] = spec

    def unblock(self, key):
        """Remove rule `key`; False if it was not in place."""
        with self._lock:
            spec = self._rules.pop(key, None)
            if spec is None:
                return False
            _ipt("-D", self.chain, *spec)
            return True

    def active(self):
        with self._lock:
            return sorted(self._rules)

    def rules_text(self):
        """The chain as iptables lists it (for the self-check)."""
        r = subprocess.run(["iptables", "-w", "10", "-S", self.chain], capture_output=True, text=True, timeout=60)
        return r.stdout

    def destroy(self):
        """Remove every rule of ours, the jump and the chain. Idempotent;
        returns a list of problems (empty when all is gone)."""
        problems = []
        with self._lock:
            self._rules.clear()
            if self.chain is None:
                return problems
            while _ipt("-D", *self._jump, check=False):
                pass
            for args in (("-F", self.chain), ("-X", self.chain)):
                try:
                    _ipt(*args)
                except FirewallError as e:
                    problems.append(str(e))
            self.chain = None
        return problems
