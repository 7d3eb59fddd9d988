#!/usr/bin/python3
"""Tests of the installed wharf_client package (run.py installs the wheel
in a venv and runs this file with its interpreter): the shipped files, the
encoder against the golden vectors, local checks, and every golden vector
end to end against a real worker. Every operation against the servers, in
every language, is in tests/clients/test_parity.py.

Needs WHARF_SRC, WHARF_BIN and the WHARF_TEST_* variables that tests/run sets.
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
                     os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
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


# Valid vectors no encoder produces, on purpose: they test decoders.
DECODER_ONLY = {"ok_full_envelope", "ok_key_order", "ok_nil_optionals", "ok_wide_ints"}


def job_of(value):
    """The submit() arguments that describe a vector's value."""
    opts = {k: value[k] for k in ("id", "target", "max_attempts", "timeout_s", "run_at", "priority",
                                  "unique_for_s", "lock", "meta") if k in value}
    return wharf_client.Job(value["type"], value["args"], **opts)


class PackageTest(unittest.TestCase):
    """No servers needed."""

    def test_installed_not_the_source_tree(self):
        here = os.path.realpath(wharf_client.__file__)
        self.assertNotIn(os.path.realpath(os.path.join(SRC, "producer")), here)
        self.assertIn("site-packages", here)

    def test_ships_types_and_the_lua_sources_unchanged(self):
        pkg = os.path.dirname(wharf_client.__file__)
        self.assertTrue(os.path.isfile(os.path.join(pkg, "py.typed")))
        for name in ("enqueue", "unenqueue", "cancel"):
            with open(os.path.join(pkg, "lua", name + ".lua"), "rb") as f:
                shipped = f.read()
            with open(os.path.join(SRC, "common", "model", "lua", name + ".lua"), "rb") as f:
                self.assertEqual(shipped, f.read(), "%s.lua differs from common/model/lua" % name)
        with open(os.path.join(pkg, "job_types.json"), "rb") as f:
            shipped = f.read()
        with open(os.path.join(SRC, "producer", "job_types.json"), "rb") as f:
            self.assertEqual(shipped, f.read(), "job_types.json differs from producer/job_types.json")
        # The types' defaults are the catalogue's (unit.job_types_json checks
        # the file against the C rows): a deploy runs once.
        from wharf_client import _catalog
        self.assertEqual(_catalog.max_attempts_for("runtime.stack.deploy", 3), 1)
        self.assertEqual(_catalog.max_attempts_for("system.noop", 3), 3)
        self.assertEqual(_catalog.max_attempts_for("system.not_in_the_catalogue", 5), 5)

    def test_pika_internals_are_there(self):
        """The confirm window's few pika internals (_pika_adapter.py): this
        pika has them all, and one that goes missing is named loudly."""
        from pika.adapters.blocking_connection import BlockingConnection
        from wharf_client import _pika_adapter as pa
        self.assertEqual(pa.problems(), [])
        saved = BlockingConnection._flush_output
        try:
            del BlockingConnection._flush_output
            self.assertEqual(pa.problems(), ["BlockingConnection._flush_output(*waiters)"])
            with self.assertRaises(wharf_client.WharfError) as cm:
                pa.check()
            self.assertIn("_flush_output", cm.exception.message)
        finally:
            BlockingConnection._flush_output = saved

    def test_batch_frames_are_pamqps(self):
        """The asyncio client marshals a batch's frames itself
        (_amqp_frames.py): the bytes pamqp would write, and aiormq's writer
        passes them through as they are."""
        import pamqp.body
        import pamqp.commands
        import pamqp.frame
        import pamqp.header
        from wharf_client._amqp_frames import Frames, RawFrames
        step = 131072 - 8
        f = Frames(3, step)
        for prio in (0, 1, 9):
            for size in (1, 100, step - 1, step, step + 1, 3 * step + 5):
                body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
                props = pamqp.commands.Basic.Properties(
                    content_type="application/msgpack", delivery_mode=2, message_id="job_-1", message_type="runtime.x.y",
                    headers={"wharf-schema": 1}, priority=prio or None)
                chunks = [body[i:i + step] for i in range(0, len(body), step)]
                want = [pamqp.frame.marshal(pamqp.commands.Basic.Publish(exchange="wharf.jobs", routing_key="runtime",
                                                                         mandatory=True), 3),
                        pamqp.frame.marshal(pamqp.header.ContentHeader(properties=props, body_size=len(body)), 3)]
                want += [pamqp.frame.marshal(pamqp.body.ContentBody(c), 3) for c in chunks]
                with self.subTest(priority=prio, size=size):
                    self.assertEqual(b"".join(f.message("job_-1", "runtime.x.y", prio, body)), b"".join(want))
        self.assertEqual(pamqp.frame.marshal(RawFrames(b"\x01\x02"), 3), b"\x01\x02")

    def test_batch_replies_parse_as_redis_py_does(self):
        import redis.exceptions
        from wharf_client._resp import Incomplete, parse
        err = redis.exceptions.ResponseError
        data = (b"*3\r\n:1\r\n$6\r\nqueued\r\n$3\r\nab1\r\n+OK\r\n$-1\r\n*-1\r\n*0\r\n"
                b"$0\r\n\r\n-NOSCRIPT No matching script\r\n:-42\r\n*2\r\n*1\r\n$1\r\nx\r\n:0\r\n")
        want = [[1, b"queued", b"ab1"], b"OK", None, None, [], b"", "NOSCRIPT No matching script", -42, [[b"x"], 0]]
        pos, got = 0, []
        while pos < len(data):
            v, pos = parse(data, pos, err)
            got.append(str(v) if isinstance(v, Exception) else v)
        self.assertEqual(got, want)
        first = parse(data, 0, err)[1]
        for cut in range(first):   # every place a read may end in, inside the first reply
            with self.assertRaises(Incomplete, msg=repr(data[:cut])):
                parse(data[:cut], 0, err)
        with self.assertRaises(redis.exceptions.InvalidResponse):
            parse(b"?what\r\n", 0, err)

    def test_encoder_writes_the_golden_vectors(self):
        checked = 0
        for name, body, doc in load_vectors():
            if not name.startswith("ok_") or name in DECODER_ONLY:
                continue
            value = doc["value"]
            with self.subTest(vector=name):
                self.assertEqual(wharf_client.build_envelope(job_of(value), value["created_at"]), body)
                checked += 1
        self.assertGreaterEqual(checked, 10)

    def test_local_checks_name_the_field(self):
        bad = [({"type": "system.noop", "id": "a:b"}, "bad_envelope", "id"),
               ({"type": "system.noop", "id": "x" * 65}, "bad_envelope", "id"),
               ({"type": "System.noop"}, "unknown_type", "type"),
               ({"type": "nosuchfamily.x"}, "unknown_type", "type"),
               ({"type": "system.noop", "target": "a b"}, "bad_envelope", "target"),
               ({"type": "system.noop", "max_attempts": 0}, "bad_envelope", "max_attempts"),
               ({"type": "system.noop", "max_attempts": True}, "bad_envelope", "max_attempts"),
               ({"type": "system.noop", "timeout_s": 2592001}, "bad_envelope", "timeout_s"),
               ({"type": "system.noop", "priority": 10}, "bad_envelope", "priority"),
               ({"type": "system.noop", "unique_for_s": 0}, "bad_envelope", "unique_for_s"),
               ({"type": "system.noop", "run_at": -1}, "bad_envelope", "run_at"),
               ({"type": "system.noop", "lock": "-x"}, "bad_envelope", "lock"),
               ({"type": "system.noop", "meta": {"k": 1}}, "bad_envelope", "meta"),
               ({"type": "system.noop", "meta": {"k": "\u00e9" * 513}}, "bad_envelope", "meta"),
               ({"type": "system.noop", "args": {"b": b"x"}}, "bad_args", "args.b"),
               ({"type": "system.noop", "args": {"f": float("nan")}}, "bad_args", "args.f"),
               ({"type": "system.noop", "args": {"x": "y" * (1 << 20)}}, "too_large", "args")]
        for spec, code, field in bad:
            with self.subTest(spec=str(spec)[:80]):
                with self.assertRaises(wharf_client.WharfError) as cm:
                    wharf_client.build_envelope(wharf_client.Job(**spec), 0)
                self.assertEqual((cm.exception.code, cm.exception.field), (code, field), cm.exception)

    def test_canonical_json_is_janssons(self):
        # What jansson (JSON_COMPACT | JSON_SORT_KEYS) writes for these values.
        value = {"s": "a\"b\\c/\x01\x1f\x7f\n\t\b\f\r \u00e9 \u2028", "f1": 0.1, "f2": 1e100,
                 "f3": 1.5e-7, "f4": -2.0, "f6": 0.0001, "f7": 1e16, "f8": 1e17, "B": True,
                 "\u00e9": None, "a": -9223372036854775808}
        want = ('{"B":true,"a":-9223372036854775808,"f1":0.10000000000000001,"f2":1e100,'
                '"f3":1.4999999999999999e-7,"f4":-2.0,"f6":0.0001,"f7":10000000000000000.0,"f8":1e17,'
                '"s":"a\\"b\\\\c/\\u0001\\u001F\x7f\\n\\t\\b\\f\\r \u00e9 \u2028","\u00e9":null}')
        self.assertEqual(wharf_client.canonical_json(value), want)

    def test_ids(self):
        ids = {wharf_client.new_id() for _ in range(1000)}
        self.assertEqual(len(ids), 1000)
        for i in ids:
            self.assertRegex(i, r"\A[A-Za-z0-9][A-Za-z0-9_-]{21}\Z")

    def test_options_from_the_environment(self):
        o = wharf_client.Options()
        self.assertEqual((o.prefix, o.timeout, o.max_attempts), ("wharf:", 5.0, 3))
        with self.assertRaises(wharf_client.WharfError) as cm:
            wharf_client.Client.from_env({"WHARF_JOBS_MAX_ATTEMPTS": "x"})
        self.assertEqual(cm.exception.code, "bad_config")


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
        cls.client = wharf_client.Client(cls.amqp_url, cls.env.redis_url, prefix=cls.prefix)
        cls.conn = pika.BlockingConnection(pika.URLParameters(cls.amqp_url))
        cls.ch = cls.conn.channel()
        cls.ch.confirm_delivery()
        cls.dead = {}  # body -> headers of messages read from wharf.dead

    def test_batch_replies_read_in_one_go(self):
        """read_replies() on a real redis.asyncio connection: it takes the
        fast path and reads what read_response() would, error replies too."""
        import asyncio
        import redis.asyncio
        from wharf_client._resp import read_replies

        async def both():
            r = redis.asyncio.Redis.from_url(self.env.redis_url)
            pool = r.connection_pool
            conn = await pool.get_connection("GET")
            try:
                cmds = [("SET", self.prefix + "rr", "v"), ("GET", self.prefix + "rr"), ("EVALSHA", "0" * 40, "0"),
                        ("LRANGE", self.prefix + "none", "0", "-1"), ("INCRBY", self.prefix + "n", "7")] * 200
                await conn.send_packed_command(conn.pack_commands([list(c) for c in cmds]))
                fast = await read_replies(conn, len(cmds))
                await conn.send_packed_command(conn.pack_commands([list(c) for c in cmds]))
                slow = []
                for _ in cmds:
                    try:
                        slow.append(await conn.read_response())
                    except redis.exceptions.ResponseError as e:
                        slow.append(e)
                return fast, slow
            finally:
                await pool.release(conn)
                await r.close()
        def plain(x):
            return (type(x).__name__, str(x)) if isinstance(x, Exception) else x
        fast, slow = asyncio.run(both())
        self.assertIsNotNone(fast, "the fast path was not taken")
        self.assertEqual(len(fast), len(slow))
        self.assertEqual([plain(x) for x in fast[:4]], [plain(x) for x in slow[:4]])
        self.assertEqual(plain(fast[2])[0], "NoScriptError")
        self.assertEqual((fast[4], fast[-1], slow[4]), (7, 1400, 1407))

    def test_a_connection_closed_while_idle_is_made_again(self):
        """The broker drops the sync client's idle connection (as after
        missed heartbeats): the next submit reconnects instead of failing."""
        self.client.submit("system.noop", {})
        vhost = self.env.vhost_of(self.amqp_url)

        def ours():
            return [c for c in self.env.mgmt("GET", "/api/connections") if c.get("vhost") == vhost and
                    "wharf producer" in (c.get("user_provided_name"),
                                         (c.get("client_properties") or {}).get("connection_name"))]
        # The management API lists a new connection after its next stats round.
        wharftest.wait_for(lambda: len(ours()) == 1, 30, interval=0.5, what="the client's connection listed")
        conns = ours()
        self.env.mgmt("DELETE", "/api/connections/" + self.env._q(conns[0]["name"]))
        time.sleep(1)
        job = self.client.submit("system.noop", {"after": "idle close"})
        self.assertEqual(self.client.wait(job.id, timeout=WAIT_S)["state"], "succeeded")

    def test_pika_internals_on_a_live_connection(self):
        from wharf_client import _pika_adapter as pa
        self.assertEqual(pa.problems(self.conn, self.ch), [])
        self.assertGreater(pa.body_max(self.conn), 0)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.conn.close()
            cls.client.close()
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
        return self.client.wait(job_id, WAIT_S)

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
                except wharf_client.WharfError as e:
                    self.drain_dead()
                    self.fail("%s did not finish (%s, job: %r); in wharf.dead: %r"
                              % (name, e, e.last, self.dead.get(body)))
                if value["type"] == "system.fail":
                    # Decodes fine, then fails as asked.
                    self.assertEqual(h["state"], "failed", h)
                    self.assertEqual(h.get("error"),
                                     value["args"].get("code", "failed"), h)
                else:
                    self.assertEqual(h["state"], "succeeded", h)
                if value["type"] == "system.noop":
                    self.assertEqual(h["result"], value["args"])

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
