"""Redis failures as the contract's redis_error, for the sync and async
clients: every Redis call runs inside one of these."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Iterator, List

import redis.exceptions

from ._errors import WharfError

__all__ = ["redis_error", "redis_calls", "aredis_calls", "deadline"]


def redis_error(e: BaseException) -> WharfError:
    return WharfError("redis_error", "redis: %s" % (str(e)[:200] or type(e).__name__))


@contextlib.contextmanager
def redis_calls() -> Iterator[None]:
    try:
        yield
    except redis.exceptions.RedisError as e:
        raise redis_error(e) from None
    except OSError as e:  # a socket error redis-py did not wrap
        raise redis_error(e) from None


@contextlib.asynccontextmanager
async def aredis_calls(timeout: float) -> AsyncIterator[None]:
    try:
        async with deadline(timeout, "redis"):
            yield
    except (redis.exceptions.RedisError, OSError) as e:
        raise redis_error(e) from None


@contextlib.asynccontextmanager
async def deadline(timeout: float, what: str) -> AsyncIterator[None]:
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
