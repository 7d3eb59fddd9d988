#!/usr/bin/python3
"""schemas/openapi.yaml matches `wharf serve`: the documented routes are
exactly the server's route table, and every documented operation, requested
against the running server, answers with a documented status whose body
validates against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1
uses)."""
import json
import os
import re
import sys
import time
import unittest

import jsonschema
import yaml

SRC = os.environ.get("WHARF_SRC", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
DOC_PATH = os.path.join(SRC, "schemas", "openapi.yaml")


class UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, but a key twice in one mapping is an error: YAML would keep
    the last one silently (two branches defining one schema name)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for k, _ in node.value:
            key = self.construct_object(k, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % key, k.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_doc():
    with open(DOC_PATH) as f:
        return yaml.load(f, Loader=UniqueKeyLoader)


def documented_ops(doc):
    ops = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "delete", "patch"):
                ops.add((method.upper(), path))
    return ops


def server_routes():
    """The route table of producer/srv_http.c, {} segments renamed as in the doc."""
    with open(os.path.join(SRC, "producer", "srv_http.c")) as f:
        text = f.read()
    table = text[text.index("static const srv_route routes[]"):]
    table = table[:table.index("};")]
    return set(re.findall(r'\{"([A-Z]+)", "([^"]+)", srv_\w+, (?:true|false)\}', table))


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = load_doc()
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=2)
        # one inventory host for the fleet routes (no engine behind it: the
        # fleet's data is written into Redis by the test below)
        cls.cfg = os.path.join(env.tmp, "openapi-%s.ini" % cls.prefix.rstrip(":"))
        with open(cls.cfg, "w") as f:
            f.write("[host.oa]\ndocker = unix:///nonexistent/docker.sock\n")
        cls.srv = wharfserve.start(env, cls.amqp, cls.prefix, config=cls.cfg)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.worker.stop()

    def schema_for(self, op, status, ctype):
        resp = op["responses"][str(status)]
        if "$ref" in resp:
            resp = self.doc["components"]["responses"][resp["$ref"].split("/")[-1]]
        content = resp.get("content")
        if content is None:
            return None
        self.assertIn(ctype, content, "undocumented content type %s" % ctype)
        return content[ctype].get("schema")

    def check(self, method, template, path, body=None, token=True, expect=None, content_type="application/json",
              headers=None):
        """Request and check the answer against the document."""
        op = self.doc["paths"][template][method.lower()]
        st, h, b = self.srv.request(method, path, body, token=token, content_type=content_type, headers=headers)
        self.assertIn(str(st), op["responses"], "%s %s answered undocumented %d: %r" % (method, path, st, b))
        if expect is not None:
            self.assertEqual(st, expect, (method, path, b))
        ctype = h.get("content-type", "").split(";")[0]
        schema = self.schema_for(op, st, ctype) if ctype else None
        if ctype == "application/json":
            resolver_doc = {"components": self.doc["components"], **schema}
            jsonschema.Draft202012Validator(resolver_doc).validate(b)
        elif ctype:
            self.assertEqual(schema, {"type": "string"}, (method, path, ctype))
            self.assertIsInstance(b, str)
        self.covered.add((method, template, st))
        return st, b

    def test_documented_routes_are_the_server_routes(self):
        doc_ops = {(m, re.sub(r"\{[a-z]+\}", "{}", p)) for m, p in documented_ops(self.doc)}
        self.assertEqual(doc_ops, server_routes())

    def test_every_documented_operation_answers_as_documented(self):
        self.covered = set()
        c = self.check
        # jobs
        st, job = c("POST", "/v1/jobs", "/v1/jobs", {"type": "system.log", "id": "oa-1", "args": {"lines": 3}},
                    expect=201)
        c("POST", "/v1/jobs", "/v1/jobs", {"type": "system.log", "id": "oa-1", "args": {"lines": 3}}, expect=200)
        c("POST", "/v1/jobs", "/v1/jobs", {"type": "system.sleep"}, expect=400)
        c("POST", "/v1/jobs", "/v1/jobs", {"type": "system.noop"}, token=None, expect=401)
        c("POST", "/v1/jobs", "/v1/jobs", "x" * (2 << 20), expect=413)
        c("POST", "/v1/jobs", "/v1/jobs", "{}", content_type="text/plain", expect=415)
        wharftest.wait_for(lambda: self.srv.request("GET", "/v1/jobs/oa-1")[2]["state"] == "succeeded",
                           what="oa-1 succeeded")
        c("GET", "/v1/jobs", "/v1/jobs?limit=10", expect=200)
        c("GET", "/v1/jobs", "/v1/jobs?state=succeeded&type=system.log", expect=200)
        c("GET", "/v1/jobs", "/v1/jobs?limit=0", expect=400)
        c("GET", "/v1/jobs", "/v1/jobs", token=None, expect=401)
        c("GET", "/v1/jobs/{id}", "/v1/jobs/oa-1", expect=200)
        c("GET", "/v1/jobs/{id}", "/v1/jobs/..", expect=400)
        c("GET", "/v1/jobs/{id}", "/v1/jobs/oa-none", expect=404)
        c("GET", "/v1/jobs/{id}", "/v1/jobs/oa-1", token="bad" * 8, expect=401)
        c("GET", "/v1/jobs/{id}/logs", "/v1/jobs/oa-1/logs", expect=200)
        c("GET", "/v1/jobs/{id}/logs", "/v1/jobs/oa-1/logs?tail=1&follow=1", expect=200)
        c("GET", "/v1/jobs/{id}/logs", "/v1/jobs/oa-1/logs?tail=-1", expect=400)
        c("GET", "/v1/jobs/{id}/logs", "/v1/jobs/oa-none/logs", expect=404)
        c("GET", "/v1/jobs/{id}/logs", "/v1/jobs/oa-1/logs", token=None, expect=401)
        later = int(time.time() * 1000) + 3600 * 1000
        c("POST", "/v1/jobs", "/v1/jobs", {"type": "system.noop", "id": "oa-later", "run_at": later}, expect=201)
        c("POST", "/v1/jobs/{id}/cancel", "/v1/jobs/oa-later/cancel", expect=200)
        c("POST", "/v1/jobs/{id}/cancel", "/v1/jobs/oa-1/cancel", expect=409)
        c("POST", "/v1/jobs/{id}/cancel", "/v1/jobs/oa-none/cancel", expect=404)
        c("POST", "/v1/jobs/{id}/cancel", "/v1/jobs/a.b/cancel", expect=400)
        c("POST", "/v1/jobs/{id}/cancel", "/v1/jobs/oa-1/cancel", token=None, expect=401)
        # admin
        c("GET", "/v1/workers", "/v1/workers", expect=200)
        c("GET", "/v1/workers", "/v1/workers", token=None, expect=401)
        c("GET", "/v1/stats", "/v1/stats?minutes=5", expect=200)
        c("GET", "/v1/stats", "/v1/stats?minutes=0", expect=400)
        c("GET", "/v1/stats", "/v1/stats", token=None, expect=401)
        c("GET", "/v1/stats/series", "/v1/stats/series?minutes=5", expect=200)
        c("GET", "/v1/stats/series", "/v1/stats/series?hours=24&type=system.log", expect=200)
        c("GET", "/v1/stats/series", "/v1/stats/series?minutes=5&hours=1", expect=400)
        c("GET", "/v1/stats/series", "/v1/stats/series?hours=721", expect=400)
        c("GET", "/v1/stats/series", "/v1/stats/series?minutes=5", token=None, expect=401)
        c("POST", "/v1/schedules", "/v1/schedules", {"name": "oa-s", "type": "system.noop", "every_s": 3600},
          expect=201)
        c("POST", "/v1/schedules", "/v1/schedules", {"name": "oa-s"}, expect=400)
        c("POST", "/v1/schedules", "/v1/schedules", "{}", content_type="text/plain", expect=415)
        c("POST", "/v1/schedules", "/v1/schedules", {"name": "oa-s"}, token=None, expect=401)
        c("GET", "/v1/schedules", "/v1/schedules", expect=200)
        c("GET", "/v1/schedules", "/v1/schedules", token=None, expect=401)
        c("DELETE", "/v1/schedules/{name}", "/v1/schedules/oa-s", expect=204)
        c("DELETE", "/v1/schedules/{name}", "/v1/schedules/oa-s", expect=404)
        c("DELETE", "/v1/schedules/{name}", "/v1/schedules/..", expect=400)
        c("DELETE", "/v1/schedules/{name}", "/v1/schedules/oa-s", token=None, expect=401)
        c("GET", "/v1/dead", "/v1/dead?limit=5", expect=200)
        c("GET", "/v1/dead", "/v1/dead?limit=0", expect=400)
        c("GET", "/v1/dead", "/v1/dead", token=None, expect=401)
        c("POST", "/v1/dead/retry", "/v1/dead/retry", {"id": "oa-none"}, expect=404)
        c("POST", "/v1/dead/retry", "/v1/dead/retry", {"id": "../x"}, expect=400)
        c("POST", "/v1/dead/retry", "/v1/dead/retry", "{}", content_type="text/plain", expect=415)
        c("POST", "/v1/dead/retry", "/v1/dead/retry", {"id": "x"}, token=None, expect=401)
        dead = self.srv.request("POST", "/v1/jobs", {"type": "system.fail", "max_attempts": 1,
                                                     "args": {"transient": True}})[2]["id"]
        wharftest.wait_for(lambda: any(d["id"] == dead for d in self.srv.request("GET", "/v1/dead")[2]["dead"]),
                           what="a dead letter")
        c("GET", "/v1/dead", "/v1/dead", expect=200)
        c("POST", "/v1/dead/retry", "/v1/dead/retry", {"id": dead}, expect=200)
        c("POST", "/v1/dead/purge", "/v1/dead/purge", expect=200)
        c("POST", "/v1/dead/purge", "/v1/dead/purge", token=None, expect=401)
        # fleet: what host.sync, container.logs and update_check would have written
        r, p = env.redis(), self.prefix
        r.hset(p + "host:oa:containers", "web", json.dumps({
            "Id": "a" * 64, "Image": "img:1", "State": "running", "Status": "Up 1 minute (healthy)",
            "Created": 1700000000, "Labels": {"app": "web"},
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]}))
        r.hset(p + "host:oa:sync", mapping={"synced_at": 1700000000000, "containers": 1, "images": 1,
                                            "volumes": 0, "networks": 1, "state_running": 1})
        r.hset(p + "host:oa:reach", mapping={"checked_at": 1700000000000, "ok": 1, "ok_at": 1700000000000})
        r.xadd(p + "host:oa:ctr:web:log", {"s": "out", "t": "2026-12-07T09:00:00Z", "l": "hello"})
        r.hset(p + "updates:oa", "web", json.dumps({"container": "web", "image": "img:1", "status": "ok",
                                                    "kind": "tag", "current_tag": "1", "candidate_tag": "2",
                                                    "semver_diff": "major", "checked_at": 1700000000000}))
        c("GET", "/v1/hosts", "/v1/hosts", expect=200)
        c("GET", "/v1/hosts", "/v1/hosts", token=None, expect=401)
        c("GET", "/v1/hosts/{host}/containers", "/v1/hosts/oa/containers", expect=200)
        c("GET", "/v1/hosts/{host}/containers", "/v1/hosts/oa/containers?refresh=1&wait_s=1", expect=200)
        c("GET", "/v1/hosts/{host}/containers", "/v1/hosts/oa/containers?wait_s=0&refresh=1", expect=400)
        c("GET", "/v1/hosts/{host}/containers", "/v1/hosts/none/containers", expect=404)
        c("GET", "/v1/hosts/{host}/containers", "/v1/hosts/oa/containers", token=None, expect=401)
        c("GET", "/v1/hosts/{host}/containers/{name}", "/v1/hosts/oa/containers/web", expect=200)
        c("GET", "/v1/hosts/{host}/containers/{name}", "/v1/hosts/oa/containers/nope", expect=404)
        c("GET", "/v1/hosts/{host}/containers/{name}", "/v1/hosts/oa/containers/.x", expect=400)
        c("GET", "/v1/hosts/{host}/containers/{name}", "/v1/hosts/oa/containers/web", token=None, expect=401)
        c("GET", "/v1/hosts/{host}/containers/{name}/logs", "/v1/hosts/oa/containers/web/logs", expect=200)
        c("GET", "/v1/hosts/{host}/containers/{name}/logs", "/v1/hosts/oa/containers/web/logs?tail=0", expect=400)
        c("GET", "/v1/hosts/{host}/containers/{name}/logs", "/v1/hosts/oa/containers/nope/logs", expect=404)
        c("GET", "/v1/hosts/{host}/containers/{name}/logs", "/v1/hosts/oa/containers/web/logs", token=None,
          expect=401)
        c("POST", "/v1/hosts/{host}/containers/{name}/{action}", "/v1/hosts/oa/containers/web/stop",
          {"timeout_s": 1}, expect=202)
        c("POST", "/v1/hosts/{host}/containers/{name}/{action}", "/v1/hosts/oa/containers/web/update",
          {"dry_run": True}, expect=202)
        c("POST", "/v1/hosts/{host}/containers/{name}/{action}", "/v1/hosts/oa/containers/web/stop",
          {"timeout_s": "x"}, expect=400)
        c("POST", "/v1/hosts/{host}/containers/{name}/{action}", "/v1/hosts/oa/containers/web/fly", expect=404)
        c("POST", "/v1/hosts/{host}/containers/{name}/{action}", "/v1/hosts/oa/containers/web/stop", "{}",
          content_type="text/plain", expect=415)
        c("POST", "/v1/hosts/{host}/containers/{name}/{action}", "/v1/hosts/oa/containers/web/stop", token=None,
          expect=401)
        c("GET", "/v1/hosts/{host}/stats", "/v1/hosts/oa/stats?minutes=10&container=web", expect=200)
        c("GET", "/v1/hosts/{host}/stats", "/v1/hosts/oa/stats?hours=0", expect=400)
        c("GET", "/v1/hosts/{host}/stats", "/v1/hosts/none/stats", expect=404)
        c("GET", "/v1/hosts/{host}/stats", "/v1/hosts/oa/stats", token=None, expect=401)
        c("GET", "/v1/hosts/{host}/updates", "/v1/hosts/oa/updates", expect=200)
        c("GET", "/v1/hosts/{host}/updates", "/v1/hosts/none/updates", expect=404)
        c("GET", "/v1/hosts/{host}/updates", "/v1/hosts/oa/updates", token=None, expect=401)
        # worker control last: a quiet worker takes no more jobs
        wid = self.srv.request("GET", "/v1/workers")[2]["workers"][0]["id"]
        c("POST", "/v1/workers/{id}/{command}", "/v1/workers/none/quiet", expect=404)
        c("POST", "/v1/workers/{id}/{command}", "/v1/workers/%s/quiet" % wid, token=None, expect=401)
        c("POST", "/v1/workers/{id}/{command}", "/v1/workers/%s/quiet" % wid, expect=202)
        # ops
        c("GET", "/healthz", "/healthz", token=None, expect=200)
        c("GET", "/metrics", "/metrics", expect=200)
        c("GET", "/metrics", "/metrics", token=None, expect=401)

        # the dashboard (open routes)
        c("GET", "/", "/", token=None, expect=200)
        for name in ("app.js", "app.css", "icon.svg"):
            c("GET", "/ui/{name}", "/ui/" + name, token=None, expect=200)
        c("GET", "/ui/{name}", "/ui/none.js", token=None, expect=404)
        c("GET", "/ui/session", "/ui/session", token=None, expect=200)
        c("POST", "/ui/login", "/ui/login", {"token": "wrong-token-0123456789"}, token=None, expect=401)
        c("POST", "/ui/login", "/ui/login", {"token": self.srv.token}, token=None, expect=403,
          headers={"Origin": "http://evil.example"})
        c("POST", "/ui/login", "/ui/login", "{}", content_type="text/plain", token=None, expect=415)
        c("POST", "/ui/login", "/ui/login", "{", token=None, expect=400)
        c("POST", "/ui/login", "/ui/login", {"token": self.srv.token}, token=None, expect=200)
        c("POST", "/ui/logout", "/ui/logout", {}, token=None, expect=200)
        c("POST", "/ui/logout", "/ui/logout", {}, token=None, expect=403, headers={"Sec-Fetch-Site": "cross-site"})

        # every operation was exercised, with its success status and 401 where documented
        for method, path in documented_ops(self.doc):
            op = self.doc["paths"][path][method.lower()]
            # (202, a cancel of a running job, is timing-bound: test_serve covers running cancels)
            ok = [int(s) for s in op["responses"] if s.startswith("2") and not (path.endswith("cancel") and s == "202")]
            for s in ok + ([401] if "401" in op["responses"] else []):
                self.assertIn((method, path, s), self.covered, "not exercised: %s %s -> %d" % (method, path, s))


if __name__ == "__main__":
    unittest.main()
