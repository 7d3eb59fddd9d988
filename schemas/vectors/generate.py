#!/usr/bin/python3
"""Generate the wharf v1 golden vectors.

Every vector is a pair of files in this directory:

  <name>.msgpack  the exact message body (bytes as published to RabbitMQ)
  <name>.json     {"description": ..., "expect": {"ok", "code", "field"},
                   "value": <JSON equivalent of the body>}

"value" is omitted when the body has no faithful JSON equivalent: malformed
msgpack, duplicate or non-str map keys, bin strings, non-UTF-8 strings, and
floats with an integral value (JSON cannot tell 1.0 from 1, msgpack can, and
the contract says a float is never an int).

"expect" is what a v1 worker must decide for the body (see schemas/README.md,
"Decode rules"): ok=true means the body decodes and its args validate (the
job may still fail when it runs, e.g. system.fail); ok=false gives the error
code and field of the FIRST rule that fails.

Output is deterministic: running this script twice gives identical files.
Usage:
  generate.py            rewrite the vectors (removes stale ones)
  generate.py --check    exit 1 if the files on disk differ from the output
"""

import argparse
import json
import os
import random
import struct
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))

# A fixed creation time (2023-11-14T22:13:20Z) keeps the output stable.
CREATED_AT = 1700000000000

# Deepest container nesting a body may have (decode rule 2). The top-level
# map is at depth 1, args at depth 2, and so on; scalars do not count.
MAX_DEPTH = 32  # msgpack-c as packaged by Debian unpacks 32 levels


# --------------------------------------------------------------------------
# Low-level msgpack helpers, for bodies a normal encoder refuses to produce.
# --------------------------------------------------------------------------

def pack(obj):
    """Canonical msgpack encoding (str as str, bytes as bin)."""
    return msgpack.packb(obj, use_bin_type=True)


def map_header(n):
    """Header of a map with n entries (fixmap, map16 or map32)."""
    if n < 16:
        return bytes([0x80 | n])
    if n < 0x10000:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def raw_map(pairs):
    """A map from already-encoded (key_bytes, value_bytes) pairs.

    Unlike pack(), this allows duplicate keys and keys of any type."""
    return map_header(len(pairs)) + b"".join(k + v for k, v in pairs)


def raw_str(data):
    """A msgpack str whose payload is the given bytes, even if not UTF-8."""
    n = len(data)
    if n < 32:
        return bytes([0xa0 | n]) + data
    if n < 0x100:
        return b"\xd9" + bytes([n]) + data
    return b"\xda" + struct.pack(">H", n) + data


def envelope_pairs(env):
    """Encode a dict's items as (key, value) byte pairs, keeping order."""
    return [(pack(k), pack(v)) for k, v in env.items()]


# --------------------------------------------------------------------------
# Vector construction
# --------------------------------------------------------------------------

# Marks a key to remove from env(), or an argument left unset.
DROP = object()


def env(name, type_, job_args, **extra):
    """A valid-looking envelope for vector `name`, in the contract's order.

    Each vector gets its own id ("vec-<name>") so that replaying every vector
    against one worker never makes two vectors share a job hash. Keyword
    arguments add or override top-level keys; the value DROP removes one."""
    e = {"v": 1, "id": "vec-" + name.replace("_", "-"), "type": type_,
         "args": job_args, "created_at": CREATED_AT}
    for k, v in extra.items():
        if v is DROP:
            e.pop(k, None)
        else:
            e[k] = v
    return e


class Vectors:
    """Collects vectors and checks each one for internal consistency."""

    def __init__(self):
        self.items = {}  # name -> (bytes, json_doc)

    def add(self, name, description, body, ok, code=None, field=None,
            value=DROP, has_value=True):
        """Record a vector. `body` is raw bytes or an object to pack; in the
        latter case the JSON value defaults to that object."""
        assert name not in self.items, name
        assert ok == (code is None) and ok == (field is None), name
        if isinstance(body, bytes):
            data = body
        else:
            data = pack(body)
            if value is DROP:
                value = body
        assert not has_value or value is not DROP, name
        doc = {"description": description,
               "expect": {"ok": ok, "code": code, "field": field}}
        if has_value:
            # The JSON value must be exactly what the bytes decode to.
            decoded = msgpack.unpackb(data, raw=False, strict_map_key=False)
            assert decoded == value and _same_types(decoded, value), name
            doc["value"] = value
        for other, (odata, _) in self.items.items():
            assert odata != data, "%s duplicates %s" % (name, other)
        self.items[name] = (data, doc)

    def ok(self, name, description, body):
        self.add(name, description, body, True)

    def bad(self, name, description, body, code, field, has_value=True):
        self.add(name, description, body, False, code, field,
                 has_value=has_value)


def _same_types(a, b):
    """Recursive type equality (so 1 vs 1.0 vs True are told apart)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            _same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same_types, a, b))
    return True


def build():
    vs = Vectors()
    ok, bad = vs.ok, vs.bad

    # ---- valid bodies -----------------------------------------------------
    ok("ok_noop_minimal", "Minimal system.noop job with empty args.",
       env("ok_noop_minimal", "system.noop", {}))
    ok("ok_noop_values",
       "system.noop with every allowed value kind: nil, bool, int, float, "
       "str, array and map, nested. Its result is these args as JSON.",
       env("ok_noop_values", "system.noop",
           {"x": 1, "neg": -5, "f": 1.5, "s": "str", "b": True, "n": None,
            "a": [1, "two", [3]], "m": {"k": "v", "deep": {"z": False}}}))
    ok("ok_sleep_minimal", "Minimal system.sleep job (10 ms).",
       env("ok_sleep_minimal", "system.sleep", {"ms": 10}))
    ok("ok_fail_minimal",
       "Minimal system.fail job: decodes fine, then fails when run with "
       "error code \"failed\" (the default).",
       env("ok_fail_minimal", "system.fail", {}))
    ok("ok_fail_full",
       "system.fail with every arg: decodes fine, then fails permanently "
       "with error code \"boom\".",
       env("ok_fail_full", "system.fail",
           {"code": "boom", "message": "m", "transient": False}))
    ok("ok_log_minimal", "Minimal system.log job (3 lines, default width).",
       env("ok_log_minimal", "system.log", {"lines": 3}))
    ok("ok_log_full", "system.log with both args at their limits' low end.",
       env("ok_log_full", "system.log", {"lines": 0, "bytes": 1}))
    ok("ok_full_envelope",
       "Every optional field set, plus an unknown top-level key that a v1 "
       "worker must ignore.",
       env("ok_full_envelope", "system.noop", {"x": 1},
           target="host-1.example", max_attempts=5, timeout_s=60,
           meta={"user": "alice", "trace": "abc123"},
           x_extra={"future": [1, 2]}))
    ok("ok_nil_optionals",
       "Optional fields present as nil mean \"absent\".",
       env("ok_nil_optionals", "system.sleep", {"ms": 0},
           target=None, max_attempts=None, timeout_s=None, meta=None))
    ok("ok_limits",
       "Fields at their limits: 64-char id, 253-char target, max_attempts "
       "100, timeout_s 2592000, created_at 0, meta with a 64-byte key, a "
       "1024-byte value and an empty value.",
       env("ok_limits", "system.noop", {},
           id="L" * 64, created_at=0, target="t" * 253, max_attempts=100,
           timeout_s=2592000, meta={"k" * 64: "v" * 1024, "e": ""}))
    ok("ok_key_order",
       "Top-level keys in an unusual order; decoders must not depend on it.",
       {"meta": {"a": "b"}, "args": {"ms": 1}, "created_at": CREATED_AT,
        "type": "system.sleep", "id": "vec-ok-key-order", "v": 1})
    ok("ok_unicode",
       "Non-ASCII UTF-8 in meta and in noop args.",
       env("ok_unicode", "system.noop", {"greeting": "h\u00e9llo \u2713"},
           meta={"who": "J\u00fcrgen \U0001F680"}))

    # Same as a valid envelope but with ints in wide, non-canonical encodings:
    # v as uint16, created_at as uint64, max_attempts as int64. Any msgpack
    # int encoding is an int.
    wide = env("ok_wide_ints", "system.noop", {})
    wide_pairs = envelope_pairs(wide)
    wide_pairs[0] = (pack("v"), b"\xcd\x00\x01")
    wide_pairs[4] = (pack("created_at"), b"\xcf" + struct.pack(">Q", CREATED_AT))
    wide_pairs.append((pack("max_attempts"), b"\xd3" + struct.pack(">q", 2)))
    wide["max_attempts"] = 2
    vs.add("ok_wide_ints",
           "Integers in wide encodings (uint16 v, uint64 created_at, int64 "
           "max_attempts) are still ints.",
           raw_map(wide_pairs), True, value=wide)

    # ---- rule 2: bad_msgpack ----------------------------------------------
    good = pack(env("bad_msgpack_truncated", "system.noop", {"x": 1}))
    bad("bad_msgpack_truncated", "A valid envelope cut short by 2 bytes.",
        good[:-2], "bad_msgpack", "", has_value=False)
    good = pack(env("bad_msgpack_trailing", "system.noop", {"x": 1}))
    bad("bad_msgpack_trailing",
        "A valid envelope followed by one extra byte (a second object, nil).",
        good + b"\xc0", "bad_msgpack", "", has_value=False)
    bad("bad_msgpack_empty", "Empty body.", b"", "bad_msgpack", "",
        has_value=False)
    rng = random.Random(20231114)
    noise = bytes(rng.getrandbits(8) for _ in range(31))
    bad("bad_msgpack_random",
        "Random bytes starting with 0xc1, a byte msgpack never uses.",
        b"\xc1" + noise, "bad_msgpack", "", has_value=False)
    # Containers nested exactly MAX_DEPTH deep (ok) and one deeper (bad):
    # top map (1) > args (2) > arrays (3..), innermost array holding an int.
    for depth, ok_ in ((MAX_DEPTH, True), (MAX_DEPTH + 1, False)):
        arrays = depth - 2
        nested = 1
        for _ in range(arrays):
            nested = [nested]
        name = ("ok_nesting_%d" if ok_ else "bad_msgpack_nesting_%d") % depth
        body = env(name, "system.noop", {"a": nested})
        desc = ("Containers nested %d deep (top map = 1, args = 2, then %d "
                "arrays around an int): %s." % (
                    depth, arrays,
                    "the deepest allowed" if ok_ else "one level too deep"))
        if ok_:
            ok(name, desc, body)
        else:
            bad(name, desc, pack(body), "bad_msgpack", "", has_value=False)
    deep = b"\x91" * 99 + b"\x90"  # 100 nested arrays, innermost empty
    bad("bad_msgpack_deep_nesting",
        "An array nested 100 deep inside args (nesting deeper than 64).",
        raw_map(envelope_pairs(env("bad_msgpack_deep_nesting",
                                   "system.noop", {}))[:3]
                + [(pack("args"), map_header(1) + pack("a") + deep),
                   (pack("created_at"), pack(CREATED_AT))]),
        "bad_msgpack", "", has_value=False)
    bad("bad_msgpack_str_2gb",
        "The id is a str32 declaring 2 GiB but only 3 bytes follow; a "
        "decoder must fail, not allocate.",
        map_header(5) + pack("v") + pack(1) + pack("id")
        + b"\xdb\x80\x00\x00\x00" + b"abc",
        "bad_msgpack", "", has_value=False)
    bad("bad_msgpack_array_100m",
        "An array32 inside args declaring 100,000,000 elements followed by "
        "only 3.",
        raw_map(envelope_pairs(env("bad_msgpack_array_100m",
                                   "system.noop", {}))[:3]
                + [(pack("args"), map_header(1) + pack("a")
                    + b"\xdd" + struct.pack(">I", 100000000)
                    + b"\x01\x02\x03")]),
        "bad_msgpack", "", has_value=False)
    bad("bad_msgpack_map_100m",
        "A top-level map32 declaring 100,000,000 entries followed by one.",
        b"\xdf" + struct.pack(">I", 100000000) + pack("v") + pack(1),
        "bad_msgpack", "", has_value=False)

    # ---- rule 3: top-level shape -------------------------------------------
    bad("bad_toplevel_array", "Top level is an array, not a map.",
        [1, "system.noop"], "bad_envelope", "")
    bad("bad_toplevel_nil", "Top level is nil.", None, "bad_envelope", "")
    dup = envelope_pairs(env("bad_duplicate_key", "system.noop", {}))
    dup.insert(2, (pack("id"), pack("vec-bad-duplicate-key-2")))
    bad("bad_duplicate_key",
        "The top-level key \"id\" appears twice (both values valid).",
        raw_map(dup), "bad_envelope", "id", has_value=False)
    nsk = envelope_pairs(env("bad_nonstr_key", "system.noop", {}))
    nsk.append((pack(7), pack("seven")))
    bad("bad_nonstr_key", "A top-level key is an int (7), not a str.",
        raw_map(nsk), "bad_envelope", "", has_value=False)
    binkey = envelope_pairs(env("bad_bin_key", "system.noop", {}))
    binkey.append((pack(b"extra"), pack("x")))
    bad("bad_bin_key", "A top-level key is bin, not str.",
        raw_map(binkey), "bad_envelope", "", has_value=False)

    # ---- rule 4: v --------------------------------------------------------
    bad("bad_v_missing", "No \"v\" key.",
        env("bad_v_missing", "system.noop", {}, v=DROP),
        "bad_envelope", "v")
    bad("bad_v_2", "v = 2: a schema version this worker does not speak.",
        env("bad_v_2", "system.noop", {}, v=2), "unsupported_schema", "v")
    bad("bad_v_0", "v = 0.", env("bad_v_0", "system.noop", {}, v=0),
        "unsupported_schema", "v")
    bad("bad_v_string", "v is the str \"1\".",
        env("bad_v_string", "system.noop", {}, v="1"), "bad_envelope", "v")
    bad("bad_v_nil", "v is nil.",
        env("bad_v_nil", "system.noop", {}, v=None), "bad_envelope", "v")
    bad("bad_v_bool", "v is true (a bool is not an int).",
        env("bad_v_bool", "system.noop", {}, v=True), "bad_envelope", "v")
    bad("bad_v_float", "v is the float64 1.0 (a float is not an int).",
        env("bad_v_float", "system.noop", {}, v=1.0), "bad_envelope", "v",
        has_value=False)
    bad("bad_order_v_before_id",
        "v = 2 and an invalid id: v is checked first.",
        env("bad_order_v_before_id", "system.noop", {}, v=2, id="a:b"),
        "unsupported_schema", "v")

    # ---- rule 5: id -------------------------------------------------------
    for name, desc, value in [
            ("bad_id_missing", "No \"id\" key.", DROP),
            ("bad_id_empty", "id is the empty string.", ""),
            ("bad_id_65", "id is 65 characters long.", "a" * 65),
            ("bad_id_colon", "id contains ':'.", "job:1"),
            ("bad_id_star", "id contains '*'.", "job*"),
            ("bad_id_newline", "id ends with a newline.", "job\n"),
            ("bad_id_dotdot", "id is a path: \"../etc\".", "../etc"),
            ("bad_id_int", "id is an int.", 42)]:
        bad(name, desc, env(name, "system.noop", {}, id=value),
            "bad_envelope", "id")
    bad("bad_id_bin", "id is bin, not str.",
        env("bad_id_bin", "system.noop", {}, id=b"vec-bad-id-bin"),
        "bad_envelope", "id", has_value=False)

    # ---- rule 6: type -----------------------------------------------------
    for name, desc, value in [
            ("bad_type_missing", "No \"type\" key.", DROP),
            ("bad_type_int", "type is an int.", 7),
            ("bad_type_uppercase", "type has an uppercase letter.",
             "System.noop"),
            ("bad_type_no_dot", "type has no family part.", "noop"),
            ("bad_type_family_too_long",
             "type's family part is 33 characters (max 32).",
             "s" * 33 + ".noop")]:
        bad(name, desc, env(name, "system.noop", {}, type=value),
            "bad_envelope", "type")
    nonutf = envelope_pairs(env("bad_type_not_utf8", "system.noop", {}))
    nonutf[2] = (pack("type"), raw_str(b"system.\xff"))
    bad("bad_type_not_utf8", "type is a str holding invalid UTF-8 (0xff).",
        raw_map(nonutf), "bad_envelope", "type", has_value=False)
    bad("bad_order_type_before_args",
        "Invalid type and args not a map: type is checked first.",
        env("bad_order_type_before_args", "System.noop", []),
        "bad_envelope", "type")

    # ---- rule 7: args -----------------------------------------------------
    bad("bad_args_missing", "No \"args\" key.",
        env("bad_args_missing", "system.noop", {}, args=DROP),
        "bad_envelope", "args")
    bad("bad_args_array", "args is an array.",
        env("bad_args_array", "system.noop", [1]), "bad_envelope", "args")
    bad("bad_args_nil", "args is nil (args is required, not optional).",
        env("bad_args_nil", "system.noop", None), "bad_envelope", "args")

    # ---- rule 8: target ---------------------------------------------------
    for name, desc, value in [
            ("bad_target_space", "target contains a space.", "my host"),
            ("bad_target_empty", "target is the empty string.", ""),
            ("bad_target_leading_dot", "target starts with '.'.", ".host"),
            ("bad_target_254", "target is 254 characters (max 253).",
             "t" * 254),
            ("bad_target_int", "target is an int.", 5)]:
        bad(name, desc, env(name, "system.noop", {}, target=value),
            "bad_envelope", "target")

    # ---- rule 9: created_at -------------------------------------------------
    bad("bad_created_at_missing", "No \"created_at\" key.",
        env("bad_created_at_missing", "system.noop", {}, created_at=DROP),
        "bad_envelope", "created_at")
    bad("bad_created_at_negative", "created_at is -1.",
        env("bad_created_at_negative", "system.noop", {}, created_at=-1),
        "bad_envelope", "created_at")
    bad("bad_created_at_float", "created_at is a float with a fraction.",
        env("bad_created_at_float", "system.noop", {},
            created_at=1700000000000.5),
        "bad_envelope", "created_at")
    bad("bad_created_at_string", "created_at is a str.",
        env("bad_created_at_string", "system.noop", {},
            created_at="1700000000000"),
        "bad_envelope", "created_at")

    # ---- rules 10, 11: max_attempts, timeout_s ------------------------------
    bad("bad_max_attempts_0", "max_attempts is 0 (min 1).",
        env("bad_max_attempts_0", "system.noop", {}, max_attempts=0),
        "bad_envelope", "max_attempts")
    bad("bad_max_attempts_101", "max_attempts is 101 (max 100).",
        env("bad_max_attempts_101", "system.noop", {}, max_attempts=101),
        "bad_envelope", "max_attempts")
    bad("bad_max_attempts_float", "max_attempts is the float64 3.0.",
        env("bad_max_attempts_float", "system.noop", {}, max_attempts=3.0),
        "bad_envelope", "max_attempts", has_value=False)
    bad("bad_timeout_s_0", "timeout_s is 0 (min 1).",
        env("bad_timeout_s_0", "system.noop", {}, timeout_s=0),
        "bad_envelope", "timeout_s")
    bad("bad_timeout_s_too_big", "timeout_s is 2592001 (max 2592000).",
        env("bad_timeout_s_too_big", "system.noop", {}, timeout_s=2592001),
        "bad_envelope", "timeout_s")

    # ---- rule 12: meta ----------------------------------------------------
    for name, desc, value in [
            ("bad_meta_non_string_value", "A meta value is an int.",
             {"k": 1}),
            ("bad_meta_too_many", "meta has 65 entries (max 64).",
             {"k%02d" % i: "v" for i in range(65)}),
            ("bad_meta_empty_key", "A meta key is the empty string.",
             {"": "x"}),
            ("bad_meta_long_key", "A meta key is 65 bytes (max 64).",
             {"k" * 65: "x"}),
            ("bad_meta_long_value", "A meta value is 1025 bytes (max 1024).",
             {"k": "v" * 1025}),
            ("bad_meta_array", "meta is an array.", ["a", "b"])]:
        bad(name, desc, env(name, "system.noop", {}, meta=value),
            "bad_envelope", "meta")
    bad("bad_order_envelope_before_args",
        "created_at missing and sleep args invalid: envelope rules come "
        "before args validation.",
        env("bad_order_envelope_before_args", "system.sleep", {},
            created_at=DROP),
        "bad_envelope", "created_at")

    # ---- rules 13-16: run_at, priority, unique_for_s, lock ----------------
    ok("ok_job_control",
       "Every job-control field at a valid value: run_at in the past (runs "
       "now), priority 9, unique_for_s 60, a lock key with all its "
       "punctuation.",
       env("ok_job_control", "system.noop", {}, run_at=1, priority=9,
           unique_for_s=60, lock="host:web1/ctr:api_1.v2@x-y"))
    for name, desc, field, value in [
            ("bad_run_at_negative", "run_at is -1.", "run_at", -1),
            ("bad_run_at_string", "run_at is a str.", "run_at", "soon"),
            ("bad_run_at_float", "run_at is a float with a fraction.", "run_at", 1.5),
            ("bad_priority_10", "priority is 10 (max 9).", "priority", 10),
            ("bad_priority_negative", "priority is -1.", "priority", -1),
            ("bad_unique_for_s_0", "unique_for_s is 0 (min 1).",
             "unique_for_s", 0),
            ("bad_unique_for_s_too_big", "unique_for_s is 2592001 (max 2592000).",
             "unique_for_s", 2592001),
            ("bad_lock_empty", "lock is the empty string.", "lock", ""),
            ("bad_lock_space", "lock contains a space.", "lock", "ctr api"),
            ("bad_lock_leading_dash", "lock starts with '-'.", "lock", "-x"),
            ("bad_lock_int", "lock is an int.", "lock", 5),
            ("bad_lock_201", "lock is 201 bytes (max 200).", "lock", "l" * 201)]:
        bad(name, desc, env(name, "system.noop", {}, **{field: value}),
            "bad_envelope", field)

    # ---- rule 18: unknown_type ---------------------------------------------
    bad("bad_unknown_type", "Well-formed type with no handler: system.nope.",
        env("bad_unknown_type", "system.nope", {}), "unknown_type", "type")
    bad("bad_order_unknown_type_before_args",
        "Unknown type whose args would be invalid for any handler: "
        "unknown_type wins over bad_args.",
        env("bad_order_unknown_type_before_args", "system.sleeps",
            {"ms": "x"}),
        "unknown_type", "type")

    # ---- rule 19: bad_args ------------------------------------------------
    for name, type_, args, field, desc in [
            ("bad_sleep_ms_missing", "system.sleep", {}, "ms",
             "system.sleep without ms."),
            ("bad_sleep_ms_negative", "system.sleep", {"ms": -1}, "ms",
             "system.sleep with ms = -1."),
            ("bad_sleep_ms_string", "system.sleep", {"ms": "10"}, "ms",
             "system.sleep with ms as a str."),
            ("bad_sleep_ms_too_big", "system.sleep", {"ms": 3600001}, "ms",
             "system.sleep with ms = 3600001 (max 3600000)."),
            ("bad_sleep_unknown_key", "system.sleep", {"ms": 1, "extra": 1},
             "extra", "system.sleep with an unknown arg key."),
            ("bad_fail_code_uppercase", "system.fail", {"code": "Boom"},
             "code", "system.fail with an uppercase code."),
            ("bad_fail_message_too_long", "system.fail",
             {"message": "m" * 1025}, "message",
             "system.fail with a 1025-byte message (max 1024)."),
            ("bad_fail_transient_string", "system.fail",
             {"transient": "yes"}, "transient",
             "system.fail with transient as a str."),
            ("bad_log_bytes_0", "system.log", {"lines": 1, "bytes": 0},
             "bytes", "system.log with bytes = 0 (min 1)."),
            ("bad_log_bytes_too_big", "system.log",
             {"lines": 1, "bytes": 4097}, "bytes",
             "system.log with bytes = 4097 (max 4096)."),
            ("bad_log_lines_missing", "system.log", {"bytes": 10}, "lines",
             "system.log without lines.")]:
        bad(name, desc, env(name, type_, args), "bad_args", "args." + field)
    binarg = env("bad_noop_bin_value", "system.noop", {"data": b"\x00\x01"})
    bad("bad_noop_bin_value",
        "system.noop whose arg value is bin (noop allows no bin/ext).",
        binarg, "bad_args", "args.data", has_value=False)
    return vs.items


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def render(items):
    """Map each output file name to its exact bytes."""
    files = {}
    for name, (data, doc) in sorted(items.items()):
        files[name + ".msgpack"] = data
        text = json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
        files[name + ".json"] = text.encode("ascii")
    return files


def existing_vector_files(out):
    return {f for f in os.listdir(out)
            if f.endswith(".msgpack") or f.endswith(".json")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the files on disk instead of writing")
    ap.add_argument("--out", default=HERE, help="output directory")
    opts = ap.parse_args()

    files = render(build())
    on_disk = existing_vector_files(opts.out)
    if opts.check:
        problems = sorted(on_disk - set(files))  # stale files
        for fname, data in files.items():
            path = os.path.join(opts.out, fname)
            if not os.path.exists(path):
                problems.append(fname + " (missing)")
            else:
                with open(path, "rb") as fh:
                    if fh.read() != data:
                        problems.append(fname + " (differs)")
        if problems:
            print("vectors out of date; run schemas/vectors/generate.py:")
            for p in problems:
                print("  " + p)
            return 1
        print("%d vectors up to date" % (len(files) // 2))
        return 0

    for stale in sorted(on_disk - set(files)):
        os.remove(os.path.join(opts.out, stale))
    for fname, data in files.items():
        with open(os.path.join(opts.out, fname), "wb") as fh:
            fh.write(data)
    print("wrote %d vectors to %s" % (len(files) // 2, opts.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
