"""Subscriptions to the events channel: Events for the sync client,
AsyncEvents for the asyncio one. Pub/sub keeps nothing for a subscriber
that was away: read the job for the truth after a gap."""

from __future__ import annotations

import contextlib
import time
from typing import AsyncIterator, Iterable, Iterator, Optional

import redis
import redis.asyncio

from . import _model as m
from ._rediscalls import aredis_calls, redis_calls

__all__ = ["Events", "AsyncEvents"]


class Events:
    """State changes from the events channel, as Event(id, state), in the
    order Redis delivers them. Pub/sub keeps nothing for a subscriber that
    was away: read the job for the truth after a gap."""

    def __init__(self, r: "redis.Redis[bytes]", channel: str, ids: Optional[Iterable[str]]) -> None:
        self._ids = None if ids is None else frozenset(ids)
        with redis_calls():
            self._ps = r.pubsub(ignore_subscribe_messages=True)
            self._ps.subscribe(channel)

    def get(self, timeout: Optional[float] = None) -> Optional[m.Event]:
        """The next event, waiting up to `timeout` s (None: no limit); None
        when none came in time."""
        end = None if timeout is None else time.monotonic() + timeout
        with redis_calls():
            while True:
                left = 1.0 if end is None else end - time.monotonic()
                if left <= 0:
                    return None
                msg = self._ps.get_message(timeout=min(left, 1.0))
                if msg and msg.get("type") == "message":
                    ev = m.parse_event(msg["data"])
                    if ev is not None and (self._ids is None or ev.id in self._ids):
                        return ev

    def __iter__(self) -> Iterator[m.Event]:
        while True:
            ev = self.get(None)
            if ev is not None:
                yield ev

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ps.close()

    def __enter__(self) -> "Events":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
            async with aredis_calls(self._timeout):
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
            async with aredis_calls(self._timeout + min(left, 1.0)):
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
