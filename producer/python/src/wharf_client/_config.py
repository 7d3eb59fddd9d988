"""Client options, their defaults and the environment, and the AMQP
topology every producer declares (common/model/wh_topo.c)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._envelope import FAMILIES
from ._errors import WharfError

__all__ = ["Options", "topology"]

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2f"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RETRY_TIERS = (1000, 5000, 30000, 120000, 600000)   # [retry] tiers, the default


@dataclass(frozen=True)
class Options:
    """What a client connects to and how long a call may take.

    amqp_url: one broker URL, or a cluster's nodes separated by commas or
        spaces, tried in order on each (re)connect.
    redis_url: redis://, rediss:// or unix:// URL, or
        redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db]
        to find the master through Redis Sentinel (as the C library).
    prefix: Redis key prefix of the deployment.
    timeout: seconds any call may take against a broker or Redis that does
        not answer (connect, each round trip, the broker's confirms).
    queue_type, max_priority: how the family queues are declared, as the
        workers declare them (amqp.queue_type, amqp.max_priority).
    max_attempts: recorded for jobs that set none and whose type has no
        default of its own in the catalogue (jobs.max_attempts).
    job_ttl_s: how long a cancelled job's hash is kept (jobs.ttl_s).
    max_body: the largest envelope to send, bytes (jobs.max_body; workers
        dead-letter bigger ones as too_large).
    """
    amqp_url: str = DEFAULT_AMQP_URL
    redis_url: str = DEFAULT_REDIS_URL
    prefix: str = "wharf:"
    timeout: float = 5.0
    queue_type: str = "quorum"
    max_priority: int = 0
    max_attempts: int = 3
    job_ttl_s: int = 604800
    max_body: int = 1048576

    def checked(self) -> "Options":
        if self.queue_type not in ("quorum", "classic"):
            raise WharfError("bad_config", 'queue_type: must be "quorum" or "classic"', "queue_type")
        if not 0 <= self.max_priority <= 9:
            raise WharfError("bad_config", "max_priority: must be 0..9", "max_priority")
        if not 1 <= self.max_attempts <= 100:
            raise WharfError("bad_config", "max_attempts: must be 1..100", "max_attempts")
        if not self.timeout > 0:
            raise WharfError("bad_config", "timeout: must be > 0 seconds", "timeout")
        if not 1024 <= self.max_body <= 134217728:
            raise WharfError("bad_config", "max_body: must be 1024..134217728 bytes", "max_body")
        if not self.prefix or len(self.prefix) > 64:
            raise WharfError("bad_config", "prefix: must be 1..64 bytes", "prefix")
        return self

    def amqp_urls(self) -> List[str]:
        return [u for u in re.split(r"[,\s]+", self.amqp_url) if u]


# WHARF_<SECTION>_<KEY>, as the worker and the CLI read their settings.
_ENV: Tuple[Tuple[str, str, Any], ...] = (
    ("WHARF_AMQP_URL", "amqp_url", str),
    ("WHARF_REDIS_URL", "redis_url", str),
    ("WHARF_REDIS_PREFIX", "prefix", str),
    ("WHARF_AMQP_QUEUE_TYPE", "queue_type", str),
    ("WHARF_AMQP_MAX_PRIORITY", "max_priority", int),
    ("WHARF_JOBS_MAX_ATTEMPTS", "max_attempts", int),
    ("WHARF_JOBS_TTL_S", "job_ttl_s", int),
    ("WHARF_JOBS_MAX_BODY", "max_body", int),
)


def options(environ: Optional[Mapping[str, str]] = None, **given: Any) -> Options:
    """Options from keyword arguments; those left None come from `environ`
    (os.environ when it is None), then the defaults."""
    values: Dict[str, Any] = {}
    env = os.environ if environ is None else environ
    for var, field, conv in _ENV:
        if var in env and env[var] != "":
            try:
                values[field] = conv(env[var])
            except ValueError:
                raise WharfError("bad_config", "%s: not a number" % var, field) from None
    values.update({k: v for k, v in given.items() if v is not None})
    return replace(Options(), **values).checked()


def plain_options(**given: Any) -> Options:
    """Options from keyword arguments; those left None are the defaults."""
    return replace(Options(), **{k: v for k, v in given.items() if v is not None}).checked()


def _queue_args(o: Options, ttl_ms: int, family: bool) -> Dict[str, Any]:
    a: Dict[str, Any] = {"x-queue-type": o.queue_type}
    if family and o.max_priority > 0:
        a["x-max-priority"] = o.max_priority
    if ttl_ms > 0:
        a["x-message-ttl"] = ttl_ms
        a["x-dead-letter-exchange"] = "wharf.jobs"
        if o.queue_type == "quorum":
            a["x-dead-letter-strategy"] = "at-least-once"
            a["x-overflow"] = "reject-publish"
    return a


@dataclass(frozen=True)
class Queue:
    name: str
    arguments: Dict[str, Any]
    exchange: str            # bound to it, or "" for none
    routing_key: str
    bind_arguments: Optional[Dict[str, Any]]


def topology(o: Options) -> List[Queue]:
    """The queues of wire contract v1 and their bindings, as wh_topo_declare
    declares them (exchanges wharf.jobs, topic, and wharf.retry, headers)."""
    qs = [Queue("wharf." + f, _queue_args(o, 0, True), "wharf.jobs", f, None) for f in FAMILIES]
    qs.append(Queue("wharf.dead", _queue_args(o, 0, False), "", "", None))
    for t in RETRY_TIERS:
        qs.append(Queue("wharf.retry.%d" % t, _queue_args(o, t, False), "wharf.retry", "",
                        {"x-match": "all", "wharf-retry-ms": str(t)}))
    return qs
