#!/usr/bin/python3
"""registry.update_check and registry.update_container against a private
dockerd and a private registry (htpasswd): containers run images pulled
from the registry; new digests and tags are pushed; the check reports digest
and tag updates (with labels for include, exclude and transform), writes
them to <prefix>updates:<host>, and costs one lookup per image however many
containers run it. The end-to-end test builds and pushes its images with
`docker push` from the private dockerd (loopback registries are insecure
for dockerd by default), checks, updates a container keeping its whole
configuration, and rolls back from a broken image."""
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
        cls.statuses = []   # every job status seen, searched for the secret at the end
        cls.d = dockerd.Dockerd.start(env.tmp)
        cls.reg = registry.Registry(cls.tmp, auth="htpasswd", users={"ci": PW})
        cls.host = "127.0.0.1:%d" % cls.reg.port
        cls.d.docker(["login", "-u", "ci", "--password-stdin", cls.host], input=PW.encode())
        cmd = ["/bin/busybox", "sleep", "3600"]

        def push(repo, tag):
            # Built by the private engine (FROM busybox, a label of its own)
            # and pushed with `docker push`.
            ref = "%s/%s:%s" % (cls.host, repo, tag)
            cls.d.build_image(ref, cmd=cmd)
            return cls.d.push(ref)

        def run(name, repo, tag, labels=()):
            ref = "%s/%s:%s" % (cls.host, repo, tag)
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
        cls.roots = tempfile.mkdtemp(prefix="roots-", dir=cls.tmp)
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cfg = os.path.join(cls.tmp, "worker.ini")
        with open(cfg, "w") as f:
            f.write("[host.dock]\ndocker = unix://%s\nroots = %s\n" % (cls.d.sock, cls.roots))
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
        self.statuses.append(s)
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
        self.statuses.append(s)
        if ok is True:
            self.assertEqual(s["state"], "succeeded", s)
        else:
            self.assertEqual(s.get("error"), ok, s)
        return s

    def inspect(self, name):
        cp = self.d.docker(["inspect", name], check=False)
        return json.loads(cp.stdout)[0] if cp.returncode == 0 else None

    def test_update_end_to_end_docker_push_check_update_rollback(self):
        """The flow that matters most, with images pushed by dockerd itself."""
        d, repo = self.d, "%s/team/e2e" % self.host
        sleep = ["/bin/busybox", "sleep", "3600"]
        # 1. img:1.0, built and pushed by the engine; two containers run it.
        d.build_image(repo + ":1.0", cmd=sleep, labels={"img": "1.0"})
        old_digest = d.push(repo + ":1.0")
        d.docker(["network", "create", "e2e-front"])
        d.docker(["network", "create", "e2e-back"])
        bind = tempfile.mkdtemp(prefix="bind-", dir=self.roots)
        with open(os.path.join(bind, "hello"), "w") as f:
            f.write("from the host\n")
        d.docker(["run", "-d", "--name", "e2e", "--env", "FOO=bar", "--env", "EMPTY=", "--label", "app=e2e",
                  "--restart", "unless-stopped", "--cpu-shares", "512", "--memory", "64m", "--pids-limit", "100",
                  "--network", "e2e-front", "--network-alias", "frontalias", "-p", "127.0.0.1::8080",
                  "-v", "e2evol:/data", "-v", bind + ":/bind:ro", "--workdir", "/tmp", "--user", "0:0",
                  "--entrypoint", "/bin/busybox", repo + ":1.0", "sleep", "3600"])
        d.docker(["network", "connect", "--alias", "backalias", "e2e-back", "e2e"])
        d.docker(["run", "-d", "--name", "e2e-pin", "--label", "wharf.update.include=^1\\.0$", repo + ":1.0"])
        old = self.inspect("e2e")
        # 2. A new 1.0 digest and a 1.1, pushed the same way; the local tags
        # go, so the update pulls for real.
        d.build_image(repo + ":1.0", cmd=sleep, labels={"img": "1.0-new"})
        new_digest = d.push(repo + ":1.0")
        d.build_image(repo + ":1.1", cmd=sleep, labels={"img": "1.1"})
        d11 = d.push(repo + ":1.1")
        d.docker(["rmi", repo + ":1.0", repo + ":1.1"])
        self.assertEqual(len({old_digest, new_digest, d11}), 3)
        # 3. The check reports both: a newer tag, and the same tag's new digest.
        r = self.job({"containers": ["e2e", "e2e-pin"]})["result"]
        by = {e["container"]: e for e in r["containers"]}
        e2e, pin = by["e2e"], by["e2e-pin"]
        self.assertEqual((e2e["kind"], e2e["candidate_tag"], e2e["candidate_digest"], e2e["semver_diff"]),
                         ("tag", "1.1", d11, "minor"), e2e)
        self.assertEqual((e2e["digest_changed"], e2e["current_digests"], e2e["registry_digest"]),
                         (True, [old_digest], new_digest), e2e)
        self.assertEqual((pin["kind"], pin["candidate_tag"], pin["candidate_digest"], pin["digest_changed"]),
                         ("digest", "1.0", new_digest, True), pin)
        self.assertEqual(self.stored()["e2e-pin"], pin)
        # dry_run: the plan, and nothing changes.
        r = self.update({"name": "e2e", "dry_run": True})["result"]
        self.assertEqual((r["dry_run"], r["updated"], r["to_image"], r["from_image"]),
                         (True, False, repo + ":1.0", repo + ":1.0"))
        plan = r["plan"]
        self.assertEqual((plan["binds"], sorted(plan["networks"]), plan["temp_name"], plan["was_running"]),
                         ([bind], ["e2e-back", "e2e-front"], "e2e-wharf-new", True), plan)
        self.assertEqual(plan["steps"][0], "pull")
        self.assertEqual(self.inspect("e2e")["Id"], old["Id"])
        self.assertIsNone(self.inspect("e2e-wharf-new"))
        # 4. The update: a new container on the new digest, the same configuration.
        r = self.update({"name": "e2e"})["result"]
        self.assertEqual((r["updated"], r["digest"]), (True, new_digest), r)
        new = self.inspect("e2e")
        self.assertNotEqual(new["Id"], old["Id"])
        self.assertEqual(r["new_id"], new["Id"])
        self.assertTrue(new["State"]["Running"])
        img = json.loads(d.docker(["image", "inspect", new["Image"]]).stdout)[0]
        self.assertIn("%s@%s" % (repo, new_digest), img["RepoDigests"])
        self.assertEqual(img["Config"]["Labels"]["img"], "1.0-new")
        self.assertEqual(new["Config"]["Image"], repo + ":1.0")
        self.assertEqual(new["Name"], "/e2e")
        for k in ("FOO=bar", "EMPTY="):
            self.assertIn(k, new["Config"]["Env"])
        self.assertEqual(new["Config"]["Labels"].get("app"), "e2e")
        self.assertEqual(new["Config"]["Labels"].get("img"), "1.0-new")  # the new image's own label
        self.assertEqual((new["Config"]["Entrypoint"], new["Config"]["Cmd"]), (["/bin/busybox"], ["sleep", "3600"]))
        self.assertEqual((new["Config"]["WorkingDir"], new["Config"]["User"]), ("/tmp", "0:0"))
        hc, ohc = new["HostConfig"], old["HostConfig"]
        self.assertEqual(hc["RestartPolicy"]["Name"], "unless-stopped")
        self.assertEqual((hc["CpuShares"], hc["Memory"], hc["PidsLimit"]), (512, 64 << 20, 100))
        self.assertEqual(hc["PortBindings"], ohc["PortBindings"])
        self.assertEqual(hc["Binds"], ohc["Binds"])
        self.assertEqual(sorted((m["Type"], m.get("Name", m["Source"]), m["Destination"], m["RW"])
                                for m in new["Mounts"]),
                         [("bind", bind, "/bind", False), ("volume", "e2evol", "/data", True)])
        nets = new["NetworkSettings"]["Networks"]
        self.assertEqual(sorted(nets), ["e2e-back", "e2e-front"])
        self.assertIn("frontalias", nets["e2e-front"]["Aliases"])
        self.assertIn("backalias", nets["e2e-back"]["Aliases"])
        # It really runs: the bind is there and the port is published on loopback.
        out = d.docker(["exec", "e2e", "cat", "/bind/hello"]).stdout.decode()
        self.assertEqual(out, "from the host\n")
        self.assertEqual(new["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostIp"], "127.0.0.1")
        self.assertIsNone(self.inspect("e2e-wharf-old"))
        self.assertIsNone(self.inspect(old["Id"]))
        # The next check sees it up to date on 1.0 (1.1 is still newer).
        e = self.job({"containers": ["e2e"]})["result"]["containers"][0]
        self.assertEqual((e["digest_changed"], e["current_digests"], e["candidate_tag"]),
                         (False, [new_digest], "1.1"), e)
        # Nothing newer for the tag: left alone.
        r = self.update({"name": "e2e"})["result"]
        self.assertFalse(r["updated"], r)
        self.assertEqual(self.inspect("e2e")["Id"], new["Id"])
        # 5. A broken new image (no busybox: the container's entrypoint is
        # missing), pushed by dockerd: the update rolls back.
        d.import_image(repo + ":2.0", {"hello.txt": b"broken"}, ['CMD ["/bin/busybox", "true"]'])
        d.push(repo + ":2.0")
        d.docker(["rmi", repo + ":2.0"])
        s = self.update({"name": "e2e", "tag": "2.0", "health_timeout_s": 20}, ok="rolled_back")
        self.assertIn("rolled back, the old container is back: start:", s["error_message"])
        back = self.inspect("e2e")
        self.assertEqual((back["Id"], back["State"]["Running"], back["Name"]), (new["Id"], True, "/e2e"))
        self.assertEqual(sorted(back["NetworkSettings"]["Networks"]), ["e2e-back", "e2e-front"])
        self.assertIsNone(self.inspect("e2e-wharf-new"))
        self.assertIsNone(self.inspect("e2e-wharf-old"))
        self.update({"name": "nope"}, ok="not_found")

    def test_update_refuses_binds_outside_the_roots(self):
        d, repo = self.d, "%s/team/outside" % self.host
        d.build_image(repo + ":1.0", cmd=["/bin/busybox", "sleep", "3600"])
        d.push(repo + ":1.0")
        outside = tempfile.mkdtemp(prefix="outside-", dir=self.tmp)   # not under roots
        inside = tempfile.mkdtemp(prefix="in-", dir=self.roots)
        d.docker(["run", "-d", "--name", "outside", "-v", inside + ":/in", "--mount",
                  "type=bind,source=%s,target=/out" % outside, repo + ":1.0"])
        before = self.inspect("outside")
        d.build_image(repo + ":1.0", cmd=["/bin/busybox", "sleep", "3600"])
        d.push(repo + ":1.0")
        for args in ({"name": "outside", "dry_run": True}, {"name": "outside"}):
            s = self.update(args, ok="conflict")
            self.assertIn("binds %s, outside the roots of host dock" % outside, s["error_message"])
        after = self.inspect("outside")
        self.assertEqual((after["Id"], after["State"]["Running"]), (before["Id"], True))
        self.assertIsNone(self.inspect("outside-wharf-new"))
        # Only registries in the inventory: "local" runs docker.io/library/wharf-busybox.
        before = self.inspect("local")
        for args in ({"name": "local", "dry_run": True}, {"name": "local"}):
            s = self.update(args, ok="unknown_host")
            self.assertIn('no registry in the inventory serves host "docker.io"', s["error_message"])
        self.assertEqual(self.inspect("local")["Id"], before["Id"])

    def test_update_check_memoises_per_image(self):
        """Three containers on one image: one HEAD and one tag list."""
        d, repo = self.d, "%s/team/memo" % self.host
        d.build_image(repo + ":1.0", cmd=["/bin/busybox", "sleep", "3600"])
        d.push(repo + ":1.0")
        for n in ("memo1", "memo2", "memo3"):
            d.docker(["run", "-d", "--name", n, repo + ":1.0"])
        d.build_image(repo + ":1.2", cmd=["/bin/busybox", "sleep", "3600"])
        d12 = d.push(repo + ":1.2")
        mark = self.reg.log_size()
        r = self.job({"containers": ["memo1", "memo2", "memo3"]})["result"]
        self.assertEqual([(e["kind"], e["candidate_digest"]) for e in r["containers"]], [("tag", d12)] * 3)
        self.assertEqual(r["registry_lookups"], {"digests": 2, "tag_lists": 1})
        # What the registry itself answered (its log): one of each, not three.
        got = [(m, u) for m, u, st in self.reg.requests(mark) if st == 200 and "/team/memo/" in u]
        self.assertEqual(sorted(got), [("GET", "/v2/team/memo/tags/list"), ("HEAD", "/v2/team/memo/manifests/1.0"),
                                       ("HEAD", "/v2/team/memo/manifests/1.2")], got)

    def test_update_container_that_exits_rolls_back(self):
        ref = "%s/team/crash:1.0" % self.host
        self.d.build_image(ref, cmd=["/bin/busybox", "sleep", "3600"])
        self.d.push(ref)
        self.d.docker(["run", "-d", "--name", "crash", ref])
        old = self.inspect("crash")
        # The new image's own command (the container has none of its own) exits at once.
        self.d.build_image(self.host + "/team/crash:2.0", cmd=["/bin/busybox", "false"])
        self.d.push(self.host + "/team/crash:2.0")
        self.d.docker(["rmi", self.host + "/team/crash:2.0"])
        s = self.update({"name": "crash", "tag": "2.0"}, ok="rolled_back")
        lp = env.wharf(["logs", s["id"]], self.amqp, self.prefix)
        log = lp.stdout + lp.stderr
        self.assertIn("the new container stopped (exit code 1)", s["error_message"], log)
        back = self.inspect("crash")
        self.assertEqual((back["Id"], back["State"]["Running"]), (old["Id"], True))
        self.assertIsNone(self.inspect("crash-wharf-new"))

    def test_update_interrupted_by_its_timeout_rolls_back(self):
        ref = "%s/team/slow:1.0" % self.host
        self.d.build_image(ref, cmd=["/bin/busybox", "sleep", "3600"])
        self.d.push(ref)
        self.d.docker(["run", "-d", "--name", "slow", ref])
        old = self.inspect("slow")
        # 2.0 has a health check that stays "starting" far longer than the job may run.
        self.d.build_image(self.host + "/team/slow:2.0", cmd=["/bin/busybox", "sleep", "3600"],
                           healthcheck='--interval=600s --start-period=600s CMD ["/bin/busybox", "false"]')
        self.d.push(self.host + "/team/slow:2.0")
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
        """The registry password (a canary) went into pulls as X-Registry-Auth
        and into checks as Basic auth; after checks, updates, rollbacks and
        failures it is nowhere: not in Redis (every key and value of the
        prefix), job statuses and results, dead letters, or the worker's
        log, as it is or base64-wrapped."""
        self.job({})
        self.update({"name": "web", "dry_run": True})
        self.update({"name": "nope"}, ok="not_found")
        canaries = [PW]
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
            elif t == "list":
                blob.extend(r.lrange(key, 0, -1))
            elif t in ("set", "zset"):
                blob.extend(r.smembers(key) if t == "set" else r.zrange(key, 0, -1))
        text = "\n".join(blob)
        self.assertIn("registry_digest", text)
        self.assertIn("rolled_back", text)   # the failures are in what was searched
        dead = env.get_messages(self.amqp, "wharf.dead", 1000)
        dead_text = "\n".join(m["body"].decode("latin-1") + json.dumps(m["headers"], default=str) for m in dead)
        for where, t in (("Redis", text), ("a job status or result", json.dumps(self.statuses)),
                         ("a dead letter", dead_text), ("the worker log", self.worker.log_text())):
            self.assertEqual(registry.leaked(t, canaries), [], "secret found in " + where)
        # ... and the worker survived everything (a sanitizer abort would end it).
        self.assertTrue(self.worker.alive(), self.worker.log_tail())
        self.assertNotIn("AddressSanitizer", self.worker.log_text())


if __name__ == "__main__":
    unittest.main()
