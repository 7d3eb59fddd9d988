"""The sync client's broker connection: pika, publisher confirms, and a
window of confirms in flight together.

pika's BlockingChannel waits for each message's confirm before the next
publish; submit_many() instead publishes a whole batch on the channel's
implementation and then reads the confirms as they come, like the C
library (producer/client.c). What that needs of pika beyond its public API
is in _pika_adapter.py, checked on every new connection.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pika
import pika.exceptions
import pika.frame
import pika.spec

from . import _pika_adapter as pa
from ._config import Options, topology
from ._errors import WharfError

__all__ = ["Broker", "broker_error"]

DRAIN_EVERY = 256   # publishes between flushes of the output buffer


def broker_error(e: BaseException) -> WharfError:
    """A pika exception as the contract's code."""
    if isinstance(e, pika.exceptions.ConnectionBlockedTimeout):
        return WharfError("broker_blocked", "the broker blocks publishers (a resource alarm) for longer "
                          "than the timeout")
    text = str(e) or type(e).__name__
    return WharfError("broker_error", "broker: %s: %s" % (type(e).__name__, text[:200]))


class Broker:
    """One connection and one confirm-mode channel with the topology declared."""

    def __init__(self, o: Options) -> None:
        self.timeout = o.timeout
        params = []
        for url in o.amqp_urls():
            p = pika.URLParameters(url)
            p.socket_timeout = o.timeout
            p.stack_timeout = o.timeout
            p.blocked_connection_timeout = o.timeout
            p.connection_attempts = 1
            p.heartbeat = 30
            p.client_properties = {"connection_name": "wharf producer"}
            params.append(p)
        self.conn = pika.BlockingConnection(params)
        try:
            self._setup(o)
        except BaseException:
            self.close()
            raise

    def _setup(self, o: Options) -> None:
        ch = self.conn.channel()
        pa.check(self.conn, ch)
        ch.exchange_declare("wharf.jobs", exchange_type="topic", durable=True)
        ch.exchange_declare("wharf.retry", exchange_type="headers", durable=True)
        for q in topology(o):
            ch.queue_declare(q.name, durable=True, arguments=q.arguments)
            if q.exchange:
                ch.queue_bind(q.name, q.exchange, q.routing_key, arguments=q.bind_arguments)
        self.ch = ch
        self.impl: Any = pa.channel_impl(ch)   # see the module comment
        self.seq = 0                    # delivery tag of the last publish
        self.methods: Dict[str, bytes] = {}   # family -> its marshaled basic.publish
        self.outstanding: Set[int] = set()
        self.nacked: Dict[int, bool] = {}   # settled tags -> nack
        self.returned: Set[str] = set()     # message ids the broker returned
        self.blocked = False
        self.impl.add_on_return_callback(self._on_return)
        selected: List[bool] = []
        self.impl.confirm_delivery(ack_nack_callback=self._on_confirm,
                                   callback=lambda _frame: selected.append(True))
        pa.on_blocked(self.conn, lambda: setattr(self, "blocked", True), lambda: setattr(self, "blocked", False))
        if not self.pump(lambda: bool(selected), self.timeout):
            raise WharfError("timeout", "no confirm.select-ok from the broker in %.1f s" % self.timeout)

    def alive(self) -> bool:
        """Open, as far as can be told without waiting. Between submits no
        confirm is outstanding, so whatever waits on the socket is news:
        typically the broker closing a connection that sat idle past its
        heartbeats (pika sends them only while called). Reading it now
        lets the next submit reconnect first instead of failing, as the C
        library does (notice_idle_close)."""
        try:
            self.conn.process_data_events(time_limit=0)
        except (pika.exceptions.AMQPError, OSError):
            return False
        return bool(self.conn.is_open and self.impl.is_open)

    def close(self) -> None:
        try:
            if self.conn.is_open:
                self.conn.close()
        except Exception:  # closing a broken connection: nothing to save
            pass

    def _on_return(self, _ch: Any, _method: Any, props: Any, _body: bytes) -> None:
        if props.message_id:
            self.returned.add(props.message_id)

    def _on_confirm(self, frame: Any) -> None:
        m = frame.method
        nack = isinstance(m, pika.spec.Basic.Nack)
        tags = [t for t in self.outstanding if t <= m.delivery_tag] if m.multiple else [m.delivery_tag]
        for t in tags:
            self.outstanding.discard(t)
            self.nacked[t] = nack

    def pump(self, done: Callable[[], bool], timeout: float) -> bool:
        """Move bytes until done() or `timeout` s passed; False on timeout.
        A lost connection raises (a pika exception)."""
        deadline = time.monotonic() + timeout
        # The timer only wakes the I/O loop at the deadline.
        timer = self.conn.call_later(max(timeout, 0.001), lambda: None)
        try:
            pa.pump(self.conn, lambda: done() or time.monotonic() >= deadline or not self.impl.is_open)
        finally:
            self.conn.remove_timeout(timer)
        if not self.impl.is_open:
            raise pika.exceptions.ChannelClosed(0, "the broker closed the channel")
        return done()

    def _frames(self, family: str, body: bytes, props: pika.BasicProperties) -> List[bytes]:
        """basic.publish to wharf.jobs (mandatory), its header and body
        frames, marshaled as pika's Channel.basic_publish would."""
        ch = self.impl.channel_number
        method = self.methods.get(family)
        if method is None:
            method = self.methods[family] = pika.frame.Method(
                ch, pika.spec.Basic.Publish(exchange="wharf.jobs", routing_key=family, mandatory=True)).marshal()
        out = [method, pika.frame.Header(ch, len(body), props).marshal()]
        step = pa.body_max(self.conn)
        out.extend(pika.frame.Body(ch, body[i:i + step]).marshal() for i in range(0, len(body), step))
        return out

    def publish_many(self, msgs: List[Tuple[str, bytes, pika.BasicProperties]]) -> List[int]:
        """Publish every (family, body, properties); returns their delivery
        tags. Frames go out DRAIN_EVERY messages to a write (pika would
        write each frame on its own: three system calls a message)."""
        if not self.impl.is_open:
            raise pika.exceptions.ChannelClosed(0, "the broker closed the channel")
        tags: List[int] = []
        for i in range(0, len(msgs), DRAIN_EVERY):
            chunk: List[bytes] = []
            for family, body, props in msgs[i:i + DRAIN_EVERY]:
                chunk.extend(self._frames(family, body, props))
                self.seq += 1
                self.outstanding.add(self.seq)
                tags.append(self.seq)
            pa.write(self.conn, b"".join(chunk))
            pa.pump(self.conn, lambda: True)
        return tags

    def await_confirms(self, tags: List[int]) -> Optional[WharfError]:
        """Wait up to the timeout for the confirms of `tags`; None when all
        came (each one then in self.nacked), else the error for the rest."""
        if self.pump(lambda: all(t in self.nacked for t in tags), self.timeout):
            return None
        if self.blocked:
            return WharfError("broker_blocked", "the broker blocks publishers (a resource alarm): "
                              "no confirm in %.1f s" % self.timeout)
        return WharfError("timeout", "no confirm from the broker in %.1f s" % self.timeout)

    def forget(self, tags: List[int]) -> None:
        for t in tags:
            self.nacked.pop(t, None)
            self.outstanding.discard(t)


def properties(job_id: str, job_type: str, priority: int) -> pika.BasicProperties:
    """The message properties of the contract (schemas/README.md section 4)."""
    return pika.BasicProperties(content_type="application/msgpack", delivery_mode=2, message_id=job_id,
                                type=job_type, headers={"wharf-schema": 1},
                                priority=priority if priority > 0 else None)
