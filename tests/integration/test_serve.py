#!/usr/bin/python3
"""`wharf serve` against real servers: auth, every route, body and header
limits, errors that name the field, SSE log following, health and metrics,
and the loopback-only rule of --insecure-no-auth."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for

# Every route with a request that reaches its handler when authorized.
ROUTES = [
    ("POST", "/v1/jobs", {"type": "system.noop"}),
    ("GET", "/v1/jobs", None),
    ("GET", "/v1/jobs/some-id", None),
    ("POST", "/v1/jobs/some-id/cancel", None),
    ("GET", "/v1/jobs/some-id/logs", None),
    ("GET", "/v1/workers", None),
    ("GET", "/v1/stats", None),
    ("GET", "/v1/schedules", None),
    ("POST", "/v1/schedules", {"name": "n", "type": "system.noop", "every_s": 60}),
    ("DELETE", "/v1/schedules/n", None),
    ("GET", "/v1/dead", None),
    ("POST", "/v1/dead/retry", {"id": "x"}),
    ("POST", "/v1/dead/purge", None),
    ("GET", "/metrics", None),
    ("POST", "/v1/workers/w1/quiet", None),
    ("GET", "/v1/hosts", None),
    ("GET", "/v1/hosts/h/containers", None),
    ("GET", "/v1/hosts/h/containers/c", None),
    ("GET", "/v1/hosts/h/containers/c/logs", None),
    ("POST", "/v1/hosts/h/containers/c/stop", None),
    ("GET", "/v1/hosts/h/stats", None),
    ("GET", "/v1/hosts/h/updates", None),
]


def sse_events(resp):
    """Parse a text/event-stream response into [(event, id, data)] until EOF."""
    return list(wharfserve.sse_iter(resp))


def parse_prometheus(text):
    """{name: {"type": t, "samples": [(labels dict, value)]}}; raises on any
    line that is not a comment, a sample or blank, and on a sample whose
    family was not declared before it or is split into several groups."""
    fams, order = {}, []
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.eE+]+|NaN|\+Inf|-Inf)$')
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            fams[name] = {"type": typ, "samples": []}
            continue
        m = sample.match(line)
        if not m:
            raise AssertionError("not Prometheus text: %r" % line)
        name = m.group(1)
        fam = name if name in fams else re.sub(r"_(bucket|sum|count)$", "", name)
        if fam not in fams:
            raise AssertionError("sample before its # TYPE: %r" % line)
        if order and order[-1] != fam and fam in order:
            raise AssertionError("family %s is split into several groups" % fam)
        if not order or order[-1] != fam:
            order.append(fam)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        fams[fam]["samples"].append((name, labels, float(m.group(4))))
    return fams


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=2)
        cls.srv = wharfserve.start(env, cls.amqp, cls.prefix)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.worker.stop()
        # 0 also means LeakSanitizer (sanitizer builds) found nothing after every route ran
        assert rc == 0, "wharf serve exited %s:\n%s" % (rc, cls.srv.log_text()[-4000:])

    def req(self, *a, **kw):
        return self.srv.request(*a, **kw)

    def submit(self, body, expect=201):
        st, _, b = self.req("POST", "/v1/jobs", body)
        self.assertEqual(st, expect, b)
        return b

    def wait_state(self, jid, states=("succeeded", "failed", "dead", "cancelled"), timeout=20):
        def done():
            st, _, b = self.req("GET", "/v1/jobs/" + jid)
            return b if st == 200 and b["state"] in states else None
        return wait_for(done, timeout=timeout, what="job %s in %s" % (jid, states))

    # ---- auth ----

    def test_every_route_needs_a_valid_token(self):
        for method, path, body in ROUTES:
            for token in (None, "wrong-token-0123456789abcdef", self.srv.token + "x", self.srv.token[:-1]):
                st, h, b = self.req(method, path, body, token=token)
                self.assertEqual(st, 401, (method, path, token, b))
                self.assertEqual(h.get("www-authenticate"), 'Bearer realm="wharf"', (method, path))
                self.assertEqual(b["error"]["code"], "unauthorized")
        # unknown routes too, so probing reveals nothing
        st, _, _ = self.req("GET", "/v1/secret", token=None)
        self.assertEqual(st, 401)
        # a scheme other than Bearer is refused
        st, _, _ = self.req("GET", "/v1/workers", token=None, headers={"Authorization": "Basic " + self.srv.token})
        self.assertEqual(st, 401)
        st, _, b = self.req("GET", "/v1/workers")
        self.assertEqual(st, 200, b)
        # one access-log line per request, and never the token
        log = self.srv.log_text()
        self.assertRegex(log, r"msg=request method=GET path=/v1/secret status=401 ms=\d+")
        self.assertNotIn(self.srv.token, log)

    def test_healthz_is_open_and_reports_both_servers(self):
        st, _, b = self.req("GET", "/healthz", token=None)
        self.assertEqual(st, 200, b)
        self.assertEqual(b, {"status": "ok", "redis": {"ok": True}, "amqp": {"ok": True}})

    def test_healthz_is_503_naming_redis_when_it_is_unreachable(self):
        dead_port = wharfserve.free_port()
        other = wharfserve.start(env, self.amqp, self.prefix,
                                 extra_env={"WHARF_REDIS_URL": "redis://127.0.0.1:%d/0" % dead_port})
        try:
            st, _, b = other.request("GET", "/healthz", token=None)
            self.assertEqual(st, 503, b)
            self.assertEqual(b["status"], "unavailable")
            self.assertFalse(b["redis"]["ok"])
            self.assertIn("127.0.0.1", b["redis"]["error"])
            self.assertTrue(b["amqp"]["ok"])
            st, _, b = other.request("GET", "/v1/jobs/abc")
            self.assertEqual(st, 503, b)
            self.assertEqual(b["error"]["code"], "redis_error")
        finally:
            other.stop()

    # ---- submit ----

    def test_submit_is_idempotent_201_then_200(self):
        body = {"id": "idem-1", "type": "system.noop", "args": {"x": 1}}
        st, h, first = self.req("POST", "/v1/jobs", body)
        self.assertEqual(st, 201, first)
        self.assertEqual(h["location"], "/v1/jobs/idem-1")
        self.assertEqual(first["id"], "idem-1")
        self.assertEqual(first["type"], "system.noop")
        self.assertIn(first["state"], ("queued", "running", "succeeded"))
        again = self.submit(body, 200)
        self.assertEqual(again["id"], "idem-1")
        done = self.wait_state("idem-1")
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], {"x": 1})
        self.submit(body, 200)
        self.assertEqual(self.req("GET", "/v1/jobs/idem-1")[2]["attempt"], 1)  # ran once

    def test_submit_generates_an_id_and_passes_options(self):
        b = self.submit({"type": "system.sleep", "args": {"ms": 1}, "max_attempts": 7, "meta": {"who": "t"}})
        self.assertRegex(b["id"], r"^[A-Za-z0-9_-]{22}$")
        self.assertEqual(self.wait_state(b["id"])["max_attempts"], 7)

    def test_bad_bodies_get_400_naming_the_field(self):
        cases = [
            ({"args": {}}, "bad_envelope", "type"),
            ({"type": 5}, "bad_envelope", "type"),
            ({"type": "system.nope"}, "unknown_type", "type"),
            ({"type": "system.sleep"}, "bad_args", "args.ms"),
            ({"type": "system.sleep", "args": {"ms": "x"}}, "bad_args", "args.ms"),
            ({"type": "system.sleep", "args": {"ms": 1, "typo": 1}}, "bad_args", "args.typo"),
            ({"type": "system.noop", "args": [1]}, "bad_envelope", "args"),
            ({"type": "system.noop", "id": "a b"}, "bad_envelope", "id"),
            ({"type": "system.noop", "id": "x" * 65}, "bad_envelope", "id"),
            ({"type": "system.noop", "max_attempts": "3"}, "bad_envelope", "max_attempts"),
            ({"type": "system.noop", "max_attempts": 0}, "bad_envelope", "max_attempts"),
            ({"type": "system.noop", "priority": 10}, "bad_envelope", "priority"),
            ({"type": "system.noop", "timeout_s": 1.5}, "bad_envelope", "timeout_s"),
            ({"type": "system.noop", "run_at": -1}, "bad_envelope", "run_at"),
            ({"type": "system.noop", "unique_for_s": 0}, "bad_envelope", "unique_for_s"),
            ({"type": "system.noop", "lock": 3}, "bad_envelope", "lock"),
            ({"type": "system.noop", "meta": [1]}, "bad_envelope", "meta"),
            ({"type": "system.noop", "v": 2}, "unsupported_schema", "v"),
            ({"type": "system.noop", "v": "1"}, "bad_envelope", "v"),
        ]
        for body, code, field in cases:
            st, _, b = self.req("POST", "/v1/jobs", body)
            self.assertEqual(st, 400, (body, b))
            self.assertEqual((b["error"]["code"], b["error"]["field"]), (code, field), body)
            self.assertTrue(b["error"]["message"], body)
        for raw in ("{bad", "[1,2]", "", '{"type": "system.noop", "type": "system.noop"}', "\xff"):
            st, _, b = self.req("POST", "/v1/jobs", raw.encode("latin-1"))
            self.assertEqual(st, 400, (raw, b))
            self.assertEqual(b["error"]["field"], "body", raw)

    def test_submit_reports_every_problem_of_a_collecting_type(self):
        # as `wharf submit` does: one 400 naming the first field, every
        # problem in the message
        args = {"hostname": "Bad_Host", "template": "tmpl", "ssh_public_key": "nospace", "http_port": 0,
                "repo": "ftp://x/y", "protocols": ["ssh", "FTP!"]}
        st, _, b = self.req("POST", "/v1/jobs", {"type": "provision.container", "target": "h", "args": args})
        self.assertEqual(st, 400, b)
        self.assertEqual((b["error"]["code"], b["error"]["field"]), ("bad_args", "args.http_port"), b)
        msg = b["error"]["message"]
        self.assertTrue(msg.startswith("5 problem(s): "), msg)
        for field in ("args.hostname", "args.ssh_public_key", "args.http_port", "args.repo", "args.protocols[1]"):
            self.assertIn(field + ": ", msg)
        st, _, b = self.req("POST", "/v1/jobs", {"type": "runtime.container.create", "target": "h",
                                                 "args": {"image": "i", "ports": [{"container": 80},
                                                                                 {"container": 70000}]}})
        self.assertEqual((st, b["error"]["field"]), (400, "args.ports[1]"), b)
        self.assertTrue(b["error"]["message"].startswith("args.ports[1]: "), b)

    def test_wrong_content_type_is_415(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", None):
            st, _, b = self.req("POST", "/v1/jobs", '{"type":"system.noop"}', content_type=ctype)
            self.assertEqual(st, 415, (ctype, b))
            self.assertEqual(b["error"]["field"], "Content-Type")
        st, _, b = self.req("POST", "/v1/jobs", '{"type":"system.noop"}', content_type="application/json; charset=utf-8")
        self.assertEqual(st, 201, b)

    def test_oversize_body_is_413_declared_or_chunked(self):
        big = b'{"type":"system.noop","args":{"pad":"' + b"x" * (1 << 20) + b'"}}'
        st, h, b = self.req("POST", "/v1/jobs", big)
        self.assertEqual(st, 413, b)
        self.assertEqual(b["error"]["code"], "too_large")
        # chunked: no Content-Length, so the cap is enforced while reading
        c = self.srv.conn()
        try:
            c.putrequest("POST", "/v1/jobs")
            c.putheader("Authorization", "Bearer " + self.srv.token)
            c.putheader("Content-Type", "application/json")
            c.putheader("Transfer-Encoding", "chunked")
            c.endheaders()
            for _ in range(20):
                chunk = b"x" * 65536
                c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            c.send(b"0\r\n\r\n")
            r = c.getresponse()
            self.assertEqual(r.status, 413)
            self.assertEqual(json.loads(r.read())["error"]["code"], "too_large")
        finally:
            c.close()
        # the server still serves
        self.assertEqual(self.req("GET", "/v1/workers")[0], 200)

    def test_oversize_headers_are_refused(self):
        st, _, _ = self.req("GET", "/v1/workers", headers={"X-Pad": "y" * 40000})
        self.assertIn(st, (413, 431))
        self.assertEqual(self.req("GET", "/v1/workers")[0], 200)

    # ---- reading jobs ----

    def test_unknown_id_is_404_and_odd_ids_are_rejected(self):
        st, _, b = self.req("GET", "/v1/jobs/never-submitted")
        self.assertEqual(st, 404, b)
        self.assertEqual(b["error"]["code"], "not_found")
        for path in ("/v1/jobs/..", "/v1/jobs/a%20b", "/v1/jobs/%2e%2e", "/v1/jobs/" + "x" * 65,
                     "/v1/jobs/a.b", "/v1/jobs/..%2f..%2fetc%2fpasswd/logs", "/v1/jobs/*", "/v1/jobs/%00"):
            st, _, b = self.req("GET", path)
            self.assertIn(st, (400, 404), (path, b))
            if st == 400:
                self.assertEqual(b["error"]["field"], "id", path)
        for path in ("/v1/jobs/..", "/v1/jobs/a.b/cancel", "/v1/jobs/%2e%2e/logs"):
            method = "POST" if path.endswith("cancel") else "GET"
            st, _, b = self.req(method, path)
            self.assertEqual(st, 400, (path, b))
        st, _, b = self.req("GET", "/v1/jobs/never-submitted/logs")
        self.assertEqual(st, 404, b)

    def test_list_recent_jobs_with_filters(self):
        ids = [self.submit({"type": "system.noop", "id": "list-%d" % i})["id"] for i in range(3)]
        fail = self.submit({"type": "system.fail", "id": "list-fail", "args": {"code": "nope"}})["id"]
        for j in ids + [fail]:
            self.wait_state(j)
        st, _, b = self.req("GET", "/v1/jobs?limit=1000")
        self.assertEqual(st, 200, b)
        got = [j["id"] for j in b["jobs"]]
        for j in ids + [fail]:
            self.assertIn(j, got)
        self.assertLess(got.index("list-2"), got.index("list-0"))  # newest first
        st, _, b = self.req("GET", "/v1/jobs?state=failed&limit=1000")
        self.assertEqual({j["state"] for j in b["jobs"]}, {"failed"})
        self.assertIn(fail, [j["id"] for j in b["jobs"]])
        st, _, b = self.req("GET", "/v1/jobs?type=system.fail&limit=1000")
        self.assertEqual({j["type"] for j in b["jobs"]}, {"system.fail"})
        st, _, b = self.req("GET", "/v1/jobs?limit=2")
        self.assertEqual(len(b["jobs"]), 2)
        for bad in ("0", "1001", "x", ""):
            st, _, b = self.req("GET", "/v1/jobs?limit=" + bad)
            self.assertEqual(st, 400, (bad, b))
            self.assertEqual(b["error"]["field"], "limit")

    def test_logs_tail(self):
        jid = self.submit({"type": "system.log", "args": {"lines": 50, "bytes": 20}})["id"]
        self.wait_state(jid)
        st, _, b = self.req("GET", "/v1/jobs/%s/logs" % jid)
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["lines"]), 50)
        self.assertTrue(b["lines"][0]["l"].startswith("line 1 "), b["lines"][0])
        st, _, b = self.req("GET", "/v1/jobs/%s/logs?tail=3" % jid)
        self.assertEqual([x["l"].split()[1] for x in b["lines"]], ["48", "49", "50"])
        self.assertEqual({x["s"] for x in b["lines"]}, {"out"})
        st, _, b = self.req("GET", "/v1/jobs/%s/logs?tail=0" % jid)
        self.assertEqual(st, 400, b)

    def follow(self, jid, query="follow=1", headers=None, timeout=60):
        c = self.srv.conn(timeout)
        h = {"Authorization": "Bearer " + self.srv.token}
        h.update(headers or {})
        c.request("GET", "/v1/jobs/%s/logs?%s" % (jid, query), headers=h)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/event-stream"))
        try:
            return sse_events(r)
        finally:
            c.close()

    def test_sse_follow_streams_every_line_of_system_log_to_the_end(self):
        n = 3000
        jid = self.submit({"type": "system.log", "args": {"lines": n, "bytes": 60}})["id"]
        t0 = time.monotonic()
        events = self.follow(jid)
        lines = [json.loads(d) for e, _, d in events if e == "line"]
        self.assertEqual(len(lines), n)
        self.assertEqual([int(x["l"].split()[1]) for x in lines], list(range(1, n + 1)))
        ids = [i for e, i, _ in events if e == "line"]
        self.assertEqual(len(set(ids)), n)
        self.assertEqual(events[-1][0], "end")
        self.assertEqual(json.loads(events[-1][2]), {"state": "succeeded"})
        self.assertLess(time.monotonic() - t0, 50)
        # resume after an id: only the later lines come again
        again = self.follow(jid, headers={"Last-Event-ID": ids[n - 5]})
        self.assertEqual([json.loads(d)["l"].split()[1] for e, _, d in again if e == "line"],
                         [str(k) for k in range(n - 3, n + 1)])
        tail = self.follow(jid, query="follow=1&tail=2")
        self.assertEqual([json.loads(d)["l"].split()[1] for e, _, d in tail if e == "line"],
                         [str(n - 1), str(n)])

    def test_sse_follow_announces_lines_the_cap_trimmed(self):
        # A stream that kept the newest 100 of 500 lines, as a capped writer
        # leaves it: the follower gets one gap event, then what is left.
        jid = "trimmed-sse"
        r = env.redis()
        r.hset(self.prefix + "job:" + jid, mapping={"id": jid, "type": "system.log", "state": "succeeded"})
        r.eval("for i = 1, 500 do redis.call('XADD', KEYS[1], 'MAXLEN', 100, '*', 's', 'out', 'l', 'line ' .. i) end",
               1, self.prefix + "job:" + jid + ":log")
        events = self.follow(jid)
        self.assertEqual(events[0][0], "gap")
        self.assertEqual(json.loads(events[0][2]), {"missing": 400})
        lines = [json.loads(d)["l"] for e, _, d in events if e == "line"]
        self.assertEqual(lines, ["line %d" % i for i in range(401, 501)])
        self.assertEqual(events[-1][0], "end")

    def test_sse_follow_waits_for_a_running_job(self):
        jid = self.submit({"type": "system.sleep", "args": {"ms": 2500}})["id"]
        t0 = time.monotonic()
        events = self.follow(jid)
        self.assertGreater(time.monotonic() - t0, 1.5)  # it stayed open while the job ran
        self.assertEqual(events[-1][0], "end")
        self.assertEqual(json.loads(events[-1][2])["state"], "succeeded")

    def test_sigterm_ends_open_followers_promptly(self):
        other = wharfserve.start(env, self.amqp, self.prefix)
        jid = self.submit({"type": "system.sleep", "args": {"ms": 30000}})["id"]
        c = other.conn(timeout=30)
        try:
            c.request("GET", "/v1/jobs/%s/logs?follow=1" % jid, headers={"Authorization": "Bearer " + other.token})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            t0 = time.monotonic()
            self.assertEqual(other.stop(timeout=10), 0)
            self.assertLess(time.monotonic() - t0, 5)
            with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
                r.read()  # the stream was cut, not completed with an end event
        finally:
            c.close()
            self.req("POST", "/v1/jobs/%s/cancel" % jid)

    # ---- control ----

    def test_cancel_queued_finished_and_unknown(self):
        st, _, b = self.req("POST", "/v1/jobs/never-submitted/cancel")
        self.assertEqual(st, 404, b)
        done = self.submit({"type": "system.noop"})["id"]
        self.wait_state(done)
        st, _, b = self.req("POST", "/v1/jobs/%s/cancel" % done)
        self.assertEqual(st, 409, b)
        self.assertEqual(b["error"]["code"], "conflict")
        # fill both slots, then cancel a queued job
        busy = [self.submit({"type": "system.sleep", "args": {"ms": 3000}})["id"] for _ in range(2)]
        for j in busy:
            self.wait_state(j, states=("running",))
        queued = self.submit({"type": "system.noop"})["id"]
        st, _, b = self.req("POST", "/v1/jobs/%s/cancel" % queued)
        self.assertEqual(st, 200, b)
        self.assertEqual(b, {"id": queued, "state": "cancelled"})
        for j in busy:
            self.wait_state(j)
        time.sleep(0.5)
        self.assertEqual(self.req("GET", "/v1/jobs/" + queued)[2]["state"], "cancelled")

    def test_cancel_running_job_is_202_then_cancelled(self):
        jid = self.submit({"type": "system.sleep", "args": {"ms": 20000}})["id"]
        self.wait_state(jid, states=("running",))
        st, _, b = self.req("POST", "/v1/jobs/%s/cancel" % jid)
        self.assertIn(st, (200, 202), b)
        self.assertEqual(b["state"], "cancelled" if st == 200 else "running")
        self.assertEqual(self.wait_state(jid, timeout=10)["state"], "cancelled")

    def test_schedules_add_list_delete(self):
        st, _, b = self.req("POST", "/v1/schedules", {"name": "nightly-noop", "type": "system.noop",
                                                      "cron": "0 3 * * *", "args": {"a": 1}})
        self.assertEqual(st, 201, b)
        st, _, b = self.req("GET", "/v1/schedules")
        self.assertEqual(st, 200, b)
        names = {s["name"]: s for s in b["schedules"]}
        self.assertEqual(names["nightly-noop"]["type"], "system.noop")
        st, _, b = self.req("POST", "/v1/schedules", {"name": "bad name", "type": "system.noop", "every_s": 5})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["field"], "name")
        st, _, b = self.req("POST", "/v1/schedules", {"name": "x", "type": "system.noop", "every_s": "5"})
        self.assertEqual((st, b["error"]["field"]), (400, "every_s"))
        st, _, _ = self.req("DELETE", "/v1/schedules/nightly-noop")
        self.assertEqual(st, 204)
        st, _, b = self.req("DELETE", "/v1/schedules/nightly-noop")
        self.assertEqual(st, 404, b)
        st, _, b = self.req("DELETE", "/v1/schedules/..")
        self.assertEqual(st, 400, b)

    # ---- admin ----

    def test_workers_and_stats(self):
        st, _, b = self.req("GET", "/v1/workers")
        self.assertEqual(st, 200, b)
        me = [w for w in b["workers"] if w["pid"] == self.worker.pid]
        self.assertEqual(len(me), 1, b)
        self.assertEqual(me[0]["concurrency"], 2)
        jid = self.submit({"type": "system.sleep", "args": {"ms": 5}})["id"]
        self.wait_state(jid)

        def counted():
            st, _, b = self.req("GET", "/v1/stats?minutes=5")
            t = b["types"].get("system.sleep")
            return b if t and t["ok"] >= 1 else None
        b = wait_for(counted, timeout=10, what="system.sleep in /v1/stats")
        self.assertEqual(b["minutes"], 5)
        self.assertGreaterEqual(b["types"]["system.sleep"]["max_ms"], 5)
        for bad in ("0", "2881", "x"):
            self.assertEqual(self.req("GET", "/v1/stats?minutes=" + bad)[0], 400)

    def test_dead_list_retry_purge(self):
        jid = self.submit({"type": "system.fail", "max_attempts": 1,
                           "args": {"code": "boom", "transient": True}})["id"]
        self.assertEqual(self.wait_state(jid)["state"], "dead")

        def listed():
            st, _, b = self.req("GET", "/v1/dead")
            return [d for d in b["dead"] if d["id"] == jid] if st == 200 else None
        d = wait_for(listed, timeout=10, what="dead letter of " + jid)[0]
        self.assertEqual(d["error-code"], "boom")
        st, _, b = self.req("POST", "/v1/dead/retry", {"id": jid})
        self.assertEqual(st, 200, b)
        self.assertEqual(b, {"id": jid, "state": "queued"})
        self.assertEqual(self.wait_state(jid)["state"], "dead")  # it fails again, and is dead again
        wait_for(listed, timeout=10, what="second dead letter of " + jid)
        st, _, b = self.req("POST", "/v1/dead/retry", {"id": "no-such-dead"})
        self.assertEqual(st, 404, b)
        st, _, b = self.req("POST", "/v1/dead/retry", {"id": "../x"})
        self.assertEqual((st, b["error"]["field"]), (400, "id"))
        # purge one by id: only that letter goes, its job stays dead
        other = self.submit({"type": "system.fail", "max_attempts": 1,
                             "args": {"code": "boom", "transient": True}})["id"]
        self.assertEqual(self.wait_state(other)["state"], "dead")
        wait_for(lambda: any(d["id"] == other for d in self.req("GET", "/v1/dead")[2]["dead"]), timeout=10,
                 what="dead letter of " + other)
        st, _, b = self.req("POST", "/v1/dead/purge", {"id": other})
        self.assertEqual((st, b), (200, {"purged": 1}))
        ids = [d["id"] for d in self.req("GET", "/v1/dead")[2]["dead"]]
        self.assertNotIn(other, ids)
        self.assertIn(jid, ids)
        self.assertEqual(self.wait_state(other)["state"], "dead")
        st, _, b = self.req("POST", "/v1/dead/purge", {"id": other})
        self.assertEqual(st, 404, b)
        st, _, b = self.req("POST", "/v1/dead/purge", {"id": "../x"})
        self.assertEqual((st, b["error"]["field"]), (400, "id"))
        st, _, b = self.req("POST", "/v1/dead/purge")
        self.assertEqual(st, 200, b)
        self.assertGreaterEqual(b["purged"], 1)
        self.assertEqual(self.req("GET", "/v1/dead")[2], {"dead": []})

    def sleep_histogram(self):
        st, h, text = self.req("GET", "/metrics")
        self.assertEqual(st, 200, text)
        self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"), h)
        fams = parse_prometheus(text)
        hist = fams["wharf_job_run_seconds"]
        self.assertEqual(hist["type"], "histogram")
        buckets = [(l["le"], v) for n, l, v in hist["samples"]
                   if n.endswith("_bucket") and l["type"] == "system.sleep"]
        count = [v for n, l, v in hist["samples"] if n.endswith("_count") and l["type"] == "system.sleep"]
        return fams, buckets, count[0] if count else 0

    def test_metrics_parse_as_prometheus_text(self):
        self.wait_state(self.submit({"type": "system.sleep", "args": {"ms": 1}})["id"])
        time.sleep(1.5)  # the worker flushes stats every second
        _, before, count0 = self.sleep_histogram()
        jid = self.submit({"type": "system.sleep", "args": {"ms": 20}})["id"]
        self.wait_state(jid)
        time.sleep(1.5)
        fams, buckets, count = self.sleep_histogram()
        self.assertEqual(fams["wharf_workers"]["samples"][0][2], 1)
        queues = {l["queue"]: v for _, l, v in fams["wharf_queue_messages"]["samples"]}
        for q in ("wharf.system", "wharf.dead", "wharf.retry.1000"):
            self.assertIn(q, queues)
        jobs = {(l["type"], l["state"]): v for _, l, v in fams["wharf_jobs"]["samples"]}
        self.assertGreaterEqual(jobs[("system.sleep", "succeeded")], 2)
        self.assertIn(("system.sleep", "cancelled"), jobs)  # schemas 9.5: attempts cancelled while running
        self.assertEqual([b[0] for b in buckets], ["0.001", "0.01", "0.1", "1", "10", "60", "+Inf"])
        vals = [b[1] for b in buckets]
        self.assertEqual(vals, sorted(vals))  # cumulative
        self.assertEqual(count, vals[-1])
        delta = [v - b[1] for v, b in zip(vals, before)]
        # one 20 ms run: not under 10 ms, under 100 ms
        self.assertEqual(delta, [0, 0, 1, 1, 1, 1, 1], (before, buckets))
        self.assertEqual(count - count0, 1)

    def test_unknown_route_404_wrong_method_405(self):
        st, _, b = self.req("GET", "/v1/nothing")
        self.assertEqual(st, 404, b)
        st, _, b = self.req("DELETE", "/v1/jobs")
        self.assertEqual(st, 405, b)
        st, _, b = self.req("PUT", "/v1/jobs/abc")
        self.assertEqual(st, 405, b)


class ServeStartupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()

    def serve(self, *args, extra_env=None):
        return env.wharf(["serve"] + list(args), self.amqp, self.prefix, timeout=20, extra_env=extra_env)

    def test_insecure_no_auth_is_refused_off_loopback(self):
        for listen in ("0.0.0.0:%d" % wharfserve.free_port(), "192.0.2.1:8080", "[::]:8080"):
            p = self.serve("--listen", listen, "--insecure-no-auth")
            self.assertEqual(p.returncode, 2, (listen, p.stderr))
            self.assertIn("--insecure-no-auth is only allowed on a loopback address", p.stderr)

    def test_no_token_is_refused_and_bad_tokens_named(self):
        p = self.serve("--listen", "127.0.0.1:%d" % wharfserve.free_port())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("no bearer token", p.stderr)
        p = self.serve("--listen", "127.0.0.1:1", extra_env={"WHARF_SERVE_TOKEN": "short"})
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("serve.token: a token must be 16..256 bytes long", p.stderr)
        self.assertNotIn("short", p.stderr)
        p = self.serve("--token-file", "/nonexistent/tokens")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("serve.token_file", p.stderr)
        for bad in ("localhost", "127.0.0.1", "web:80", "127.0.0.1:99999"):
            p = self.serve("--listen", bad, "--insecure-no-auth")
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("serve.listen", p.stderr)

    def test_insecure_no_auth_on_loopback_serves_without_a_token(self):
        srv = wharfserve.start(env, self.amqp, self.prefix, no_auth=True)
        try:
            st, _, b = srv.request("GET", "/v1/workers", token=None)
            self.assertEqual(st, 200, b)
            self.assertIn("NO AUTH", srv.log_text())
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_serve_runs_the_scheduler_for_delayed_jobs(self):
        # the worker's own scheduler is off: only wharf serve can move the job
        w = env.start_worker(self.amqp, self.prefix, concurrency=1, extra_env={"WHARF_SCHEDULER_ENABLED": "0"})
        srv = wharfserve.start(env, self.amqp, self.prefix)
        try:
            run_at = int(time.time() * 1000) + 1500
            st, _, b = srv.request("POST", "/v1/jobs", {"type": "system.noop", "run_at": run_at})
            self.assertEqual(st, 201, b)
            self.assertEqual(b["state"], "scheduled")
            done = wait_for(lambda: (lambda j: j if j["state"] == "succeeded" else None)(
                srv.request("GET", "/v1/jobs/" + b["id"])[2]), timeout=15, what="the delayed job to run")
            self.assertGreaterEqual(done["started_at"], run_at)
        finally:
            srv.stop()
            w.stop()

    def test_token_from_config_works_next_to_the_file(self):
        tok = "cfg-token-0123456789abcdef"
        srv = wharfserve.start(env, self.amqp, self.prefix, extra_env={"WHARF_SERVE_TOKEN": tok})
        try:
            self.assertEqual(srv.request("GET", "/v1/workers", token=tok)[0], 200)
            self.assertEqual(srv.request("GET", "/v1/workers")[0], 200)  # the file's token works as well
        finally:
            srv.stop()
        self.assertNotIn(tok, srv.log_text())


if __name__ == "__main__":
    unittest.main()
