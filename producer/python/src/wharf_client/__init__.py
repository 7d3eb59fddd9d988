"""wharf_client: submit wharf jobs from Python and follow them.

The same operations as the C library (wharf.h) and the TypeScript client,
in a sync client (pika, redis-py) and an asyncio client (aio-pika,
redis.asyncio):

    from wharf_client import Client

    with Client.from_env() as c:                  # WHARF_AMQP_URL, WHARF_REDIS_URL
        job = c.submit("system.sleep", {"ms": 100})
        print(c.wait(job.id, timeout=30)["state"])   # "succeeded"

    async with await AsyncClient.from_env() as c:
        job = await c.submit("system.noop", {"x": 1})
        print(await c.result(job.id))

Submits are idempotent on the job id and do in Redis what the C library,
the CLI and the HTTP API do, through the same Lua scripts. Every failure is
a WharfError with a stable code (broker_error, broker_blocked, redis_error,
bad_envelope, bad_args, unknown_type, too_large, unroutable, not_found,
conflict, timeout) and the field it concerns; with the broker or Redis
down a call fails within the client's timeout (5 s by default).
"""

from ._async import AsyncClient
from ._config import Options
from ._envelope import Job, Submitted, canonical_json, encode, new_id
from ._errors import CODES, BatchError, WharfError
from ._model import TERMINAL, Event, LogGap, LogLine
from ._events import AsyncEvents, Events
from ._sync import Client

__all__ = ["Client", "AsyncClient", "Events", "AsyncEvents", "Options", "Job", "Submitted", "LogLine",
           "LogGap", "Event", "WharfError", "BatchError", "CODES", "TERMINAL", "new_id", "encode",
           "canonical_json", "build_envelope", "__version__"]

__version__ = "1.0.0"


def build_envelope(job: Job, created_at: int) -> bytes:
    """The exact message body a submit of `job` publishes, with a fixed
    created_at (ms): for tests against schemas/vectors and for callers that
    publish themselves. Raises WharfError like submit()."""
    from ._envelope import check_job
    return encode(check_job(job, created_at))
