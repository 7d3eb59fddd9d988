"""Reading a batch's replies from Redis in one go, for the asyncio client.

submit_many() sends a batch's EVALSHA calls in one write and needs every
reply back. redis.asyncio's read_response() costs an await, a lock and a
timeout context for each reply, and its pure-Python parser one await more
for each element of it: for 500 enqueue.lua replies that was a third of a
batch's time. read_replies() instead reads the connection's stream in
large chunks and parses what arrived with parse() below, no await per
reply. It does so only when redis-py's own pure-Python parser holds no
bytes of its own (else, and with hiredis, it returns None and the caller
reads reply by reply as before); the connection is the caller's alone
(taken from the pool) for the duration.

Replies are what redis-py gives without decode_responses: bytes for
strings, int, None, lists, and error replies as the exception redis-py
would make (parse_error).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from redis.exceptions import InvalidResponse

__all__ = ["parse", "Incomplete", "read_replies"]

CHUNK = 65536          # bytes asked of the stream at a time
MAX_PENDING = 64 << 20  # bytes of replies held at most before they parse


class Incomplete(Exception):
    """The buffer ends inside a reply: read more."""


def parse(buf: bytes, pos: int, error: Callable[[str], Exception]) -> Tuple[Any, int]:
    """One RESP2 reply from buf[pos:]: (value, position after it). Raises
    Incomplete when buf ends inside it, InvalidResponse on a protocol error."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        raise Incomplete()
    kind, line, pos = buf[pos:pos + 1], buf[pos + 1:nl], nl + 2
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        if pos + n + 2 > len(buf):
            raise Incomplete()
        return buf[pos:pos + n], pos + n + 2
    if kind == b":":
        return int(line), pos
    if kind == b"*":
        n = int(line)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            v, pos = parse(buf, pos, error)
            items.append(v)
        return items, pos
    if kind == b"+":
        return line, pos
    if kind == b"-":
        return error(line.decode("utf-8", "replace")), pos
    raise InvalidResponse("Protocol Error: %r" % (kind + line[:100]))


async def read_replies(conn: Any, n: int) -> Optional[List[Any]]:
    """The next `n` replies on redis.asyncio connection `conn`, or None
    (nothing read) when its parser is not the pure-Python one or holds
    bytes already. Raises ConnectionError when the server closes and
    InvalidResponse on what is not RESP."""
    parser: Any = getattr(conn, "_parser", None)
    stream = getattr(conn, "_reader", None)
    pending = getattr(getattr(parser, "_buffer", None), "length", None)
    if type(parser).__name__ != "PythonParser" or stream is None or pending != 0:
        return None
    error: Callable[[str], Exception] = parser.parse_error
    out: List[Any] = []
    buf, pos = b"", 0
    while len(out) < n:
        chunk = await stream.read(CHUNK)
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        buf = buf[pos:] + chunk
        pos = 0
        if len(buf) > MAX_PENDING:
            raise InvalidResponse("a Redis reply over %d bytes" % MAX_PENDING)
        try:
            while len(out) < n:
                v, pos = parse(buf, pos, error)
                out.append(v)
        except Incomplete:
            pass
    if pos != len(buf):
        raise InvalidResponse("Redis sent more than the %d replies asked" % n)
    return out
