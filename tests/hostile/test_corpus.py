#!/usr/bin/python3
"""Hostile input: a corpus of more than 1,000 bad messages published straight
to wharf.jobs while valid jobs flow, against the sanitizer build.

- every bad message is dead-lettered, and where the body is a single
  mutation of a valid envelope, with exactly the code and field that the
  decode rules of schemas/README.md section 6 give;
- every valid job (including odd but valid ones) succeeds;
- the worker survives, its log has no sanitizer report and it exits 0
  without leaks;
- a Release worker's RSS after two more passes of the corpus is within 10%
  of its RSS after the first.

The corpus is generated from a fixed seed, so a failure names a case that
can be reproduced: run this file with WHARF_HOSTILE_DUMP=DIR to write every
case to DIR as <n>-<name>.msgpack."""
import os
import random
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import relbuild  # noqa: E402
import wharftest  # noqa: E402
import msgpack  # noqa: E402
import pika  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for

MAX_BODY = 65536  # the worker under test runs with this cap, to reach rule 1 cheaply


# ---------------------------------------------------------------- encoding
# A tiny msgpack writer for what msgpack-python will not produce: duplicate
# keys, str holding invalid UTF-8, lying length headers.

class Pairs(list):
    """A map written from (key, value) pairs in order; keys may repeat."""


class RawStr(bytes):
    """A msgpack str with exactly these bytes (may be invalid UTF-8)."""


class Raw(bytes):
    """Bytes spliced in as they are."""


def enc(o):
    if isinstance(o, Raw):
        return bytes(o)
    if isinstance(o, RawStr):
        n = len(o)
        if n < 32:
            return bytes([0xa0 | n]) + bytes(o)
        if n < 256:
            return b"\xd9" + bytes([n]) + bytes(o)
        return b"\xda" + struct.pack(">H", n) + bytes(o)
    if isinstance(o, Pairs):
        n = len(o)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(enc(k) + enc(v) for k, v in o)
    if isinstance(o, dict):
        return enc(Pairs(o.items()))
    if isinstance(o, list):
        n = len(o)
        head = bytes([0x90 | n]) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 65536
                                                  else b"\xdd" + struct.pack(">I", n))
        return head + b"".join(enc(x) for x in o)
    return msgpack.packb(o, use_bin_type=True)


def base(job_id, **over):
    """A valid system.noop envelope as ordered pairs, with fields replaced or
    added by `over` (a value of DROP removes the key)."""
    d = {"v": 1, "id": job_id, "type": "system.noop", "args": {"n": 1}, "created_at": int(time.time() * 1000)}
    for k, v in over.items():
        if v is DROP:
            d.pop(k, None)
        else:
            d[k] = v
    return Pairs(d.items())


DROP = object()


# ---------------------------------------------------------------- corpus

class Case:
    """One bad message. code/field: the exact outcome the decode rules give,
    or code None when any bad-input code is acceptable (random bytes)."""

    def __init__(self, name, body, code=None, field=None, job_id=None):
        self.name, self.body, self.code, self.field, self.job_id = name, body, code, field, job_id


BAD_INPUT_CODES = {"too_large", "bad_msgpack", "bad_envelope", "unsupported_schema", "unknown_type", "bad_args"}

# Wrong values per optional and required envelope field: each makes that
# field's rule fail and nothing before it.
WRONG = {
    "v": [None, "1", 1.0, True, [], {}, RawStr(b"\xff")],
    "id": [None, 5, b"bin-id", "", "a:b", "a*b", "a\nb", "../etc/passwd", "x" * 65, "sp ace", "tab\t",
           RawStr(b"id-\xc3\x28"), "ünicode", True, [], {}],
    "type": [None, 5, "", "nodot", "system.", ".noop", "System.noop", "system..noop", "s" * 33 + ".x",
             "system." + "n" * 65, "system.noop\n", RawStr(b"system.\xff"), b"system.noop", [], 1.5],
    "args": [None, [], "x", 5, b"", True, 1.5],
    "target": [5, "", "-lead", "a b", "x" * 254, "host\n", RawStr(b"h\xfe"), b"bin", [], {}, True],
    "created_at": [None, "1", -1, 1.5, True, [], b"1"],
    "max_attempts": [0, 101, -1, "3", 1.5, True, [], 2 ** 64 - 1],
    "timeout_s": [0, 2592001, -5, "x", 1.5, False, {}],
    "meta": [[], "x", 5, {"k": 1}, {"k": ["v"]}, {"": "v"}, {"k" * 65: "v"}, {"k": "v" * 1025},
             {("k%d" % i): "v" for i in range(65)}, {"k": RawStr(b"\xff\xfe")}, Pairs([(5, "v")])],
    "run_at": [-1, "soon", 1.5, [], True],
    "priority": [10, -1, "9", 1.5, 255],
    "unique_for_s": [0, -1, 2592001, "60", 1.5],
    "lock": [5, "", "-x", "x" * 201, "a b", "a\n", RawStr(b"\xff"), [], b"lock"],
}


def corpus(rnd, tag):
    """The bad messages; job ids end in `tag`, so every pass is new work."""
    cases = []

    def add(name, body, code=None, field=None, job_id=None):
        cases.append(Case(name, body, code, field, job_id))

    n = 0
    for field, values in WRONG.items():
        for v in values:
            n += 1
            id = "hf-%d-%s" % (n, tag)
            body = enc(base(id, **{field: v}))
            code = "unsupported_schema" if field == "v" and isinstance(v, int) and not isinstance(v, bool) \
                else "bad_envelope"
            add("field %s=%r" % (field, v), body, code, field, id if field not in ("v", "id") else None)
    for v in (0, 2, -1, 2 ** 32):
        n += 1
        add("v=%d" % v, enc(base("hv-%d-%s" % (n, tag), v=v)), "unsupported_schema", "v", None)
    for field in ("v", "id", "type", "args", "created_at"):
        n += 1
        id = "hm-%d-%s" % (n, tag)
        add("missing %s" % field, enc(base(id, **{field: DROP})),
            "bad_envelope", field, id if field not in ("v", "id") else None)
    # duplicate top-level keys, each key in turn
    for key in ("v", "id", "type", "args", "created_at", "target", "meta", "lock", "extra"):
        n += 1
        id = "hd-%d-%s" % (n, tag)
        pairs = base(id, target="h1", meta={"a": "b"}, lock="l1", extra=1)
        pairs.append((key, dict(pairs)[key]))
        add("duplicate %s" % key, enc(pairs), "bad_envelope", key, None)
    # non-str and invalid top-level shapes
    for i, top in enumerate([[1, 2], "str", 5, None, True, 1.5, b"bin", Pairs([(1, 2)]), Pairs([(b"k", 1)]),
                             Pairs([(None, 1)]), {}]):
        add("top-level %d" % i, enc(top), "bad_envelope", "")
    # type well-formed but unknown, and bad args of known types
    for i, t in enumerate(["system.nope", "system.noop_", "nosuchfamily.noop", "runtime_x.y"]):
        id = "ht-%d-%s" % (i, tag)
        add("unknown type %s" % t, enc(base(id, type=t)), "unknown_type", "type", id)
    bad_args = [("system.sleep", {"ms": "soon"}, "args.ms"), ("system.sleep", {"ms": -1}, "args.ms"),
                ("system.sleep", {"ms": 1.5}, "args.ms"), ("system.sleep", {"ms": 10 ** 12}, "args.ms"),
                ("system.sleep", {"ms": True}, "args.ms"), ("system.sleep", {"ms": None}, "args.ms"),
                ("system.noop", {"b": b"\x00"}, None), ("system.noop", {"deep": [{"b": b"x"}]}, None),
                ("system.fail", {"code": 5}, "args.code"), ("system.log", {"lines": "many"}, "args.lines")]
    for i, (t, a, fld) in enumerate(bad_args):
        id = "ha-%d-%s" % (i, tag)
        add("bad args %s %r" % (t, a), enc(base(id, type=t, args=a)), "bad_args", fld, id)
    # nesting: 33 deep is one too many; 10,000 deep maps and arrays
    add("args nested 33", enc(base("hn-1-" + tag, args={"a": Raw(b"\x91" * 31 + b"\x00")})), "bad_msgpack", "")
    add("maps nested 10000", enc(base("hn-2-" + tag, args={"a": Raw(b"\x81\xa1k" * 10000 + b"\xc0")})), "bad_msgpack", "")
    add("arrays nested 10000", b"\x91" * 10000 + b"\xc0", "bad_msgpack", "")
    # lying lengths: 100 MB and 2 GB declared, small bodies
    lies = [b"\xc6\x06\x40\x00\x00", b"\xdb\x7f\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xdd\x06\x40\x00\x00",
            b"\xdf\x06\x40\x00\x00", b"\xdc\xff\xff", b"\xde\xff\xff", b"\xc5\xff\xff", b"\xd9\xff", b"\xc4\xff"]
    for i, lie in enumerate(lies):
        add("declared length %d top" % i, lie + b"xyz", "bad_msgpack", "")
        add("declared length %d in args" % i, enc(base("hl-%d-%s" % (i, tag), args={"a": Raw(lie + b"xyz")})),
            "bad_msgpack", "")
    # invalid bytes and trailing bytes
    add("0xc1", b"\xc1", "bad_msgpack", "")
    add("empty body", b"", "bad_msgpack", "")
    add("trailing byte", enc(base("hx-1-" + tag)) + b"\x00", "bad_msgpack", "")
    add("two objects", enc(base("hx-2-" + tag)) * 2, "bad_msgpack", "")
    # too large: above the worker's cap (MAX_BODY), by huge arrays and strings
    add("huge arg array", enc(base("hz-1-" + tag, args={"a": list(range(40000))})), "too_large", "")
    add("huge arg string", enc(base("hz-2-" + tag, args={"s": "x" * (MAX_BODY + 1)})), "too_large", "")
    big = base("hz-3-" + tag, meta={("k%d" % i): "v" * 1024 for i in range(64)})
    big.append(("pad", "p" * 2000))
    add("huge meta", enc(big), "too_large", "")
    # every prefix of three valid envelopes is truncated msgpack
    for j, full in enumerate([enc(base("tr-1-" + tag)),
                              enc(base("tr-2-" + tag, target="h-1", meta={"who": "me"}, lock="a/b", priority=3)),
                              enc(base("tr-3-" + tag, type="system.sleep", args={"ms": 1, "l": [1, "x", {"k": None}]}))]):
        for cut in range(len(full)):
            add("truncated %d at %d" % (j, cut), full[:cut], "bad_msgpack", "")
    # random bytes: any bad-input code
    for i in range(450):
        size = rnd.choice([1, 2, 3, 8, 16, 64, 300, 2000])
        add("random %d" % i, bytes(rnd.getrandbits(8) for _ in range(size)))
    # random single-byte corruptions of a valid envelope's header bytes that
    # keep it msgpack but break a field are covered above; here, random
    # msgpack-looking maps
    for i in range(200):
        pairs = Pairs()
        for _ in range(rnd.randint(0, 6)):
            key = rnd.choice(["v", "id", "type", "args", "created_at", "target", "x"])
            val = rnd.choice([None, 0, 1, -7, "", "a", "system.noop", [], {}, b"", 1.5, True])
            pairs.append((key, val))
        add("random map %d" % i, enc(pairs))
    return cases


def valid_odd(tag):
    """Valid envelopes that look odd: they must succeed. Ids end in `tag`."""
    out = []
    for i, over in enumerate([
        {"target": None, "max_attempts": None, "timeout_s": None, "meta": None, "run_at": None,
         "priority": None, "unique_for_s": None, "lock": None},
        {"extra_key": [1, {"x": b"ignored"}], "zz": None},
        {"meta": dict([("k" * 64, "v" * 1024)] + [("k%d" % j, "v") for j in range(63)])},
        {"id": "A" * 62 + "-" + tag, "max_attempts": 100, "timeout_s": 2592000, "priority": 0, "lock": "a" * 200},
        {"created_at": 0, "run_at": 0, "target": "a" * 253},
        {"args": {"ü": "ünïcödé", "nested": [[[[{"a": None}]]]], "f": 1.25, "neg": -5}},
    ]):
        id = over.pop("id", "odd-%d-%s" % (i, tag))
        out.append((id, enc(base(id, **over))))
    return out


# ---------------------------------------------------------------- test

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class HostileCorpusTest(unittest.TestCase):
    def setUp(self):
        self.amqp = env.new_vhost()
        self.prefix = env.new_prefix()
        self.r = env.redis()
        # A small ASan quarantine lets the heap reach its steady state within
        # one pass, so the RSS comparison measures growth, not the quarantine.
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.w = env.start_worker(self.amqp, self.prefix, concurrency=4, extra_env={
            "WHARF_JOBS_MAX_BODY": str(MAX_BODY),
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=4"})
        self.conn = pika.BlockingConnection(pika.URLParameters(self.amqp))
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    def tearDown(self):
        try:
            self.conn.close()
        except Exception:
            pass
        if self.w.alive():
            self.w.kill()
        env.delete_vhost(self.amqp)

    def publish(self, body, message_id=None):
        props = pika.BasicProperties(content_type="application/msgpack", delivery_mode=2, message_id=message_id,
                                     headers={"wharf-schema": 1})
        self.ch.basic_publish("wharf.jobs", "system", body, props, mandatory=True)

    def state(self, id):
        return self.r.hget(self.prefix + "job:" + id, "state")

    def dead_depth(self):
        return self.ch.queue_declare("wharf.dead", passive=True).method.message_count

    def run_pass(self, cases, tag):
        """Publish every bad case with a valid job after every fifth, then the
        odd valid ones; return the ids of the valid jobs."""
        ok_ids = []
        for i, c in enumerate(cases):
            self.publish(c.body)
            if i % 5 == 0:
                id = "ok-%s-%d" % (tag, i)
                self.publish(enc(base(id)), message_id=id)
                ok_ids.append(id)
        for id, body in valid_odd(tag):
            self.publish(body, message_id=id)
            ok_ids.append(id)
        return ok_ids

    def wait_done(self, ok_ids, ndead, timeout=180):
        wait_for(lambda: self.dead_depth() >= ndead, timeout,
                 what="%d dead letters (have %s)" % (ndead, self.dead_depth()))
        for id in ok_ids:
            wait_for(lambda: self.state(id) == "succeeded", 60,
                     what="valid job %s to succeed (state %s)" % (id, self.state(id)))

    def test_corpus_is_dead_lettered_and_valid_jobs_succeed(self):
        cases = corpus(random.Random(20261123), "1")
        self.assertGreaterEqual(len(cases), 1000)
        dump = os.environ.get("WHARF_HOSTILE_DUMP")
        if dump:
            os.makedirs(dump, exist_ok=True)
            for i, c in enumerate(cases):
                safe = "".join(ch if ch.isalnum() else "_" for ch in c.name)[:60]
                with open(os.path.join(dump, "%04d-%s.msgpack" % (i, safe)), "wb") as f:
                    f.write(c.body)

        # pass 1: every outcome checked
        ok_ids = self.run_pass(cases, "1")
        self.wait_done(ok_ids, len(cases))
        time.sleep(1)  # nothing more may arrive
        self.assertEqual(self.dead_depth(), len(cases))
        dead = env.get_messages(self.amqp, "wharf.dead", len(cases) + 50)
        self.assertEqual(len(dead), len(cases))
        by_body = {}
        too_large = []
        for m in dead:
            h = m["headers"]
            self.assertIn(h.get("wharf-reason"), BAD_INPUT_CODES, h)
            self.assertTrue(h.get("wharf-error"), h)
            if h["wharf-reason"] == "too_large":
                self.assertEqual(m["payload"], b"")
                too_large.append(int(h["wharf-body-size"]))
            else:
                by_body.setdefault(m["payload"], []).append(h)
        problems = []
        for c in cases:
            if c.code == "too_large":
                if len(c.body) not in too_large:
                    problems.append("%s: not dead-lettered as too_large" % c.name)
                continue
            got = by_body.get(c.body)
            if not got:
                problems.append("%s: not dead-lettered (%r)" % (c.name, c.body[:80]))
                continue
            h = got.pop()
            if c.code and h["wharf-reason"] != c.code:
                problems.append("%s: reason %s, expected %s (%s)" % (c.name, h["wharf-reason"], c.code,
                                                                      h.get("wharf-error")))
            elif c.field and c.field not in h.get("wharf-error", ""):
                problems.append("%s: error %r does not name %s" % (c.name, h.get("wharf-error"), c.field))
            if c.job_id:
                jh = self.r.hgetall(self.prefix + "job:" + c.job_id)
                if jh.get("state") != "failed" or jh.get("error") != c.code:
                    problems.append("%s: job hash %s/%s, expected failed/%s" % (c.name, jh.get("state"),
                                                                                  jh.get("error"), c.code))
        self.assertEqual(problems, [], "\n".join(problems[:40]))
        self.assertTrue(self.w.alive(), self.w.log_tail())

        # pass 2 under the sanitizers, then a clean exit (the leak check runs at exit)
        self.ch.queue_purge("wharf.dead")
        self.full_pass("2")
        self.assertTrue(self.w.alive(), self.w.log_tail())
        self.w.stop()
        self.assertEqual(self.w.returncode, 0, self.w.log_tail())
        log = self.w.log_text()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"):
            self.assertNotIn(marker, log)

    def full_pass(self, tag):
        again = corpus(random.Random(20261123), tag)
        before = self.dead_depth()
        ok_ids = self.run_pass(again, tag)
        self.wait_done(ok_ids, before + len(again))

    def test_rss_does_not_grow(self):
        """RSS is measured on a plain Release worker: under ASan the
        allocator's caches and shadow memory grow on their own."""
        self.w.stop()
        bdir = relbuild.ensure(["wharf-worker"])
        self.w = env.start_worker(self.amqp, self.prefix, concurrency=4, bin_dir=os.path.join(bdir, "bin"),
                                 
                                  extra_env={"WHARF_JOBS_MAX_BODY": str(MAX_BODY)})
        self.full_pass("w")  # warm-up: every code path and buffer size once
        rss1 = rss_kb(self.w.proc.pid)
        self.full_pass("x")
        self.full_pass("y")
        rss3 = rss_kb(self.w.proc.pid)
        print("hostile corpus: worker RSS %d kB after the first pass, %d kB two passes later" % (rss1, rss3),
              file=sys.stderr)
        self.assertLessEqual(rss3, rss1 * 1.10, "RSS grew from %d kB to %d kB" % (rss1, rss3))
        self.assertTrue(self.w.alive(), self.w.log_tail())


if __name__ == "__main__":
    unittest.main()
