#!/usr/bin/python3
"""Submit a few jobs with wharf_client and follow them: every call of the
sync and the asyncio client, with full type hints (tests run mypy --strict
on this file against the installed package).

    WHARF_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \\
    WHARF_REDIS_URL=redis://127.0.0.1:6379/0 python3 example.py

A worker must run on the same vhost and Redis prefix.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Dict, List

from wharf_client import (AsyncClient, BatchError, Client, Event, Job, LogGap, LogLine, Submitted,
                          WharfError)


def sync_tour(c: Client) -> int:
    job: Submitted = c.submit("system.log", {"lines": 3}, meta={"requested_by": "example.py"})
    for item in c.follow_logs(job.id):
        print(item.message if isinstance(item, LogGap) else "%s: %s" % (item.s, item.l))
    final: Dict[str, Any] = c.wait(job.id, timeout=30)
    print(job.id, final["state"], c.result(job.id))
    lines: List[LogLine] = c.logs(job.id, tail=2)
    print(len(lines), "last lines")
    try:
        batch: List[Submitted] = c.submit_many([Job("system.noop", {"i": i}) for i in range(3)])
        print([s.id for s in batch])
    except BatchError as e:
        print("some failed:", e.results)
    later = c.submit("system.noop", {}, run_at=int(time.time() * 1000) + 60000, unique_for_s=60,
                     lock="example", priority=1, max_attempts=2, timeout_s=10)
    print(later.state, c.cancel(later.id), c.status(later.id)["state"])
    with c.events([later.id]) as evs:
        ev: Event | None = evs.get(timeout=0.1)
        print("event:", ev)
    return 0


async def async_tour() -> int:
    async with await AsyncClient.from_env() as c:
        job = await c.submit("system.log", {"lines": 2})
        async for item in c.follow_logs(job.id):
            print(item)
        print((await c.wait(job.id, timeout=30))["state"], await c.result(job.id))
        print(len(await c.logs(job.id)), await c.submit_many([Job("system.noop", {})]))
        print(await c.status(job.id))
        s = await c.submit("system.sleep", {"ms": 60000}, target=None)
        print(await c.cancel(s.id))
        async with c.events() as evs:
            print(await evs.get(timeout=0.1))
    return 0


def main() -> int:
    try:
        with Client.from_env() as c:
            sync_tour(c)
        return asyncio.run(async_tour())
    except WharfError as e:
        print("wharf: %s (code %s, field %r)" % (e.message, e.code, e.field), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
