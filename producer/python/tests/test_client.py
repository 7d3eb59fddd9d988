#!/usr/bin/python3
"""End-to-end tests of wharf_client and of the golden vectors.

Runs against real servers through tests/lib/wharftest.py: one fresh
RabbitMQ vhost, one fresh Redis prefix and one wharf-worker (families
"system") for the whole class. Needs WHARF_SRC, WHARF_BIN and the
WHARF_TEST_* variables that tests/run sets.

    /usr/bin/python3 -m unittest -v test_client      (from this directory)
    /usr/bin/python3 test_client.py
"""

import glob
import json
import os
import sys
import time
import unittest

import msgpack
import pika

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WHARF_SRC",
                     os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import wharf_client  # noqa: E402
import wharftest  # noqa: E402

VECTORS = os.path.join(SRC, "schemas", "vectors")
WAIT_S = 30          # per job; generous for a sanitizer build
DEAD_WAIT_S = 60     # to collect every expected dead-letter


def load_vectors():
    """[(name, body bytes, json doc)] for every golden vector, sorted."""
    out = []
    for jpath in sorted(glob.glob(os.path.join(VECTORS, "*.json"))):
        name = os.path.basename(jpath)[:-len(".json")]
        with open(jpath, encoding="utf-8") as fh:
            doc = json.load(fh)
        with open(jpath[:-len(".json")] + ".msgpack", "rb") as fh:
            body = fh.read()
        out.append((name, body, doc))
    return out


def id_parsed(expect):
    """Whether the worker got past rule 5 (a valid id) before failing."""
    code, field = expect["code"], expect["field"]
    if code in ("unknown_type", "bad_args"):
        return True
    return code == "bad_envelope" and field not in ("", "v", "id")


def body_id(body):
    """The id in a body that is a map with a str id (None otherwise)."""
    try:
        top = msgpack.unpackb(body, raw=False, strict_map_key=False,
                              unicode_errors="surrogateescape")
    except (ValueError, msgpack.UnpackException):
        return None
    job_id = top.get("id") if isinstance(top, dict) else None
    return job_id if isinstance(job_id, str) else None


def header_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


class WharfClientTest(unittest.TestCase):
    """All tests share one vhost, prefix and worker (set up once)."""

    @classmethod
    def setUpClass(cls):
        cls.env = wharftest.Env()
        cls.amqp_url = cls.env.new_vhost()
        cls.prefix = cls.env.new_prefix()
        cls.worker = cls.env.start_worker(cls.amqp_url, cls.prefix,
                                          concurrency=4, families="system")
        print("worker log: %s" % cls.worker.log_path, file=sys.stderr)
        cls.r = cls.env.redis()
        cls.conn = pika.BlockingConnection(pika.URLParameters(cls.amqp_url))
        cls.ch = cls.conn.channel()
        cls.ch.confirm_delivery()
        cls.dead = {}  # body -> headers of messages read from wharf.dead

    @classmethod
    def tearDownClass(cls):
        try:
            cls.conn.close()
        finally:
            rc = cls.worker.stop()
        if rc != 0:
            raise AssertionError("wharf-worker exited with %r on SIGTERM\n"
                                 "--- log tail ---\n%s"
                                 % (rc, cls.worker.log_tail()))

    # ---- helpers ----------------------------------------------------------

    def publish_raw(self, body, job_id=None, job_type=None):
        """Publish bytes as-is to wharf.jobs/system with the usual props."""
        props = pika.BasicProperties(
            content_type="application/msgpack", delivery_mode=2,
            message_id=job_id, type=job_type,
            headers={"wharf-schema": 1})
        self.ch.basic_publish("wharf.jobs", "system", body,
                              properties=props, mandatory=True)

    def wait(self, job_id):
        return wharf_client.wait(self.r, job_id, WAIT_S, prefix=self.prefix)

    def drain_dead(self):
        """Move what wharf.dead holds now into self.dead; return the count."""
        n = 0
        while True:
            method, props, body = self.ch.basic_get("wharf.dead",
                                                    auto_ack=True)
            if method is None:
                return n
            self.dead[body] = {k: header_text(v)
                               for k, v in (props.headers or {}).items()}
            n += 1

    def collect_dead(self, bodies):
        """Read wharf.dead until every body in `bodies` has been seen.

        Messages are stored in self.dead (keyed by body) so that tests
        sharing the queue each find theirs. Returns {body: headers}."""
        wanted = set(bodies)
        deadline = time.monotonic() + DEAD_WAIT_S
        while not wanted <= self.dead.keys():
            if not self.drain_dead():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        missing = len(wanted - self.dead.keys())
        self.assertEqual(missing, 0, "%d message(s) never reached wharf.dead"
                         % missing)
        return {b: self.dead[b] for b in wanted}

    # ---- the client API ---------------------------------------------------

    def test_noop_succeeds(self):
        job_id = wharf_client.enqueue(self.conn, "system.noop", {"x": 1})
        h = self.wait(job_id)
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(h["id"], job_id)
        self.assertEqual(h["type"], "system.noop")
        self.assertEqual(json.loads(h["result"]), {"x": 1})
        self.assertEqual(wharf_client.status(self.r, job_id, self.prefix),
                         h)

    def test_fail_fails(self):
        job_id = wharf_client.enqueue(self.ch, "system.fail",
                                      {"code": "boom", "message": "m"})
        h = self.wait(job_id)
        self.assertEqual(h["state"], "failed", h)
        self.assertEqual(h["error"], "boom", h)

    def test_options_and_own_id(self):
        job_id = wharf_client.new_id()
        got = wharf_client.enqueue(
            self.conn, "system.sleep", {"ms": 5}, id=job_id,
            target="host-1", max_attempts=2, timeout_s=30,
            meta={"who": "test_client"})
        self.assertEqual(got, job_id)
        h = self.wait(job_id)
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(h.get("target"), "host-1")

    def test_status_unknown_is_none(self):
        self.assertIsNone(wharf_client.status(self.r, "no-such-job",
                                              self.prefix))

    def test_unroutable_family_raises(self):
        # No queue is bound for family "nosuchfamily" in this vhost.
        with self.assertRaises(wharf_client.EnqueueError):
            wharf_client.enqueue(self.conn, "nosuchfamily.x", {})

    def test_invalid_envelope_rejected_locally(self):
        for kwargs in ({"id": "a:b"}, {"max_attempts": 0},
                       {"timeout_s": True}, {"meta": {"k": 1}},
                       {"target": "a b"}):
            with self.assertRaises(ValueError, msg=kwargs):
                wharf_client.enqueue(self.conn, "system.noop", {}, **kwargs)

    def test_garbage_goes_dead_and_worker_continues(self):
        garbage = b"\xc1 this is not msgpack"
        self.publish_raw(garbage)
        job_id = wharf_client.enqueue(self.conn, "system.noop", {"after": 1})
        self.assertEqual(self.wait(job_id)["state"], "succeeded")
        headers = self.collect_dead([garbage])[garbage]
        self.assertEqual(headers.get("wharf-reason"), "bad_msgpack", headers)
        self.assertNotIn("wharf-job-id", headers)

    # ---- golden vectors ---------------------------------------------------

    def test_valid_vectors_run(self):
        valid = [v for v in load_vectors() if v[2]["expect"]["ok"]]
        self.assertTrue(valid)
        for _, body, doc in valid:
            value = doc["value"]
            self.publish_raw(body, value["id"], value["type"])
        for name, body, doc in valid:
            value = doc["value"]
            with self.subTest(vector=name):
                try:
                    h = self.wait(value["id"])
                except wharf_client.WaitTimeout as e:
                    self.drain_dead()
                    self.fail("%s did not finish (hash: %r); in wharf.dead: %r"
                              % (name, e.last, self.dead.get(body)))
                if value["type"] == "system.fail":
                    # Decodes fine, then fails as asked.
                    self.assertEqual(h["state"], "failed", h)
                    self.assertEqual(h.get("error"),
                                     value["args"].get("code", "failed"), h)
                else:
                    self.assertEqual(h["state"], "succeeded", h)
                if value["type"] == "system.noop":
                    self.assertEqual(json.loads(h["result"]), value["args"])

    def test_invalid_vectors_go_dead(self):
        invalid = [v for v in load_vectors() if not v[2]["expect"]["ok"]]
        self.assertTrue(invalid)
        for _, body, _ in invalid:
            self.publish_raw(body)
        dead = self.collect_dead([body for _, body, _ in invalid])
        for name, body, doc in invalid:
            expect = doc["expect"]
            with self.subTest(vector=name):
                headers = dead[body]
                self.assertEqual(headers.get("wharf-reason"), expect["code"],
                                 headers)
                # Past rule 5 the id must be reported; earlier, a worker may
                # still report a valid id (it must then be the real one).
                job_id = headers.get("wharf-job-id")
                if id_parsed(expect):
                    self.assertEqual(job_id, body_id(body), headers)
                if job_id is not None:
                    self.assertEqual(job_id, body_id(body), headers)
                    h = self.wait(job_id)
                    self.assertEqual(h["state"], "failed", h)
                    self.assertEqual(h.get("error"), expect["code"], h)


if __name__ == "__main__":
    unittest.main(verbosity=2)
