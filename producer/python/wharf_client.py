"""wharf_client: enqueue wharf jobs from Python and follow their status.

A small client for applications (e.g. a web app) that submit jobs to wharf
workers. It speaks wire contract v1 (see schemas/README.md):

    import pika, redis, wharf_client

    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)

    job_id = wharf_client.enqueue(conn, "system.sleep", {"ms": 100})
    final = wharf_client.wait(r, job_id, timeout=30)
    print(final["state"])                      # "succeeded"

Requirements: Debian's python3-pika (1.2), python3-msgpack, python3-redis.

Notes for callers
  * The client chooses the job id (new_id() unless you pass one). The id is
    the idempotency key: publishing the same id twice describes the same job.
  * enqueue() talks to RabbitMQ only. Nothing is written to Redis until a
    worker receives the message and creates the job hash, so status() may
    return None for a short while after enqueue() returns.
  * pika connections are not thread-safe: use one connection (or channel)
    per thread.
"""

import json
import re
import secrets
import time

import msgpack
import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.blocking_connection import BlockingConnection
from pika.exceptions import NackError, UnroutableError

__all__ = [
    "SCHEMA_VERSION", "EXCHANGE", "TERMINAL_STATES", "WharfError",
    "EnqueueError", "WaitTimeout", "new_id", "build_envelope", "encode",
    "properties",
    "enqueue", "status", "result", "wait",
]

SCHEMA_VERSION = 1
EXCHANGE = "wharf.jobs"
CONTENT_TYPE = "application/msgpack"
DEFAULT_PREFIX = "wharf:"

# States after which a job's hash no longer changes.
TERMINAL_STATES = frozenset({"succeeded", "failed", "dead", "cancelled"})

# Envelope rules from the contract; re.fullmatch is used (not ^...$, whose
# "$" would also accept a trailing newline in Python).
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_.]{0,63}")
_TARGET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_MAX_META_ENTRIES = 64
_MAX_META_KEY_BYTES = 64
_MAX_META_VALUE_BYTES = 1024


class WharfError(Exception):
    """Base class of this module's errors."""


class EnqueueError(WharfError):
    """RabbitMQ did not accept the job (unroutable or negatively confirmed).

    An unroutable job means no queue is bound for its family: no worker or
    producer has declared the topology on this vhost yet."""


class WaitTimeout(WharfError, TimeoutError):
    """wait() gave up before the job reached a terminal state.

    .last holds the job hash as last read (or None if it did not exist)."""

    def __init__(self, message, last):
        super().__init__(message)
        self.last = last


def new_id():
    """Return a fresh random job id: 22 characters of [A-Za-z0-9_-].

    128 random bits, so ids from independent clients never collide."""
    return secrets.token_urlsafe(16)


def _is_int(x):
    # bool is a subclass of int in Python, but msgpack encodes it as a bool.
    return isinstance(x, int) and not isinstance(x, bool)


def build_envelope(type, args, target=None, id=None, max_attempts=None,
                   timeout_s=None, meta=None, created_at=None):
    """Build and check a v1 envelope dict; raise ValueError if invalid.

    Checks the envelope rules of the contract so that mistakes surface in
    the caller rather than as a dead-lettered message. The args are only
    checked to be a dict: their per-type rules are the worker's business.
    Optional fields left as None are omitted from the envelope."""
    # pylint: disable=redefined-builtin  (names mirror the envelope fields)
    job_id = new_id() if id is None else id
    if not isinstance(job_id, str) or not _ID_RE.fullmatch(job_id):
        raise ValueError("id must match [A-Za-z0-9_-]{1,64}: %r" % (job_id,))
    if not isinstance(type, str) or not _TYPE_RE.fullmatch(type):
        raise ValueError("type must look like family.name: %r" % (type,))
    if not isinstance(args, dict):
        raise ValueError("args must be a dict")
    if created_at is None:
        created_at = int(time.time() * 1000)
    if not _is_int(created_at) or created_at < 0:
        raise ValueError("created_at must be an int >= 0 (ms since epoch)")

    env = {"v": SCHEMA_VERSION, "id": job_id, "type": type, "args": args,
           "created_at": created_at}
    if target is not None:
        if not isinstance(target, str) or not _TARGET_RE.fullmatch(target):
            raise ValueError("invalid target: %r" % (target,))
        env["target"] = target
    if max_attempts is not None:
        if not _is_int(max_attempts) or not 1 <= max_attempts <= 100:
            raise ValueError("max_attempts must be an int in 1..100")
        env["max_attempts"] = max_attempts
    if timeout_s is not None:
        if not _is_int(timeout_s) or not 1 <= timeout_s <= 2592000:
            raise ValueError("timeout_s must be an int in 1..2592000")
        env["timeout_s"] = timeout_s
    if meta is not None:
        _check_meta(meta)
        env["meta"] = dict(meta)
    return env


def _check_meta(meta):
    if not isinstance(meta, dict):
        raise ValueError("meta must be a dict of str to str")
    if len(meta) > _MAX_META_ENTRIES:
        raise ValueError("meta has more than %d entries" % _MAX_META_ENTRIES)
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError("meta keys and values must be str")
        if not 1 <= len(k.encode("utf-8")) <= _MAX_META_KEY_BYTES:
            raise ValueError("meta key must be 1..64 bytes: %r" % (k,))
        if len(v.encode("utf-8")) > _MAX_META_VALUE_BYTES:
            raise ValueError("meta value longer than 1024 bytes: %r" % (k,))


def encode(envelope):
    """Encode an envelope dict as msgpack (str as str, bytes as bin)."""
    return msgpack.packb(envelope, use_bin_type=True)


def properties(job_id, job_type):
    """The AMQP message properties the contract requires for a job."""
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=2,              # persistent
        message_id=job_id,
        type=job_type,
        headers={"wharf-schema": SCHEMA_VERSION})


# Attribute under which enqueue() keeps the confirm-mode channel it opened
# on a connection, for reuse by later calls (it lives as long as the
# connection does).
_CHANNEL_ATTR = "_wharf_client_confirm_channel"


def _confirm_channel(channel_or_connection):
    """Return a channel in publisher-confirm mode."""
    if isinstance(channel_or_connection, BlockingChannel):
        ch = channel_or_connection
        # pika logs an error if confirms are enabled twice; its own flag
        # tells whether they already are.
        if not getattr(ch, "_delivery_confirmation", False):
            ch.confirm_delivery()
        return ch
    if isinstance(channel_or_connection, BlockingConnection):
        conn = channel_or_connection
        ch = getattr(conn, _CHANNEL_ATTR, None)
        if ch is None or not ch.is_open:
            ch = conn.channel()
            ch.confirm_delivery()
            setattr(conn, _CHANNEL_ATTR, ch)
        return ch
    raise TypeError("expected a pika BlockingConnection or BlockingChannel")


def enqueue(channel_or_connection, type, args, target=None, id=None,
            max_attempts=None, timeout_s=None, meta=None,
            declare_exchange=True):
    """Publish a job and return its id once RabbitMQ has confirmed it.

    channel_or_connection: a pika BlockingConnection (a confirm channel is
        opened on it and reused) or a BlockingChannel (switched to confirm
        mode if it is not already).
    type, args: the job type ("family.name") and its args dict.
    target, id, max_attempts, timeout_s, meta: optional envelope fields
        (see schemas/README.md); id defaults to new_id().
    declare_exchange: idempotently declare the wharf.jobs exchange (topic,
        durable) first, exactly as workers do. Queues are never declared
        here: their type (quorum/classic) belongs to the deployment.

    The message goes to exchange wharf.jobs with routing key = the type's
    family, mandatory, persistent. Raises ValueError for an invalid
    envelope and EnqueueError when the broker returns (no queue bound for
    the family) or nacks the message; the job is then NOT enqueued and the
    call may be retried with the same id.
    """
    # pylint: disable=redefined-builtin
    env = build_envelope(type, args, target=target, id=id,
                         max_attempts=max_attempts, timeout_s=timeout_s,
                         meta=meta)
    ch = _confirm_channel(channel_or_connection)
    if declare_exchange:
        ch.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    family = type.split(".", 1)[0]
    try:
        ch.basic_publish(EXCHANGE, family, encode(env),
                         properties=properties(env["id"], type),
                         mandatory=True)
    except UnroutableError as e:
        raise EnqueueError("job %s was returned: no queue is bound for "
                           "family %r on this vhost" % (env["id"], family)) \
            from e
    except NackError as e:
        raise EnqueueError("job %s was nacked by the broker" % env["id"]) \
            from e
    return env["id"]


def _text(x):
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else x


def status(redis_client, id, prefix=DEFAULT_PREFIX):
    """Return the job hash <prefix>job:<id> as a dict of str, or None.

    None means no worker has received the job yet, or it expired, or the
    id is unknown. Works with redis clients with or without
    decode_responses. All values are plain text: numbers are decimal
    strings, times are ms since the epoch, "result" is JSON (see result()).
    """
    # pylint: disable=redefined-builtin
    h = redis_client.hgetall(prefix + "job:" + id)
    if not h:
        return None
    return {_text(k): _text(v) for k, v in h.items()}


def result(job_hash):
    """The decoded JSON "result" of a job hash, or None if it has none."""
    if not job_hash or not job_hash.get("result"):
        return None
    return json.loads(job_hash["result"])


def wait(redis_client, id, timeout, prefix=DEFAULT_PREFIX, poll_interval=0.5):
    """Block until the job reaches a terminal state; return its hash.

    Terminal states: succeeded, failed, dead, cancelled. Subscribes to
    <prefix>events to wake up as soon as a worker reports a state change,
    and also re-reads the hash every poll_interval seconds, so a missed
    event costs at most that much latency. Raises WaitTimeout (a
    TimeoutError) after `timeout` seconds.
    """
    # pylint: disable=redefined-builtin
    deadline = time.monotonic() + timeout
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    try:
        # Subscribe before the first read so no change can slip in between.
        pubsub.subscribe(prefix + "events")
        while True:
            h = status(redis_client, id, prefix)
            if h is not None and h.get("state") in TERMINAL_STATES:
                return h
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(
                    "job %s not finished after %ss (state %s)"
                    % (id, timeout, h and h.get("state")), h)
            # Wait for any event (or the poll interval); events for other
            # jobs just cause a cheap extra read. Events are "<id> <state>".
            _drain_until_event_for(pubsub, id,
                                   min(remaining, poll_interval))
    finally:
        pubsub.close()


def _drain_until_event_for(pubsub, job_id, seconds):
    """Consume events for up to `seconds`; return early on one for job_id."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        msg = pubsub.get_message(timeout=left)
        if msg and msg.get("type") == "message":
            if _text(msg["data"]).split(" ", 1)[0] == job_id:
                return
