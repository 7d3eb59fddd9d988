#!/usr/bin/env python3
"""The nemesis's schedule and its rules, without any server (seconds).

Asserts: plan(seed, minutes) is a pure function (a replay repeats it); each
kind occurs >= 10 times in 30 minutes and >= once in 3; every fault starts
inside the window; SIGSTOPs outlast the worker heartbeat; each partition and
RabbitMQ stop mode, and a leader stop, occur in a 3-minute run; the claims
never put all workers, two RabbitMQ nodes, or both Redis faults down at once.
"""
import collections
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nemesis  # noqa: E402
import topology  # noqa: E402


class FakeTopo:
    def __init__(self, leader=1, ready=True):
        self.leader, self.ready = leader, ready
        self.redis = self

    def rmq_leader(self):
        return self.leader

    def redis_ready_for_failover(self):
        return self.ready

    def master_name(self):
        return "r1"


class FakeNemesis:
    def __init__(self, held=(), **kw):
        self.held = set(held)
        self.topo = FakeTopo(**kw)


def entry(kind, pick=0.0, leader=False, mode=None):
    return {"kind": kind, "pick": pick, "leader": leader, "mode": mode}


class PlanTest(unittest.TestCase):
    def test_pure_function_of_seed_and_minutes(self):
        self.assertEqual(nemesis.plan(21, 3), nemesis.plan(21, 3))
        self.assertEqual(nemesis.plan(7, 30), nemesis.plan(7, 30))
        self.assertNotEqual(nemesis.plan(21, 3), nemesis.plan(22, 3))

    def test_counts_per_kind(self):
        for minutes, least in ((30, 10), (3, 1), (1, 1)):
            c = collections.Counter(e["kind"] for e in nemesis.plan(5, minutes))
            self.assertEqual(set(c), set(nemesis.KINDS))
            self.assertGreaterEqual(min(c.values()), least, "%d min: %s" % (minutes, c))

    def test_window_and_order(self):
        for minutes in (3, 30):
            p = nemesis.plan(11, minutes)
            self.assertEqual([e["seq"] for e in p], list(range(len(p))))
            self.assertEqual([e["at"] for e in p], sorted(e["at"] for e in p))
            self.assertGreaterEqual(p[0]["at"], 0)
            self.assertLessEqual(p[-1]["at"], nemesis.WINDOW[1] * minutes * 60)

    def test_sigstop_outlasts_the_heartbeat(self):
        hb = topology.WORKER_CONFIG["worker.heartbeat_s"]
        stops = [e["hold"] for e in nemesis.plan(3, 30) if e["kind"] == "worker_stop"]
        self.assertGreater(min(stops), hb, stops)
        self.assertGreater(max(stops), topology.WORKER_CONFIG["jobs.lease_s"], "no stop outlives a lease: %s" % stops)

    def test_modes_and_leader_in_a_short_run(self):
        for seed in range(20):
            p = nemesis.plan(seed, 3)
            for kind, modes in nemesis.MODES.items():
                self.assertEqual({e["mode"] for e in p if e["kind"] == kind}, set(modes), (seed, kind))
            self.assertIn(True, [e["leader"] for e in p if e["kind"] == "rmq_node_stop"], seed)


class ClaimTest(unittest.TestCase):
    def test_never_all_workers(self):
        n = FakeNemesis(held={"w:w1", "w:w2"})
        for kind in ("worker_kill", "worker_stop", "partition_redis", "partition_amqp"):
            self.assertIsNone(nemesis.TABLE[kind][0](n, entry(kind)))
        n = FakeNemesis(held={"w:w1"})
        self.assertEqual(nemesis.TABLE["worker_kill"][0](n, entry("worker_kill", pick=0.99)), ("w3", {"w:w3"}))

    def test_one_rabbitmq_node_at_a_time(self):
        claim = nemesis.TABLE["rmq_node_stop"][0]
        self.assertIsNone(claim(FakeNemesis(held={"rmq", "n2"}), entry("rmq_node_stop")))
        self.assertEqual(claim(FakeNemesis(leader=2), entry("rmq_node_stop", leader=True)), ("n2", {"rmq", "n2"}))
        for pick in (0.0, 0.5, 0.99):   # not the leader's turn: never the leader
            self.assertNotEqual(claim(FakeNemesis(leader=2), entry("rmq_node_stop", pick=pick))[0], "n2")
        # node 3 is being filled: a stop takes another node, even the leader's turn
        self.assertEqual(claim(FakeNemesis(held={"n3"}, leader=3), entry("rmq_node_stop", pick=0.99, leader=True)),
                         ("n2", {"rmq", "n2"}))
        self.assertIsNone(nemesis.TABLE["disk_alarm"][0](FakeNemesis(held={"rmq", "n3"}), entry("disk_alarm")))

    def test_one_redis_fault_and_a_ready_replica(self):
        kill = nemesis.TABLE["redis_master_kill"][0]
        self.assertIsNone(kill(FakeNemesis(ready=False), entry("redis_master_kill")))
        self.assertIsNone(kill(FakeNemesis(held={"redis"}), entry("redis_master_kill")))
        self.assertEqual(kill(FakeNemesis(), entry("redis_master_kill")), ("r1", {"redis"}))
        self.assertIsNone(nemesis.TABLE["redis_maxmemory"][0](FakeNemesis(held={"redis"}), entry("redis_maxmemory")))


if __name__ == "__main__":
    unittest.main()
