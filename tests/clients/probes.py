"""One interface over the four clients the tests drive: the C library
(wharf-client-probe), the installed Python package, sync and async
(pyprobe.py in the wheel's venv), and the installed npm package
(nodeprobe.mjs in the tarball's project).

    p = probes.start("python-async", env, amqp_url, prefix, timeout_s=3)
    job = p.call("submit", type="system.noop", args={}, opts={"priority": 3})
    p.call("status", id=job["id"])           # ProbeError(code, field) on failure
    p.close()

Every call returns plain JSON values, the same for every kind: submit gives
{"id", "created", "state"}, status and wait the job as a dict, logs and
follow lists of {"kind", "id", "s", "l"} / {"kind": "gap", "missing"},
next an {"id", "state"} or None. `last_s` is how long the last call took.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import clientpkg  # noqa: E402
import wharftest  # noqa: E402

KINDS = ("c", "python-sync", "python-async", "node")


class ProbeError(Exception):
    def __init__(self, code, field="", message="", results=None):
        super().__init__("%s (%s) field=%r" % (message, code, field))
        self.code, self.field, self.message, self.results = code, field, message, results


class _Lines:
    """A child speaking one line per command."""

    def __init__(self, cmd, env, cwd=None):
        self.p = subprocess.Popen(cmd, env=env, cwd=cwd, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  preexec_fn=wharftest._set_pdeathsig)
        self.last_s = 0.0

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("probe %r exited with %r" % (self.p.args, self.p.wait(10)))
        return line.rstrip("\n")

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()
        finally:
            self.p.stdout.close()


class JsonProbe(_Lines):
    """pyprobe.py or nodeprobe.mjs."""

    def __init__(self, kind, cmd, env, cwd=None):
        super().__init__(cmd, env, cwd)
        self.kind = kind
        first = json.loads(self.read())
        if "err" in first:
            self.close()
            e = first["err"]
            raise ProbeError(e["code"], e.get("field", ""), e.get("message", ""))

    def call(self, op, **kw):
        self.send(json.dumps(dict(kw, op=op)))
        out = json.loads(self.read())
        self.last_s = out.get("s", 0.0)
        if "err" in out:
            e = out["err"]
            raise ProbeError(e["code"], e.get("field", ""), e.get("message", ""), out.get("results"))
        return out["ok"]


def _c_spec(type, args=None, opts=None):
    d = {"type": type, "args": args or {}}
    d.update(opts or {})
    return d


class CProbe(_Lines):
    """wharf-client-probe, its line protocol mapped to the JSON calls."""

    kind = "c"

    def __init__(self, env, child_env):
        super().__init__([os.path.join(env.bin, "wharf-client-probe")], child_env)
        first = self.read()
        if first != "ready":
            self.close()
            parts = first.split(" ", 2)
            raise ProbeError(parts[1] if len(parts) > 1 else "?", "", parts[2] if len(parts) > 2 else first)

    def _one(self, line):
        import time
        t0 = time.monotonic()
        self.send(line)
        out = self.read()
        self.last_s = time.monotonic() - t0
        return out

    @staticmethod
    def _check(out):
        if out.startswith("err "):
            parts = out.split(" ", 2)
            raise ProbeError(parts[1], "", parts[2] if len(parts) > 2 else "")
        return out[3:] if out.startswith("ok ") else out[2:]

    def call(self, op, **kw):
        import time
        if op == "submit":
            rest = self._check(self._one("submitj " + json.dumps(_c_spec(kw["type"], kw.get("args"),
                                                                         kw.get("opts")))))
            job_id, created, state = rest.split()
            return {"id": job_id, "created": created == "created", "state": state}
        if op == "submit_many":
            specs = [_c_spec(j["type"], j.get("args"), j.get("opts")) for j in kw["jobs"]]
            res = json.loads(self._check(self._one("many " + json.dumps(specs))))
            errs = [r for r in res if "error" in r]
            if errs:
                raise ProbeError(errs[0]["error"], errs[0]["field"], "", [
                    {"code": r["error"], "field": r["field"]} if "error" in r else r for r in res])
            return res
        if op in ("status", "result"):
            return json.loads(self._check(self._one("%s %s" % (op, kw["id"]))))
        if op == "wait":
            return json.loads(self._check(self._one("waitjson %s %d" % (kw["id"], kw.get("timeout", 30) * 1000))))
        if op == "logs":
            lines = json.loads(self._check(self._one("logs %s %d" % (kw["id"], kw.get("tail") or 0))))["lines"]
            return [dict(line, kind="line") for line in lines]
        if op == "cancel":
            return self._check(self._one("cancel " + kw["id"]))
        if op == "follow":
            t0 = time.monotonic()
            self.send("follow " + kw["id"])
            items = []
            while True:
                out = self.read()
                if out.startswith("line "):
                    _, eid, s, text = (out.split(" ", 3) + [""])[:4]
                    items.append({"kind": "line", "id": eid, "s": s, "l": text})
                elif out.startswith("gap "):
                    n = int(out.split()[1])
                    items.append({"kind": "gap", "missing": None if n < 0 else n})
                else:
                    self.last_s = time.monotonic() - t0
                    self._check(out)
                    return items
        if op == "sub":
            ids = kw.get("ids")
            self._check(self._one("sub " + (",".join(ids) if ids else "*")))
            return "subscribed"
        if op == "next":
            t = kw.get("timeout")
            try:
                rest = self._check(self._one("next %d" % (-1 if t is None else int(t * 1000))))
            except ProbeError as e:
                if e.code == "timeout":
                    return None
                raise
            job_id, state = rest.split()
            return {"id": job_id, "state": state}
        if op == "unsub":
            self._check(self._one("unsub"))
            return "closed"
        raise ValueError(op)


def start(kind, env, amqp_url, prefix, timeout_s=5, redis_url=None):
    """A probe of `kind` (see KINDS) on the vhost and prefix given."""
    child = env.child_env(amqp_url, prefix)
    if redis_url:
        child["WHARF_REDIS_URL"] = redis_url
    child["WHARF_CLIENT_TIMEOUT_S"] = str(timeout_s)
    child["WHARF_PROBE_TIMEOUT_MS"] = str(int(timeout_s * 1000))
    if kind == "c":
        return CProbe(env, child)
    if kind.startswith("python"):
        py = clientpkg.python_env()
        return JsonProbe(kind, [py.python, os.path.join(HERE, "pyprobe.py"), kind.split("-")[1]], child)
    js = clientpkg.node_project()
    script = os.path.join(js.dir, "nodeprobe.mjs")
    shutil.copyfile(os.path.join(HERE, "nodeprobe.mjs"), script)
    return JsonProbe(kind, ["node", script], child, cwd=js.dir)
