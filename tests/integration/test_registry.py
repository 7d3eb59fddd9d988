#!/usr/bin/python3
"""The registry family against real, private registries (Debian's
docker-registry): one with htpasswd Basic auth, one with token auth whose
token server (tests/lib/registry.py) signs JWTs the registry trusts, can
answer 429 on demand and counts its requests. Covers credentials checks,
semver tags with filters and transforms, pagination, a tag moved to a new
digest, a two-platform OCI index, deletes (allowed, and refused by a
registry with deletes off), errors, 429 with Retry-After (seconds and HTTP
dates), scoped token caching, a bare name matched to the Docker Hub entry,
and that no secret (given directly or as *_file) reaches Redis, results,
dead letters or the worker's log."""
import base64
import email.utils
import json
import os
import secrets
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import registry  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()

# Canary secrets: if any of these (or a token, or a Basic header value made
# from them) shows up in Redis or the worker log, a secret leaked.
PW_BASIC = "canary-basic-" + secrets.token_hex(8)
PW_TOKEN = "canary-token-" + secrets.token_hex(8)
PW_WRONG = "canary-wrong-" + secrets.token_hex(8)
STATIC_TOKEN = "canary-static-" + secrets.token_hex(8)
# The same kinds of secret given directly in the worker config, not as *_file.
PW_DIRECT = "canary-direct-" + secrets.token_hex(8)
PW_WRONG_DIRECT = "canary-wrongdirect-" + secrets.token_hex(8)
PW_TOKEN_DIRECT = "canary-tokdirect-" + secrets.token_hex(8)
STATIC_DIRECT = "canary-staticdirect-" + secrets.token_hex(8)

APP_TAGS = ["1.0", "1.1", "1.2.0", "2.0.0-rc.1", "2.0.0", "latest", "12-ls33", "13-ls1", "v0.9", "nightly"]


class RegistryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="registry-", dir=env.tmp)
        cls.statuses = []   # every job status seen, searched for secrets at the end
        cls.tok = registry.TokenServer(cls.tmp, users={"ci": PW_TOKEN, "direct": PW_TOKEN_DIRECT})
        cls.basic = registry.Registry(cls.tmp, auth="htpasswd", users={"ci": PW_BASIC, "direct": PW_DIRECT})
        cls.nodel = registry.Registry(cls.tmp, auth="htpasswd", users={"ci": PW_BASIC}, delete=False)
        cls.treg = registry.Registry(cls.tmp, auth="token", token_server=cls.tok)
        cls.bhost = "127.0.0.1:%d" % cls.basic.port
        cls.thost = "127.0.0.1:%d" % cls.treg.port
        cls.app = {}
        for t in APP_TAGS:
            cls.app[t] = registry.push_image(cls.basic, "team/app", t, creds=("ci", PW_BASIC))
        registry.push_image(cls.basic, "team/other", "1", creds=("ci", PW_BASIC))
        cls.multi, cls.multi_plat = registry.push_index(
            cls.basic, "team/multi", "1.0", [("linux", "amd64", None), ("linux", "arm64", "v8")],
            creds=("ci", PW_BASIC))
        for t in ("1.0", "1.1", "2.0"):
            registry.push_image(cls.treg, "team/app", t, creds=("ci", PW_TOKEN))
        for r in ("a", "b", "c", "d", "e"):
            registry.push_image(cls.treg, "rate/" + r, "1", creds=("ci", PW_TOKEN))
        cls.quay = registry.PagingProxy(cls.basic, "quay", page=2)
        cls.nolink = registry.PagingProxy(cls.basic, "nolink")
        cls.evil = registry.PagingProxy(cls.basic, "evil", page=2)
        cls.endless = registry.PagingProxy(cls.basic, "endless", page=1)
        # Plain pass-throughs: more "hosts" for the same registry, each served
        # by its own inventory entry (direct secrets, Docker Hub).
        cls.direct_px = registry.PagingProxy(cls.basic, "quay", page=100000)
        cls.wrongdirect_px = registry.PagingProxy(cls.basic, "quay", page=100000)
        cls.tokdirect_px = registry.PagingProxy(cls.treg, "quay", page=100000)
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        pwdir = tempfile.mkdtemp(prefix="pw-", dir=cls.tmp)

        def pwfile(name, value):
            p = os.path.join(pwdir, name)
            with open(p, "w") as f:
                f.write(value + "\n")
            return p
        cfg = os.path.join(cls.tmp, "worker.ini")
        with open(cfg, "w") as f:
            f.write("[registry.basic]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                    % (cls.basic.url, pwfile("basic", PW_BASIC)))
            f.write("[registry.tok]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                    % (cls.treg.url, pwfile("tok", PW_TOKEN)))
            f.write("[registry.tokanon]\nprovider = custom\nurl = %s\n" % cls.treg.url)
            f.write("[registry.wrong]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                    % (cls.basic.url, pwfile("wrong", PW_WRONG)))
            f.write("[registry.wrongtok]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                    % (cls.treg.url, pwfile("wrongtok", PW_WRONG)))
            for name, px in (("quaylike", cls.quay), ("nolink", cls.nolink), ("evil", cls.evil),
                             ("endless", cls.endless)):
                f.write("[registry.%s]\nprovider = %s\nurl = %s\nusername = ci\npassword_file = %s\n"
                        % (name, "quay" if name == "quaylike" else "custom", px.url, pwfile("px" + name, PW_BASIC)))
            f.write("[registry.static]\nprovider = custom\nauth = bearer\nurl = %s\ntoken_file = %s\n"
                    % (cls.treg.url, pwfile("static", STATIC_TOKEN)))
            f.write("[registry.nodel]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                    % (cls.nodel.url, pwfile("nodel", PW_BASIC)))
            # Secrets given directly.
            f.write("[registry.direct]\nprovider = custom\nurl = %s\nusername = direct\npassword = %s\n"
                    % (cls.direct_px.url, PW_DIRECT))
            f.write("[registry.wrongdirect]\nprovider = custom\nurl = %s\nusername = ci\npassword = %s\n"
                    % (cls.wrongdirect_px.url, PW_WRONG_DIRECT))
            f.write("[registry.tokdirect]\nprovider = custom\nurl = %s\nusername = direct\npassword = %s\n"
                    % (cls.tokdirect_px.url, PW_TOKEN_DIRECT))
            f.write("[registry.statdirect]\nprovider = custom\nauth = bearer\nurl = %s\ntoken = %s\n"
                    % (cls.treg.url, STATIC_DIRECT))
            # Docker Hub: serves bare names (docker.io); here its API origin
            # is a loopback pass-through to the Basic registry.
            f.write("[registry.hub]\nprovider = dockerhub\nurl = %s\nusername = direct\npassword = %s\n"
                    % (cls.direct_px.url, PW_DIRECT))
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=3, families="registry",
                                      args=["--config", cfg])

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        for px in (cls.quay, cls.nolink, cls.evil, cls.endless, cls.direct_px, cls.wrongdirect_px,
                   cls.tokdirect_px):
            px.stop()
        cls.basic.stop()
        cls.nodel.stop()
        cls.treg.stop()
        cls.tok.stop()

    # ---------------------------------------------------------------- helpers

    def job(self, type_, args, ok=True, extra=()):
        """Submit registry.TYPE, wait, and return the status as JSON."""
        cmd = ["submit", "registry." + type_, "--args-json", json.dumps(args), "--wait", "--timeout", "60",
               "--max-attempts", "1"] + list(extra)
        p = env.wharf(cmd, self.amqp, self.prefix, timeout=90)
        jid = p.stdout.split()[0] if p.stdout.split() else None
        self.assertIsNotNone(jid, p.stderr)
        s = json.loads(env.wharf(["status", "--json", jid], self.amqp, self.prefix).stdout)
        self.statuses.append(s)
        if ok is True:
            self.assertEqual(s["state"], "succeeded", s)
        else:
            self.assertNotEqual(s["state"], "succeeded", s)
            self.assertEqual(s.get("error"), ok, s)
        return s

    def img(self, repo, host=None):
        return "%s/%s" % (host or self.bhost, repo)

    # ---------------------------------------------------------------- tests

    def test_check_credentials(self):
        r = self.job("check", {"registry": "basic"})["result"]
        self.assertEqual((r["auth"], r["authenticated"], r["api_version"]), ("basic", True, "registry/2.0"), r)
        r = self.job("check", {"registry": "tok"})["result"]
        self.assertEqual((r["auth"], r["authenticated"]), ("bearer", True), r)
        r = self.job("check", {"registry": "tokanon"})["result"]
        self.assertEqual((r["auth"], r["authenticated"]), ("bearer", False), r)
        # Wrong credentials are permanent: one attempt of three, state failed.
        s = self.job("check", {"registry": "wrong"}, ok="auth_failed", extra=["--max-attempts", "3"])
        self.assertIn("wrong", s["error_message"])
        self.assertEqual((s["state"], s["attempt"]), ("failed", 1), s)
        r = self.job("check", {"registry": "direct"})["result"]
        self.assertEqual((r["auth"], r["authenticated"]), ("basic", True), r)
        r = self.job("check", {"registry": "tokdirect"})["result"]
        self.assertEqual((r["auth"], r["authenticated"]), ("bearer", True), r)
        s = self.job("check", {"registry": "wrongtok"}, ok="auth_failed")
        self.assertIn("token service refused the credentials", s["error_message"])
        self.job("check", {"registry": "static"}, ok="auth_failed")
        s = self.job("check", {"registry": "nosuch"}, ok="unknown_host")
        self.assertIn("nosuch", s["error_message"])

    def test_tags_semver_include_exclude(self):
        r = self.job("tags", {"image": self.img("team/app")})["result"]
        self.assertEqual(sorted(r["tags"]), sorted(APP_TAGS))
        self.assertEqual(r["registry"], "basic")
        r = self.job("tags", {"image": self.img("team/app"), "semver": True, "exclude": "-ls"})["result"]
        self.assertEqual(r["tags"], ["2.0.0", "2.0.0-rc.1", "1.2.0", "1.1", "1.0", "v0.9"])
        self.assertEqual(r["latest"], "2.0.0")
        r = self.job("tags", {"image": self.img("team/app"), "semver": True,
                              "include": r"^\d+\.\d+$"})["result"]
        self.assertEqual(r["tags"], ["1.1", "1.0"])

    def test_tags_transform(self):
        r = self.job("tags", {"image": self.img("team/app"), "include": "-ls", "semver": True,
                              "transform": r"^(\d+)-ls.* => $1"})["result"]
        self.assertEqual(r["tags"], ["13-ls1", "12-ls33"])
        self.assertEqual(r["versions"], {"13-ls1": "13", "12-ls33": "12"})
        self.assertEqual(r["latest"], "13-ls1")

    def test_bad_args_are_refused_naming_the_field(self):
        for args, field in (({"image": "Bad/Name"}, "args.image"),
                            ({"image": self.img("team/app"), "include": "("}, "args.include"),
                            ({"image": self.img("team/app"), "transform": "no arrow"}, "args.transform")):
            p = env.wharf(["submit", "registry.tags", "--args-json", json.dumps(args)], self.amqp, self.prefix)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn(field, p.stderr)
        p = env.wharf(["submit", "registry.digest", "--args-json",
                       json.dumps({"image": "x", "platform": "linux"})], self.amqp, self.prefix)
        self.assertIn("args.platform", p.stderr)

    def test_pagination_small_n(self):
        whole = self.job("tags", {"image": self.img("team/app")})["result"]
        # distribution 2.8 ignores n on tags/list (it pages only the
        # catalog): a page longer than n is the whole list, not page one.
        r = self.job("tags", {"image": self.img("team/app"), "n": 3})["result"]
        self.assertEqual(r["tags"], whole["tags"])
        self.assertEqual(r["pages"], 1, r)
        r = self.job("catalog", {"registry": "basic", "n": 1})["result"]
        repos = r["repositories"]
        self.assertEqual(repos, sorted(set(repos)))      # in order, no page twice
        self.assertTrue({"team/app", "team/multi", "team/other"} <= set(repos), repos)
        self.assertGreaterEqual(r["pages"], len(repos))  # one repository per page
        self.assertEqual(r["count"], len(repos))
        r2 = self.job("catalog", {"registry": "tok"})["result"]
        self.assertTrue({"rate/a", "rate/b", "rate/c", "team/app"} <= set(r2["repositories"]), r2)

    def test_tags_paging_link_last_and_foreign_links(self):
        # quay style: absolute same-origin Link with an opaque page token.
        r = self.job("tags", {"image": "127.0.0.1:%d/team/app" % self.quay.port})["result"]
        self.assertEqual((sorted(r["tags"]), r["pages"], r["registry"]), (sorted(APP_TAGS), 5, "quaylike"))
        self.assertIn("/v2/team/app/tags/list?next_page=8", self.quay.paths)
        # No Link: `last=` after each page of exactly n, until a short page.
        r = self.job("tags", {"image": "127.0.0.1:%d/team/app" % self.nolink.port, "n": 3})["result"]
        self.assertEqual((r["tags"], r["pages"]), (sorted(APP_TAGS), 4))
        r = self.job("tags", {"image": "127.0.0.1:%d/team/app" % self.nolink.port, "n": 5})["result"]
        self.assertEqual((r["tags"], r["pages"]), (sorted(APP_TAGS), 3))  # 5, 5, then an empty page
        # A next link to another origin is refused, never followed or cut silently.
        n0 = len(self.evil.paths)
        s = self.job("tags", {"image": "127.0.0.1:%d/team/app" % self.evil.port}, ok="registry_error")
        self.assertIn("another origin", s["error_message"])
        self.assertFalse([p for p in self.evil.paths[n0:] if "next_page" in p])
        # A registry that pages forever hits the page cap, and the worker serves on.
        s = self.job("tags", {"image": "127.0.0.1:%d/team/app" % self.endless.port}, ok="too_large")
        self.assertIn("more than 1000 pages", s["error_message"])
        self.job("check", {"registry": "basic"})

    def test_tag_moved_to_new_digest(self):
        d1 = registry.push_image(self.basic, "team/mover", "1.0", creds=("ci", PW_BASIC))
        r = self.job("digest", {"image": self.img("team/mover:1.0")})["result"]
        self.assertEqual((r["digest"], r["kind"], r["index"]), (d1, "docker_v2", False))
        d2 = registry.push_image(self.basic, "team/mover", "1.0", creds=("ci", PW_BASIC))
        self.assertNotEqual(d1, d2)
        r = self.job("digest", {"image": self.img("team/mover:1.0")})["result"]
        self.assertEqual(r["digest"], d2)
        # By digest, the old manifest still resolves to itself.
        r = self.job("digest", {"image": self.img("team/mover@" + d1)})["result"]
        self.assertEqual(r["digest"], d1)

    def test_oci_index_two_platforms(self):
        r = self.job("digest", {"image": self.img("team/multi:1.0")})["result"]
        self.assertEqual((r["digest"], r["kind"], r["index"]), (self.multi, "oci_index", True))
        r = self.job("digest", {"image": self.img("team/multi:1.0"), "platform": "linux/arm64"})["result"]
        self.assertEqual(r["platform_digest"], self.multi_plat["linux/arm64/v8"])
        self.assertEqual(r["platforms"], ["linux/amd64", "linux/arm64/v8"])
        r = self.job("digest", {"image": self.img("team/multi:1.0"), "platform": "linux/amd64"})["result"]
        self.assertEqual(r["platform_digest"], self.multi_plat["linux/amd64"])
        s = self.job("digest", {"image": self.img("team/multi:1.0"), "platform": "linux/s390x"}, ok="not_found")
        self.assertIn("linux/amd64, linux/arm64/v8", s["error_message"])

    def test_not_found_and_unknown_registry(self):
        self.job("tags", {"image": self.img("team/nope")}, ok="not_found")
        s = self.job("digest", {"image": self.img("team/app:nope")}, ok="not_found")
        self.assertIn("team/app:nope", s["error_message"])
        s = self.job("digest", {"image": "ghcr.io/x/y:1"}, ok="unknown_host")
        self.assertIn("ghcr.io", s["error_message"])
        self.job("tags", {"image": "quay.io/team/nope", "n": 5}, ok="unknown_host")

    def test_bare_name_is_docker_hub(self):
        # "team/app" is docker.io/team/app, served by the dockerhub entry.
        r = self.job("tags", {"image": "team/app"})["result"]
        self.assertEqual((r["registry"], r["image"], sorted(r["tags"])), ("hub", "docker.io/team/app", sorted(APP_TAGS)))
        r = self.job("digest", {"image": "docker.io/team/app:1.1"})["result"]
        self.assertEqual((r["registry"], r["digest"]), ("hub", self.app["1.1"]))
        s = self.job("tags", {"image": "nope"}, ok="not_found")       # docker.io/library/nope
        self.assertIn("library/nope", s["error_message"])

    def test_delete(self):
        d = registry.push_image(self.basic, "team/del", "1.0", creds=("ci", PW_BASIC))
        r = self.job("delete", {"image": self.img("team/del:1.0")})["result"]
        self.assertEqual(r["deleted"], d)
        self.job("digest", {"image": self.img("team/del:1.0")}, ok="not_found")
        d = registry.push_image(self.treg, "team/del", "2", creds=("ci", PW_TOKEN))
        r = self.job("delete", {"image": self.img("team/del", self.thost), "digest": d})["result"]
        self.assertEqual(r["deleted"], d)
        p = env.wharf(["submit", "registry.delete", "--args-json", json.dumps({"image": self.img("team/del")})],
                      self.amqp, self.prefix)
        self.assertIn("tag or digest", p.stderr)
        # A registry with deletes off (distribution's default) answers 405: `unsupported`.
        d = registry.push_image(self.nodel, "team/keep", "1.0", creds=("ci", PW_BASIC))
        nhost = "127.0.0.1:%d" % self.nodel.port
        s = self.job("delete", {"image": self.img("team/keep:1.0", nhost)}, ok="unsupported",
                     extra=["--max-attempts", "3"])
        self.assertEqual((s["state"], s["attempt"]), ("failed", 1), s)
        self.assertIn("does not allow deleting manifest team/keep@" + d, s["error_message"])
        self.assertIn("REGISTRY_STORAGE_DELETE_ENABLED=true", s["error_message"])
        r = self.job("digest", {"image": self.img("team/keep:1.0", nhost)})["result"]
        self.assertEqual(r["digest"], d)    # still there
        # Docker Hub deletes only through its Hub API: `unsupported`, up front.
        s = self.job("delete", {"image": "team/app:1.0"}, ok="unsupported")
        self.assertIn("Docker Hub does not delete through the registry API", s["error_message"])
        r = self.job("digest", {"image": self.img("team/app:1.0")})["result"]
        self.assertEqual(r["digest"], self.app["1.0"])

    def test_token_flow_caches_per_scope(self):
        scope = "repository:team/app:pull"

        def fetches():
            return [q for q in self.tok.requests if scope in q[0]]
        before = len(fetches())
        r = self.job("tags", {"image": self.img("team/app", self.thost), "semver": True})["result"]
        self.assertEqual(r["tags"], ["2.0", "1.1", "1.0"])
        self.job("digest", {"image": self.img("team/app:1.1", self.thost)})
        self.job("tags", {"image": self.img("team/app", self.thost), "n": 1})
        got = fetches()[before:]
        self.assertEqual(len(got), 1, got)           # one token, reused by three jobs
        self.assertEqual((got[0][1], got[0][2]), ("ci", 200))

    def test_rate_limit_429(self):
        # A 429 with a short Retry-After is waited out within the job.
        n0 = self.tok.count()
        self.tok.fail_next(1, 429, retry_after="1")
        r = self.job("tags", {"image": self.img("rate/a", self.thost)})["result"]
        self.assertEqual(r["tags"], ["1"])
        self.assertEqual([q[2] for q in self.tok.requests[n0:]], [429, 200])
        # A long one fails the attempt as a transient rate_limited.
        self.tok.fail_next(1, 429, retry_after="120")
        s = self.job("tags", {"image": self.img("rate/b", self.thost)}, ok="rate_limited")
        self.assertIn("Retry-After 120", s["error_message"])
        self.tok.fail_next(1, 503, retry_after="120")
        self.job("tags", {"image": self.img("rate/c", self.thost)}, ok="unreachable")
        # Retry-After as an HTTP date: a near one is waited out, a far one
        # (two minutes) fails the attempt naming the wait it asked for.
        n2 = self.tok.count()
        self.tok.fail_next(1, 429, retry_after=email.utils.formatdate(time.time() + 2, usegmt=True))
        self.job("tags", {"image": self.img("rate/d", self.thost)})
        self.assertEqual([q[2] for q in self.tok.requests[n2:]], [429, 200])
        self.tok.fail_next(1, 429, retry_after=email.utils.formatdate(time.time() + 122, usegmt=True))
        s = self.job("tags", {"image": self.img("rate/e", self.thost)}, ok="rate_limited")
        self.assertRegex(s["error_message"], r"Retry-After 1(19|2[0-2]) s")
        # A 5xx without Retry-After is retried after a second.
        n1 = self.tok.count()
        self.tok.fail_next(1, 503, retry_after=None)
        self.job("tags", {"image": self.img("rate/c", self.thost)})
        self.assertEqual([q[2] for q in self.tok.requests[n1:]], [503, 200])

    def test_zz_no_secret_in_redis_or_logs(self):
        """Canary secrets, given directly and as *_file, through every job
        type, successes and failures (wrong credentials, not found, 429 and
        5xx used up into dead letters); then Redis (every key of the prefix,
        every value), the job statuses and results, the dead-letter bodies
        and headers, and the worker's log are searched for them."""
        # Tests above ran with these entries too; run every type once more
        # here, so this test stands on its own.
        for reg in ("basic", "tok", "direct", "tokdirect"):
            self.job("check", {"registry": reg})
            self.job("catalog", {"registry": reg, "n": 2})
        for reg in ("wrong", "wrongtok", "wrongdirect", "static", "statdirect"):
            self.job("check", {"registry": reg}, ok="auth_failed")
            self.job("catalog", {"registry": reg}, ok="auth_failed")
        dhost = "127.0.0.1:%d" % self.direct_px.port
        whost = "127.0.0.1:%d" % self.wrongdirect_px.port
        tdhost = "127.0.0.1:%d" % self.tokdirect_px.port
        for host in (self.bhost, self.thost, dhost, tdhost):
            self.job("tags", {"image": self.img("team/app", host), "semver": True})
            self.job("digest", {"image": self.img("team/app:1.0", host)})
            self.job("tags", {"image": self.img("team/none", host)}, ok="not_found")
            self.job("digest", {"image": self.img("team/app:none", host)}, ok="not_found")
        d = registry.push_image(self.basic, "team/canary", "1", creds=("ci", PW_BASIC))
        self.assertEqual(self.job("delete", {"image": self.img("team/canary:1", dhost)})["result"]["deleted"], d)
        self.job("delete", {"image": self.img("team/app:nope", dhost)}, ok="not_found")
        for type_, args in (("tags", {"image": self.img("team/app", whost)}),
                            ("digest", {"image": self.img("team/app:1.0", whost)}),
                            ("delete", {"image": self.img("team/app:1.0", whost)})):
            self.job(type_, args, ok="auth_failed")
        self.job("delete", {"image": "team/app:1.0"}, ok="unsupported")
        # Rate limits and 5xx that outlast the attempt: dead letters.
        # (fresh repositories: no token of theirs is cached yet)
        for repo, host, status, code in (("rate/canary1", self.thost, 429, "rate_limited"),
                                         ("rate/canary2", self.thost, 503, "unreachable"),
                                         ("rate/canary3", tdhost, 429, "rate_limited")):
            registry.push_image(self.treg, repo, "1", creds=("ci", PW_TOKEN))
            self.tok.fail_next(1, status, retry_after="300")
            self.job("tags", {"image": self.img(repo, host)}, ok=code)
        self.assertIn("dead", {s["state"] for s in self.statuses})

        canaries = [PW_BASIC, PW_TOKEN, PW_WRONG, STATIC_TOKEN, PW_DIRECT, PW_WRONG_DIRECT, PW_TOKEN_DIRECT,
                    STATIC_DIRECT]
        for user, pw in (("ci", PW_BASIC), ("ci", PW_TOKEN), ("ci", PW_WRONG), ("direct", PW_DIRECT),
                         ("ci", PW_WRONG_DIRECT), ("direct", PW_TOKEN_DIRECT)):
            canaries.append(base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())
        canaries += self.tok.issued
        self.assertGreater(len(self.tok.issued), 3)
        # Redis: every key of the prefix, every value.
        r = env.redis()
        blob = []
        for key in r.scan_iter(match=env._glob_escape(self.prefix) + "*", count=1000):
            t = r.type(key)
            blob.append(key)
            if t == "string":
                blob.append(r.get(key) or "")
            elif t == "hash":
                blob.extend("%s=%s" % kv for kv in r.hgetall(key).items())
            elif t == "stream":
                blob.extend(json.dumps(e) for e in r.xrange(key))
            elif t == "list":
                blob.extend(r.lrange(key, 0, -1))
            elif t in ("set", "zset"):
                blob.extend(r.smembers(key) if t == "set" else r.zrange(key, 0, -1))
        redis_text = "\n".join(blob)
        self.assertIn("auth_failed", redis_text)   # the search does see job outcomes
        # Statuses and results, as the CLI shows them.
        status_text = json.dumps(self.statuses)
        self.assertIn('"deleted"', status_text)
        # Dead letters: bodies and headers.
        dead = env.get_messages(self.amqp, "wharf.dead", 1000)
        self.assertGreaterEqual(len(dead), 3)
        dead_text = "\n".join(m["body"].decode("latin-1") + json.dumps(m["headers"], default=str) for m in dead)
        self.assertIn("rate_limited", dead_text)
        log = self.worker.log_text()
        # As they are, or base64-wrapped in any way (Basic values, X-Registry-Auth).
        for where, text in (("Redis", redis_text), ("a job status or result", status_text),
                            ("a dead letter", dead_text), ("the worker log", log)):
            self.assertEqual(registry.leaked(text, canaries), [], "secret found in " + where)
        # ... and the worker survived everything (a sanitizer abort would end it).
        self.assertTrue(self.worker.alive(), self.worker.log_tail())
        self.assertNotIn("AddressSanitizer", self.worker.log_text())


if __name__ == "__main__":
    unittest.main()
