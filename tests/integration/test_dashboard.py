#!/usr/bin/python3
"""The dashboard of `wharf serve` (docs/dashboard.md): its assets, sign-in,
sessions, CSRF and read-only tokens over plain HTTP, then every page in
Debian's headless chromium (tests/lib/ui/dashboard.js, puppeteer-core)
against real RabbitMQ, Redis, two workers, a private dockerd and a private
registry (the fleet pages: containers, their stats and output, actions and
updates) and the data this test creates.
Screenshots of every page, light and dark, land in
$WHARF_BIN/../dashboard-screenshots (printed at the end)."""
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import registry  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for
UI_DIR = os.path.join(env.src, "tests", "lib", "ui")
CHROMIUM = "/usr/bin/chromium"
SHORT_TTL_S = 5
FLEET_HOST, FLEET_CTR = "dashdock", "dash-web"
# dash-ok runs dash/ok:1.0 and 1.1 is pushed after it (an update that
# works); dash-app runs dash/app:1.0 and 2.0 is a broken image (an update
# that rolls back); dash-spare is created, never started (removed).
UPD_OK, UPD_BAD, SPARE = "dash-ok", "dash-app", "dash-spare"


def start_serve(cls, extra_env=None, config=None):
    rt = secrets.token_hex(20)
    path = os.path.join(env.tmp, "read-tokens-%s" % secrets.token_hex(4))
    with open(path, "w") as f:
        f.write("# read-only\n%s\n" % rt)
    e = {"WHARF_SERVE_READ_TOKEN_FILE": path}
    e.update(extra_env or {})
    srv = wharfserve.start(env, cls.amqp, cls.prefix, extra_env=e, config=config)
    srv.read_token = rt
    return srv


class Session:
    """A browser-like client of one server: the cookie and CSRF token."""

    def __init__(self, srv, token=None):
        self.srv = srv
        self.origin = "http://127.0.0.1:%d" % srv.port
        st, h, b = srv.request("POST", "/ui/login", {"token": token or srv.token}, token=None,
                               headers={"Origin": self.origin, "Sec-Fetch-Site": "same-origin"})
        assert st == 200, (st, b)
        self.set_cookie = h["set-cookie"]
        self.cookie = self.set_cookie.split(";")[0]
        self.csrf, self.role = b["csrf"], b["role"]

    def req(self, method, path, body=None, csrf=True, origin=True, site="same-origin", headers=None):
        h = {"Cookie": self.cookie}
        if origin:
            h["Origin"] = self.origin if origin is True else origin
        if site:
            h["Sec-Fetch-Site"] = site
        if csrf:
            h["X-CSRF-Token"] = self.csrf if csrf is True else csrf
        h.update(headers or {})
        return self.srv.request(method, path, body, token=None, headers=h)


class DashboardHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.srv = start_serve(cls)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, "wharf serve exited %s:\n%s" % (rc, cls.srv.log_text()[-4000:])

    def test_assets_are_built_in_with_a_strict_csp(self):
        st, h, page = self.srv.request("GET", "/", token=None)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"), h)
        csp = h["content-security-policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(h["x-content-type-options"], "nosniff")
        # no inline script: every <script> has a src, no on*= handlers
        self.assertNotRegex(page, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertNotRegex(page, r"\son[a-z]+=")
        self.assertNotIn("http://", page.replace("http://www.w3.org", ""))
        total = 0
        for path, ctype in (("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")):
            st, h, body = self.srv.request("GET", path, token=None)
            self.assertEqual(st, 200, path)
            self.assertTrue(h["content-type"].startswith(ctype), (path, h))
            total += len(body.encode())
            st2, _, _ = self.srv.request("GET", path, token=None, headers={"If-None-Match": h["etag"]})
            self.assertEqual(st2, 304, path)
        self.assertLessEqual(total, 150 * 1024, "first page JS+CSS")
        print("dashboard first page: %d bytes of JS+CSS" % total)
        self.assertEqual(self.srv.request("GET", "/ui/nope.js", token=None)[0], 404)

    def test_login_sets_a_strict_session_cookie(self):
        s = Session(self.srv)
        parts = [p.strip() for p in s.set_cookie.split(";")]
        self.assertRegex(parts[0], r"^wharf_session=[0-9a-f]{64}$")
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
            self.assertIn(flag, parts)
        self.assertNotIn("Secure", parts)  # plain HTTP: a Secure cookie would never come back
        self.assertNotIn(self.srv.token, s.set_cookie)
        self.assertEqual(s.role, "admin")
        st, _, b = s.req("GET", "/v1/workers", csrf=False, origin=False, site=None)
        self.assertEqual(st, 200, b)
        st, _, b = s.req("GET", "/ui/session", csrf=False)
        self.assertEqual((b["role"], b["csrf"]), ("admin", s.csrf))
        # behind a TLS proxy the cookie is Secure
        st, h, _ = self.srv.request("POST", "/ui/login", {"token": self.srv.token}, token=None,
                                    headers={"X-Forwarded-Proto": "https"})
        self.assertEqual(st, 200)
        self.assertIn("Secure", [p.strip() for p in h["set-cookie"].split(";")])
        # bearer tokens still work, and the token never reaches the log
        self.assertEqual(self.srv.request("GET", "/v1/workers")[0], 200)
        self.assertNotIn(self.srv.token, self.srv.log_text())

    def test_wrong_token_gets_no_session(self):
        for tok in ("wrong-token-0123456789abcdef", self.srv.token + "x", "", None, 7):
            st, h, b = self.srv.request("POST", "/ui/login", {"token": tok}, token=None)
            self.assertEqual(st, 401, (tok, b))
            self.assertNotIn("set-cookie", h)
        st, _, b = self.srv.request("GET", "/v1/workers", token=None,
                                    headers={"Cookie": "wharf_session=" + "0" * 64})
        self.assertEqual(st, 401, b)

    def test_csrf_checks_on_every_write(self):
        s = Session(self.srv)
        job = {"type": "system.noop"}
        for what, kw in (("no CSRF token", {"csrf": False}),
                         ("a wrong CSRF token", {"csrf": "0" * 64}),
                         ("another origin", {"origin": "http://evil.example"}),
                         ("a same-site origin on another port", {"origin": "http://127.0.0.1:1"}),
                         ("Sec-Fetch-Site cross-site", {"site": "cross-site", "origin": False}),
                         ("Sec-Fetch-Site same-site", {"site": "same-site", "origin": False}),
                         ("neither Origin nor Sec-Fetch-Site", {"origin": False, "site": None})):
            st, _, b = s.req("POST", "/v1/jobs", job, **kw)
            self.assertEqual(st, 403, (what, b))
            self.assertEqual(b["error"]["code"], "unauthorized", what)
        st, _, b = s.req("POST", "/v1/jobs", job)
        self.assertEqual(st, 201, b)
        # a session from another site cannot be planted either (login CSRF)
        st, h, _ = self.srv.request("POST", "/ui/login", {"token": self.srv.token}, token=None,
                                    headers={"Origin": "http://evil.example"})
        self.assertEqual(st, 403)
        self.assertNotIn("set-cookie", h)
        # a cross-site form post (text/plain, no preflight) is refused before the body matters
        st, _, _ = s.req("POST", "/v1/dead/purge", "x=1", origin="http://evil.example", site="cross-site", csrf=False,
                         headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 403)

    def test_read_only_tokens_see_and_change_nothing(self):
        rt = self.srv.read_token
        self.assertEqual(self.srv.request("GET", "/v1/jobs", token=rt)[0], 200)
        self.assertEqual(self.srv.request("GET", "/metrics", token=rt)[0], 200)
        writes = [("POST", "/v1/jobs", {"type": "system.noop"}), ("POST", "/v1/jobs/x/cancel", None),
                  ("POST", "/v1/schedules", {"name": "n", "type": "system.noop", "every_s": 60}),
                  ("DELETE", "/v1/schedules/n", None), ("POST", "/v1/dead/retry", {"id": "x"}),
                  ("POST", "/v1/dead/purge", None)]
        writes += [("POST", "/v1/hosts/%s/containers/%s/%s" % (FLEET_HOST, FLEET_CTR, a), b)
                   for a, b in (("start", None), ("stop", None), ("restart", None), ("remove", {"force": True}),
                                ("update", {"dry_run": True}))]
        for method, path, body in writes:
            st, _, b = self.srv.request(method, path, body, token=rt)
            self.assertEqual(st, 403, (method, path, b))
            self.assertEqual(b["error"]["code"], "unauthorized")
        s = Session(self.srv, rt)
        self.assertEqual(s.role, "read")
        self.assertEqual(s.req("GET", "/v1/schedules")[0], 200)
        for method, path, body in writes:
            st, _, b = s.req(method, path, body)
            self.assertEqual(st, 403, (method, path, b))

    def test_logout_ends_the_session(self):
        s = Session(self.srv)
        self.assertEqual(s.req("GET", "/v1/workers")[0], 200)
        st, h, _ = s.req("POST", "/ui/logout", {})
        self.assertEqual(st, 200)
        self.assertIn("Max-Age=0", h["set-cookie"])
        self.assertEqual(s.req("GET", "/v1/workers")[0], 401)
        self.assertIsNone(s.req("GET", "/ui/session")[2]["role"])

    def test_sessions_expire(self):
        srv = start_serve(self, {"WHARF_SERVE_SESSION_TTL_S": str(SHORT_TTL_S)})
        try:
            s = Session(srv)
            self.assertIn("Max-Age=%d" % SHORT_TTL_S, s.set_cookie)
            self.assertEqual(s.req("GET", "/v1/workers")[0], 200)
            time.sleep(SHORT_TTL_S + 1)
            self.assertEqual(s.req("GET", "/v1/workers")[0], 401)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_stats_series_from_the_rollups(self):
        amqp, prefix = env.new_vhost(), env.new_prefix()
        w = env.start_worker(amqp, prefix, concurrency=2)
        srv = wharfserve.start(env, amqp, prefix)
        try:
            for body in [{"type": "system.noop"}] * 3 + [{"type": "system.fail", "max_attempts": 1}]:
                self.assertEqual(srv.request("POST", "/v1/jobs", body)[0], 201)

            def counted():
                st, _, b = srv.request("GET", "/v1/stats/series?minutes=10")
                t = b["types"] if st == 200 else {}
                # counts come with each job's end, run times with the worker's next stats flush
                return b if sum(t.get("system.noop", {}).get("ok", [])) == 3 and \
                    sum(t.get("system.noop", {}).get("hist", [])) == 3 and \
                    sum(t.get("system.fail", {}).get("failed", [])) == 1 else None
            b = wait_for(counted, timeout=20, what="the rollups to count 3 noop (with run times) and 1 fail")
            self.assertEqual((b["step_s"], b["points"]), (60, 10))
            self.assertEqual(len(b["types"]["system.noop"]["ok"]), 10)
            self.assertEqual(len(b["le_s"]), 7)
            self.assertIsNone(b["le_s"][-1])
            now_ms = time.time() * 1000
            self.assertLessEqual(b["from_ms"] + 9 * 60000, now_ms)
            self.assertGreater(b["from_ms"] + 10 * 60000, now_ms)
            st, _, h = srv.request("GET", "/v1/stats/series?hours=720&type=system.noop")
            self.assertEqual((st, h["step_s"], h["points"], list(h["types"])), (200, 3600, 720, ["system.noop"]))
            self.assertEqual(sum(h["types"]["system.noop"]["ok"]), 3)
        finally:
            self.assertEqual(srv.stop(), 0)
            w.stop()

    def test_no_auth_server_refuses_cross_site_writes(self):
        srv = wharfserve.start(env, self.amqp, self.prefix, no_auth=True)
        try:
            st, _, b = srv.request("POST", "/v1/jobs/x/cancel", token=None,
                                   headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
            self.assertEqual(st, 403, b)
            st, _, b = srv.request("GET", "/ui/session", token=None)
            self.assertEqual((b["role"], b["no_auth"]), ("admin", True))
        finally:
            self.assertEqual(srv.stop(), 0)


class AttackHandler(http.server.BaseHTTPRequestHandler):
    """Serves a page that posts a form to `target` at once: another origin's
    CSRF attempt."""
    target = ""

    def do_GET(self):
        page = ("<!doctype html><title>attack</title><form id=f method=post action=\"%s\">"
                "<input name=x value=1></form><script>document.getElementById('f').submit()</script>"
                % self.target).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *a):
        pass


class DashboardBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for need in (CHROMIUM, os.path.join(UI_DIR, "node_modules", "puppeteer-core")):
            if not os.path.exists(need):
                raise RuntimeError("%s is missing: run tests/run (it installs chromium and runs npm ci in "
                                   "tests/lib/ui)" % need)
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.start_fleet()
        cls.workers = [env.start_worker(cls.amqp, cls.prefix, concurrency=3, families="system,runtime,registry",
                                        args=["--config", cls.cfg]) for _ in range(2)]
        cls.srv = start_serve(cls, config=cls.cfg)
        cls.short = start_serve(cls, {"WHARF_SERVE_SESSION_TTL_S": str(SHORT_TTL_S)})
        cls.ids = cls.make_data()
        AttackHandler.target = "http://127.0.0.1:%d/v1/jobs/%s/cancel" % (cls.srv.port, cls.ids["running"])
        cls.attack = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AttackHandler)
        threading.Thread(target=cls.attack.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.attack.shutdown()
        # cancel what still sleeps, so the workers stop at once
        st, _, b = cls.srv.request("GET", "/v1/jobs?state=running&limit=100")
        for j in b.get("jobs", []) if st == 200 else []:
            cls.srv.request("POST", "/v1/jobs/%s/cancel" % j["id"])
        for s in (cls.srv, cls.short):
            rc = s.stop()
            assert rc == 0, "wharf serve exited %s:\n%s" % (rc, s.log_text()[-4000:])
        for w in cls.workers:
            w.stop()
        cls.dockerd.stop()
        cls.registry.stop()

    @classmethod
    def start_fleet(cls):
        """A private dockerd as inventory host FLEET_HOST and a private
        registry (no auth) as an inventory registry, in the workers' and
        serve's configuration: FLEET_CTR prints a line a second; UPD_OK and
        UPD_BAD run images of the registry with a newer tag pushed since;
        SPARE was created and never started."""
        d = cls.dockerd = dockerd.Dockerd.start(env.tmp)
        d.busybox_image()
        d.docker(["run", "-d", "--name", FLEET_CTR, "--network", "none", dockerd.BUSYBOX_IMAGE,
                  "sh", "-c", 'i=0; while :; do i=$((i+1)); echo "dash line $i"; sleep 1; done'])
        d.docker(["create", "--name", SPARE, "--network", "none", dockerd.BUSYBOX_IMAGE, "true"])
        cls.registry = registry.Registry(env.tmp)
        repo = "127.0.0.1:%d/dash" % cls.registry.port
        sleep = ["/bin/busybox", "sleep", "3600"]
        for name, path in ((UPD_OK, "ok"), (UPD_BAD, "app")):
            d.build_image("%s/%s:1.0" % (repo, path), cmd=sleep)
            d.push("%s/%s:1.0" % (repo, path))
            d.docker(["run", "-d", "--name", name, "--network", "none", "%s/%s:1.0" % (repo, path)])
        d.build_image(repo + "/ok:1.1", cmd=sleep)
        d.push(repo + "/ok:1.1")
        # no busybox in it: the new container cannot start, the update rolls back
        d.import_image(repo + "/app:2.0", {"hello.txt": b"broken"}, ['CMD ["/bin/busybox", "true"]'])
        d.push(repo + "/app:2.0")
        for ref in ("/ok:1.1", "/app:2.0"):   # the update pulls them
            d.docker(["rmi", repo + ref])
        cls.cfg = os.path.join(env.tmp, "dashboard-%s.ini" % secrets.token_hex(4))
        with open(cls.cfg, "w") as f:
            f.write("[host.%s]\ndocker = unix://%s\n" % (FLEET_HOST, d.sock))
            f.write("[registry.dashreg]\nprovider = custom\nurl = %s\n" % cls.registry.url)

    @classmethod
    def run_job(cls, body, what):
        """Submit body and wait for it to succeed."""
        jid = cls.submit(body)
        wait_for(lambda: cls.state(jid) in ("succeeded", "failed", "dead"), timeout=60, what=what)
        assert cls.state(jid) == "succeeded", cls.srv.request("GET", "/v1/jobs/" + jid)[2]

    @classmethod
    def submit(cls, body):
        st, _, b = cls.srv.request("POST", "/v1/jobs", body)
        assert st == 201, (st, b)
        return b["id"]

    @classmethod
    def state(cls, jid):
        return cls.srv.request("GET", "/v1/jobs/" + jid)[2].get("state")

    @classmethod
    def make_data(cls):
        """Jobs in every state, two dead letters, a schedule."""
        tag = secrets.token_hex(3)
        ids = {"ok": cls.submit({"id": "dashok-" + tag, "type": "system.noop", "args": {"from": "dashboard"}}),
               "failed": cls.submit({"id": "dashfail-" + tag, "type": "system.fail", "max_attempts": 1,
                                     "args": {"code": "boom", "message": "failed on purpose"}}),
               "dead": [cls.submit({"id": "dashdead-%d-%s" % (i, tag), "type": "system.fail", "max_attempts": 1,
                                    "args": {"code": "gone", "transient": True}}) for i in range(2)],
               "running": cls.submit({"id": "dashrun-" + tag, "type": "system.sleep", "args": {"ms": 600000}}),
               "scheduled": cls.submit({"id": "dashlater-" + tag, "type": "system.noop",
                                        "run_at": int(time.time() * 1000) + 86400000})}
        ids["cancelled"] = cls.submit({"id": "dashcancel-" + tag, "type": "system.sleep", "args": {"ms": 600000},
                                       "run_at": int(time.time() * 1000) + 86400000})
        st, _, b = cls.srv.request("POST", "/v1/jobs/%s/cancel" % ids["cancelled"])
        assert st == 200, (st, b)
        for jid, want in ((ids["ok"], "succeeded"), (ids["failed"], "failed"), (ids["dead"][0], "dead"),
                          (ids["dead"][1], "dead"), (ids["running"], "running")):
            wait_for(lambda: cls.state(jid) == want, timeout=30, what="%s %s" % (jid, want))
        cls.schedule = "dashnightly-" + tag
        st, _, b = cls.srv.request("POST", "/v1/schedules", {"name": cls.schedule, "type": "system.noop",
                                                              "cron": "30 2 * * *", "args": {"from": "dashboard"}})
        assert st == 201, (st, b)
        # one runtime.host.sync fills the fleet pages
        st, _, b = cls.srv.request("GET", "/v1/hosts/%s/containers?refresh=1&wait_s=30" % FLEET_HOST)
        assert st == 200 and b["refresh"]["state"] == "succeeded", (st, b)
        # two stats sweeps (CPU needs two) for the charts, and an update check
        for i in range(2):
            if i:
                time.sleep(1.5)
            cls.run_job({"type": "runtime.host.stats", "target": FLEET_HOST}, "a stats sweep")
        cls.run_job({"type": "registry.update_check", "target": FLEET_HOST, "max_attempts": 1}, "an update check")
        return ids

    def test_dashboard_in_chromium(self):
        shots = os.path.join(os.path.dirname(os.path.abspath(env.bin)), "dashboard-screenshots")
        shutil.rmtree(shots, ignore_errors=True)
        attack = "http://127.0.0.1:%d/" % self.attack.server_address[1]
        cfg = {"url": "http://127.0.0.1:%d" % self.srv.port, "token": self.srv.token,
               "read_token": self.srv.read_token, "short_url": "http://127.0.0.1:%d" % self.short.port,
               "short_token": self.short.token, "short_ttl_s": SHORT_TTL_S, "ids": self.ids,
               "schedule": self.schedule, "shots": shots, "chromium": CHROMIUM,
               "fleet": {"host": FLEET_HOST, "container": FLEET_CTR, "update_ok": UPD_OK, "update_bad": UPD_BAD,
                         "spare": SPARE},
               # same site on another port (the cookie goes along), and another site
               "attack_urls": [attack, attack.replace("127.0.0.1", "localhost")]}
        cfg_path = os.path.join(env.tmp, "dashboard-%s.json" % secrets.token_hex(4))
        res_path = cfg_path + ".results"
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run(["node", os.path.join(UI_DIR, "dashboard.js"), cfg_path, res_path], cwd=UI_DIR,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=480)
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stderr[-4000:])
        with open(res_path) as f:
            results = json.load(f)
        names = [r["name"] for r in results]
        for want in ("wrong_token", "pages_show_the_test_data", "live_log_on_the_job_page", "read_only_token",
                     "cross_site_post_refused", "cancel_from_the_job_page", "bulk_retry_of_dead_letters",
                     "purge_selected_dead_letters",
                     "schedules_add_run_now_delete", "fleet_lists_the_host_and_its_container",
                     "fleet_container_charts_and_live_output", "fleet_update_plan_then_update",
                     "fleet_update_rolls_back", "fleet_stop_and_remove_from_the_host_page",
                     "keyboard_and_phone_width", "search_args_show_them_and_retry_as_new",
                     "quiet_from_the_workers_page", "logout", "expired_session"):
            self.assertIn(want, names)
        for r in results:
            with self.subTest(check=r["name"]):
                self.assertTrue(r["ok"], r.get("detail"))
        shots_list = sorted(os.listdir(shots))
        for page in ("overview", "jobs", "job-failed", "dead", "schedules", "workers", "fleet", "fleet-host",
                     "fleet-container", "fleet-update-plan", "fleet-update-rolled-back", "job-log", "jobs-search",
                     "job-args", "workers-buttons", "workers-quiet"):
            for scheme in ("light", "dark"):
                self.assertIn("%s-%s.png" % (page, scheme), shots_list)
        print("dashboard screenshots (%d): %s" % (len(shots_list), shots))


if __name__ == "__main__":
    unittest.main()
