#!/usr/bin/python3
"""The status scripts called directly on the test Redis, for the cases a
whole pipe reaches only by chance: the same start sent twice, and a batch of
moves (moves.lua, the worker's group commit) in which one move fails, many
jobs are counted, and events go out only while someone listens.

A worker retries a start whose reply it did not get, or that Redis ran but
could not replicate in time (`redis.wait_replicas`, a failover in progress).
Before the fix the retry found its own `running` and counted it as a
redelivery, so a replica outage of a few retries made a healthy job `dead`
(redelivery_limit) in tests/cluster/test_redis_sentinel.py."""
import os
import re
import sys
import unittest

import msgpack

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import lua_embed  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
SLOT = re.compile(r"^local (\w+) = (KEYS|ARGV)\[(\d+)\]", re.M)


read = lua_embed.read


def slots(name):
    """A script's slots: {name: (KEYS|ARGV, index)}."""
    return {m.group(1): (m.group(2), int(m.group(3))) for m in SLOT.finditer(read(name + ".lua"))}


# moves.lua and enqueue_many.lua as the build embeds them: their includes
# expanded (cmake/embed.cmake)
MOVES = lua_embed.expanded("moves.lua")
ENQUEUE_MANY = lua_embed.expanded("enqueue_many.lua")
ENQUEUE_TAIL = ("run_at", "body", "unique_for", "lock", "priority", "unique", "park")


def move(name, **values):
    """One move of a batch, by its script's slot names: (script, values)."""
    sl = slots(name)
    missing = set(sl) - set(values)
    assert not missing, missing
    return name, {k: str(v) for k, v in values.items()}


START = ("id", "job_type", "target", "created_at", "max_attempts", "now", "ttl", "mode", "lock", "lock_ms", "run_at",
         "body", "lease_until", "run_ms")
FINISH = ("id", "state", "now", "job_type", "created_at", "count", "ttl", "result", "error_code", "error_message",
          "lease_until")


def batch(r, *moves):
    """EVAL moves.lua with the moves given, encoded as the worker encodes
    them (one flat msgpack array: the shared header, then each move's own
    values, always in the long form); its replies, one per move. The keys the script makes from the
    prefix and the id must be the keys the slots name."""
    vals = [v for _, v in moves]
    p = vals[0]["job"].rsplit("job:", 1)[0]
    st = next((v for n, v in moves if n == "start"), {"worker": "", "max_redeliveries": "0", "run_ms": "0"})
    fin = next((v for n, v in moves if n == "finish"), None)
    minute, hour = (fin["stats_minute"].rsplit(":", 1)[1], fin["stats_hour"].rsplit(":", 1)[1]) if fin else ("0", "0")
    out = [p, st["worker"], st["max_redeliveries"], minute, hour, fin["ttl_minute"] if fin else "0",
           fin["ttl_hour"] if fin else "0", st["run_ms"]]
    for name, v in moves:
        made = {"job": p + "job:" + v["id"], "events": p + "events"}
        if name == "start":
            made.update(recent=p + "recent", scheduled=p + "scheduled", leases=p + "leases",
                        lock_key=p + "lock:" + v["lock"], workers=p + "worker:")
            out += ["S"] + [v[k] for k in START]
        else:
            made.update(log=p + "job:%s:log" % v["id"], leases=p + "leases", stats_types=p + "stats:types")
            if v["count"] == "1":
                made.update(stats_minute="%sstats:%s:1m:%s" % (p, v["job_type"], minute),
                            stats_hour="%sstats:%s:1h:%s" % (p, v["job_type"], hour))
            out += ["F"] + [v[k] for k in FINISH]
        for k, want in made.items():
            assert v.get(k, want) == want, (k, v.get(k), want)
    return r.eval(MOVES, 0, msgpack.packb(out))


def call(r, name, **values):
    """A script's move alone, as a batch of one; its reply."""
    return batch(r, move(name, **values))[0]


class StartScriptTest(unittest.TestCase):
    def setUp(self):
        self.r = env.redis()
        p = env.new_prefix()
        self.args = dict(job=p + "job:s1", recent=p + "recent", scheduled=p + "scheduled", leases=p + "leases",
                         lock_key=p + "lock:", workers=p + "worker:", id="s1", job_type="system.noop", target="", created_at=1000,
                         max_attempts=3, now=5000, worker="w1", events=p + "events", max_redeliveries=2,
                         mode="run", lock="", lock_ms=60000, run_at=0, body="", lease_until=0, ttl=0,
                         run_ms=0)

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

    def test_waiting_for_a_lock_after_a_redelivery_counts_once(self):
        lock_key = self.args["lock_key"] + "L"
        locked = dict(lock="L", lock_key=lock_key)
        self.assertEqual(self.start(**locked), "run 1 3")
        # its worker died; its lock expired and another job took it
        self.r.set(lock_key, "other")
        for i in range(5):  # more than max_redeliveries: each wait goes back to the queue
            self.assertEqual(self.start(worker="w2", now=6000 + i, **locked), ["locked", "other"])
        self.assertEqual(self.r.hget(self.args["job"], "redeliveries"), None)
        self.r.delete(lock_key)
        self.assertEqual(self.start(worker="w2", now=7000, **locked), "run 1 3")
        self.assertEqual(self.r.hget(self.args["job"], "redeliveries"), "1")
        self.assertEqual(self.r.get(lock_key), "s1")

    def test_a_redelivered_job_waits_while_its_earlier_run_holds_its_lock(self):
        lock_key = self.args["lock_key"] + "L"
        locked = dict(lock="L", lock_key=lock_key)
        self.assertEqual(self.start(**locked), "run 1 3")
        # w1 lost its broker connection but runs on and renews the lock: the
        # copy the broker hands to w2 waits rather than overlap that run
        self.assertEqual(self.start(worker="w2", now=6000, **locked), ["locked", "s1"])
        self.assertEqual(self.r.hget(self.args["job"], "worker"), "w1")
        # the earlier run's lock expired (its worker died): the copy runs
        self.r.delete(lock_key)
        self.assertEqual(self.start(worker="w2", now=7000, **locked), "run 1 3")
        self.assertEqual(self.r.hget(self.args["job"], "redeliveries"), "1")

    def test_a_copy_of_a_job_running_on_a_live_worker_waits_for_that_run(self):
        self.assertEqual(self.start(), "run 1 3")
        # w1 is alive (it beats; it started before the run) but lost its broker
        # connection, or was paused past its heartbeat: the broker hands the
        # message to w2, which must not run it beside w1's run, nor count it
        workers = self.args["workers"]
        self.r.hset(workers + "w1", mapping={"id": "w1", "started_at": "4000"})
        for i in range(5):  # more than max_redeliveries: each wait goes back to the queue
            self.assertEqual(self.start(worker="w2", now=6000 + i), ["busy", "w1"])
        h = self.r.hgetall(self.args["job"])
        self.assertEqual((h["state"], h["worker"], h["started_at"], h.get("redeliveries")),
                         ("running", "w1", "5000", None), h)
        # w1's own start sent again is still its own
        self.assertEqual(self.start(), "run 1 3")
        # w1 is gone (its registry key expired): the copy runs, a redelivery
        self.r.delete(workers + "w1")
        self.assertEqual(self.start(worker="w2", now=7000), "run 1 3")
        self.assertEqual(self.r.hget(self.args["job"], "redeliveries"), "1")

    def test_a_copy_stops_waiting_once_the_run_is_past_the_longest_it_can_last(self):
        # the run started at 5000 and may last 60 s (its timeout and a lease)
        self.assertEqual(self.start(run_ms=60000), "run 1 3")
        self.r.hset(self.args["workers"] + "w1", mapping={"id": "w1", "started_at": "4000"})
        self.assertEqual(self.start(worker="w2", now=64999, run_ms=60000), ["busy", "w1"])
        # w1 lives but would have ended that run by now: it lost the job, and
        # the copy runs it rather than wait for it forever
        self.assertEqual(self.start(worker="w2", now=65000, run_ms=60000), "run 1 3")
        h = self.r.hgetall(self.args["job"])
        self.assertEqual((h["worker"], h["started_at"], h["redeliveries"]), ("w2", "65000", "1"), h)

    def test_a_worker_id_reused_by_a_later_process_does_not_make_its_run_alive(self):
        self.assertEqual(self.start(), "run 1 3")
        # w1 died and a new process took the same id (worker.id) after the run started
        self.r.hset(self.args["workers"] + "w1", mapping={"id": "w1", "started_at": "5500"})
        self.assertEqual(self.start(now=6000), "run 1 3")
        self.assertEqual(self.r.hget(self.args["job"], "redeliveries"), "1")

    def test_a_start_retried_past_its_locks_ttl_takes_the_lock_again_or_waits(self):
        lock_key = self.args["lock_key"] + "L"
        locked = dict(lock="L", lock_key=lock_key)
        self.assertEqual(self.start(**locked), "run 1 3")
        # its reply was lost and the tries took longer than the lock's ttl
        self.r.delete(lock_key)
        self.assertEqual(self.start(**locked), "run 1 3")
        self.assertEqual(self.r.get(lock_key), "s1")
        self.assertGreater(self.r.pttl(lock_key), 0)
        # ... and another job took the lock meanwhile: this one must not run
        self.r.set(lock_key, "other")
        self.assertEqual(self.start(**locked), ["locked", "other"])
        self.assertEqual(self.r.get(lock_key), "other")

    def test_a_redelivery_past_the_limit_does_not_take_the_lock(self):
        lock_key = self.args["lock_key"] + "L"
        locked = dict(lock="L", lock_key=lock_key)
        self.assertEqual(self.start(**locked), "run 1 3")
        self.r.delete(lock_key)
        self.r.hset(self.args["job"], "redeliveries", "2")
        self.assertEqual(self.start(worker="w2", now=6000, **locked), ["dead", "redelivery_limit", "3"])
        self.assertEqual(self.r.get(lock_key), None)

    def test_a_cancel_found_at_a_redelivery_ends_the_job_as_a_finish_would(self):
        # cancelled while running, then its worker died: the redelivered start ends it
        # `cancelled` and releases and expires what finish.lua would (schemas 9.1, 15)
        job, lock_key = self.args["job"], self.args["lock_key"] + "L"
        unique_key = self.args["lock_key"].replace("lock:", "unique:") + "u1"
        self.assertEqual(self.start(lock="L", lock_key=lock_key), "run 1 3")
        self.r.set(unique_key, "s1")
        self.r.hset(job, mapping={"unique_key": unique_key, "log": "1", "cancel_requested": "1"})
        self.r.xadd(job + ":log", {"s": "out", "l": "a line"})
        # while the earlier run's lock lives, that run may be going on (its
        # worker cut off, or paused): the copy waits and frees nothing
        self.assertEqual(self.start(worker="w2", now=6000, ttl=600, lock="L", lock_key=lock_key), ["locked", "s1"])
        self.assertEqual((self.r.hget(job, "state"), self.r.get(lock_key)), ("running", "s1"))
        self.r.delete(lock_key)  # it expired: the worker is gone
        reply = self.start(worker="w2", now=7000, ttl=600, lock="L", lock_key=lock_key)
        self.assertEqual(reply, ["skip", "cancelled", "cancelled", "1"])
        h = self.r.hgetall(job)
        self.assertEqual((h["state"], h["error"]), ("cancelled", "cancelled"))
        for gone in ("cancel_requested", "lock_key", "held"):
            self.assertNotIn(gone, h)
        self.assertIsNone(self.r.get(lock_key))
        self.assertIsNone(self.r.get(unique_key))
        self.assertTrue(0 < self.r.ttl(job) <= 600, self.r.ttl(job))
        self.assertTrue(0 < self.r.ttl(job + ":log") <= 600, self.r.ttl(job + ":log"))


    def test_a_cancel_found_while_the_runs_worker_lives_is_left_to_that_run(self):
        # the soak: a job cancelled while its worker was paused was ended by a
        # copy, its lock freed under the paused run, and the next holder ran
        # beside it. The live worker sees the cancel and ends the run itself.
        job = self.args["job"]
        self.assertEqual(self.start(run_ms=60000), "run 1 3")
        self.r.hset(self.args["workers"] + "w1", mapping={"id": "w1", "started_at": "4000"})
        self.r.hset(job, "cancel_requested", "1")
        self.assertEqual(self.start(worker="w2", now=6000, run_ms=60000), ["busy", "w1"])
        h = self.r.hgetall(job)
        self.assertEqual((h["state"], h["worker"], h.get("cancel_requested")), ("running", "w1", "1"), h)
        # the worker is gone: the copy ends the job as cancelled
        self.r.delete(self.args["workers"] + "w1")
        self.assertEqual(self.start(worker="w2", now=7000, run_ms=60000), ["skip", "cancelled", "cancelled", "1"])


class MovesTest(unittest.TestCase):
    """What a batch shares: errors stay with their move, counts are summed,
    events go out only while someone listens."""

    def setUp(self):
        self.r = env.redis()
        self.p = p = env.new_prefix()
        self.common = dict(recent=p + "recent", scheduled=p + "scheduled", leases=p + "leases", lock_key=p + "lock:",
                           workers=p + "worker:",
                           job_type="system.noop", target="", created_at=1000, max_attempts=3, now=5000,
                           worker="w1", events=p + "events", max_redeliveries=2, mode="run", lock="",
                           lock_ms=60000, run_at=0, body="", lease_until=0, ttl=0, run_ms=0)
        self.minute, self.hour = p + "stats:system.noop:1m:60", p + "stats:system.noop:1h:0"

    def start(self, i):
        return move("start", job=self.p + "job:%d" % i, id=str(i), **self.common)

    def finish(self, i, state="succeeded"):
        return move("finish", job=self.p + "job:%d" % i, log=self.p + "job:%d:log" % i, leases=self.p + "leases",
                    stats_minute=self.minute, stats_hour=self.hour, stats_types=self.p + "stats:types",
                    id=str(i), state=state, result="", error_code="", error_message="", now=6000, ttl=600,
                    events=self.p + "events", job_type="system.noop", created_at=1000, lease_until=0, count="1",
                    ttl_minute=7200, ttl_hour=86400)

    def test_a_move_that_fails_fails_alone(self):
        self.r.set(self.p + "job:2", "not a hash")
        replies = batch(self.r, self.start(1), self.start(2), self.start(3))
        self.assertEqual(replies[0], "run 1 3")
        self.assertEqual(replies[1][0], "err")
        self.assertIn("WRONGTYPE", replies[1][1])
        self.assertEqual(replies[2], "run 1 3")
        self.assertEqual(self.r.hget(self.p + "job:3", "state"), "running")

    def test_counts_are_summed_over_the_batch_and_a_duplicate_is_not_counted(self):
        batch(self.r, *[self.start(i) for i in range(5)])
        moves = [self.finish(i) for i in range(4)] + [self.finish(4, "failed"), self.finish(0)]
        replies = batch(self.r, *moves)
        self.assertEqual(replies[:5], ["ok"] * 5)
        self.assertEqual(replies[5], ["skip", "succeeded"])  # finished twice: counted once
        for key, ttl in ((self.minute, 7200), (self.hour, 86400)):
            self.assertEqual(self.r.hgetall(key), {"ok": "4", "failed": "1"})
            self.assertTrue(0 < self.r.ttl(key) <= ttl)
        self.assertEqual(self.r.smembers(self.p + "stats:types"), {"system.noop"})
        batch(self.r, self.start(9), self.finish(9))
        self.assertEqual(self.r.hget(self.minute, "ok"), "5")

    def published(self, *moves):
        """The channels moves.lua PUBLISHed to while making `moves`, as
        MONITOR (which is no subscriber) shows them."""
        done = self.p + "done"
        with env.redis().monitor() as m:
            batch(self.r, *moves)
            self.r.echo(done)
            seen = []
            for c in m.listen():
                if c["command"].startswith("PUBLISH " + self.p):
                    seen.append(c["command"].split()[1])
                if c["command"] == "ECHO " + done:
                    return seen

    def test_events_go_out_only_while_someone_listens(self):
        self.assertEqual(self.published(self.start(1), self.finish(1)), [])  # nobody listens
        sub = env.redis().pubsub()
        sub.subscribe(self.p + "events")
        self.assertEqual(sub.get_message(timeout=5)["type"], "subscribe")
        batch(self.r, self.start(2), self.finish(2))
        got = [sub.get_message(timeout=5)["data"] for _ in range(2)]
        self.assertEqual(got, ["2 running", "2 succeeded"])
        self.assertEqual(self.published(self.start(3)), [self.p + "events"])
        sub.close()


class EnqueueManyTest(unittest.TestCase):
    """enqueue_many.lua (wharf_submit_many's one call per batch) makes each
    job exactly as enqueue.lua alone does (which clients call per job)."""

    JOBS = [  # (id, type, target, args, the long form's values or None)
        ("a", "system.noop", "", '{"n":1}', None),
        ("b", "system.sleep", "web1", '{"ms":5}', None),
        ("c", "system.noop", "", "{}", dict(run_at=99000, body="\x93msg", unique_for=0, lock="", priority=0,
                                             unique="", park=0)),
        ("d", "system.noop", "web2", '{"x":"y"}', dict(run_at=0, body="m", unique_for=60, lock="L", priority=5,
                                                        unique="system.noop\0web2\0{}", park=0)),
        ("a", "system.noop", "", '{"n":1}', None),  # the same id again: nothing made
    ]

    def setUp(self):
        self.r = env.redis()

    def values(self, p, job):
        jid, jtype, target, args, extra = job
        v = dict(job=p + "job:" + jid, recent=p + "recent", scheduled=p + "scheduled", id=jid, job_type=jtype,
                 target=target, created_at=1000, max_attempts=3, now=5000, events=p + "events", prefix=p,
                 args=args, **(extra or dict(run_at=0, body="", unique_for=0, lock="", priority=0, unique="",
                                             park=0)))
        return {k: str(x) for k, x in v.items()}

    def alone(self, p):
        sl = slots("enqueue")
        out = []
        for job in self.JOBS:
            v = self.values(p, job)
            keys = [None] * sum(1 for kind, _ in sl.values() if kind == "KEYS")
            argv = [None] * sum(1 for kind, _ in sl.values() if kind == "ARGV")
            for slot, (kind, i) in sl.items():
                (keys if kind == "KEYS" else argv)[i - 1] = v[slot]
            out.append(self.r.eval(read("enqueue.lua"), len(keys), *(keys + argv)))
        return out

    def many(self, p):
        b = [p, "5000"]
        for job in self.JOBS:
            v = self.values(p, job)
            b += ["E" if job[4] else "e"] + [v[k] for k in ("id", "job_type", "target", "created_at",
                                                             "max_attempts", "args")]
            if job[4]:
                b += [v[k] for k in ENQUEUE_TAIL]
        return self.r.eval(ENQUEUE_MANY, 0, msgpack.packb(b))

    def state_of(self, p):
        """Everything the jobs left under prefix p, with p taken out."""
        out = {}
        for key in self.r.scan_iter(match=p + "*"):
            t, name = self.r.type(key), key[len(p):]
            if t == "hash":
                out[name] = {f: x.replace(p, "<p>") for f, x in self.r.hgetall(key).items()}
            elif t == "zset":
                out[name] = self.r.zrange(key, 0, -1, withscores=True)
            elif t == "set":
                out[name] = self.r.smembers(key)
            elif t == "string":
                out[name] = self.r.get(key).replace(p, "<p>")
        return out

    def test_a_batch_makes_exactly_what_enqueue_makes_alone(self):
        pa, pb = env.new_prefix(), env.new_prefix()
        replies = self.many(pb)
        self.assertEqual(replies, self.alone(pa))
        self.assertEqual([r[0] for r in replies], [1, 1, 1, 1, 0])
        self.assertEqual(replies[2][1], "scheduled")
        self.assertEqual(self.state_of(pb), self.state_of(pa))
        self.assertEqual(self.r.hget(pb + "job:a", "args"), '{"n":1}')

    def test_a_job_that_fails_fails_alone(self):
        p = env.new_prefix()
        self.r.set(p + "job:b", "not a hash")
        replies = self.many(p)
        self.assertEqual(replies[1][0], "err")
        self.assertIn("WRONGTYPE", replies[1][1])
        self.assertEqual([replies[i][0] for i in (0, 2, 3)], [1, 1, 1])
        self.assertEqual(self.r.hget(p + "job:d", "state"), "queued")


if __name__ == "__main__":
    unittest.main()
