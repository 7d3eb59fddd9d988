"""pyprobe: the installed wharf_client driven by the tests, one JSON command a
line on stdin, one JSON reply a line on stdout (run it with the interpreter
of the venv the wheel is installed in; argv[1] is "sync" or "async").

Commands {"op": ..., ...}: submit {type, args, opts}, submit_many {jobs},
status {id}, wait {id, timeout}, result {id}, logs {id, tail}, follow {id},
cancel {id}, sub {ids}, next {timeout}, unsub. Options use the Python names
(max_attempts, timeout_s, run_at, priority, unique_for_s, lock, meta, id,
target). Replies: {"ok": value, "s": seconds} or {"err": {"code", "field",
"message"}, "s": seconds}; a BatchError adds "results". The client comes
from the environment (Client.from_env); WHARF_CLIENT_TIMEOUT_S sets its
timeout. The first line is {"ok": "ready"} or the connect error.
"""

import asyncio
import dataclasses
import json
import os
import sys
import time

import wharf_client as w


def plain(x):
    if dataclasses.is_dataclass(x):
        d = dataclasses.asdict(x)
        if isinstance(x, w.LogGap):
            d["message"] = x.message
        d["kind"] = {"LogLine": "line", "LogGap": "gap"}.get(type(x).__name__, d.get("kind"))
        return {k: v for k, v in d.items() if v is not None or k == "missing"}
    if isinstance(x, w.WharfError):
        return {"code": x.code, "field": x.field, "message": x.message}
    if isinstance(x, list):
        return [plain(v) for v in x]
    return x


def job(d):
    return w.Job(d["type"], d.get("args"), **d.get("opts", {}))


class Sync:
    def __init__(self, timeout):
        self.c = w.Client.from_env(timeout=timeout)
        self.evs = None

    def run(self, cmd):
        op, c = cmd["op"], self.c
        if op == "submit":
            return c.submit(cmd["type"], cmd.get("args"), **cmd.get("opts", {}))
        if op == "submit_many":
            return c.submit_many([job(j) for j in cmd["jobs"]])
        if op in ("status", "result", "cancel"):
            return getattr(c, op)(cmd["id"])
        if op == "wait":
            return c.wait(cmd["id"], cmd.get("timeout", 30))
        if op == "logs":
            return c.logs(cmd["id"], cmd.get("tail"))
        if op == "follow":
            return list(c.follow_logs(cmd["id"]))
        if op == "sub":
            self.evs = c.events(cmd.get("ids"))
            return "subscribed"
        if op == "next":
            return self.evs.get(cmd.get("timeout"))
        if op == "unsub":
            self.evs.close()
            return "closed"
        raise ValueError(op)

    def close(self):
        self.c.close()


class Async:
    def __init__(self, timeout):
        self.loop = asyncio.new_event_loop()
        self.c = self.loop.run_until_complete(w.AsyncClient.from_env(timeout=timeout))
        self.evs = None

    async def _follow(self, job_id):
        return [item async for item in self.c.follow_logs(job_id)]

    async def _run(self, cmd):
        op, c = cmd["op"], self.c
        if op == "submit":
            return await c.submit(cmd["type"], cmd.get("args"), **cmd.get("opts", {}))
        if op == "submit_many":
            return await c.submit_many([job(j) for j in cmd["jobs"]])
        if op in ("status", "result", "cancel"):
            return await getattr(c, op)(cmd["id"])
        if op == "wait":
            return await c.wait(cmd["id"], cmd.get("timeout", 30))
        if op == "logs":
            return await c.logs(cmd["id"], cmd.get("tail"))
        if op == "follow":
            return await self._follow(cmd["id"])
        if op == "sub":
            self.evs = c.events(cmd.get("ids"))
            await self.evs.__aenter__()
            return "subscribed"
        if op == "next":
            return await self.evs.get(cmd.get("timeout"))
        if op == "unsub":
            await self.evs.close()
            return "closed"
        raise ValueError(op)

    def run(self, cmd):
        return self.loop.run_until_complete(self._run(cmd))

    def close(self):
        self.loop.run_until_complete(self.c.close())
        self.loop.close()


def reply(out):
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main():
    timeout = float(os.environ.get("WHARF_CLIENT_TIMEOUT_S", "5"))
    try:
        probe = (Async if sys.argv[1:] == ["async"] else Sync)(timeout)
    except w.WharfError as e:
        reply({"err": plain(e)})
        return 1
    reply({"ok": "ready"})
    for line in sys.stdin:
        t0 = time.monotonic()
        try:
            out = {"ok": plain(probe.run(json.loads(line)))}
        except w.BatchError as e:
            out = {"err": plain(e), "results": plain(e.results)}
        except w.WharfError as e:
            out = {"err": plain(e)}
        out["s"] = time.monotonic() - t0
        reply(out)
    probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
