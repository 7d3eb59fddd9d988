"""The asyncio client's broker connection: aio-pika, publisher confirms,
and a batch's messages in one write (see Broker.publish_many)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import aio_pika
import aio_pika.abc
import aiormq.abc
import aiormq.exceptions

from ._amqp_frames import Frames, RawFrames
from ._config import Options, topology
from ._errors import WharfError

__all__ = ["Broker", "broker_error", "publish_error", "blocked_error"]

BLOCKED_PROBE_S = 0.1   # how long an unblocked connection's ready() may take, s


def broker_error(e: BaseException) -> WharfError:
    return WharfError("broker_error", "broker: %s: %s" % (type(e).__name__, (str(e) or "")[:200]))


class Broker:
    """One connection and one confirm channel with the topology declared."""

    def __init__(self, conn: aio_pika.abc.AbstractConnection, ch: aio_pika.abc.AbstractChannel,
                 jobs: aio_pika.abc.AbstractExchange) -> None:
        self.conn, self.ch, self.jobs = conn, ch, jobs
        self.frames: Optional[Frames] = None

    @classmethod
    async def connect(cls, o: Options) -> "Broker":
        last: Optional[BaseException] = None
        for url in o.amqp_urls():
            try:
                conn = await asyncio.wait_for(aio_pika.connect(
                    url, timeout=o.timeout, client_properties={"connection_name": "wharf producer"}), o.timeout)
            except (asyncio.TimeoutError, aiormq.exceptions.AMQPError, OSError, ConnectionError) as e:
                last = e
                continue
            try:
                return await asyncio.wait_for(cls._setup(conn, o), o.timeout)
            except BaseException:
                await conn.close()
                raise
        raise broker_error(last or ValueError("no amqp_url"))

    @classmethod
    async def _setup(cls, conn: aio_pika.abc.AbstractConnection, o: Options) -> "Broker":
        ch = await conn.channel(publisher_confirms=True, on_return_raises=True)
        jobs = await ch.declare_exchange("wharf.jobs", aio_pika.ExchangeType.TOPIC, durable=True)
        retry = await ch.declare_exchange("wharf.retry", aio_pika.ExchangeType.HEADERS, durable=True)
        for q in topology(o):
            queue = await ch.declare_queue(q.name, durable=True, arguments=q.arguments)
            if q.exchange:
                await queue.bind(jobs if q.exchange == "wharf.jobs" else retry, q.routing_key,
                                 arguments=q.bind_arguments)
        return cls(conn, ch, jobs)

    def alive(self) -> bool:
        return not self.conn.is_closed and not self.ch.is_closed

    async def blocked(self) -> bool:
        """Whether the broker blocks this connection (connection.blocked: a
        memory or disk alarm). aiormq keeps that state to itself, but its
        public ready() waits while it holds; on an open connection a ready()
        that is not done at once means blocked. Only asked after confirms
        did not come, so the short wait costs nothing on the happy path."""
        try:
            amqp = self.ch.channel.connection   # the aiormq connection
        except Exception:  # a closed channel: not a question of blocking
            return False
        if self.conn.is_closed:
            return False
        ready = asyncio.ensure_future(amqp.ready())
        done, _ = await asyncio.wait({ready}, timeout=BLOCKED_PROBE_S)
        if not done:
            ready.cancel()
            with contextlib.suppress(BaseException):
                await ready
            return not self.conn.is_closed
        return False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.close(), 2)

    async def publish_many(self, items: Sequence[Tuple[Mapping[str, Any], bytes]]) -> "List[asyncio.Future[Any]]":
        """Publish every (envelope, body) to wharf.jobs (mandatory) and return
        their confirmations: futures that resolve on the broker's ack and fail
        with PublishError (returned) or DeliveryError (nacked). Call
        settled() with the same items once they are done.

        aiormq's Channel.basic_publish writes each message on its own (a
        system call each), marshals its frames through pamqp's general
        encoder and waits for it to drain; this does what it does for the
        whole batch, its frames marshaled by _amqp_frames in one write. It
        uses aiormq 6's channel internals (lock, delivery_tag,
        confirmations, message_id_delivery_tag, write_queue), hence
        aiormq < 7 in the package's requirements."""
        ch: Any = self.ch.channel   # the aiormq channel under aio-pika's
        if self.frames is None or self.frames.channel != ch.number:
            self.frames = Frames(ch.number, ch.max_content_size)
        message, tags, confirmations = self.frames.message, ch.message_id_delivery_tag, ch.confirmations
        out: List[bytes] = []
        futs: "List[asyncio.Future[Any]]" = []
        async with ch.lock:
            tag = ch.delivery_tag
            for env, body in items:
                tag += 1
                fut = ch.create_future()
                confirmations[tag] = fut
                tags[env["id"]] = tag
                out.extend(message(env["id"], env["type"], env.get("priority", 0), body))
                futs.append(fut)
            ch.delivery_tag = tag
            raw: Any = RawFrames(b"".join(out))   # passes through aiormq's writer as it is
            await ch.write_queue.put(aiormq.abc.ChannelFrame(frames=[raw], channel_number=ch.number))
        return futs

    def settled(self, items: Sequence[Tuple[Mapping[str, Any], bytes]]) -> None:
        """Forget the batch's message ids (kept for returns until now). A
        channel closed meanwhile took its map with it: nothing to do."""
        try:
            tags = self.ch.channel.message_id_delivery_tag  # type: ignore[attr-defined]
        except Exception:  # aio-pika: ChannelInvalidStateError once closed
            return
        for env, _ in items:
            tags.pop(env["id"], None)


def blocked_error(timeout: float) -> WharfError:
    """Confirms that did not come because the broker blocks publishers, in
    the words of the sync client and the C library."""
    return WharfError("broker_blocked", "the broker blocks publishers (a resource alarm): "
                      "no confirm in %.1f s" % timeout)


def publish_error(e: BaseException) -> WharfError:
    if isinstance(e, aiormq.exceptions.PublishError):
        return WharfError("unroutable", "no queue is bound for this job's family", "type")
    if isinstance(e, aiormq.exceptions.DeliveryError):
        return WharfError("broker_error", "the broker refused the message (nack)")
    if isinstance(e, WharfError):
        return e
    return broker_error(e)
