"""The Redis side of the contract, without I/O: keys, the Lua scripts and
their arguments, the job hash as JSON, cancel outcomes, log pages and
events. Shared by the sync and async clients; the C library does the same
in common/model (wh_keys, wh_status, wh_jobctl, wh_xpage).

The scripts are the C library's own (common/model/lua/), copied into the
package when it is built; a test checks the copies equal the sources.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._envelope import Submitted, canonical_json, unique_material
from ._errors import WharfError

__all__ = ["Script", "SCRIPTS", "TERMINAL", "LogLine", "LogGap", "Event", "XPage"]

TERMINAL = frozenset(("succeeded", "failed", "dead", "cancelled"))
NUMERIC = frozenset(("attempt", "max_attempts", "progress", "redeliveries", "created_at", "queued_at",
                     "started_at", "finished_at", "run_at", "priority", "args_truncated"))
JSON_FIELDS = frozenset(("result", "args"))  # JSON text in the hash, read back as its value
LOG_MAX = 10000        # lines logs() returns at most, as GET /v1/jobs/{id}/logs
LOG_PAGE = 1000        # stream entries fetched per request while following


def _lua(name: str) -> bytes:
    shipped = resources.files("wharf_client").joinpath("lua", name + ".lua")
    if shipped.is_file():
        return shipped.read_bytes()
    # Imported from a wharf checkout without a build (the repository's own
    # tests and benchmarks): the scripts are right there.
    return (Path(__file__).resolve().parents[4] / "common" / "model" / "lua" / (name + ".lua")).read_bytes()


class Script:
    """One Lua script of common/model/lua, with its SHA1 for EVALSHA."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.text = _lua(name)
        self.sha = hashlib.sha1(self.text).hexdigest()


SCRIPT_NAMES = ("enqueue", "unenqueue", "cancel")
SCRIPTS: Dict[str, Script] = {n: Script(n) for n in SCRIPT_NAMES}


def resp(args: Sequence[Union[str, bytes, int]]) -> bytes:
    """One command in the Redis protocol (RESP), for pipelines packed here."""
    # One comprehension and one join: twice as fast as appending in a loop,
    # and this runs for every job of a batch.
    enc = [a if type(a) is bytes else str(a).encode() for a in args]  # noqa: E721 (exact type: fast)
    return b"*%d\r\n" % len(enc) + b"".join(b"$%d\r\n%s\r\n" % (len(b), b) for b in enc)


def key_job(prefix: str, job_id: str) -> str:
    return prefix + "job:" + job_id


def enqueue_call(prefix: str, env: Mapping[str, Any], body: bytes, max_attempts: int,
                 now_ms: int) -> List[Union[str, bytes, int]]:
    """EVALSHA arguments (after the SHA) of enqueue.lua for one job, as
    wh_status_enqueue builds them."""
    unique = env.get("unique_for_s", 0)
    return [3, key_job(prefix, env["id"]), prefix + "recent", prefix + "scheduled",
            env["id"], env["type"], env.get("target", ""), str(env["created_at"]),
            str(env.get("max_attempts", max_attempts)), str(now_ms), prefix + "events",
            str(env.get("run_at", 0)), body if env.get("run_at") else b"", str(unique),
            env.get("lock", ""), str(env.get("priority", 0)), prefix,
            unique_material(env) if unique else b"", "0", canonical_json(env["args"]).encode("utf-8")]


def unenqueue_call(prefix: str, job_id: str) -> List[Union[str, bytes, int]]:
    return [3, key_job(prefix, job_id), prefix + "recent", prefix + "scheduled", job_id]


def cancel_call(prefix: str, job_id: str, ttl_s: int) -> List[Union[str, bytes, int]]:
    k = key_job(prefix, job_id)
    return [4, k, k + ":log", prefix + "scheduled", prefix + "leases", job_id,
            str(int(time.time() * 1000)), str(ttl_s), prefix + "events"]


def _text(x: Any) -> str:
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


def enqueue_result(reply: Any) -> Submitted:
    """{created 1|0, state, id of the job that stands} -> Submitted."""
    return Submitted(id=_text(reply[2]), created=int(reply[0]) == 1, state=_text(reply[1]))


def cancel_result(job_id: str, reply: Any) -> str:
    """cancel.lua's reply -> the state, or not_found / conflict."""
    kind = _text(reply[0])
    state = _text(reply[1]) if len(reply) > 1 else ""
    if kind == "missing":
        raise WharfError("not_found", 'no job with id "%s"' % job_id, "id")
    if kind == "finished":
        raise WharfError("conflict", "job %s already finished: it is %s" % (job_id, state), "id")
    return "cancelled" if kind == "cancelled" else state


def job_json(job_id: str, h: Mapping[Any, Any]) -> Dict[str, Any]:
    """The job hash as GET /v1/jobs/{id} and wharf_status_json give it:
    numeric fields as integers, `result` and `args` as their JSON values."""
    if not h:
        raise WharfError("not_found", 'no job with id "%s"' % job_id, "id")
    out: Dict[str, Any] = {}
    for k, v in h.items():
        key, text = _text(k), _text(v)
        out[key] = text
        if key in NUMERIC:
            try:
                out[key] = int(text)
            except ValueError:
                pass
        elif key in JSON_FIELDS:
            try:
                out[key] = json.loads(text)
            except ValueError:
                pass
    return out


def check_id(job_id: object) -> str:
    if not isinstance(job_id, str) or not 1 <= len(job_id) <= 64 or \
            not all(c.isascii() and (c.isalnum() or c in "_-") for c in job_id):
        raise WharfError("not_found", '"%.64s" is not a job id' % (job_id,), "id")
    return job_id


# ---- logs ------------------------------------------------------------------

@dataclass(frozen=True)
class LogLine:
    """One log line: the stream entry `id`, the stream `s` (out, err or sys)
    and the text `l`, as in GET /v1/jobs/{id}/logs."""
    id: str
    s: str
    l: str  # noqa: E741 (the contract's name)


@dataclass(frozen=True)
class LogGap:
    """Lines the stream's cap (jobs.log_max_lines) removed before they were
    read: `missing` of them (None: some, number unknown), where they were."""
    missing: Optional[int]

    @property
    def message(self) -> str:
        if self.missing is None:
            return "lines were trimmed here (the stream keeps the newest jobs.log_max_lines)"
        return "%d %s trimmed here (the stream keeps the newest jobs.log_max_lines)" % (
            self.missing, "line was" if self.missing == 1 else "lines were")


def _pairs(x: Any) -> Dict[str, Any]:
    """A flat [k, v, ...] reply, or one redis-py already made a dict, as a dict."""
    if isinstance(x, dict):
        return {_text(k): v for k, v in x.items()}
    x = x or []
    return {_text(x[i]): x[i + 1] for i in range(0, len(x) - 1, 2)}


def log_line(entry: Sequence[Any]) -> LogLine:
    f = {k: _text(v) for k, v in _pairs(entry[1]).items()}
    return LogLine(id=_text(entry[0]), s=f.get("s", "out"), l=f.get("l", ""))


def _id_key(stream_id: str) -> Tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms or 0), int(seq or 0)


class XPage:
    """A reader's place in a capped log stream, as wh_xpage keeps it: the
    last entry id consumed and the number of the next entry expected, so
    that entries the cap removed are noticed (XINFO STREAM's entries-added
    numbers every entry ever added)."""

    def __init__(self) -> None:
        self.last = "0-0"
        self.next = 0

    def commands(self, key: str) -> List[Tuple[Any, ...]]:
        """The commands of one page, to run in one MULTI."""
        return [("XINFO", "STREAM", key), ("XRANGE", key, "(" + self.last, "+", "COUNT", LOG_PAGE)]

    def page(self, info: Any, entries: Any) -> List[Union[LogLine, LogGap]]:
        """Turn one MULTI's replies into a gap (if any) and lines, and move on."""
        if isinstance(info, Exception) or not isinstance(entries, list):
            return []  # no stream yet
        d = _pairs(info)
        length, added = int(d.get("length", 0)), int(d.get("entries-added", 0))
        first = d.get("first-entry")
        first_id = _text(first[0]) if first else ""
        oldest = added - length + 1
        behind = bool(first_id) and _id_key(self.last) < _id_key(first_id)
        missing: Optional[int] = 0
        if self.next:
            if behind and self.next < oldest:
                missing, self.next = oldest - self.next, oldest
        elif self.last == "0-0":
            missing, self.next = oldest - 1, oldest
        elif behind:
            missing, self.next = None, oldest
        out: List[Union[LogLine, LogGap]] = [LogGap(missing)] if missing != 0 else []
        for e in entries:
            line = log_line(e)
            self.last = line.id
            out.append(line)
        if self.next:
            self.next += len(entries)
        return out


def tail_lines(reply: Any, reverse: bool) -> List[LogLine]:
    lines = [log_line(e) for e in reply or []]
    return lines[::-1] if reverse else lines


# ---- events ------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """A state change from the events channel: job `id` is now `state`
    (a state name, or "cancelling" when a cancel of a running job was asked)."""
    id: str
    state: str


def parse_event(data: Any) -> Optional[Event]:
    text = _text(data)
    job_id, sep, state = text.partition(" ")
    return Event(job_id, state) if sep else None
