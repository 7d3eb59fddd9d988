"""The soak's clients of wharf (issue 21): the C library through
wharf-client-probe (tests/integration/client_probe.c) and the HTTP API of
`wharf serve`, each answer reduced to what submits.jsonl records.

    p = clients.Probe("probe1", topo, rec, log_dir)   # its start and exit go to procs.jsonl
    ok, error_code, returned_id = clients.submit_lib(p, spec)
    api = clients.Http(topo.serve_url, topo.serve_token)
    ok, error_code, returned_id = clients.submit_http(api, spec)
"""
import http.client
import json
import os
import subprocess
import threading
import urllib.parse


def bin_path(name):
    """$WHARF_SOAK_BIN/name, else $WHARF_BIN/name."""
    d = os.environ.get("WHARF_SOAK_BIN") or os.environ.get("WHARF_BIN") or ""
    return os.path.join(d, name)


def client_env(topo):
    """The environment of a library / CLI client on the topology."""
    env = dict(os.environ)
    env.update({"WHARF_AMQP_URL": ",".join(topo.amqp_urls), "WHARF_REDIS_URL": topo.redis_url,
                "WHARF_REDIS_PREFIX": topo.prefix, "WHARF_PROBE_TIMEOUT_MS": "10000"})
    return env


class Probe:
    """One wharf-client-probe (the C library), one command at a time."""

    def __init__(self, name, topo, rec, log_dir):
        self.name, self.rec = name, rec
        self.lock = threading.Lock()
        self.logf = open(os.path.join(log_dir, name + ".log"), "ab")
        self.proc = subprocess.Popen([bin_path("wharf-client-probe")], env=client_env(topo), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.logf, text=True, bufsize=1)
        rec.proc(name, self.proc.pid, "start")
        first = self.proc.stdout.readline().strip()
        if first != "ready":
            raise RuntimeError("%s did not start: %r" % (name, first))

    def call(self, line):
        """The reply line, or None when the probe is gone."""
        with self.lock:
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
                return self.proc.stdout.readline().strip() or None
            except (OSError, ValueError):
                return None

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.rec.proc_exit(self.name, self.proc.pid, rc)
        self.logf.close()


class Http:
    """Requests to `wharf serve` with the topology's token."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.token = u.hostname, u.port, token

    def request(self, method, path, body=None, timeout=15):
        """(status, parsed JSON or None); raises OSError when there is no answer."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            h = {"Authorization": "Bearer " + self.token}
            data = None
            if body is not None:
                data, h["Content-Type"] = json.dumps(body).encode(), "application/json"
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw) if raw else None
            except ValueError:
                return r.status, {"raw": raw[:200].decode("utf-8", "replace")}
        finally:
            c.close()


def submit_lib(probe, spec):
    """(ok, error_code, returned_id) of one submit through the library."""
    line = probe.call("submitj " + json.dumps(spec))
    if line is None:
        return False, "probe_gone", None
    parts = line.split(" ", 3)
    if parts[0] == "ok" and len(parts) >= 2:
        return True, None, parts[1]
    return False, parts[1] if len(parts) > 1 else "?", None


def submit_http(api, spec):
    try:
        st, b = api.request("POST", "/v1/jobs", spec)
    except (OSError, http.client.HTTPException) as ex:
        return False, "http_" + type(ex).__name__, None
    if st in (200, 201) and isinstance(b, dict) and b.get("id"):
        return True, None, b["id"]
    err = (b or {}).get("error") if isinstance(b, dict) else None
    return False, err.get("code", str(st)) if isinstance(err, dict) else "http_%d" % st, None
