"""One side of tests/bench/clients for the Python package: submits N
system.noop jobs ({"i": 1}) in submit_many batches (or one submit each) and
prints "rate=<jobs/s>". Run with the interpreter of the venv the wheel is
installed in: clients_side.py sync|async N BATCH (BATCH 1: single submits).
The client comes from the environment (WHARF_AMQP_URL, ...)."""
import asyncio
import sys
import time

import wharf_client as w


def run_sync(n, batch):
    with w.Client.from_env(timeout=60) as c:
        c.submit("system.noop", {"i": 1})   # warm: connections, script cache
        t0 = time.perf_counter()
        for sent in range(0, n, batch):
            k = min(batch, n - sent)
            if batch == 1:
                c.submit("system.noop", {"i": 1})
            else:
                c.submit_many([w.Job("system.noop", {"i": 1})] * k)
        return time.perf_counter() - t0


async def run_async(n, batch):
    c = await w.AsyncClient.from_env(timeout=60)
    try:
        await c.submit("system.noop", {"i": 1})
        t0 = time.perf_counter()
        for sent in range(0, n, batch):
            k = min(batch, n - sent)
            if batch == 1:
                await c.submit("system.noop", {"i": 1})
            else:
                await c.submit_many([w.Job("system.noop", {"i": 1})] * k)
        return time.perf_counter() - t0
    finally:
        await c.close()


def main():
    mode, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = run_sync(n, batch) if mode == "sync" else asyncio.run(run_async(n, batch))
    print("n=%d seconds=%.3f rate=%.0f" % (n, s, n / s))


if __name__ == "__main__":
    main()
