#!/usr/bin/python3
"""The status scripts called directly on the test Redis, for the cases a
whole pipe reaches only by chance: the same start sent twice.

A worker retries a start whose reply it did not get, or that Redis ran but
could not replicate in time (`redis.wait_replicas`, a failover in progress).
Before the fix the retry found its own `running` and counted it as a
redelivery, so a replica outage of a few retries made a healthy job `dead`
(redelivery_limit) in tests/cluster/test_redis_sentinel.py."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402

env = wharftest.Env()
LUA = os.path.join(env.src, "common", "model", "lua")
SLOT = re.compile(r"^local (\w+) = (KEYS|ARGV)\[(\d+)\]", re.M)


def script(name):
    """The script's text and its slots: {name: (KEYS|ARGV, index)}."""
    with open(os.path.join(LUA, name + ".lua"), encoding="utf-8") as f:
        text = f.read()
    return text, {m.group(1): (m.group(2), int(m.group(3))) for m in SLOT.finditer(text)}


def call(r, name, **values):
    """EVAL a script with its slots given by name."""
    text, slots = script(name)
    keys = [None] * sum(1 for kind, _ in slots.values() if kind == "KEYS")
    argv = [None] * sum(1 for kind, _ in slots.values() if kind == "ARGV")
    for slot, (kind, i) in slots.items():
        (keys if kind == "KEYS" else argv)[i - 1] = str(values[slot])
    return r.eval(text, len(keys), *(keys + argv))


class StartScriptTest(unittest.TestCase):
    def setUp(self):
        self.r = env.redis()
        p = env.new_prefix()
        self.args = dict(job=p + "job:s1", recent=p + "recent", scheduled=p + "scheduled", leases=p + "leases",
                         lock_key=p + "lock:", id="s1", job_type="system.noop", target="", created_at=1000,
                         max_attempts=3, now=5000, worker="w1", events=p + "events", max_redeliveries=2,
                         mode="run", lock="", lock_ms=60000, run_at=0, body="", lease_until=0)

    def start(self, **over):
        return call(self.r, "start", **dict(self.args, **over))

    def test_the_same_start_twice_counts_nothing(self):
        self.assertEqual(self.start(), "run 1 3")
        for _ in range(5):  # more than max_redeliveries
            self.assertEqual(self.start(), "run 1 3")
        h = self.r.hgetall(self.args["job"])
        self.assertEqual((h["state"], h["attempt"], h.get("redeliveries")), ("running", "1", None), h)

    def test_a_later_delivery_of_a_running_job_is_a_redelivery(self):
        self.assertEqual(self.start(), "run 1 3")
        # the worker died; the broker hands the message to another worker,
        # or to the same one again later: a new start, with its own clock
        self.assertEqual(self.start(worker="w2", now=6000), "run 1 3")
        self.assertEqual(self.start(now=7000), "run 1 3")
        self.assertEqual(self.r.hget(self.args["job"], "redeliveries"), "2")
        self.assertEqual(self.start(now=8000), ["dead", "redelivery_limit", "3"])


if __name__ == "__main__":
    unittest.main()
