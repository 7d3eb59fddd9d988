#!/usr/bin/python3
"""registry.update_check against a private dockerd and a private registry:
containers run images pulled from the registry; new digests and tags are
pushed; the check reports digest and tag updates (with labels for include,
exclude and transform), and writes them to <prefix>updates:<host>."""
import base64
import json
import os
import secrets
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import registry  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
PW = "canary-upd-" + secrets.token_hex(8)


class UpdateCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="regupd-", dir=env.tmp)
        cls.d = dockerd.Dockerd.start(env.tmp)
        cls.reg = registry.Registry(cls.tmp, auth="htpasswd", users={"ci": PW})
        cls.host = "127.0.0.1:%d" % cls.reg.port
        cls.d.docker(["login", "-u", "ci", "--password-stdin", cls.host], input=PW.encode())
        bb = registry.busybox_files()
        cmd = ["/bin/busybox", "sleep", "3600"]

        def push(repo, tag):
            return registry.push_image(cls.reg, repo, tag, creds=("ci", PW), files=bb, cmd=cmd)

        def run(name, repo, tag, labels=()):
            ref = "%s/%s:%s" % (cls.host, repo, tag)
            cls.d.docker(["pull", ref])
            args = ["run", "-d", "--name", name]
            for k, v in labels:
                args += ["--label", "%s=%s" % (k, v)]
            cls.d.docker(args + [ref])

        cls.web_old = push("team/web", "1.0")
        push("team/pin", "1.0")
        push("team/ls", "12-ls33")
        push("team/pre", "1.0.0")
        run("web", "team/web", "1.0")
        run("pinned", "team/pin", "1.0")
        run("ls", "team/ls", "12-ls33", [("wharf.update.include", "-ls"),
                                           ("wharf.update.transform", r"^(\d+)-ls.* => $1")])
        run("pre", "team/pre", "1.0.0", [("wud.tag.exclude", "^1\\.1")])
        cls.d.docker(["run", "-d", "--name", "local", cls.d.busybox_image(), "sleep", "3600"])
        gone = push("team/gone", "1.0")
        run("gone", "team/gone", "1.0")
        registry._request("DELETE", "%s/v2/team/gone/manifests/%s" % (cls.reg.url, gone),
                          cls.reg.creds_header([], ("ci", PW)))
        # After the containers started: a new 1.0, newer tags, a prerelease.
        cls.web_new = push("team/web", "1.0")
        cls.web_11 = push("team/web", "1.1")
        push("team/web", "2.0.0-rc.1")
        cls.ls_13 = push("team/ls", "13-ls1")
        push("team/ls", "14")            # not -ls: excluded by the include label
        push("team/pre", "1.1.0")        # excluded by the wud.tag.exclude label
        cls.pre_101 = push("team/pre", "1.0.1")
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cfg = os.path.join(cls.tmp, "worker.ini")
        with open(cfg, "w") as f:
            f.write("[host.dock]\ndocker = unix://%s\n" % cls.d.sock)
            pw = os.path.join(cls.tmp, "pw")
            with open(pw, "w") as p:
                p.write(PW)
            f.write("[registry.local]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                    % (cls.reg.url, pw))
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=2, families="registry",
                                      args=["--config", cfg])

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        cls.d.stop()
        cls.reg.stop()

    def job(self, args, target="dock", ok=True):
        p = env.wharf(["submit", "registry.update_check", "--target", target, "--args-json", json.dumps(args),
                       "--wait", "--timeout", "90", "--max-attempts", "1"], self.amqp, self.prefix, timeout=120)
        jid = p.stdout.split()[0] if p.stdout.split() else None
        self.assertIsNotNone(jid, p.stderr)
        s = json.loads(env.wharf(["status", "--json", jid], self.amqp, self.prefix).stdout)
        if ok is True:
            self.assertEqual(s["state"], "succeeded", s)
        else:
            self.assertEqual(s.get("error"), ok, s)
        return s

    def stored(self):
        h = env.redis().hgetall(self.prefix + "updates:dock")
        return {k: json.loads(v) for k, v in h.items()}

    def test_all_containers(self):
        r = self.job({})["result"]
        by = {e["container"]: e for e in r["containers"]}
        self.assertEqual(set(by), {"web", "pinned", "ls", "pre", "local", "gone"})
        web = by["web"]
        self.assertEqual((web["status"], web["kind"], web["digest_changed"]), ("ok", "tag", True), web)
        self.assertEqual(web["current_digests"], [self.web_old])
        self.assertEqual(web["registry_digest"], self.web_new)
        self.assertEqual((web["candidate_tag"], web["candidate_digest"], web["semver_diff"]),
                         ("1.1", self.web_11, "minor"))   # 2.0.0-rc.1: no prereleases for a release
        pin = by["pinned"]
        self.assertEqual((pin["status"], pin["kind"], pin["digest_changed"]), ("ok", "none", False), pin)
        self.assertNotIn("candidate_tag", pin)
        ls = by["ls"]
        self.assertEqual((ls["kind"], ls["candidate_tag"], ls["candidate_digest"], ls["semver_diff"]),
                         ("tag", "13-ls1", self.ls_13, "major"), ls)
        pre = by["pre"]
        self.assertEqual((pre["kind"], pre["candidate_tag"], pre["semver_diff"]), ("tag", "1.0.1", "patch"), pre)
        self.assertEqual(by["local"]["status"], "no_registry")
        gone = by["gone"]
        self.assertEqual((gone["status"], gone["error"]), ("error", "not_found"), gone)
        self.assertIn("team/gone:1.0", gone["error_message"])
        for e in by.values():
            self.assertGreater(e["checked_at"], 0)
        # The same entries are in Redis, one hash per host, and `wharf updates` shows them.
        self.assertEqual(self.stored(), by)
        p = env.wharf(["updates", "dock", "--json"], self.amqp, self.prefix)
        self.assertEqual((p.returncode, json.loads(p.stdout)), (0, by), p.stderr)
        p = env.wharf(["updates", "dock"], self.amqp, self.prefix)
        rows = {ln.split()[0]: ln.split() for ln in p.stdout.splitlines()[1:]}
        self.assertEqual(rows["web"][:6], ["web", "ok", "tag", "1.0", "1.1", "minor"])
        self.assertEqual(rows["gone"][:3], ["gone", "not_found", "-"])
        self.assertEqual(rows["pinned"][:3], ["pinned", "ok", "none"])
        p = env.wharf(["updates", "nohost"], self.amqp, self.prefix)
        self.assertEqual(p.returncode, 0)
        self.assertIn("no update check recorded for host nohost", p.stderr)

    def test_named_containers_and_errors(self):
        self.job({})
        r = self.job({"containers": ["web"]})["result"]
        self.assertEqual([e["container"] for e in r["containers"]], ["web"])
        self.assertEqual(set(self.stored()), {"web", "pinned", "ls", "pre", "local", "gone"})  # others kept
        self.job({}, target="nohost", ok="unknown_host")
        p = env.wharf(["submit", "registry.update_check", "--target", "dock", "--args-json",
                       json.dumps({"containers": ["bad name"]})], self.amqp, self.prefix)
        self.assertIn("args.containers", p.stderr)

    def update(self, args, ok=True):
        p = env.wharf(["submit", "registry.update_container", "--target", "dock", "--args-json", json.dumps(args),
                       "--wait", "--timeout", "120", "--max-attempts", "1"], self.amqp, self.prefix, timeout=150)
        jid = p.stdout.split()[0] if p.stdout.split() else None
        self.assertIsNotNone(jid, p.stderr)
        s = json.loads(env.wharf(["status", "--json", jid], self.amqp, self.prefix).stdout)
        if ok is True:
            self.assertEqual(s["state"], "succeeded", s)
        else:
            self.assertEqual(s.get("error"), ok, s)
        return s

    def inspect(self, name):
        cp = self.d.docker(["inspect", name], check=False)
        return json.loads(cp.stdout)[0] if cp.returncode == 0 else None

    def test_update_container_keeps_config_and_rolls_back(self):
        bb = registry.busybox_files()
        push = lambda tag, cmd: registry.push_image(self.reg, "team/svc", tag, creds=("ci", PW), files=bb, cmd=cmd)
        push("1.0", ["/bin/busybox", "sleep", "3600"])
        ref = "%s/team/svc:1.0" % self.host
        self.d.docker(["pull", ref])
        self.d.docker(["network", "create", "wharfupd"])
        bind = tempfile.mkdtemp(prefix="bind-", dir=self.tmp)
        self.d.docker(["run", "-d", "--name", "svc", "--env", "FOO=bar", "--label", "app=svc",
                       "--restart", "unless-stopped", "--cpu-shares", "512", "--network", "wharfupd",
                       "--network-alias", "svcalias", "-p", "127.0.0.1::8080", "-v", "wharfupdvol:/data",
                       "-v", bind + ":/bind:ro", "--entrypoint", "/bin/busybox", ref, "sleep", "3600"])
        old = self.inspect("svc")
        new_digest = push("1.0", ["/bin/busybox", "sleep", "3600"])
        # dry_run: the plan, and nothing changes.
        r = self.update({"name": "svc", "dry_run": True})["result"]
        self.assertEqual((r["dry_run"], r["updated"], r["to_image"], r["from_image"]), (True, False, ref, ref))
        self.assertEqual(self.inspect("svc")["Id"], old["Id"])
        # The update: a new container on the new digest with the same configuration.
        r = self.update({"name": "svc"})["result"]
        self.assertTrue(r["updated"], r)
        new = self.inspect("svc")
        self.assertNotEqual(new["Id"], old["Id"])
        self.assertEqual(r["new_id"], new["Id"])
        self.assertTrue(new["State"]["Running"])
        img = json.loads(self.d.docker(["image", "inspect", new["Image"]]).stdout)[0]
        self.assertIn("%s/team/svc@%s" % (self.host, new_digest), img["RepoDigests"])
        self.assertIn("FOO=bar", new["Config"]["Env"])
        self.assertEqual(new["Config"]["Labels"].get("app"), "svc")
        self.assertEqual(new["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped")
        self.assertEqual(new["HostConfig"]["CpuShares"], 512)
        self.assertIn("svcalias", new["NetworkSettings"]["Networks"]["wharfupd"]["Aliases"])
        self.assertEqual(new["HostConfig"]["PortBindings"], old["HostConfig"]["PortBindings"])
        self.assertEqual(new["HostConfig"]["Binds"], old["HostConfig"]["Binds"])
        self.assertEqual(sorted((m["Type"], m["Destination"]) for m in new["Mounts"]),
                         [("bind", "/bind"), ("volume", "/data")])
        # The container's own command and entrypoint (not the image's) are kept.
        self.assertEqual((new["Config"]["Entrypoint"], new["Config"]["Cmd"]), (["/bin/busybox"], ["sleep", "3600"]))
        self.assertIsNone(self.inspect("svc-wharf-old"))
        self.assertIsNone(self.inspect(old["Id"]))
        # Nothing newer: left alone.
        r = self.update({"name": "svc"})["result"]
        self.assertFalse(r["updated"], r)
        self.assertEqual(self.inspect("svc")["Id"], new["Id"])
        # A broken image (no busybox: the container's entrypoint is missing) rolls back.
        registry.push_image(self.reg, "team/svc", "2.0", creds=("ci", PW), cmd=["/bin/busybox", "true"])
        s = self.update({"name": "svc", "tag": "2.0", "health_timeout_s": 20}, ok="rolled_back")
        self.assertIn("rolled back, the old container is back: start:", s["error_message"])
        back = self.inspect("svc")
        self.assertEqual(back["Id"], new["Id"])
        self.assertTrue(back["State"]["Running"])
        self.assertIsNone(self.inspect("svc-wharf-new"))
        self.assertIsNone(self.inspect("svc-wharf-old"))
        self.update({"name": "nope"}, ok="not_found")

    def test_update_container_that_exits_rolls_back(self):
        bb = registry.busybox_files()
        registry.push_image(self.reg, "team/crash", "1.0", creds=("ci", PW), files=bb,
                            cmd=["/bin/busybox", "sleep", "3600"])
        ref = "%s/team/crash:1.0" % self.host
        self.d.docker(["pull", ref])
        self.d.docker(["run", "-d", "--name", "crash", ref])
        old = self.inspect("crash")
        # The new image's own command (the container has none of its own) exits at once.
        registry.push_image(self.reg, "team/crash", "2.0", creds=("ci", PW), files=bb, cmd=["/bin/busybox", "false"])
        s = self.update({"name": "crash", "tag": "2.0"}, ok="rolled_back")
        lp = env.wharf(["logs", s["id"]], self.amqp, self.prefix)
        log = lp.stdout + lp.stderr
        self.assertIn("the new container stopped (exit code 1)", s["error_message"], log)
        back = self.inspect("crash")
        self.assertEqual((back["Id"], back["State"]["Running"]), (old["Id"], True))
        self.assertIsNone(self.inspect("crash-wharf-new"))

    def test_update_interrupted_by_its_timeout_rolls_back(self):
        bb = registry.busybox_files()
        registry.push_image(self.reg, "team/slow", "1.0", creds=("ci", PW), files=bb,
                            cmd=["/bin/busybox", "sleep", "3600"])
        ref = "%s/team/slow:1.0" % self.host
        self.d.docker(["pull", ref])
        self.d.docker(["run", "-d", "--name", "slow", ref])
        old = self.inspect("slow")
        # 2.0 has a health check that stays "starting" far longer than the job may run.
        registry.push_image(self.reg, "team/slow", "2.0", creds=("ci", PW), files=bb,
                            cmd=["/bin/busybox", "sleep", "3600"],
                            healthcheck={"Test": ["CMD", "/bin/busybox", "false"], "Interval": 600 * 10**9,
                                         "StartPeriod": 600 * 10**9})
        p = env.wharf(["submit", "registry.update_container", "--target", "dock", "--args-json",
                       json.dumps({"name": "slow", "tag": "2.0", "health_timeout_s": 600}), "--job-timeout", "15",
                       "--wait", "--timeout", "60", "--max-attempts", "1"], self.amqp, self.prefix, timeout=150)
        jid = p.stdout.split()[0]
        s = json.loads(env.wharf(["status", "--json", jid], self.amqp, self.prefix).stdout)
        lp = env.wharf(["logs", jid], self.amqp, self.prefix)
        ps = self.d.docker(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout.decode()
        self.assertEqual(s.get("error"), "timeout", (s, lp.stdout + lp.stderr, ps))
        back = self.inspect("slow")
        self.assertEqual((back["Id"], back["State"]["Running"], back["Name"]), (old["Id"], True, "/slow"))
        self.assertIsNone(self.inspect("slow-wharf-new"))
        self.assertIsNone(self.inspect("slow-wharf-old"))

    def test_zz_no_secret_in_redis_or_logs(self):
        self.job({})
        canaries = [PW, base64.b64encode(("ci:" + PW).encode()).decode()]
        r = env.redis()
        blob = []
        for key in r.scan_iter(match=env._glob_escape(self.prefix) + "*", count=1000):
            t = r.type(key)
            blob.append(key)
            if t == "hash":
                blob.extend("%s=%s" % kv for kv in r.hgetall(key).items())
            elif t == "stream":
                blob.extend(json.dumps(e) for e in r.xrange(key))
            elif t == "string":
                blob.append(r.get(key) or "")
        text = "\n".join(blob)
        self.assertIn("registry_digest", text)
        for c in canaries:
            self.assertNotIn(c, text)
            self.assertNotIn(c, self.worker.log_text())
        # ... and the worker survived everything (a sanitizer abort would end it).
        self.assertTrue(self.worker.alive(), self.worker.log_tail())
        self.assertNotIn("AddressSanitizer", self.worker.log_text())


if __name__ == "__main__":
    unittest.main()
