#!/usr/bin/python3
"""The fleet in `wharf serve`'s HTTP API against real servers and a private
dockerd: hosts with their sync summary and reachability, containers from the
last host.sync (and ?refresh=1), container actions as jobs, container logs
(plain, SSE follow, gap, Last-Event-ID resume), stats series, update checks,
read-only tokens, and worker control (quiet, drain) over HTTP and the CLI."""
import http.client
import json
import os
import secrets
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for
IMG = dockerd.BUSYBOX_IMAGE
TERMINAL = ("succeeded", "failed", "dead", "cancelled")


def write_config(path, sock, roots, read_token_file=None):
    with open(path, "w") as f:
        f.write("[host.dock]\ndocker = unix://%s\nroots = %s\n" % (sock, roots))
        f.write("[host.gone]\ndocker = unix://%s/nothing.sock\n" % roots)
        f.write("[host.sshonly]\naddress = 127.0.0.1\n")
        if read_token_file:
            f.write("[serve]\nread_token_file = %s\n" % read_token_file)


class SseReader:
    """Read a text/event-stream that does not end by itself, event by event,
    with a deadline; close() when done."""

    def __init__(self, srv, path, headers=None, timeout=20):
        self.conn = srv.conn(timeout=timeout)
        h = {"Authorization": "Bearer " + srv.token}
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.ctype = self.resp.getheader("Content-Type", "")
        self.events = wharfserve.sse_iter(iter(self.resp.fp.readline, b""))

    def next(self):
        """(event, id, data as JSON) of the next event; EOFError at the end."""
        got = next(self.events, None)
        if got is None:
            raise EOFError("stream ended")
        return got[0], got[1], json.loads(got[2])

    def close(self):
        self.conn.close()


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = dockerd.Dockerd.start(env.tmp)
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        cls.d.busybox_image()
        cls.roots = tempfile.mkdtemp(prefix="roots-", dir=env.tmp)
        cls.read_token = secrets.token_hex(20)
        rt = os.path.join(env.tmp, "read-tokens-%s" % secrets.token_hex(4))
        with open(rt, "w") as f:
            f.write("# read-only\n%s\n" % cls.read_token)
        cls.cfg = os.path.join(env.tmp, "fleet-%s.ini" % secrets.token_hex(4))
        write_config(cls.cfg, cls.d.sock, cls.roots, rt)
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=4, families="runtime,registry,system",
                                      args=["--config", cls.cfg])
        cls.srv = wharfserve.start(env, cls.amqp, cls.prefix, config=cls.cfg)
        for name, cmd in (("fl-run", ["sleep", "300"]), ("fl-stop", ["true"]),
                          ("fl-log", ["sh", "-c", "echo one; echo two >&2; echo three; sleep 300"])):
            cls.d.docker(["create", "--name", name, "--network", "none", IMG] + cmd)
        cls.d.docker(["start", "fl-run"])
        cls.d.docker(["start", "fl-log"])

    @classmethod
    def tearDownClass(cls):
        for stop in (lambda: cls.srv.stop(), lambda: cls.worker.stop(), cls.d.stop):
            try:
                stop()
            except AttributeError:
                pass  # set-up failed before it was made
        # serve's exit status: 0 also means LeakSanitizer found nothing
        if hasattr(cls, "srv"):
            assert cls.srv.proc.returncode == 0, cls.srv.log_text()[-4000:]

    def req(self, *a, **kw):
        return self.srv.request(*a, **kw)

    def get(self, path, expect=200):
        st, _, b = self.req("GET", path)
        self.assertEqual(st, expect, (path, b))
        return b

    def wait_job(self, jid, timeout=60):
        def done():
            st, _, b = self.req("GET", "/v1/jobs/" + jid)
            return b if st == 200 and b["state"] in TERMINAL else None
        return wait_for(done, timeout=timeout, what="job %s finished" % jid)

    def submit(self, type_, args, target="dock"):
        st, _, b = self.req("POST", "/v1/jobs", {"type": type_, "target": target, "args": args})
        self.assertEqual(st, 201, b)
        return self.wait_job(b["id"])

    def refresh(self, host="dock"):
        b = self.get("/v1/hosts/%s/containers?refresh=1&wait_s=30" % host)
        self.assertTrue(b["refresh"]["done"], b["refresh"])
        return b

    def ctr(self, name):
        return {c["name"]: c for c in self.refresh()["containers"]}.get(name)

    def assert_error(self, st, b, status, code, field):
        self.assertEqual(st, status, b)
        self.assertEqual((b["error"]["code"], b["error"]["field"]), (code, field), b)

    # ---------------------------------------------------------------- hosts

    def test_hosts_sync_summary_and_reachability(self):
        hosts = {h["name"]: h for h in self.get("/v1/hosts")["hosts"]}
        self.assertEqual(set(hosts), {"dock", "gone", "sshonly"})
        self.assertEqual(hosts["dock"]["families"], ["runtime", "registry"])
        self.assertEqual((hosts["dock"]["docker"], hosts["dock"]["ssh"]), ("unix", False))
        self.assertEqual((hosts["sshonly"]["families"], hosts["sshonly"]["docker"]), (["provision"], None))
        b = self.refresh()
        self.assertEqual(b["refresh"]["state"], "succeeded", b)
        names = {c["name"]: c for c in b["containers"]}
        self.assertEqual(names["fl-run"]["state"], "running", names)
        self.assertEqual(names["fl-stop"]["state"], "created", names)
        self.assertEqual(names["fl-run"]["image"], IMG)
        self.assertEqual([c["name"] for c in b["containers"]], sorted(names))
        self.assertGreater(b["synced_at"], 0)
        dock = {h["name"]: h for h in self.get("/v1/hosts")["hosts"]}["dock"]
        self.assertIs(dock["reachable"], True, dock)
        self.assertGreaterEqual(dock["sync"]["containers"], 3, dock)
        self.assertGreaterEqual(dock["sync"]["states"]["running"], 2, dock)
        self.assertGreaterEqual(dock["sync"]["images"], 1, dock)
        self.assertEqual(dock["sync"]["synced_at"], b["synced_at"])
        # an engine that does not answer: the refresh fails and says so
        b = self.get("/v1/hosts/gone/containers?refresh=1&wait_s=30")
        # (unreachable is transient: its one attempt used, the job is dead)
        self.assertEqual((b["refresh"]["state"], b["refresh"]["error"]), ("dead", "unreachable"), b)
        self.assertIn("gone", b["refresh"]["error_message"])
        self.assertEqual((b["containers"], b["synced_at"]), ([], None))
        gone = {h["name"]: h for h in self.get("/v1/hosts")["hosts"]}["gone"]
        self.assertIs(gone["reachable"], False, gone)
        self.assertEqual(gone["reach"]["error"], "unreachable", gone)
        self.assertIsNone(gone["sync"], gone)

    def test_unknown_host_and_bad_names(self):
        for path in ("/v1/hosts/nohost/containers", "/v1/hosts/nohost/containers/x", "/v1/hosts/nohost/stats",
                     "/v1/hosts/nohost/updates", "/v1/hosts/nohost/containers/x/logs"):
            st, _, b = self.req("GET", path)
            self.assert_error(st, b, 404, "not_found", "host")
            self.assertIn("nohost", b["error"]["message"])
        st, _, b = self.req("POST", "/v1/hosts/nohost/containers/x/stop")
        self.assert_error(st, b, 404, "not_found", "host")
        st, _, b = self.req("GET", "/v1/hosts/dock/containers/-bad")
        self.assert_error(st, b, 400, "usage", "name")
        st, _, b = self.req("GET", "/v1/hosts/dock/containers/nope")
        self.assert_error(st, b, 404, "not_found", "name")
        st, _, b = self.req("GET", "/v1/hosts/dock/containers?refresh=2")
        self.assert_error(st, b, 400, "usage", "refresh")
        st, _, b = self.req("GET", "/v1/hosts/dock/containers?refresh=1&wait_s=61")
        self.assert_error(st, b, 400, "usage", "wait_s")

    def test_one_container(self):
        self.refresh()
        c = self.get("/v1/hosts/dock/containers/fl-run")
        self.assertEqual((c["name"], c["host"], c["state"], c["image"]), ("fl-run", "dock", "running", IMG))
        self.assertEqual(len(c["id"]), 64)
        self.assertIsNone(c["health"])
        self.assertTrue(c["status"].startswith("Up"), c)

    # ---------------------------------------------------------------- actions

    def act(self, name, action, body=None, expect=202):
        st, h, b = self.req("POST", "/v1/hosts/dock/containers/%s/%s" % (name, action), body)
        self.assertEqual(st, expect, b)
        if expect == 202:
            self.assertEqual(h["location"], "/v1/jobs/" + b["id"])
        return b

    def test_actions_are_jobs(self):
        self.d.docker(["create", "--name", "fl-act", "--network", "none", IMG, "sleep", "300"])
        b = self.act("fl-act", "start")
        self.assertEqual((b["type"], b["target"]), ("runtime.container.start", "dock"), b)
        self.assertEqual(self.wait_job(b["id"])["state"], "succeeded")
        self.assertEqual(self.ctr("fl-act")["state"], "running")
        b = self.act("fl-act", "stop", {"timeout_s": 1})
        self.assertEqual(b["type"], "runtime.container.stop")
        self.assertEqual(self.wait_job(b["id"])["state"], "succeeded")
        self.assertEqual(self.ctr("fl-act")["state"], "exited")
        # stopping a stopped container: the job says conflict
        s = self.wait_job(self.act("fl-act", "stop")["id"])
        self.assertEqual((s["state"], s["error"]), ("failed", "conflict"), s)
        s = self.wait_job(self.act("fl-act", "restart", {"timeout_s": 1})["id"])
        self.assertEqual(s["state"], "succeeded", s)
        self.assertEqual(self.ctr("fl-act")["state"], "running")
        s = self.wait_job(self.act("fl-act", "remove", {"force": True})["id"])
        self.assertEqual(s["state"], "succeeded", s)
        self.assertIsNone(self.ctr("fl-act"))
        # update: the dry run first, as the dashboard asks
        b = self.act("fl-run", "update", {"dry_run": True})
        self.assertEqual(b["type"], "registry.update_container")
        self.assertIn(self.wait_job(b["id"])["state"], TERMINAL)
        self.assertEqual(self.ctr("fl-run")["state"], "running")

    def test_action_errors_name_the_field(self):
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/fl-run/explode")
        self.assert_error(st, b, 404, "not_found", "action")
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/fl-run/stop", {"timeout_s": -1})
        self.assert_error(st, b, 400, "bad_args", "args.timeout_s")
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/fl-run/stop", {"name": "other"})
        self.assert_error(st, b, 400, "bad_args", "args.name")
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/fl-run/update", {"tag": "no/slash"})
        self.assert_error(st, b, 400, "bad_args", "args.tag")
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/fl-run/stop", "[]")
        self.assert_error(st, b, 400, "bad_envelope", "body")
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/-x/stop")
        self.assert_error(st, b, 400, "usage", "name")
        st, _, b = self.req("GET", "/v1/hosts/dock/containers/fl-run/stop")
        self.assertEqual(st, 405, b)
        st, _, b = self.req("POST", "/v1/hosts/dock/containers/fl-run/stop", token=None)
        self.assertEqual(st, 401, b)

    # ---------------------------------------------------------------- logs

    def test_container_logs_plain_and_follow(self):
        s = self.submit("runtime.container.logs", {"name": "fl-log", "timestamps": True})
        self.assertEqual(s["state"], "succeeded", s)
        lines = self.get("/v1/hosts/dock/containers/fl-log/logs")["lines"]
        self.assertEqual(sorted(ln["l"] for ln in lines), ["one", "three", "two"], lines)
        self.assertEqual({ln["l"]: ln["s"] for ln in lines}["two"], "err")
        self.assertTrue(all(ln["t"].startswith("20") for ln in lines), lines)
        tail = self.get("/v1/hosts/dock/containers/fl-log/logs?tail=1")["lines"]
        self.assertEqual(tail, lines[-1:])
        st, _, b = self.req("GET", "/v1/hosts/dock/containers/fl-stop/logs")
        self.assert_error(st, b, 404, "not_found", "name")
        st, _, b = self.req("GET", "/v1/hosts/dock/containers/fl-log/logs?tail=0")
        self.assert_error(st, b, 400, "usage", "tail")
        # follow: the lines so far, then new ones as they are added
        sse = SseReader(self.srv, "/v1/hosts/dock/containers/fl-log/logs?follow=1")
        try:
            self.assertEqual((sse.status, sse.ctype), (200, "text/event-stream"))
            got = [sse.next() for _ in range(3)]
            self.assertEqual([e[0] for e in got], ["line"] * 3)
            self.assertEqual([e[1] for e in got], [ln["id"] for ln in lines])
            self.assertEqual(got[0][2], {"s": lines[0]["s"], "l": lines[0]["l"], "t": lines[0]["t"]})
            key = "%shost:dock:ctr:fl-log:log" % self.prefix
            env.redis().xadd(key, {"s": "out", "l": "live line"})
            ev, _, data = sse.next()
            self.assertEqual((ev, data), ("line", {"s": "out", "l": "live line"}))
        finally:
            sse.close()
        # Last-Event-ID resumes after that line
        sse = SseReader(self.srv, "/v1/hosts/dock/containers/fl-log/logs?follow=1",
                        headers={"Last-Event-ID": lines[1]["id"]})
        try:
            self.assertEqual(sse.next()[1], lines[2]["id"])
        finally:
            sse.close()
        # tail with follow starts at the last N
        sse = SseReader(self.srv, "/v1/hosts/dock/containers/fl-log/logs?follow=1&tail=1")
        try:
            self.assertEqual(sse.next()[2]["l"], "live line")
        finally:
            sse.close()

    def test_container_log_gap(self):
        # Lines the stream's cap removed before they were read come as one gap
        # event, as for job logs (a stream written here, trimmed exactly).
        key = "%shost:dock:ctr:fl-gap:log" % self.prefix
        r = env.redis()
        for i in range(10):
            r.xadd(key, {"s": "out", "l": "g%d" % i})
        r.xtrim(key, maxlen=4, approximate=False)
        sse = SseReader(self.srv, "/v1/hosts/dock/containers/fl-gap/logs?follow=1")
        try:
            self.assertEqual(sse.next()[0::2], ("gap", {"missing": 6}))
            self.assertEqual([sse.next()[2]["l"] for _ in range(4)], ["g6", "g7", "g8", "g9"])
        finally:
            sse.close()
        # a stream not written yet can be followed: it starts with its first line
        sse = SseReader(self.srv, "/v1/hosts/dock/containers/fl-later/logs?follow=1")
        try:
            r.xadd("%shost:dock:ctr:fl-later:log" % self.prefix, {"s": "out", "l": "first"})
            self.assertEqual(sse.next()[2]["l"], "first")
        finally:
            sse.close()

    # ---------------------------------------------------------------- stats, updates

    def test_stats_series(self):
        for _ in range(2):  # CPU needs two sweeps
            self.assertEqual(self.submit("runtime.host.stats", {})["state"], "succeeded")
        b = self.get("/v1/hosts/dock/stats?minutes=5")
        self.assertEqual((b["host"], b["container"], b["step_s"]), ("dock", None, 60))
        self.assertGreaterEqual(len(b["points"]), 1, b)
        p = b["points"][-1]
        self.assertGreaterEqual(p["n"], 1)
        self.assertGreater(p["mem_max"], 0, p)
        self.assertEqual(p["t"] % 60, 0)
        c = self.get("/v1/hosts/dock/stats?minutes=5&container=fl-run")
        self.assertEqual(c["container"], "fl-run")
        self.assertGreaterEqual(sum(pt["n"] for pt in c["points"]), 2, c)
        self.assertIsNotNone(c["points"][-1]["cpu_avg"], c)
        h = self.get("/v1/hosts/dock/stats?hours=2")
        self.assertEqual(h["step_s"], 3600)
        self.assertEqual(h["points"][-1]["t"] % 3600, 0)
        self.assertEqual(self.get("/v1/hosts/dock/stats?minutes=5&container=nothing-here")["points"], [])
        dock = {x["name"]: x for x in self.get("/v1/hosts")["hosts"]}["dock"]
        self.assertGreater(dock["stats_at"], 0, dock)
        for q, field in (("minutes=0", "minutes"), ("hours=721", "hours"), ("minutes=5&hours=1", "hours"),
                         ("container=-x", "container")):
            st, _, e = self.req("GET", "/v1/hosts/dock/stats?" + q)
            self.assert_error(st, e, 400, "usage", field)

    def test_updates(self):
        empty = self.get("/v1/hosts/gone/updates")
        self.assertEqual((empty["containers"], empty["checked_at"]), ([], None))
        self.assertEqual(self.submit("registry.update_check", {})["state"], "succeeded")
        b = self.get("/v1/hosts/dock/updates")
        by = {e["container"]: e for e in b["containers"]}
        self.assertIn("fl-run", by, b)
        self.assertIn(by["fl-run"]["status"], ("ok", "error", "no_registry", "unsupported"))
        self.assertGreater(b["checked_at"], 0)

    # ---------------------------------------------------------------- tokens

    def test_read_only_token_reads_and_cannot_write(self):
        ro = self.read_token
        for path in ("/v1/hosts", "/v1/hosts/dock/containers", "/v1/hosts/dock/stats", "/v1/jobs", "/v1/workers"):
            st, _, b = self.req("GET", path, token=ro)
            self.assertEqual(st, 200, (path, b))
        for method, path, body in (("POST", "/v1/hosts/dock/containers/fl-run/stop", None),
                                   ("POST", "/v1/jobs", {"type": "system.noop"}),
                                   ("POST", "/v1/workers/w/quiet", None),
                                   ("POST", "/v1/dead/purge", None),
                                   ("DELETE", "/v1/schedules/x", None)):
            st, _, b = self.req(method, path, body, token=ro)
            self.assert_error(st, b, 403, "unauthorized", "Authorization")
            self.assertIn("read-only", b["error"]["message"])
        self.assertEqual(self.ctr("fl-run")["state"], "running")


class WorkerControlTest(wharfserve.ServeCase):
    """quiet and drain through Redis, on a worker of its own (vhost, prefix
    and serve of this test only), with a one-second heartbeat."""

    env = env

    def start(self):
        w = env.start_worker(self.amqp, self.prefix, concurrency=2, extra_env={"WHARF_WORKER_HEARTBEAT_S": "1"})
        st, _, b = self.srv.request("GET", "/v1/workers")
        me = [x for x in b["workers"] if x["pid"] == w.proc.pid]
        self.assertEqual(len(me), 1, b)
        self.assertEqual(me[0]["state"], "running")
        return w, me[0]["id"]

    def worker(self, wid):
        st, _, b = self.srv.request("GET", "/v1/workers")
        return {x["id"]: x for x in b["workers"]}.get(wid)

    def job(self, body):
        st, _, b = self.srv.request("POST", "/v1/jobs", body)
        self.assertEqual(st, 201, b)
        return b["id"]

    def state(self, jid):
        return self.srv.request("GET", "/v1/jobs/" + jid)[2]["state"]

    def test_quiet_then_drain(self):
        w, wid = self.start()
        try:
            sleeper = self.job({"type": "system.sleep", "args": {"ms": 3000}})
            wait_for(lambda: self.state(sleeper) == "running", what="the sleep job running")
            st, _, b = self.srv.request("POST", "/v1/workers/%s/quiet" % wid)
            self.assertEqual((st, b), (202, {"id": wid, "command": "quiet"}))
            wait_for(lambda: (self.worker(wid) or {}).get("state") == "quiet", timeout=5, what="state quiet")
            later = self.job({"type": "system.noop"})
            time.sleep(2)
            self.assertEqual(self.state(later), "queued", "a quiet worker took a new job")
            wait_for(lambda: self.state(sleeper) == "succeeded", timeout=10, what="the running job finished")
            self.assertIsNone(w.proc.poll(), "a quiet worker stays up")
            self.assertEqual(self.state(later), "queued")
            # drain through the CLI: the worker exits cleanly within a heartbeat or two
            p = env.wharf(["workers", "drain", wid], self.amqp, self.prefix)
            self.assertEqual((p.returncode, p.stdout), (0, "%s drain requested\n" % wid), p.stderr)
            wait_for(lambda: w.proc.poll() is not None, timeout=10, what="the drained worker exited")
            self.assertEqual(w.proc.returncode, 0, w.log_tail())
            self.assertIsNone(self.worker(wid))
        finally:
            if w.proc.poll() is None:
                w.stop()
        # the job it left is still there for the next worker
        w2, _ = self.start()
        try:
            wait_for(lambda: self.state(later) == "succeeded", timeout=20, what="the left job ran")
        finally:
            w2.stop()

    def test_control_errors(self):
        st, _, b = self.srv.request("POST", "/v1/workers/no-such-worker/quiet")
        self.assertEqual((st, b["error"]["code"], b["error"]["field"]), (404, "not_found", "id"), b)
        st, _, b = self.srv.request("POST", "/v1/workers/no-such-worker/pause")
        self.assertEqual((st, b["error"]["code"], b["error"]["field"]), (404, "not_found", "command"), b)
        p = env.wharf(["workers", "quiet", "no-such-worker"], self.amqp, self.prefix)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no live worker", p.stderr)
        p = env.wharf(["workers", "pause", "x"], self.amqp, self.prefix)
        self.assertEqual(p.returncode, 2, p.stderr)


if __name__ == "__main__":
    unittest.main()
