#!/usr/bin/python3
"""The core pipe against real RabbitMQ and Redis: submit, execute, status,
retries, dead letters, hostile bodies, drain on SIGTERM, SIGKILL recovery,
reconnects. Each test runs in its own vhost with its own Redis prefix."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402
import msgpack  # noqa: E402
import pika  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


def envelope(id, type="system.noop", args=None, **extra):
    d = {"v": 1, "id": id, "type": type, "args": {} if args is None else args,
         "created_at": int(time.time() * 1000)}
    d.update(extra)
    return msgpack.packb(d)


class Publisher:
    """A pika publisher with confirms, standing in for a non-C client."""

    def __init__(self, amqp_url):
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    def publish(self, body, family="system", message_id=None, type=None):
        props = pika.BasicProperties(content_type="application/msgpack", delivery_mode=2,
                                     message_id=message_id, type=type, headers={"wharf-schema": 1})
        self.ch.basic_publish("wharf.jobs", family, body, props, mandatory=True)

    def close(self):
        self.conn.close()


class PipeTest(unittest.TestCase):
    def setUp(self):
        self.amqp = env.new_vhost()
        self.prefix = env.new_prefix()
        self.r = env.redis()
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.alive():
                w.kill()

    def worker(self, **kw):
        w = env.start_worker(self.amqp, self.prefix, **kw)
        self.workers.append(w)
        return w

    def cli(self, *args, **kw):
        return env.wharf(list(args), self.amqp, self.prefix, **kw)

    def job(self, id):
        return self.r.hgetall(self.prefix + "job:" + id)

    def state(self, id):
        return self.r.hget(self.prefix + "job:" + id, "state")

    def wait_state(self, id, states, timeout=20):
        states = (states,) if isinstance(states, str) else states
        return wait_for(lambda: self.state(id) in states and self.state(id), timeout,
                        what="job %s to reach %s (now %s)" % (id, states, self.state(id)))

    def dead_messages(self, n, timeout=15):
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.dead") >= n, timeout,
                 what="%d messages in wharf.dead" % n)
        return env.get_messages(self.amqp, "wharf.dead", n + 10)

    # ---------------------------------------------------------------- tests

    def test_submit_runs_and_records_the_status_trail(self):
        self.worker()
        events = self.r.pubsub()
        events.subscribe(self.prefix + "events")
        p = self.cli("submit", "system.noop", "--arg", "x=1", "--arg", "name=web", "--wait", "--timeout", "30")
        self.assertEqual(p.returncode, 0, p.stderr)
        id = p.stdout.split()[0]
        h = self.job(id)
        self.assertEqual(h["state"], "succeeded")
        self.assertEqual(json.loads(h["result"]), {"x": 1, "name": "web"})
        self.assertEqual(h["attempt"], "1")
        for f in ("created_at", "queued_at", "started_at", "finished_at"):
            self.assertTrue(h[f].isdigit(), f)
        self.assertLessEqual(int(h["queued_at"]), int(h["started_at"]))
        self.assertLessEqual(int(h["started_at"]), int(h["finished_at"]))
        ttl = self.r.ttl(self.prefix + "job:" + id)
        self.assertTrue(0 < ttl <= 7 * 86400, ttl)
        seen = []
        deadline = time.time() + 5
        while time.time() < deadline and len(seen) < 3:
            m = events.get_message(timeout=0.5)
            if m and m["type"] == "message":
                seen.append(m["data"])
        self.assertEqual(seen, ["%s queued" % id, "%s running" % id, "%s succeeded" % id])

    def test_idempotent_submit_enqueues_once(self):
        self.worker()
        p1 = self.cli("submit", "system.noop", "--id", "same-1", "--wait")
        self.assertEqual(p1.returncode, 0, p1.stderr)
        p2 = self.cli("submit", "system.noop", "--id", "same-1", "--arg", "x=2")
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertIn("already exists", p2.stderr)
        time.sleep(0.5)
        self.assertEqual(json.loads(self.job("same-1")["result"]), {})
        self.assertEqual(env.queue_depth(self.amqp, "wharf.system"), 0)
        def ok_count():
            return sum(int(self.r.hget(k, "ok") or 0) for k in self.r.keys(self.prefix + "stats:system.noop:1m:*"))
        # Stats are flushed about once a second: wait for the first count, give
        # a duplicate run one more flush to show up, then it must be exactly 1.
        wait_for(ok_count, 5, what="the ok count in the stats")
        time.sleep(1.5)
        self.assertEqual(ok_count(), 1)

    def test_direct_publish_creates_the_hash(self):
        self.worker()
        pub = Publisher(self.amqp)
        pub.publish(envelope("direct-1", args={"a": [1, 2]}), message_id="direct-1", type="system.noop")
        pub.close()
        self.wait_state("direct-1", "succeeded")
        h = self.job("direct-1")
        self.assertEqual(h["type"], "system.noop")
        self.assertEqual(json.loads(h["result"]), {"a": [1, 2]})

    def test_hostile_bodies_are_dead_lettered_while_serving(self):
        w = self.worker(extra_env={"WHARF_JOBS_MAX_BODY": "4096"})
        rnd = random.Random(7)
        bad = [
            (b"\xc1", "bad_msgpack", None),
            (b"\x82\xa1v", "bad_msgpack", None),
            (bytes(rnd.getrandbits(8) for _ in range(300)), None, None),
            (b"\xdd\x05\xf5\xe1\x00\x01", "bad_msgpack", None),       # array of 100M declared
            (b"\xdb\x7f\xff\xff\xff" + b"x" * 10, "bad_msgpack", None),  # 2 GB str declared
            (b"\x91" * 100 + b"\x00", "bad_msgpack", None),             # nested 100 deep
            (msgpack.packb([1, 2]), "bad_envelope", None),
            (msgpack.packb({"v": 2, "id": "h-v2", "type": "system.noop", "args": {}, "created_at": 1}),
             "unsupported_schema", "h-v2"),
            (msgpack.packb({"v": 1, "id": "h:colon", "type": "system.noop", "args": {}, "created_at": 1}),
             "bad_envelope", None),
            (envelope("h-type", type="system.nope"), "unknown_type", "h-type"),
            (envelope("h-args", type="system.sleep", args={"ms": "soon"}), "bad_args", "h-args"),
            (envelope("h-big", args={"blob": "x" * 5000}), "too_large", "h-big"),
            (envelope("h-bin", args={"b": b"\x00\x01"}), "bad_args", "h-bin"),
        ]
        pub = Publisher(self.amqp)
        for i, (body, _, id) in enumerate(bad):
            pub.publish(body, message_id=id)
            pub.publish(envelope("ok-%d" % i), message_id="ok-%d" % i)
        pub.close()
        for i in range(len(bad)):
            self.wait_state("ok-%d" % i, "succeeded")
        msgs = self.dead_messages(len(bad))
        self.assertEqual(len(msgs), len(bad))
        reasons = [m["properties"]["headers"]["wharf-reason"] for m in msgs]
        for body, reason, id in bad:
            if reason:
                self.assertIn(reason, reasons)
            if id:
                h = self.job(id)
                self.assertEqual(h.get("state"), "failed", id)
                self.assertEqual(h.get("error"), reason, id)
                self.assertTrue(h.get("error_message"), id)
        self.assertEqual(self.job("h-args")["error_message"], "args.ms: must be an integer in 0..3600000")
        big = [m for m in msgs if m["properties"]["headers"].get("wharf-job-id") == "h-big"][0]
        self.assertEqual(big["properties"]["headers"]["wharf-error-code"], "too_large")
        self.assertGreater(int(big["properties"]["headers"]["wharf-body-size"]), 4096)
        self.assertEqual(big["payload"], b"")
        self.assertTrue(w.alive())
        self.assertNotIn("AddressSanitizer", w.log_text())

    def test_transient_failures_retry_then_die(self):
        self.worker()
        p = self.cli("submit", "system.fail", "--id", "flaky", "--arg", "code=flaky", "--arg", "transient=true",
                     "--max-attempts", "3", "--wait", "--timeout", "60")
        self.assertEqual(p.returncode, 1)
        h = self.job("flaky")
        self.assertEqual((h["state"], h["attempt"], h["error"]), ("dead", "3", "flaky"))
        msgs = self.dead_messages(1)
        hdr = msgs[0]["properties"]["headers"]
        self.assertEqual(hdr["wharf-reason"], "attempts_exhausted")
        self.assertEqual(hdr["wharf-error-code"], "flaky")
        self.assertEqual(hdr["wharf-attempts"], 3)
        self.assertEqual(hdr["wharf-job-id"], "flaky")
        def fail_stats():
            stats = {}
            for k in self.r.keys(self.prefix + "stats:system.fail:1m:*"):
                for f, v in self.r.hgetall(k).items():
                    stats[f] = stats.get(f, 0) + int(v)
            return stats
        # Workers flush stats about once a second: wait for the last flush,
        # then the counts must be exact.
        wait_for(lambda: fail_stats().get("dead"), 5, what="the dead count in the stats")
        stats = fail_stats()
        self.assertEqual((stats.get("retried"), stats.get("dead")), (2, 1))

    def test_permanent_failure_is_not_retried(self):
        self.worker()
        p = self.cli("submit", "system.fail", "--id", "perm", "--arg", "code=nope", "--arg", "message=broken",
                     "--wait")
        self.assertEqual(p.returncode, 1)
        self.assertIn("nope: broken", p.stderr)
        h = self.job("perm")
        self.assertEqual((h["state"], h["attempt"], h["error"], h["error_message"]),
                         ("failed", "1", "nope", "broken"))
        time.sleep(0.5)
        self.assertEqual(env.queue_depth(self.amqp, "wharf.dead"), 0)

    def test_error_messages_are_kept_up_to_1024_bytes_on_a_character_boundary(self):
        """schemas/README.md allows error messages up to 1024 bytes: they are
        kept whole in the job hash, `wharf status`, HTTP and the dead-letter
        header, and a longer text is cut only between UTF-8 characters."""
        import wharfserve  # noqa: E402
        self.worker()
        srv = wharfserve.start(env, self.amqp, self.prefix)
        try:
            self._long_messages(srv)
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text()[-3000:])

    def _long_messages(self, srv):
        words = " ".join("word%04d" % i for i in range(200))
        long_msg = words[:997] + "END"                   # 1000 bytes of ASCII
        utf_msg = "x" + "\u20ac" * 341                   # 1024 bytes, the euro sign is 3 bytes
        self.assertEqual((len(long_msg.encode()), len(utf_msg.encode())), (1000, 1024))
        for jid, msg in (("long-perm", long_msg), ("utf-perm", utf_msg)):
            p = self.cli("submit", "system.fail", "--id", jid, "--arg", "code=long", "--arg", "message=" + msg,
                         "--wait", "--timeout", "30")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("long: " + msg, p.stderr)
            raw = env.redis_raw().hget((self.prefix + "job:" + jid).encode(), b"error_message")
            self.assertEqual(raw, msg.encode(), "%d bytes in Redis" % len(raw or b""))
            st = json.loads(self.cli("status", "--json", jid).stdout)
            self.assertEqual(st["error_message"], msg)
            self.assertIn(msg, self.cli("status", jid).stdout)
            code, _, body = srv.request("GET", "/v1/jobs/" + jid)
            self.assertEqual((code, body["error_message"]), (200, msg))
        # Dead letters: the header is "<code>: <message>", at most 1024 bytes.
        cut = "long: x" + "\u20ac" * 339                 # 1023 bytes: one more euro would pass 1024
        for jid, msg, header in (("long-dead", long_msg, "long: " + long_msg), ("utf-dead", utf_msg, cut)):
            p = self.cli("submit", "system.fail", "--id", jid, "--arg", "code=long", "--arg", "message=" + msg,
                         "--arg", "transient=true", "--max-attempts", "1", "--wait", "--timeout", "30")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(self.job(jid)["error_message"], msg)
        msgs = self.dead_messages(2)
        got = {m["headers"]["wharf-job-id"]: m["headers"]["wharf-error"] for m in msgs}
        self.assertEqual(got, {"long-dead": "long: " + long_msg, "utf-dead": cut})
        listed = json.loads(self.cli("dead", "list", "--json").stdout)
        self.assertEqual({d["id"]: d["error"] for d in listed}, got)
        code, _, body = srv.request("GET", "/v1/dead")
        self.assertEqual({d["id"]: d["error"] for d in body["dead"]}, got)
        # A bad_args message listing seven problems, whole in HTTP and the CLI.
        args = {"hostname": "Bad_Host", "driver": "nope", "root_password": "maybe",
                "hooks": ["../one", "../two"]}
        code, _, body = srv.request("POST", "/v1/jobs", {"type": "provision.container", "args": args})
        self.assertEqual((code, body["error"]["code"]), (400, "bad_args"), body)
        m = body["error"]["message"]
        self.assertGreater(len(m.encode()), 255, m)
        self.assertTrue(m.startswith("7 problem(s): args.hostname: "), m)
        self.assertTrue(m.endswith('args.root_password: must be "random" or "lock"'), m)
        p = self.cli("submit", "provision.container", "--args-json", json.dumps(args))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(m, p.stderr)

    def test_sigterm_drains_and_loses_nothing(self):
        w = self.worker(concurrency=3, extra_env={"WHARF_WORKER_GRACE_S": "1"})
        ids = []
        for i in range(12):
            p = self.cli("submit", "system.sleep", "--arg", "ms=8000", "--id", "drain-%d" % i)
            self.assertEqual(p.returncode, 0, p.stderr)
            ids.append("drain-%d" % i)
        wait_for(lambda: sum(self.state(i) == "running" for i in ids) == 3, 10, what="3 jobs running")
        self.assertEqual(w.stop(signal.SIGTERM, timeout=20), 0)
        # Interrupted jobs are handed back as queued with their attempt undone.
        for i in ids:
            self.assertEqual(self.state(i), "queued", i)
            self.assertEqual(self.job(i)["attempt"], "0", i)
        # the management API's count lags the broker (see queue_depth)
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.system") == 12, 15,
                 what="all 12 messages back in wharf.system")
        self.worker(concurrency=12)
        for i in ids:
            self.wait_state(i, "succeeded", timeout=30)
            self.assertEqual(self.job(i)["attempt"], "1")

    def test_sigterm_lets_short_jobs_finish(self):
        w = self.worker(concurrency=4, extra_env={"WHARF_WORKER_GRACE_S": "20"})
        for i in range(4):
            self.cli("submit", "system.sleep", "--arg", "ms=1500", "--id", "fin-%d" % i)
        wait_for(lambda: all(self.state("fin-%d" % i) == "running" for i in range(4)), 10, what="4 running")
        t0 = time.time()
        self.assertEqual(w.stop(signal.SIGTERM, timeout=30), 0)
        self.assertLess(time.time() - t0, 10)
        for i in range(4):
            self.assertEqual(self.state("fin-%d" % i), "succeeded")

    def test_sigkill_mid_run_is_redelivered(self):
        w1 = self.worker(concurrency=2)
        for i in range(2):
            self.cli("submit", "system.sleep", "--arg", "ms=2000", "--id", "k-%d" % i)
        wait_for(lambda: all(self.state("k-%d" % i) == "running" for i in range(2)), 10, what="2 running")
        w1.kill()
        self.worker(concurrency=2)
        for i in range(2):
            self.wait_state("k-%d" % i, "succeeded", timeout=30)
            h = self.job("k-%d" % i)
            self.assertEqual(h["attempt"], "1")
            self.assertEqual(h["redeliveries"], "1")

    def test_redelivery_limit_dead_letters_a_job_that_kills_workers(self):
        # A killed worker's copy runs again once its registry key expires
        # (three heartbeats: 3 s here); until then the copy waits for the run.
        for n in range(3):
            w = self.worker(concurrency=1, extra_env={"WHARF_JOBS_MAX_REDELIVERIES": "1",
                                                      "WHARF_WORKER_HEARTBEAT_S": "1"})
            if n == 0:
                self.cli("submit", "system.sleep", "--arg", "ms=30000", "--id", "killer")
            if n < 2:
                wait_for(lambda: self.job("killer").get("worker") == w.worker_id and self.state("killer") == "running",
                         15, what="killer running on worker %d" % n)
                w.kill()
        self.wait_state("killer", "dead", timeout=20)
        self.assertEqual(self.job("killer")["error"], "redelivery_limit")
        msgs = self.dead_messages(1)
        self.assertEqual(msgs[0]["properties"]["headers"]["wharf-reason"], "redelivery_limit")

    def test_a_dead_job_delivered_again_is_dead_lettered_once_with_its_reason(self):
        # schemas 8: a copy of a job that is dead already publishes a dead letter only when
        # it is redelivered (its worker may have stopped between recording the death and the
        # dead letter's confirm), with the reason the job died of; a fresh copy, and any copy
        # of a job the reaper made dead (abandoned: the reaper dead-letters it), publish none.
        cases = {"dl-fresh": ("flaky", False, None), "dl-again": ("flaky", True, "attempts_exhausted"),
                 "dl-limit": ("redelivery_limit", True, "redelivery_limit"), "dl-reaped": ("abandoned", True, None)}
        for jid, (code, _, _) in cases.items():
            self.r.hset(self.prefix + "job:" + jid, mapping={
                "id": jid, "type": "system.fail", "state": "dead", "attempt": "3", "max_attempts": "3",
                "error": code, "error_message": "it died before", "created_at": "1", "finished_at": "2"})
        body = {jid: envelope(jid, "system.fail", {"code": "flaky", "transient": True}) for jid in cases}
        self.assertEqual(self.cli("dead", "list").returncode, 0)  # declares the topology, runs nothing
        pub = Publisher(self.amqp)
        for jid, (_, again, _) in cases.items():
            if again:
                pub.publish(body[jid], message_id=jid)
        # A peek that requeues marks them redelivered, as a worker that died before its ack would.
        peeked = env.get_messages(self.amqp, "wharf.system", 10)
        self.assertEqual(sorted(m["properties"]["message_id"] for m in peeked), ["dl-again", "dl-limit", "dl-reaped"])
        pub.publish(body["dl-fresh"], message_id="dl-fresh")
        pub.close()
        self.worker()
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.system") == 0, 15, what="every copy acked")
        msgs = self.dead_messages(2)
        time.sleep(1)  # nothing more comes
        msgs = env.get_messages(self.amqp, "wharf.dead", 10)
        got = {m["headers"]["wharf-job-id"]: m["headers"] for m in msgs}
        self.assertEqual(sorted(got), ["dl-again", "dl-limit"], [m["headers"] for m in msgs])
        for jid, (code, _, reason) in cases.items():
            if reason:
                self.assertEqual((got[jid]["wharf-reason"], got[jid]["wharf-error-code"], got[jid]["wharf-attempts"]),
                                 (reason, code, 3), jid)
            self.assertEqual(self.state(jid), "dead")

    def test_the_wait_copy_of_a_redelivered_job_keeps_its_dead_letter(self):
        # A redelivered copy of a job running on a live worker waits for that run
        # (start.lua: busy) through a retry queue. If that worker records the death
        # but never gets its dead letter out (it lost its broker connection), the
        # wait copy owes it: it says it stands for a redelivered message
        # (wharf-redelivered), and is dead-lettered when it finds the job dead. A
        # fresh copy that waited the same way owes none (schemas 8).
        now = int(time.time() * 1000)
        self.r.hset(self.prefix + "worker:ghost", mapping={"id": "ghost", "started_at": str(now - 60000)})
        self.r.expire(self.prefix + "worker:ghost", 120)
        for jid in ("wait-again", "wait-fresh"):
            self.r.hset(self.prefix + "job:" + jid, mapping={
                "id": jid, "type": "system.fail", "state": "running", "attempt": "2", "max_attempts": "2",
                "worker": "ghost", "started_at": str(now - 1000), "created_at": "1"})
        self.assertEqual(self.cli("dead", "list").returncode, 0)  # declares the topology, runs nothing
        pub = Publisher(self.amqp)
        pub.publish(envelope("wait-again", "system.fail", {"code": "flaky", "transient": True}), message_id="wait-again")
        self.assertEqual([m["properties"]["message_id"] for m in env.get_messages(self.amqp, "wharf.system", 10)],
                         ["wait-again"])  # requeued: redelivered from now on
        pub.publish(envelope("wait-fresh", "system.fail", {"code": "flaky", "transient": True}), message_id="wait-fresh")
        pub.close()
        w = self.worker(extra_env={"WHARF_LOG_LEVEL": "debug", "WHARF_LOG_FORMAT": "json"})
        waits = lambda: set(re.findall(r'"msg":"waiting for its run on a live worker","job":"([^"]+)"',  # noqa: E731
                                       w.log_text()))
        wait_for(lambda: waits() == {"wait-again", "wait-fresh"}, 15, what="both copies waiting")
        for jid in ("wait-again", "wait-fresh"):  # ghost records the death, and its dead letter is lost
            self.r.hset(self.prefix + "job:" + jid, mapping={"state": "dead", "error": "flaky",
                                                             "error_message": "failed", "finished_at": str(now)})
        msgs = self.dead_messages(1)
        wait_for(lambda: env.queue_depth(self.amqp, "wharf.system") == 0 and
                 env.queue_depth(self.amqp, "wharf.retry.%d" % 1000) == 0, 15, what="every copy acked")
        time.sleep(1)  # nothing more comes
        msgs = env.get_messages(self.amqp, "wharf.dead", 10)
        self.assertEqual([(m["headers"]["wharf-job-id"], m["headers"]["wharf-reason"], m["headers"]["wharf-error-code"])
                          for m in msgs], [("wait-again", "attempts_exhausted", "flaky")])

    def test_worker_reconnects_after_connection_is_closed(self):
        w = self.worker()
        self.assertEqual(self.cli("submit", "system.noop", "--wait").returncode, 0)
        vhost = env.vhost_of(self.amqp)
        # The management API lists a connection after its first stats tick.
        conns = wait_for(lambda: [c for c in env.mgmt("GET", "/api/connections")
                                  if c.get("vhost") == vhost and "wharf-worker" in
                                  c.get("client_properties", {}).get("connection_name", "")], 15,
                         what="the worker's connection in the management API")
        for c in conns:
            env.mgmt("DELETE", "/api/connections/" + env._q(c["name"]))
        wait_for(lambda: "broker connection lost" in w.log_text(), 10, what="worker to notice")
        p = self.cli("submit", "system.noop", "--wait", "--timeout", "30")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(w.alive())

    def test_idle_worker_keeps_its_connection_with_heartbeats(self):
        # With a 1 s heartbeat the broker closes a silent connection after ~2 s;
        # an idle worker must keep answering and still consume afterwards.
        w = self.worker(extra_env={"WHARF_AMQP_HEARTBEAT_S": "1"})
        time.sleep(5)
        p = self.cli("submit", "system.noop", "--wait", "--timeout", "20")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("broker connection lost", w.log_text())

    def test_deleted_dead_queue_is_redeclared_and_nothing_is_lost(self):
        w = self.worker()
        vhost = env._q(env.vhost_of(self.amqp))
        env.mgmt("DELETE", "/api/queues/%s/wharf.dead" % vhost)
        # Published raw: the CLI's client would declare the topology again.
        pub = Publisher(self.amqp)
        pub.publish(envelope("orphan", type="system.fail", args={"transient": True}, max_attempts=1),
                    message_id="orphan")
        pub.close()
        self.wait_state("orphan", "dead")
        # The copy was unroutable, so the worker reconnected, declared
        # wharf.dead again and delivered the copy there.
        msgs = self.dead_messages(1, timeout=30)
        self.assertEqual(msgs[0]["properties"]["headers"]["wharf-job-id"], "orphan")
        self.assertIn("re-declaring the topology", w.log_text())
        self.assertTrue(w.alive())

    def test_a_corrupted_job_key_is_dead_lettered_not_looped(self):
        w = self.worker()
        self.r.set(self.prefix + "job:clobbered", "not a hash")
        pub = Publisher(self.amqp)
        pub.publish(envelope("clobbered"), message_id="clobbered")
        pub.publish(envelope("fine"), message_id="fine")
        pub.close()
        self.wait_state("fine", "succeeded")
        msgs = self.dead_messages(1, timeout=20)
        hdr = msgs[0]["properties"]["headers"]
        self.assertEqual((hdr["wharf-reason"], hdr["wharf-job-id"]), ("redis_error", "clobbered"))
        self.assertIn("WRONGTYPE", hdr["wharf-error"])
        self.assertTrue(w.alive())

    def test_queue_type_conflict_fails_at_start(self):
        env.start_worker(self.amqp, self.prefix, queue_type="quorum").stop()
        exe = os.path.join(env.bin, "wharf-worker")
        p = subprocess.run([exe], env=env.child_env(self.amqp, self.prefix, queue_type="classic"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("wharf.system", p.stderr)

    def test_bad_config_fails_at_start_naming_the_key(self):
        exe = os.path.join(env.bin, "wharf-worker")
        e = env.child_env(self.amqp, self.prefix, extra_env={"WHARF_WORKER_CONCURRENCY": "lots"})
        p = subprocess.run([exe], env=e, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 78)
        self.assertIn("worker.concurrency", p.stderr)

    def test_config_file_env_and_flags_layer_and_secrets_are_masked(self):
        ini = os.path.join(env.tmp, "layer-%s.ini" % self.prefix.rstrip(":"))
        with open(ini, "w") as f:
            f.write("[amqp]\nurl = amqp://wharf:canary-Pw-123@127.0.0.1:5672/%2f\n"
                    "[worker]\nconcurrency = 3\ngrace_s = 7\n[redis]\nprefix = fromfile:\n")
        exe = os.path.join(env.bin, "wharf-worker")
        e = env.child_env(self.amqp, self.prefix, extra_env={
            "WHARF_AMQP_URL": None, "WHARF_REDIS_PREFIX": None, "WHARF_WORKER_GRACE_S": "9"})
        p = subprocess.run([exe, "--config", ini, "-c", "5", "--check-config"], env=e, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("concurrency = 5", p.stdout)      # flag beats file
        self.assertIn("grace_s = 9", p.stdout)          # env beats file
        self.assertIn("prefix = fromfile:", p.stdout)   # file beats default
        self.assertIn("url = amqp://wharf:***@127.0.0.1:5672/%2f", p.stdout)
        self.assertNotIn("canary-Pw-123", p.stdout + p.stderr)
        with open(ini, "a") as f:
            f.write("[worker]\nconcurrency = many\n")
        bad = subprocess.run([exe, "--config", ini], env=e, capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 78)
        self.assertIn("worker.concurrency", bad.stderr)
        self.assertIn(ini + ":", bad.stderr)
        self.assertNotIn("canary-Pw-123", bad.stderr)

    def test_check_config_says_where_each_value_came_from(self):
        ini = os.path.join(env.tmp, "sources-%s.ini" % self.prefix.rstrip(":"))
        with open(ini, "w") as f:
            f.write("[worker]\nconcurrency = 3\ngrace_s = 7\n[redis]\nprefix = fromfile:\n"
                    "[host.h1]\naddress = 127.0.0.1\n")
        e = env.child_env(self.amqp, self.prefix, extra_env={
            "WHARF_REDIS_PREFIX": None, "WHARF_WORKER_GRACE_S": "9", "WHARF_LOG_LEVEL": "debug",
            "WHARF_SERVE_TOKEN": "canary-Token-77"})
        p = subprocess.run([os.path.join(env.bin, "wharf-worker"), "--config", ini, "-c", "5",
                            "--set", "host.h1.port=2222", "--check-config"],
                           env=e, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        seen, section = {}, None
        for ln in p.stdout.splitlines():
            if ln.startswith("["):
                section = ln.strip("[]")
            elif ln.strip():
                m = re.fullmatch(r"(\w+) = (.*?) *; (\w+(?: from)?)(?: (.*))?", ln)
                self.assertIsNotNone(m, "a line without its source: %r" % ln)
                seen[section + "." + m.group(1)] = m.group(2, 3, 4)
        self.assertEqual(seen["worker.concurrency"], ("5", "flag", None))                # flag beats file
        self.assertEqual(seen["worker.grace_s"], ("9", "env", "WHARF_WORKER_GRACE_S"))  # env beats file
        self.assertEqual(seen["log.level"], ("debug", "env", "WHARF_LOG_LEVEL"))        # env beats default
        self.assertEqual(seen["redis.prefix"], ("fromfile:", "file", ini))              # file beats default
        self.assertEqual(seen["amqp.heartbeat_s"], ("10", "default", None))
        self.assertEqual(seen["serve.token"], ("***", "env", "WHARF_SERVE_TOKEN"))     # still masked
        self.assertEqual(seen["worker.prefetch"][:2], ("20", "derived from"))           # 4 x concurrency
        self.assertEqual(seen["host.h1.address"], ("127.0.0.1", "file", ini))
        self.assertEqual(seen["host.h1.port"], ("2222", "flag", None))
        self.assertEqual(seen["host.h1.user"], ("", "default", None))
        self.assertNotIn("canary-Token-77", p.stdout + p.stderr)

    def test_wrong_broker_password_is_retried_and_not_logged(self):
        url = self.amqp.replace("guest:guest@", "guest:canary-Wrong-9@")
        exe = os.path.join(env.bin, "wharf-worker")
        e = env.child_env(url, self.prefix)
        p = subprocess.Popen([exe], env=e, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        time.sleep(2)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("broker connection lost", err)
        self.assertIn("refused", err)
        self.assertNotIn("canary-Wrong-9", err)

    def test_log_stream_is_capped_and_expires(self):
        self.worker(extra_env={"WHARF_JOBS_LOG_MAX_LINES": "100"})
        p = self.cli("submit", "system.log", "--id", "logs", "--arg", "lines=3000", "--arg", "bytes=50", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        key = self.prefix + "job:logs:log"
        n = self.r.xlen(key)
        self.assertTrue(100 <= n < 3000, n)
        last = self.r.xrevrange(key, count=1)[0][1]
        self.assertEqual(last["s"], "out")
        self.assertTrue(last["l"].startswith("line 3000 "), last)
        self.assertEqual(len(last["l"]), 50)
        self.assertGreater(self.r.ttl(key), 0)

    def test_json_log_lines_carry_the_job_id(self):
        w = self.worker(extra_env={"WHARF_LOG_FORMAT": "json"})
        self.cli("submit", "system.fail", "--id", "logged-1", "--arg", "code=oops", "--arg", 'message=a "quoted"\nline',
                 "--wait")
        w.stop()
        lines = [l for l in w.log_text().splitlines() if l and not l.startswith("#")]
        records = [json.loads(l) for l in lines]  # every line is one JSON object
        for r in records:
            self.assertEqual(set(r) >= {"ts", "level", "component", "msg"}, True, r)
        failed = [r for r in records if r["msg"] == "job failed"]
        self.assertEqual(len(failed), 1, records)
        self.assertEqual((failed[0]["job"], failed[0]["error"]), ("logged-1", "oops"))

    def test_worker_registry_heartbeat(self):
        w = self.worker(concurrency=5)
        key = self.prefix + "worker:" + w.worker_id
        h = self.r.hgetall(key)
        self.assertEqual((h["pid"], h["concurrency"], h["queues"]), (str(w.pid), "5", "system"))
        self.assertGreater(int(h["rss"]), 0)
        self.assertIsNotNone(self.r.zscore(self.prefix + "workers", w.worker_id))
        self.assertEqual(w.stop(), 0)
        self.assertFalse(self.r.exists(key))
        self.assertIsNone(self.r.zscore(self.prefix + "workers", w.worker_id))


class RedisRestartTest(unittest.TestCase):
    """Redis goes away mid-run (a private instance, so other tests are not
    disturbed): the worker must not crash, must not ack a job whose status it
    could not write, and every job delivered afterwards must finish."""

    def test_redis_restart(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        d = os.path.join(env.tmp, "redis-restart-%d" % port)
        os.makedirs(d, exist_ok=True)
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
               "--appendonly", "no"]

        def start():
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                            text=True).stdout.strip() == "PONG", 10, what="redis up")
            return p

        srv = start()
        amqp, prefix = env.new_vhost(), env.new_prefix()
        url = "redis://127.0.0.1:%d/0" % port
        import redis as redislib
        r = redislib.Redis.from_url(url, decode_responses=True)
        # start_worker polls the shared test Redis for registration; start by hand.
        exe = os.path.join(env.bin, "wharf-worker")
        e = env.child_env(amqp, prefix, extra_env={"WHARF_REDIS_URL": url})
        log = open(os.path.join(env.tmp, "redis-restart-worker.log"), "wb")
        w = subprocess.Popen([exe, "-c", "2", "--families", "system"], env=e, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: r.keys(prefix + "worker:*"), 15, what="worker registered")
            pub = Publisher(amqp)
            pub.publish(envelope("before", type="system.sleep", args={"ms": 1500}), message_id="before")
            wait_for(lambda: r.hget(prefix + "job:before", "state") == "running", 10, what="running")
            srv.terminate()
            srv.wait(10)
            time.sleep(2)  # the job finishes while Redis is down: its status cannot be written
            for i in range(5):
                pub.publish(envelope("during-%d" % i), message_id="during-%d" % i)
            srv = start()  # no persistence: every key is gone
            for i in range(5):
                wait_for(lambda: r.hget(prefix + "job:during-%d" % i, "state") == "succeeded", 30,
                         what="during-%d succeeded" % i)
            # The job that ran during the outage was not acked without its status:
            # it finishes (rerun or recorded late) rather than vanishing.
            wait_for(lambda: r.hget(prefix + "job:before", "state") == "succeeded", 30, what="before succeeded")
            self.assertIsNone(w.poll(), "worker must survive a Redis outage")
            pub.close()
        finally:
            w.send_signal(signal.SIGTERM)
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
            srv.terminate()
            srv.wait(10)
            log.close()


if __name__ == "__main__":
    unittest.main()
