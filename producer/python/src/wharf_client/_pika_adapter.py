"""Every use of pika's non-public internals, in one place.

pika's BlockingChannel waits for each message's confirm before the next
publish. submit_many() instead publishes a whole batch and then reads the
confirms as they come, like the C library (producer/client.c): it works
on the channel's implementation (the asynchronous pika.channel.Channel
under the BlockingChannel), writes a batch's frames in one go, and moves
bytes until its confirms are in. pika 1.x has no public API for that, so
these five functions reach into it; they are stable since pika 1.0 and the
package requires pika < 2. check() verifies every one of them on a live
connection and raises a clear error when pika has changed, and the
package's tests run it (producer/python/tests/test_client.py), so a new
pika fails loudly there instead of misbehaving in a submit.

Everything else in _amqp_sync.py uses pika's public API.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, List

import pika
import pika.channel
import pika.connection
from pika.adapters.blocking_connection import BlockingConnection

from ._errors import WharfError

__all__ = ["channel_impl", "pump", "write", "body_max", "on_blocked", "check", "problems"]


def channel_impl(ch: Any) -> Any:
    """The asynchronous channel under a BlockingChannel (confirm callbacks
    and returns arrive there without a round through BlockingChannel)."""
    return ch._impl


def pump(conn: BlockingConnection, done: Callable[[], bool]) -> None:
    """Move bytes (read and write) until done(); callbacks on the channel
    implementation run meanwhile. process_data_events(), the public API,
    returns only at its time limit for those callbacks."""
    conn._flush_output(done)


def write(conn: BlockingConnection, data: bytes) -> None:
    """Queue already marshaled frames (many messages' worth) for one write."""
    conn._impl._output_marshaled_frames([data])


def body_max(conn: BlockingConnection) -> int:
    """The largest body frame payload the connection negotiated, bytes."""
    n: int = conn._impl._body_max_length
    return n


def on_blocked(conn: BlockingConnection, blocked: Callable[[], None], unblocked: Callable[[], None]) -> None:
    """Follow connection.blocked/unblocked as they arrive. The public
    BlockingConnection callbacks run only from process_data_events(), not
    while pump() waits for confirms, so these go on the implementation."""
    conn._impl.add_on_connection_blocked_callback(lambda *_: blocked())
    conn._impl.add_on_connection_unblocked_callback(lambda *_: unblocked())


def problems(conn: Any = None, ch: Any = None) -> List[str]:
    """What of the above this pika lacks (empty: all there). The class
    level is checked always; a live connection and channel, when given,
    show the instance attributes too."""
    out: List[str] = []
    if not pika.__version__.startswith("1."):
        out.append("pika %s is not 1.x" % pika.__version__)
    flush = getattr(BlockingConnection, "_flush_output", None)
    if flush is None or list(inspect.signature(flush).parameters) != ["self", "waiters"]:
        out.append("BlockingConnection._flush_output(*waiters)")
    emit = getattr(pika.connection.Connection, "_output_marshaled_frames", None)
    if emit is None or list(inspect.signature(emit).parameters) != ["self", "marshaled_frames"]:
        out.append("Connection._output_marshaled_frames(marshaled_frames)")
    if conn is not None:
        impl = getattr(conn, "_impl", None)
        if not isinstance(impl, pika.connection.Connection):
            out.append("BlockingConnection._impl (a pika.connection.Connection)")
        elif not isinstance(getattr(impl, "_body_max_length", None), int):
            out.append("Connection._body_max_length (an int once open)")
    if ch is not None and not isinstance(getattr(ch, "_impl", None), pika.channel.Channel):
        out.append("BlockingChannel._impl (a pika.channel.Channel)")
    return out


def check(conn: Any = None, ch: Any = None) -> None:
    """Raise broker_error naming what is missing when problems() finds any."""
    missing = problems(conn, ch)
    if missing:
        raise WharfError("broker_error", "this pika (%s) lacks what wharf_client's confirm window uses: %s; "
                         "install pika 1.x" % (pika.__version__, "; ".join(missing)))
