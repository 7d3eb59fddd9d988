"""The sync client: pika for RabbitMQ, redis-py for Redis.

A submit is what the C library does (producer/client.c): check and encode
the envelope, run enqueue.lua (creates the `queued` hash only for a new id),
publish with mandatory routing on a confirm channel, and wait for the
confirm; a nack, a return, a timeout or a lost connection runs
unenqueue.lua, so a failed submit leaves nothing behind and the same id may
be submitted again. A lost broker connection is made again by the next
submit; Redis reconnects by itself on the next call.

One client is used by one thread at a time (make one per thread).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import pika.exceptions
import redis
import redis.exceptions

from . import _batch
from . import _model as m
from ._amqp_sync import Broker, broker_error, properties
from ._config import Options, options, plain_options
from ._envelope import Job, RunAt, Submitted
from ._errors import WharfError
from ._events import Events
from ._rediscalls import redis_calls
from ._redisconn import sync_redis

__all__ = ["Client", "Events"]

Outcome = _batch.Outcome


class Client:
    """A wharf client: submit jobs and follow them. See the package doc."""

    def __init__(self, amqp_url: Optional[str] = None, redis_url: Optional[str] = None, *,
                 prefix: Optional[str] = None, timeout: Optional[float] = None,
                 queue_type: Optional[str] = None, max_priority: Optional[int] = None,
                 max_attempts: Optional[int] = None, job_ttl_s: Optional[int] = None,
                 max_body: Optional[int] = None, options: Optional[Options] = None) -> None:
        """Connect to RabbitMQ and Redis (the contract's local defaults for
        URLs not given) and declare the topology. Raises WharfError
        (broker_error, redis_error, bad_config) within `timeout` seconds."""
        self.options = options or plain_options(
            amqp_url=amqp_url, redis_url=redis_url, prefix=prefix, timeout=timeout, queue_type=queue_type,
            max_priority=max_priority, max_attempts=max_attempts, job_ttl_s=job_ttl_s, max_body=max_body)
        o = self.options
        self._prefix = o.prefix
        self._broker: Optional[Broker] = None
        self._redis = sync_redis(o)
        with redis_calls():
            self._redis.ping()
        self._connect()

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **given: Any) -> "Client":
        """A client configured from WHARF_AMQP_URL, WHARF_REDIS_URL,
        WHARF_REDIS_PREFIX (and WHARF_AMQP_QUEUE_TYPE, WHARF_AMQP_MAX_PRIORITY,
        WHARF_JOBS_MAX_ATTEMPTS, WHARF_JOBS_TTL_S), as the CLI reads them;
        keyword arguments win over the environment."""
        return cls(options=options(environ, **given))

    def close(self) -> None:
        if self._broker:
            self._broker.close()
            self._broker = None
        self._redis.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- connections -----------------------------------------------------

    def _connect(self) -> Broker:
        if self._broker is not None and self._broker.alive():
            return self._broker
        if self._broker is not None:
            self._broker.close()
            self._broker = None
        try:
            self._broker = Broker(self.options)
        except WharfError:
            raise
        except (pika.exceptions.AMQPError, OSError, ValueError) as e:
            raise broker_error(e) from None
        return self._broker

    def _eval(self, script: m.Script, args: Sequence[Any]) -> Any:
        r: Any = self._redis   # the stubs leave these untyped
        with redis_calls():
            try:
                return r.execute_command("EVALSHA", script.sha, *args)
            except redis.exceptions.NoScriptError:
                r.script_load(script.text)
                return r.execute_command("EVALSHA", script.sha, *args)

    def _eval_many(self, script: m.Script, calls: Sequence[Sequence[Any]]) -> List[Any]:
        """One pipelined round trip; a script cache lost to a restart is
        loaded and the refused calls made again. The commands are packed
        here (m.resp): redis-py's own packing costs more than the rest of
        a submit together."""
        with redis_calls():
            pool = self._redis.connection_pool
            conn = pool.get_connection("EVALSHA")
            try:
                conn.send_packed_command([b"".join(m.resp(["EVALSHA", script.sha, *args]) for args in calls)])
                replies: List[Any] = []
                for _ in calls:
                    try:
                        replies.append(conn.read_response())
                    except redis.exceptions.ResponseError as e:
                        replies.append(e)
            except BaseException:
                conn.disconnect()   # replies may be left unread
                raise
            finally:
                pool.release(conn)
            for i, rep in enumerate(replies):
                if isinstance(rep, redis.exceptions.NoScriptError):
                    replies[i] = self._eval(script, calls[i])
                elif isinstance(rep, Exception):
                    raise rep
            return replies

    # ---- submit ------------------------------------------------------------

    def submit(self, type: str, args: Optional[Mapping[str, Any]] = None, *, id: Optional[str] = None,
               target: Optional[str] = None, max_attempts: Optional[int] = None,
               timeout_s: Optional[int] = None, run_at: Optional[RunAt] = None,
               priority: Optional[int] = None, unique_for_s: Optional[int] = None,
               lock: Optional[str] = None, meta: Optional[Mapping[str, str]] = None) -> Submitted:
        """Submit one job and wait for the broker's confirm. Idempotent on
        the id: an existing id (or, with unique_for_s, an equal live job)
        publishes nothing and reports the state found (created=False)."""
        # pylint: disable=redefined-builtin  (names mirror the envelope)
        job = Job(type, args, id=id, target=target, max_attempts=max_attempts, timeout_s=timeout_s,
                  run_at=run_at, priority=priority, unique_for_s=unique_for_s, lock=lock, meta=meta)
        return _batch.one(self._submit([job]))

    def submit_many(self, jobs: Iterable[Job]) -> List[Submitted]:
        """Submit jobs with one Redis round trip and their confirms in flight
        together. Raises BatchError (its `results` say what became of each
        job) when any failed; jobs that did not fail are enqueued."""
        return _batch.many(self._submit(list(jobs)))

    def _submit(self, jobs: List[Job]) -> List[Outcome]:
        b = _batch.Batch(jobs, self.options)
        try:
            replies = self._eval_many(m.SCRIPTS["enqueue"], b.calls) if b.calls else []
        except WharfError as e:
            b.fail_all(e)
            return b.results()
        to_publish = b.enqueued(replies)
        if to_publish:
            self._publish(to_publish, b.outs)
        return b.results()

    def _publish(self, items: List[_batch.Encoded], outs: List[Optional[Outcome]]) -> None:
        tags: List[int] = []
        err: Optional[WharfError] = None
        try:
            b = self._connect()
            tags = b.publish_many([(env["type"].split(".", 1)[0], body,
                                    properties(env["id"], env["type"], env.get("priority", 0)))
                                   for _, env, body in items])
            err = b.await_confirms(tags)
        except WharfError as e:
            err = e
        except (pika.exceptions.AMQPError, OSError) as e:
            err = broker_error(e)
        self._settle(items, tags, err, outs)

    def _settle(self, items: List[_batch.Encoded], tags: List[int],
                err: Optional[WharfError], outs: List[Optional[Outcome]]) -> None:
        """Each published job's outcome; undo the enqueue of the failures."""
        b = self._broker
        failed: List[str] = []
        nacked = False
        for k, (i, env, _) in enumerate(items):
            tag = tags[k] if k < len(tags) else 0
            nack = b.nacked.get(tag) if b is not None and tag else None
            e: Optional[WharfError] = None
            if nack is None:
                e = err or WharfError("broker_error", "the job was not published")
            elif b is not None and env["id"] in b.returned:
                b.returned.discard(env["id"])
                e = WharfError("unroutable", "no queue is bound for this job's family", "type")
            elif nack:
                nacked = True
                e = WharfError("broker_error", "the broker refused the message (nack)")
            if e is not None:
                outs[i] = e
                failed.append(env["id"])
        if b is not None:
            b.forget(tags)
        # A nack mostly means a quorum queue lost its leader: start the next
        # submit on a fresh connection, as the C library does. After a
        # timeout the channel's state is unknown: the same.
        if b is not None and (nacked or err is not None):
            b.close()
            self._broker = None
        if failed:
            with contextlib.suppress(WharfError):
                self._eval_many(m.SCRIPTS["unenqueue"], [m.unenqueue_call(self._prefix, j) for j in failed])

    # ---- reading -------------------------------------------------------------

    def status(self, id: str) -> Dict[str, Any]:
        """The job as a dict: numeric fields as ints, `result` decoded (as
        GET /v1/jobs/{id}). Raises not_found."""
        m.check_id(id)
        with redis_calls():
            h = self._redis.hgetall(m.key_job(self._prefix, id))
        return m.job_json(id, h)

    def result(self, id: str) -> Any:
        """The job's result, decoded from JSON; None while it has none (not
        finished, or not succeeded). Raises not_found."""
        return self.status(id).get("result")

    def _state(self, id: str) -> str:
        with redis_calls():
            st = self._redis.hget(m.key_job(self._prefix, id), "state")
        if st is None:
            raise WharfError("not_found", 'no job with id "%s"' % id, "id")
        return st.decode() if isinstance(st, bytes) else str(st)

    def wait(self, id: str, timeout: Optional[float] = 30.0) -> Dict[str, Any]:
        """Wait up to `timeout` s (None: no limit) for a terminal state and
        return the final job (as status()). Raises timeout, with the job as
        last read in the error's `last`, or not_found."""
        m.check_id(id)
        deadline = None if timeout is None else time.monotonic() + timeout
        with redis_calls():
            ps = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            with redis_calls():
                ps.subscribe(self._prefix + "events")   # first, so no change slips by
            while True:
                h = self.status(id)
                if h.get("state") in m.TERMINAL:
                    return h
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WharfError("timeout", "job %s is still %s after %s s" % (id, h.get("state"), timeout),
                                     last=h)
                self._until_event(ps, id, 0.5 if left is None else min(left, 0.5))
        finally:
            with contextlib.suppress(Exception):
                ps.close()

    def _until_event(self, ps: Any, id: str, seconds: float) -> None:
        end = time.monotonic() + seconds
        with redis_calls():
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return
                msg = ps.get_message(timeout=left)
                if msg and msg.get("type") == "message":
                    ev = m.parse_event(msg["data"])
                    if ev is not None and ev.id == id:
                        return

    def logs(self, id: str, tail: Optional[int] = None) -> List[m.LogLine]:
        """The job's log lines (at most 10,000), or its last `tail` lines.
        Raises not_found."""
        m.check_id(id)
        key = m.key_job(self._prefix, id) + ":log"
        with redis_calls():
            pipe = self._redis.pipeline(transaction=False)
            pipe.exists(m.key_job(self._prefix, id))
            if tail:
                pipe.xrevrange(key, "+", "-", count=min(tail, m.LOG_MAX))
            else:
                pipe.xrange(key, "-", "+", count=m.LOG_MAX)
            exists, entries = pipe.execute()
        if not exists and not entries:
            raise WharfError("not_found", 'no job with id "%s"' % id, "id")
        return m.tail_lines(entries, bool(tail))

    def _page(self, key: str, x: m.XPage) -> List[Union[m.LogLine, m.LogGap]]:
        with redis_calls():
            pipe: Any = self._redis.pipeline(transaction=True)
            for cmd in x.commands(key):
                pipe.execute_command(*cmd)
            info, entries = pipe.execute(raise_on_error=False)
        return x.page(info, entries)

    def follow_logs(self, id: str) -> Iterator[Union[m.LogLine, m.LogGap]]:
        """Every log line of the job, then new ones as they come, until the
        job is finished and all were read (as `wharf logs -f`). Lines the
        stream's cap removed before they were read come as one LogGap where
        they were. Raises not_found; redis_error when Redis fails."""
        m.check_id(id)
        key = m.key_job(self._prefix, id) + ":log"
        x = m.XPage()
        state = self._state(id)
        block_ms = max(1, min(1000, int(self.options.timeout * 500)))
        while True:
            page = self._page(key, x)
            yield from page
            if not any(isinstance(p, m.LogLine) for p in page):
                if state in m.TERMINAL:
                    return
                with redis_calls():
                    self._redis.xread({key: x.last}, count=1, block=block_ms)
                state = self._state(id)

    # ---- control -------------------------------------------------------------

    def cancel(self, id: str) -> str:
        """Cancel a job: "cancelled" when it had not started (it never runs),
        "running" when its worker was asked to stop it (it ends cancelled at
        its next cancellation point). Raises not_found, or conflict when it
        already finished."""
        m.check_id(id)
        rep = self._eval(m.SCRIPTS["cancel"], m.cancel_call(self._prefix, id, self.options.job_ttl_s))
        return m.cancel_result(id, rep)

    def events(self, ids: Optional[Iterable[str]] = None) -> "Events":
        """A subscription to state changes (the events channel), of the jobs
        `ids` only when given. Iterate it, or call get(timeout); close it."""
        return Events(self._redis, self._prefix + "events", ids)
