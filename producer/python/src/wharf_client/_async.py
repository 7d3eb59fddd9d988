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
from typing import Any, AsyncIterator, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import aiormq.exceptions
import redis.asyncio
import redis.exceptions

from . import _batch
from . import _model as m
from ._amqp_async import Broker, blocked_error, publish_error
from ._config import Options, options, plain_options
from ._envelope import Job, RunAt, Submitted
from ._errors import WharfError
from ._events import AsyncEvents
from ._rediscalls import aredis_calls, redis_error
from ._redisconn import async_redis
from ._resp import read_replies

__all__ = ["AsyncClient", "AsyncEvents"]

Outcome = _batch.Outcome
Encoded = _batch.Encoded


async def confirmed(futs: "List[asyncio.Future[Any]]", timeout: float) -> "Tuple[Set[Any], Set[Any]]":
    """asyncio.wait(futs, timeout) for a batch's confirms, cheaper: the
    broker acks a batch with a few `multiple` acks, in order, so once the
    last message's confirm is in the others mostly are too, and only those
    still open are waited for (asyncio.wait adds a callback to each)."""
    deadline = time.monotonic() + timeout
    await asyncio.wait(futs[-1:], timeout=timeout)   # never raises the future's error
    rest = [f for f in futs if not f.done()]
    if rest:
        await asyncio.wait(rest, timeout=max(0.0, deadline - time.monotonic()))
    done = {f for f in futs if f.done()}
    return done, {f for f in futs if not f.done()}


class AsyncClient:
    """The asyncio wharf client. Make it with `await AsyncClient.connect()`
    or `await AsyncClient.from_env()`; one client serves many tasks."""

    def __init__(self, o: Options, r: "redis.asyncio.Redis[bytes]") -> None:
        self.options = o
        self._prefix = o.prefix
        self._redis = r
        self._broker: Optional[Broker] = None
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
        r = async_redis(o)
        c = cls(o, r)
        try:
            async with aredis_calls(o.timeout):
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

    async def _connect(self) -> Broker:
        async with self._lock:
            if self._broker is not None and self._broker.alive():
                return self._broker
            if self._broker is not None:
                await self._broker.close()
                self._broker = None
            self._broker = await Broker.connect(self.options)
            return self._broker

    async def _eval(self, script: m.Script, args: Sequence[Any]) -> Any:
        r: Any = self._redis   # the stubs leave these untyped
        async with aredis_calls(self.options.timeout):
            try:
                return await r.execute_command("EVALSHA", script.sha, *args)
            except redis.exceptions.NoScriptError:
                await r.script_load(script.text)
                return await r.execute_command("EVALSHA", script.sha, *args)

    async def _eval_many(self, script: m.Script, calls: Sequence[Sequence[Any]]) -> List[Any]:
        """As the sync client's: one round trip, the commands packed here."""
        async with aredis_calls(self.options.timeout):
            pool = self._redis.connection_pool
            conn: Any = await pool.get_connection("EVALSHA")
            try:
                await conn.send_packed_command([b"".join(m.resp(["EVALSHA", script.sha, *a]) for a in calls)])
                fast = await read_replies(conn, len(calls))   # no await per reply (_resp.py)
                replies: List[Any] = fast if fast is not None else []
                for _ in calls if fast is None else ():
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
                raise redis_error(rep)
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
        return _batch.one(await self._submit([job]))

    async def submit_many(self, jobs: Iterable[Job]) -> List[Submitted]:
        """As Client.submit_many(): one Redis round trip, one confirm window."""
        return _batch.many(await self._submit(list(jobs)))

    async def _submit(self, jobs: List[Job]) -> List[Outcome]:
        b = _batch.Batch(jobs, self.options)
        try:
            replies = await self._eval_many(m.SCRIPTS["enqueue"], b.calls) if b.calls else []
        except WharfError as e:
            b.fail_all(e)
            return b.results()
        to_publish = b.enqueued(replies)
        if to_publish:
            await self._publish(to_publish, b.outs)
        return b.results()

    async def _publish(self, items: List[Encoded], outs: List[Optional[Outcome]]) -> None:
        errs: List[Optional[WharfError]]
        try:
            b = await self._connect()
            batch = [(env, body) for _, env, body in items]
            futs = await asyncio.wait_for(b.publish_many(batch), self.options.timeout)
            try:
                done, pending = await confirmed(futs, self.options.timeout)
            finally:
                b.settled(batch)
            for f in pending:
                f.cancel()
            late = WharfError("timeout", "no confirm from the broker in %.1f s" % self.options.timeout)
            if pending and await b.blocked():
                late = blocked_error(self.options.timeout)
            errs = [None if f in done and not f.exception() else
                    publish_error(f.exception() or late) if f in done else late for f in futs]
        except (WharfError, aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError,
                ConnectionError) as e:   # ChannelInvalidStateError, a RuntimeError: the channel closed under us
            errs = [publish_error(e)] * len(items)
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
        async with aredis_calls(self.options.timeout):
            h = await self._redis.hgetall(m.key_job(self._prefix, id))
        return m.job_json(id, h)

    async def result(self, id: str) -> Any:
        """As Client.result()."""
        return (await self.status(id)).get("result")

    async def _state(self, id: str) -> str:
        async with aredis_calls(self.options.timeout):
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
        async with aredis_calls(self.options.timeout):
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
        async with aredis_calls(self.options.timeout):
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
                async with aredis_calls(self.options.timeout):
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
