"""The asyncio client: aio-pika for RabbitMQ, redis.asyncio for Redis.

The same operations, checks, Redis scripts and error codes as the sync
client (_sync.py), each a coroutine; follow_logs() and events() are async
iterators. Every broker call runs under the client's timeout, so a broker
or Redis that is down or silent fails the call with its code in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, AsyncIterator, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import aio_pika
import aio_pika.abc
import aiormq.abc
import aiormq.exceptions
import pamqp.commands
import pamqp.header
import redis.asyncio
import redis.exceptions

from . import _model as m
from ._config import Options, options, plain_options, topology
from ._envelope import Job, RunAt, Submitted, check_job, encode
from ._errors import BatchError, WharfError

__all__ = ["AsyncClient", "AsyncEvents"]

Outcome = Union[Submitted, WharfError]
Encoded = Tuple[int, Dict[str, Any], bytes]


def _redis_error(e: BaseException) -> WharfError:
    return WharfError("redis_error", "redis: %s" % (str(e)[:200] or type(e).__name__))


def _broker_error(e: BaseException) -> WharfError:
    return WharfError("broker_error", "broker: %s: %s" % (type(e).__name__, (str(e) or "")[:200]))


@contextlib.asynccontextmanager
async def _redis_calls(timeout: float) -> AsyncIterator[None]:
    try:
        async with _deadline(timeout, "redis"):
            yield
    except (redis.exceptions.RedisError, OSError) as e:
        raise _redis_error(e) from None


@contextlib.asynccontextmanager
async def _deadline(timeout: float, what: str) -> AsyncIterator[None]:
    """Cancel the block after `timeout` s, raising the `what` side's error."""
    current = asyncio.current_task()
    assert current is not None
    task: "asyncio.Task[Any]" = current
    fired: List[bool] = []

    def fire() -> None:
        fired.append(True)
        task.cancel()
    handle = asyncio.get_running_loop().call_later(timeout, fire)
    try:
        yield
    except asyncio.CancelledError:
        if not fired:
            raise
        code = "redis_error" if what == "redis" else "timeout"
        raise WharfError(code, "%s: no answer in %.1f s" % (what, timeout)) from None
    finally:
        handle.cancel()


class _Broker:
    """One connection and one confirm channel with the topology declared."""

    def __init__(self, conn: aio_pika.abc.AbstractConnection, ch: aio_pika.abc.AbstractChannel,
                 jobs: aio_pika.abc.AbstractExchange) -> None:
        self.conn, self.ch, self.jobs = conn, ch, jobs

    @classmethod
    async def connect(cls, o: Options) -> "_Broker":
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
        raise _broker_error(last or ValueError("no amqp_url"))

    @classmethod
    async def _setup(cls, conn: aio_pika.abc.AbstractConnection, o: Options) -> "_Broker":
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

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.close(), 2)

    async def publish_many(self, items: Sequence[Tuple[Mapping[str, Any], bytes]]) -> "List[asyncio.Future[Any]]":
        """Publish every (envelope, body) to wharf.jobs (mandatory) and return
        their confirmations: futures that resolve on the broker's ack and fail
        with PublishError (returned) or DeliveryError (nacked).

        aiormq's Channel.basic_publish writes each message on its own (a
        system call each) and waits for it to drain; this does what it does
        for the whole batch in one write. It uses aiormq 6's channel
        internals (lock, delivery_tag, confirmations, message_id_delivery_tag,
        write_queue), hence aiormq < 7 in the package's requirements."""
        ch: Any = self.ch.channel   # the aiormq channel under aio-pika's
        frames: List[Any] = []
        futs: "List[asyncio.Future[Any]]" = []
        async with ch.lock:
            for env, body in items:
                prio = env.get("priority", 0)
                props = pamqp.commands.Basic.Properties(
                    content_type="application/msgpack", delivery_mode=2, message_id=env["id"], message_type=env["type"],
                    headers={"wharf-schema": 1}, priority=prio or None)
                ch.delivery_tag += 1
                fut = ch.create_future()
                ch.confirmations[ch.delivery_tag] = fut
                ch.message_id_delivery_tag[env["id"]] = ch.delivery_tag
                fut.add_done_callback(lambda _f, mid=env["id"]: ch.message_id_delivery_tag.pop(mid, None))
                frames.append(pamqp.commands.Basic.Publish(exchange="wharf.jobs",
                                                           routing_key=env["type"].split(".", 1)[0], mandatory=True))
                frames.append(pamqp.header.ContentHeader(properties=props, body_size=len(body)))
                frames.extend(ch._split_body(body))
                futs.append(fut)
            await ch.write_queue.put(aiormq.abc.ChannelFrame(frames=frames, channel_number=ch.number))
        return futs


def _publish_error(e: BaseException) -> WharfError:
    if isinstance(e, aiormq.exceptions.PublishError):
        return WharfError("unroutable", "no queue is bound for this job's family", "type")
    if isinstance(e, aiormq.exceptions.DeliveryError):
        return WharfError("broker_error", "the broker refused the message (nack)")
    if isinstance(e, WharfError):
        return e
    return _broker_error(e)


class AsyncClient:
    """The asyncio wharf client. Make it with `await AsyncClient.connect()`
    or `await AsyncClient.from_env()`; one client serves many tasks."""

    def __init__(self, o: Options, r: "redis.asyncio.Redis[bytes]") -> None:
        self.options = o
        self._prefix = o.prefix
        self._redis = r
        self._broker: Optional[_Broker] = None
        self._lock = asyncio.Lock()    # one (re)connect at a time

    @classmethod
    async def connect(cls, amqp_url: Optional[str] = None, redis_url: Optional[str] = None, *,
                      prefix: Optional[str] = None, timeout: Optional[float] = None,
                      queue_type: Optional[str] = None, max_priority: Optional[int] = None,
                      max_attempts: Optional[int] = None, job_ttl_s: Optional[int] = None,
                      max_body: Optional[int] = None, options: Optional[Options] = None) -> "AsyncClient":
        """Connect to RabbitMQ and Redis and declare the topology, as
        Client() does. Raises WharfError within `timeout` seconds."""
        o = options or plain_options(amqp_url=amqp_url, redis_url=redis_url, prefix=prefix, timeout=timeout,
                                     queue_type=queue_type, max_priority=max_priority,
                                     max_attempts=max_attempts, job_ttl_s=job_ttl_s, max_body=max_body)
        try:
            r = redis.asyncio.Redis.from_url(o.redis_url, socket_timeout=o.timeout,
                                             socket_connect_timeout=o.timeout)
        except ValueError as e:
            raise WharfError("bad_config", "redis_url: %s" % e, "redis_url") from None
        c = cls(o, r)
        try:
            async with _redis_calls(o.timeout):
                await r.ping()
            await c._connect()
        except BaseException:
            await c.close()
            raise
        return c

    @classmethod
    async def from_env(cls, environ: Optional[Mapping[str, str]] = None, **given: Any) -> "AsyncClient":
        """As Client.from_env()."""
        return await cls.connect(options=options(environ, **given))

    async def close(self) -> None:
        if self._broker:
            await self._broker.close()
            self._broker = None
        with contextlib.suppress(Exception):
            await self._redis.close()
            await self._redis.connection_pool.disconnect()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connect(self) -> _Broker:
        async with self._lock:
            if self._broker is not None and self._broker.alive():
                return self._broker
            if self._broker is not None:
                await self._broker.close()
                self._broker = None
            self._broker = await _Broker.connect(self.options)
            return self._broker

    async def _eval(self, script: m.Script, args: Sequence[Any]) -> Any:
        r: Any = self._redis   # the stubs leave these untyped
        async with _redis_calls(self.options.timeout):
            try:
                return await r.execute_command("EVALSHA", script.sha, *args)
            except redis.exceptions.NoScriptError:
                await r.script_load(script.text)
                return await r.execute_command("EVALSHA", script.sha, *args)

    async def _eval_many(self, script: m.Script, calls: Sequence[Sequence[Any]]) -> List[Any]:
        """As the sync client's: one round trip, the commands packed here."""
        async with _redis_calls(self.options.timeout):
            pool = self._redis.connection_pool
            conn: Any = await pool.get_connection("EVALSHA")
            try:
                await conn.send_packed_command([b"".join(m.resp(["EVALSHA", script.sha, *a]) for a in calls)])
                replies: List[Any] = []
                for _ in calls:
                    try:
                        replies.append(await conn.read_response())
                    except redis.exceptions.ResponseError as e:
                        replies.append(e)
            except BaseException:
                await conn.disconnect()   # replies may be left unread
                raise
            finally:
                await pool.release(conn)
        for i, rep in enumerate(replies):
            if isinstance(rep, redis.exceptions.NoScriptError):
                replies[i] = await self._eval(script, calls[i])
            elif isinstance(rep, Exception):
                raise _redis_error(rep)
        return replies

    # ---- submit ------------------------------------------------------------

    async def submit(self, type: str, args: Optional[Mapping[str, Any]] = None, *, id: Optional[str] = None,
                     target: Optional[str] = None, max_attempts: Optional[int] = None,
                     timeout_s: Optional[int] = None, run_at: Optional[RunAt] = None,
                     priority: Optional[int] = None, unique_for_s: Optional[int] = None,
                     lock: Optional[str] = None, meta: Optional[Mapping[str, str]] = None) -> Submitted:
        """As Client.submit()."""
        # pylint: disable=redefined-builtin
        job = Job(type, args, id=id, target=target, max_attempts=max_attempts, timeout_s=timeout_s,
                  run_at=run_at, priority=priority, unique_for_s=unique_for_s, lock=lock, meta=meta)
        out = (await self._submit([job]))[0]
        if isinstance(out, WharfError):
            raise out
        return out

    async def submit_many(self, jobs: Iterable[Job]) -> List[Submitted]:
        """As Client.submit_many(): one Redis round trip, one confirm window."""
        outs = await self._submit(list(jobs))
        first = next((o for o in outs if isinstance(o, WharfError)), None)
        if first is not None:
            raise BatchError(first, list(outs))
        return [o for o in outs if isinstance(o, Submitted)]

    async def _submit(self, jobs: List[Job]) -> List[Outcome]:
        outs: List[Outcome] = []
        encoded: List[Encoded] = []
        for i, job in enumerate(jobs):
            try:
                env = check_job(job)
                encoded.append((i, env, encode(env, self.options.max_body)))
                outs.append(WharfError("broker_error", "not submitted"))
            except WharfError as e:
                outs.append(e)
        now = int(time.time() * 1000)
        calls = [m.enqueue_call(self._prefix, env, body, self.options.max_attempts, now)
                 for _, env, body in encoded]
        try:
            replies = await self._eval_many(m.SCRIPTS["enqueue"], calls) if calls else []
        except WharfError as e:
            for i, _, _ in encoded:
                outs[i] = e
            return outs
        to_publish = []
        for (i, env, body), rep in zip(encoded, replies):
            outs[i] = s = m.enqueue_result(rep)
            if s.created and s.state == "queued":
                to_publish.append((i, env, body))
        if to_publish:
            await self._publish(to_publish, outs)
        return outs

    async def _publish(self, items: List[Encoded], outs: List[Outcome]) -> None:
        errs: List[Optional[WharfError]]
        try:
            b = await self._connect()
            futs = await asyncio.wait_for(b.publish_many([(env, body) for _, env, body in items]), self.options.timeout)
            done, pending = await asyncio.wait(futs, timeout=self.options.timeout)
            for f in pending:
                f.cancel()
            late = WharfError("timeout", "no confirm from the broker in %.1f s" % self.options.timeout)
            errs = [None if f in done and not f.exception() else
                    _publish_error(f.exception() or late) if f in done else late for f in futs]
        except (WharfError, aiormq.exceptions.AMQPError, OSError, ConnectionError) as e:
            errs = [_publish_error(e)] * len(items)
        failed = []
        for (i, env, _), err in zip(items, errs):
            if err is not None:
                outs[i] = err
                failed.append(env["id"])
        if any(e is not None and e.code != "unroutable" for e in errs) and self._broker is not None:
            await self._broker.close()       # start afresh, as the C library does
            self._broker = None
        if failed:
            with contextlib.suppress(WharfError):
                await self._eval_many(m.SCRIPTS["unenqueue"], [m.unenqueue_call(self._prefix, j) for j in failed])

    # ---- reading -------------------------------------------------------------

    async def status(self, id: str) -> Dict[str, Any]:
        """As Client.status()."""
        m.check_id(id)
        async with _redis_calls(self.options.timeout):
            h = await self._redis.hgetall(m.key_job(self._prefix, id))
        return m.job_json(id, h)

    async def result(self, id: str) -> Any:
        """As Client.result()."""
        return (await self.status(id)).get("result")

    async def _state(self, id: str) -> str:
        async with _redis_calls(self.options.timeout):
            st = await self._redis.hget(m.key_job(self._prefix, id), "state")
        if st is None:
            raise WharfError("not_found", 'no job with id "%s"' % id, "id")
        return st.decode() if isinstance(st, bytes) else str(st)

    async def wait(self, id: str, timeout: Optional[float] = 30.0) -> Dict[str, Any]:
        """As Client.wait()."""
        m.check_id(id)
        deadline = None if timeout is None else time.monotonic() + timeout
        async with self.events([id]) as evs:
            while True:
                h = await self.status(id)
                if h.get("state") in m.TERMINAL:
                    return h
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WharfError("timeout", "job %s is still %s after %s s" % (id, h.get("state"), timeout),
                                     last=h)
                await evs.get(0.5 if left is None else min(left, 0.5))

    async def logs(self, id: str, tail: Optional[int] = None) -> List[m.LogLine]:
        """As Client.logs()."""
        m.check_id(id)
        key = m.key_job(self._prefix, id) + ":log"
        async with _redis_calls(self.options.timeout):
            pipe = self._redis.pipeline(transaction=False)
            pipe.exists(m.key_job(self._prefix, id))
            if tail:
                pipe.xrevrange(key, "+", "-", count=min(tail, m.LOG_MAX))
            else:
                pipe.xrange(key, "-", "+", count=m.LOG_MAX)
            exists, entries = await pipe.execute()
        if not exists and not entries:
            raise WharfError("not_found", 'no job with id "%s"' % id, "id")
        return m.tail_lines(entries, bool(tail))

    async def _page(self, key: str, x: m.XPage) -> List[Union[m.LogLine, m.LogGap]]:
        async with _redis_calls(self.options.timeout):
            pipe: Any = self._redis.pipeline(transaction=True)
            for cmd in x.commands(key):
                pipe.execute_command(*cmd)
            info, entries = await pipe.execute(raise_on_error=False)
        return x.page(info, entries)

    async def follow_logs(self, id: str) -> AsyncIterator[Union[m.LogLine, m.LogGap]]:
        """As Client.follow_logs(), an async iterator."""
        m.check_id(id)
        key = m.key_job(self._prefix, id) + ":log"
        x = m.XPage()
        state = await self._state(id)
        block_ms = max(1, min(1000, int(self.options.timeout * 500)))
        while True:
            page = await self._page(key, x)
            for item in page:
                yield item
            if not any(isinstance(p, m.LogLine) for p in page):
                if state in m.TERMINAL:
                    return
                async with _redis_calls(self.options.timeout):
                    await self._redis.xread({key: x.last}, count=1, block=block_ms)
                state = await self._state(id)

    # ---- control -------------------------------------------------------------

    async def cancel(self, id: str) -> str:
        """As Client.cancel()."""
        m.check_id(id)
        rep = await self._eval(m.SCRIPTS["cancel"], m.cancel_call(self._prefix, id, self.options.job_ttl_s))
        return m.cancel_result(id, rep)

    def events(self, ids: Optional[Iterable[str]] = None) -> "AsyncEvents":
        """As Client.events(): `async with client.events([id]) as evs:` then
        `async for ev in evs` or `await evs.get(timeout)`."""
        return AsyncEvents(self._redis, self._prefix + "events", ids, self.options.timeout)


class AsyncEvents:
    """State changes from the events channel (see Events); subscribed when
    entered (`async with`) or on the first get()."""

    def __init__(self, r: "redis.asyncio.Redis[bytes]", channel: str, ids: Optional[Iterable[str]],
                 timeout: float) -> None:
        self._ids = None if ids is None else frozenset(ids)
        self._ps = r.pubsub(ignore_subscribe_messages=True)
        self._channel = channel
        self._timeout = timeout
        self._subscribed = False

    async def _subscribe(self) -> None:
        if not self._subscribed:
            async with _redis_calls(self._timeout):
                await self._ps.subscribe(self._channel)
            self._subscribed = True

    async def get(self, timeout: Optional[float] = None) -> Optional[m.Event]:
        """The next event, waiting up to `timeout` s (None: no limit)."""
        await self._subscribe()
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 1.0 if end is None else end - time.monotonic()
            if left <= 0:
                return None
            async with _redis_calls(self._timeout + min(left, 1.0)):
                msg = await self._ps.get_message(ignore_subscribe_messages=True, timeout=min(left, 1.0))
            if msg and msg.get("type") == "message":
                ev = m.parse_event(msg["data"])
                if ev is not None and (self._ids is None or ev.id in self._ids):
                    return ev

    def __aiter__(self) -> AsyncIterator[m.Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[m.Event]:
        while True:
            ev = await self.get(None)
            if ev is not None:
                yield ev

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ps.close()

    async def __aenter__(self) -> "AsyncEvents":
        await self._subscribe()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
