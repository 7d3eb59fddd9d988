"""Jobs and their envelopes: checks, msgpack encoding, uniqueness material.

Everything here is pure (no I/O) and shared by the sync and async clients.
The checks and their codes follow the C library (producer/client.c,
common/model/wh_env.c); the encoding writes the keys in the contract's
order, so a job encodes to the same bytes as from C and TypeScript, and the
golden vectors of schemas/vectors pin those bytes down.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import msgpack

from ._errors import WharfError

__all__ = ["Job", "Submitted", "new_id", "encode", "check_job", "canonical_json",
           "unique_material", "FAMILIES", "SCHEMA_VERSION", "MAX_BODY"]

SCHEMA_VERSION = 1
FAMILIES = ("system", "runtime", "registry", "provision")
MAX_BODY = 1048576          # jobs.max_body by default, bytes: workers dead-letter bigger bodies
MAX_DEPTH = 32              # containers, the envelope map included (decode rule 2)

# re.fullmatch throughout: "$" would also accept a trailing newline.
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_.]{0,63}")
_TARGET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_LOCK_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

RunAt = Union[int, datetime]


@dataclass(frozen=True)
class Job:
    """A job for submit_many(); the fields are submit()'s arguments."""
    type: str
    args: Optional[Mapping[str, Any]] = None
    id: Optional[str] = None
    target: Optional[str] = None
    max_attempts: Optional[int] = None
    timeout_s: Optional[int] = None
    run_at: Optional[RunAt] = None
    priority: Optional[int] = None
    unique_for_s: Optional[int] = None
    lock: Optional[str] = None
    meta: Optional[Mapping[str, str]] = None


@dataclass(frozen=True)
class Submitted:
    """What a submit did. `created` is False when the id (or, with
    unique_for_s, an equal live job, whose id `id` then is) existed; `state`
    is "queued" or "scheduled", or the state of the job that existed."""
    id: str
    created: bool
    state: str


def new_id() -> str:
    """A fresh random id: 22 characters of [A-Za-z0-9_-], the first a letter
    or digit (so it never looks like a command-line option), as from C."""
    raw = secrets.token_bytes(22)
    return _ID_ALPHABET[raw[0] % 62] + "".join(_ID_ALPHABET[b & 63] for b in raw[1:])


def _bad(code: str, field: str, message: str) -> WharfError:
    return WharfError(code, message, field)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _opt_int(job: Job, name: str, lo: int, hi: int) -> Optional[int]:
    v = getattr(job, name)
    if v is None:
        return None
    if not _is_int(v) or not lo <= v <= hi:
        raise _bad("bad_envelope", name, "%s: must be an integer in %d..%d" % (name, lo, hi))
    return int(v)


def _run_at_ms(v: Optional[RunAt]) -> Optional[int]:
    if v is None:
        return None
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise _bad("bad_envelope", "run_at", "run_at: a datetime needs a time zone")
        v = int(v.timestamp() * 1000)
    if not _is_int(v) or v < 0:
        raise _bad("bad_envelope", "run_at", "run_at: must be ms since the epoch (>= 0) or an aware datetime")
    return int(v)


def _check_value(v: Any, path: str, depth: int) -> None:
    """args values: what JSON can hold (no bytes, no NaN), at most 32 deep."""
    if v is None or isinstance(v, (bool, str)):
        return
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 64):
            raise _bad("bad_args", path, "%s: integer out of the 64-bit range" % path)
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _bad("bad_args", path, "%s: number is not finite" % path)
        return
    if depth >= MAX_DEPTH:
        raise _bad("bad_args", path, "%s: nested deeper than %d" % (path, MAX_DEPTH))
    if isinstance(v, Mapping):
        for k, x in v.items():
            if not isinstance(k, str):
                raise _bad("bad_args", path, "%s: map keys must be strings" % path)
            _check_value(x, "%s.%s" % (path, k[:64]), depth + 1)
        return
    if isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            _check_value(x, "%s.%d" % (path, i), depth + 1)
        return
    raise _bad("bad_args", path, "%s: %s is not a JSON value" % (path, type(v).__name__))


def _check_meta(meta: Mapping[str, str]) -> Dict[str, str]:
    msg = "meta: keys must be 1..64 and values at most 1024 bytes of UTF-8 text, at most 64 entries"
    if not isinstance(meta, Mapping) or len(meta) > 64:
        raise _bad("bad_envelope", "meta", msg)
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise _bad("bad_envelope", "meta", msg)
        if not 1 <= len(k.encode("utf-8")) <= 64 or len(v.encode("utf-8")) > 1024:
            raise _bad("bad_envelope", "meta", msg)
    return dict(meta)


def _check_type(t: object) -> str:
    if not isinstance(t, str) or not _TYPE_RE.fullmatch(t) or t.split(".", 1)[0] not in FAMILIES:
        raise _bad("unknown_type", "type", 'type: "%s" is not family.action of a known family' % (t,))
    return t


def check_job(job: Job, created_at: Optional[int] = None) -> Dict[str, Any]:
    """Check a job like the C library does and return its envelope as a
    dict in the contract's key order (unset options left out). Raises
    WharfError: unknown_type (type), bad_envelope (the field), bad_args."""
    job_id = new_id() if job.id is None else job.id
    if not isinstance(job_id, str) or not _ID_RE.fullmatch(job_id):
        raise _bad("bad_envelope", "id", "id: must match [A-Za-z0-9_-]{1,64}")
    _check_type(job.type)
    args = {} if job.args is None else job.args
    if not isinstance(args, Mapping):
        raise _bad("bad_args", "args", "args: must be a mapping (a JSON object)")
    _check_value(args, "args", 1)
    env: Dict[str, Any] = {"v": SCHEMA_VERSION, "id": job_id, "type": job.type, "args": args,
                           "created_at": int(time.time() * 1000) if created_at is None else created_at}
    if job.target is not None and job.target != "":
        if not isinstance(job.target, str) or not _TARGET_RE.fullmatch(job.target):
            raise _bad("bad_envelope", "target", "target: not a valid host name")
        env["target"] = job.target
    for name, lo, hi in (("max_attempts", 1, 100), ("timeout_s", 1, 2592000)):
        v = _opt_int(job, name, lo, hi)
        if v is not None:
            env[name] = v
    if job.meta is not None:
        env["meta"] = _check_meta(job.meta)
    run_at = _run_at_ms(job.run_at)
    if run_at:
        env["run_at"] = run_at
    priority = _opt_int(job, "priority", 0, 9)
    if priority:
        env["priority"] = priority
    unique = _opt_int(job, "unique_for_s", 1, 2592000)
    if unique:
        env["unique_for_s"] = unique
    if job.lock is not None and job.lock != "":
        if not isinstance(job.lock, str) or not _LOCK_RE.fullmatch(job.lock):
            raise _bad("bad_envelope", "lock", "lock: must be 1..200 bytes of A-Z a-z 0-9 . _ : / @ - "
                       "starting with a letter or digit")
        env["lock"] = job.lock
    return env


def encode(env: Mapping[str, Any], max_body: int = MAX_BODY) -> bytes:
    """The envelope as msgpack (str as str; ints in their smallest form).
    Raises too_large over `max_body` bytes."""
    try:
        body: bytes = msgpack.packb(env, use_bin_type=True)
    except (OverflowError, TypeError, ValueError) as e:
        raise _bad("bad_args", "args", "args: %s" % e) from None
    if len(body) > max_body:
        raise _bad("too_large", "args", "envelope is %d bytes; the limit is %d" % (len(body), max_body))
    return body


# ---- uniqueness material (enqueue.lua ARGV[14]) ------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_str(s: str) -> str:
    out = []
    for ch in s:
        e = _ESCAPES.get(ch)
        if e is None and ord(ch) < 0x20:
            e = "\\u%04X" % ord(ch)
        out.append(e if e is not None else ch)
    return '"' + "".join(out) + '"'


def _json_real(x: float) -> str:
    """A float as jansson writes it: %.17g, with ".0" when it has neither a
    dot nor an exponent, and the exponent without "+" or leading zeros."""
    s = "%.17g" % x
    if "." not in s and "e" not in s:
        s += ".0"
    m = re.fullmatch(r"(.*e)([+-]?)0*(\d+)", s)
    if m:
        s = m.group(1) + ("-" if m.group(2) == "-" else "") + m.group(3)
    return s


def canonical_json(v: Any) -> str:
    """Compact JSON with object keys sorted (by their UTF-8 bytes), exactly
    as the C library's jansson writes it (JSON_COMPACT | JSON_SORT_KEYS), so
    the uniqueness key of a job is the same whichever client submits it."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return _json_real(v)
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, Mapping):
        items: List[Tuple[str, Any]] = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
        return "{" + ",".join(_json_str(k) + ":" + canonical_json(x) for k, x in items) + "}"
    return "[" + ",".join(canonical_json(x) for x in v) + "]"


def unique_material(env: Mapping[str, Any]) -> bytes:
    """type NUL target NUL canonical-args-JSON, hashed by enqueue.lua."""
    return b"\0".join((env["type"].encode(), env.get("target", "").encode(),
                       canonical_json(env["args"]).encode("utf-8")))
