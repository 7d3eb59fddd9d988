"""The private Redis Sentinel set of tests/cluster/sentinel.sh, for the
tests that run on it (tests/cluster/test_redis_sentinel.py,
tests/clients/test_sentinel.py).

    s = sentinelset.SentinelSet(tmp, "sentinel")   # up: master r1, replica r2, Sentinels s1..s3
    s.port["r1"], s.sentinels                      # ports; [("127.0.0.1", port)] of s1..s3
    s.script("kill", "r2")                         # sentinel.sh's other verbs, on this set
    s.down()                                       # a CompletedProcess; nonzero if anything is left
"""
import os
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sentinel.sh")
MASTER = "wharfm"          # the master name sentinel.sh has the Sentinels watch


class SentinelSet:
    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, "%s-%d" % (name, os.getpid()))
        r = self.script("up")
        if r.returncode != 0:
            self.down()
            raise RuntimeError("Sentinel set did not start:\n%s" % r.stderr[-4000:])
        self.port = {}
        for n in ("r1", "r2", "s1", "s2", "s3"):
            with open(os.path.join(self.dir, n + ".port")) as f:
                self.port[n] = int(f.read())
        self.sentinels = [("127.0.0.1", self.port[s]) for s in ("s1", "s2", "s3")]

    def script(self, verb, *args, timeout=120):
        """sentinel.sh VERB DIR ARGS... on this set."""
        return subprocess.run([SCRIPT, verb, self.dir] + [str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def down(self):
        return self.script("down")
