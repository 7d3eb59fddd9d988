#!/usr/bin/python3
"""Security of what jobs do on hosts, against real servers started here
(a registry with passwords, a dockerd, an sshd taking passwords):

1. no secrets at rest or in logs, across every job family at once;
2. no shell injection: canary payloads in every string arg that reaches a
   host never execute;
3. scope: jobs reach no host, registry or path outside the inventory and
   the host's roots.

1. No secrets.

Canary secrets go into every credential slot a worker or `wharf serve`
has: registry passwords (direct and *_file), a registry token, an SSH
password file, an SSH key passphrase, and the HTTP API's bearer token. Jobs
of every family then run, succeeding and failing:

  system      noop, log, fail, and a transient failure that is dead-lettered
  registry    check, tags, digest (ok, not found, wrong token, wrong password)
  runtime     image.pull through the engine with the registry's credentials
              (X-Registry-Auth), ok and not found
  provision   host.exec over password and passphrase auth, ok, failing
              command, wrong password

and HTTP requests are made with the right and with wrong tokens. Then every
Redis key and value (the whole database, not only this test's prefix), the
worker's and the server's whole output, every result and every dead-letter
message are searched for the canaries, as they are and inside base64 (an
Authorization or X-Registry-Auth value made from them). The random root
password of provision.container is the one documented exception (a short-TTL
result field); it is covered by tests/integration/test_provision_*.

2. Injection. Payloads such as `$(touch M)`, backticks, `; touch M`, quotes,
   newlines and `&& touch M` (M a marker file in a directory of this test)
   go into argv elements, env values, cwd, upload paths and contents, recipe
   vars, container env, cmd and labels, hostnames and repo URLs. Whatever
   each job's outcome, no marker file may appear.

3. Scope. Targets and registries outside the inventory are refused before
   anything is dialed (a listener on the address they name counts every
   connection); bind sources, backup destinations and upload paths outside
   the host's roots, `../` escapes included, are refused."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import registry  # noqa: E402
import sshd  # noqa: E402
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


def canary(name):
    return "cnry-%s-%s" % (name, os.urandom(6).hex())


REG_PASS = canary("regpw")            # registry password, from password_file
REG_PASS_DIRECT = canary("regdirect")  # a second user's password, given directly
REG_TOKEN = canary("regtok")           # a bearer token the registry refuses
REG_WRONG = canary("regwrong")         # a wrong password
SSH_PASS = canary("sshpw")
SSH_PASSPHRASE = canary("sshpp")
SSH_WRONG = canary("sshwrong")
API_TOKEN = canary("api")
CANARIES = [REG_PASS, REG_PASS_DIRECT, REG_TOKEN, REG_WRONG, SSH_PASS, SSH_PASSPHRASE, SSH_WRONG, API_TOKEN]


def secret_file(d, name, text):
    path = os.path.join(d, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


class HostSecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="secrets-", dir=env.tmp)
        cls.d = cls.reg = cls.ssh = cls.srv = cls.worker = None
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        t = cls.tmp
        # a registry with two password users, holding one image pushed by a real dockerd
        cls.reg = registry.Registry(t, auth="htpasswd", users={"ci": REG_PASS, "ci2": REG_PASS_DIRECT})
        cls.reghost = cls.reg.url[len("http://"):]
        cls.d = dockerd.Dockerd.start(t)
        img = cls.d.busybox_image()
        cls.ref = cls.reghost + "/team/bb:1"
        cls.d.docker(["login", "-u", "ci", "--password-stdin", cls.reghost], input=REG_PASS.encode())
        cls.d.docker(["tag", img, cls.ref])
        cls.d.docker(["push", cls.ref])
        cls.d.docker(["rmi", cls.ref])
        cls.d.docker(["logout", cls.reghost])
        # an sshd that takes the password, and a passphrase-protected key it knows
        cls.ssh = sshd.Sshd.start("127.0.0.31", t, password=SSH_PASS)
        enc = os.path.join(t, "enc_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", SSH_PASSPHRASE, "-f", enc], check=True)
        with open(enc + ".pub") as f, open(cls.ssh.authorized_keys, "a") as out:
            out.write(f.read())
        sets = {}
        sets.update(cls.ssh.inventory("pw", key_file="", password_file=secret_file(t, "sshpw", SSH_PASS),
                                      roots=os.path.join(t, "roots")))
        sets.update(cls.ssh.inventory("pp", key_file=enc, passphrase_file=secret_file(t, "sshpp", SSH_PASSPHRASE)))
        sets.update(cls.ssh.inventory("badpw", key_file="", password_file=secret_file(t, "sshbad", SSH_WRONG)))
        lines = []
        sections = {}
        for k, v in sets.items():
            sec, key = k.rsplit(".", 1)
            sections.setdefault(sec, []).append("%s = %s" % (key, v))
        for sec, body in sections.items():
            lines.append("[%s]\n%s" % (sec, "\n".join(body)))
        cls.roots = os.path.join(t, "roots")
        os.makedirs(os.path.join(cls.roots, "data"))
        cls.marks = os.path.join(t, "marks")
        os.makedirs(cls.marks)
        lines.append("[host.dock]\ndocker = unix://%s\nroots = %s\n" % (cls.d.sock, cls.roots))
        lines.append("[registry.local]\nprovider = custom\nurl = %s\nusername = ci\npassword_file = %s\n"
                     % (cls.reg.url, secret_file(t, "regpw", REG_PASS)))
        lines.append("[registry.direct]\nprovider = custom\nurl = %s\nusername = ci2\npassword = %s\n"
                     % (cls.reg.url, REG_PASS_DIRECT))
        lines.append("[registry.wrongpw]\nprovider = custom\nurl = %s\nusername = ci\npassword = %s\n"
                     % (cls.reg.url, REG_WRONG))
        lines.append("[registry.tok]\nprovider = custom\nauth = bearer\nurl = %s\ntoken_file = %s\n"
                     % (cls.reg.url, secret_file(t, "regtok", REG_TOKEN)))
        lines.append("[retry]\nbase_ms = 100\ntiers = 200\n")
        cls.ini = os.path.join(t, "worker.ini")
        with open(cls.ini, "w") as f:
            f.write("\n".join(lines) + "\n")
        cls.amqp = env.new_vhost()
        cls.prefix = env.new_prefix()
        cls.worker = env.start_worker(cls.amqp, cls.prefix, concurrency=4, families="system,registry,runtime,provision",
                                      args=["--config", cls.ini])
        cls.srv = wharfserve.start(env, cls.amqp, cls.prefix, token=API_TOKEN)

    @classmethod
    def tearDownClass(cls):
        for stop in (lambda: cls.srv and cls.srv.stop(), lambda: cls.worker and cls.worker.stop(),
                     lambda: cls.ssh and cls.ssh.stop(), lambda: cls.d and cls.d.stop(),
                     lambda: cls.reg and cls.reg.stop()):
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                print("teardown: %s" % e, file=sys.stderr)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def setUp(self):
        self.r = env.redis()
        self.outputs = []

    def submit(self, type_, args, target=None, extra=()):
        cmd = ["submit", type_, "--args-json", json.dumps(args), "--wait", "--timeout", "90"] + list(extra)
        if target:
            cmd += ["--target", target]
        p = env.wharf(cmd, self.amqp, self.prefix, timeout=120)
        jid = p.stdout.split()[0] if p.stdout.split() else None
        self.assertIsNotNone(jid, p.stderr)
        self.outputs.append(p.stdout + p.stderr)
        return jid, self.r.hgetall(self.prefix + "job:" + jid)

    def expect(self, type_, args, target=None, error=None, extra=()):
        jid, h = self.submit(type_, args, target, extra)
        if error is None:
            self.assertEqual(h.get("state"), "succeeded", (type_, h))
        else:
            self.assertEqual(h.get("error"), error, (type_, h))
        return h

    def leaks(self, text, where):
        found = registry.leaked(text, CANARIES)
        return ["%s: %s (%s)" % (where, c, how) for c, how in found]

    # ---------------------------------------------------------------- test

    def test_canaries_appear_nowhere(self):
        # system
        self.expect("system.noop", {"x": 1})
        self.expect("system.log", {"lines": 5})
        self.expect("system.fail", {"code": "boom", "message": "failing on purpose"}, error="boom")
        self.expect("system.fail", {"code": "flaky", "transient": True}, error="flaky", extra=["--max-attempts", "2"])
        # registry
        self.expect("registry.check", {"registry": "local"})
        self.expect("registry.check", {"registry": "direct"})
        self.expect("registry.check", {"registry": "wrongpw"}, error="auth_failed")
        self.expect("registry.check", {"registry": "tok"}, error="auth_failed")
        self.expect("registry.tags", {"image": self.reghost + "/team/bb"})
        self.expect("registry.digest", {"image": self.ref})
        self.expect("registry.digest", {"image": self.reghost + "/team/none:1"}, error="not_found")
        # runtime: the engine gets X-Registry-Auth made from the inventory
        self.expect("runtime.image.pull", {"image": self.ref}, target="dock")
        self.expect("runtime.image.pull", {"image": self.reghost + "/team/none:1"}, target="dock", error="not_found")
        # provision over password and passphrase auth
        self.expect("provision.host.exec", {"argv": ["echo", "hello"]}, target="pw")
        self.expect("provision.host.exec", {"argv": ["echo", "hello"]}, target="pp")
        self.expect("provision.host.exec", {"argv": ["false"]}, target="pp", error="command_failed")
        self.expect("provision.host.exec", {"argv": ["true"]}, target="badpw", error="auth_failed")
        # the HTTP API, with the right token and wrong ones
        st, _, b = self.srv.request("POST", "/v1/jobs", {"type": "system.noop", "args": {"via": "http"}})
        self.assertEqual(st, 201, b)
        for wrong in (API_TOKEN[:-1], API_TOKEN + "x", "Basic " + API_TOKEN):
            st, _, b = self.srv.request("GET", "/v1/workers", token=wrong)
            self.assertEqual(st, 401, b)
            self.outputs.append(json.dumps(b))
        st, _, b = self.srv.request("GET", "/v1/jobs?limit=100")
        self.assertEqual(st, 200)
        self.outputs.append(json.dumps(b))

        problems = []
        # every Redis key and value in the database (other tests' too, which
        # may hold binary strings: message bodies are msgpack; those are read
        # as bytes)
        raw = env.redis_raw()
        for key in self.r.scan_iter(count=1000):
            problems += self.leaks(key, "redis key")
            t = self.r.type(key)
            if t == "hash":
                v = self.r.hgetall(key)
            elif t == "string":
                v = (raw.get(key) or b"").decode("latin-1")
            elif t == "list":
                v = self.r.lrange(key, 0, -1)
            elif t in ("set",):
                v = sorted(self.r.smembers(key))
            elif t == "zset":
                v = self.r.zrange(key, 0, -1, withscores=True)
            elif t == "stream":
                v = self.r.xrange(key)
            else:
                v = None
            problems += self.leaks(json.dumps(v, default=str), "redis %s %s" % (t, key))
        # the raw bytes too (message bodies are msgpack)
        for key in raw.scan_iter(match=(self.prefix + "*").encode(), count=1000):
            if raw.type(key) == b"string":
                problems += self.leaks(raw.get(key).decode("latin-1"), "redis bytes %r" % key)
        # dead letters, headers and bodies
        dead = env.get_messages(self.amqp, "wharf.dead", 1000)
        self.assertGreaterEqual(len(dead), 1, "the transient failure should be dead-lettered")
        for m in dead:
            problems += self.leaks(json.dumps(m["properties"], default=str), "dead-letter headers")
            problems += self.leaks(m["payload"].decode("latin-1"), "dead-letter body")
        # every line the worker and the server printed, and the CLI outputs
        problems += self.leaks(self.worker.log_text(), "worker log")
        problems += self.leaks(self.srv.log_text(), "serve log")
        for out in self.outputs:
            problems += self.leaks(out, "CLI or HTTP output")
        self.assertEqual(problems, [], "\n".join(problems))
        # the password, not a key, is what logged in on host pw
        self.assertGreater(self.ssh.log_text_count("Accepted password"), 0)

    def payloads(self, tag):
        """Shell metacharacter payloads; each would create marks/<tag>-N if
        any shell ever evaluated it."""
        m = os.path.join(self.marks, tag)
        return ["$(touch %s-1)" % m, "`touch %s-2`" % m, "; touch %s-3" % m, "x'; touch %s-4; '" % m,
                'x"; touch %s-5; "' % m, "\ntouch %s-6\n" % m, "&& touch %s-7" % m, "| touch %s-8" % m,
                "${IFS}touch${IFS}%s-9" % m, "$(touch${IFS}%s-10)" % m]

    def finish(self, type_, args, target=None):
        """Submit straight to the worker (no CLI check) and wait for any end."""
        return self.batch([(type_, args, target)])[0]

    def batch(self, jobs, timeout=240):
        """Submit (type, args, target) jobs straight to the worker (no CLI
        check), then wait until each has ended; return their hashes."""
        ids = []
        for type_, args, target in jobs:
            cmd = ["submit", type_, "--args-json", json.dumps(args), "--no-validate"]
            if target:
                cmd += ["--target", target]
            p = env.wharf(cmd, self.amqp, self.prefix)
            self.assertEqual(p.returncode, 0, (type_, args, p.stderr))
            ids.append(p.stdout.split()[0])

        def states():
            hs = [self.r.hgetall(self.prefix + "job:" + i) for i in ids]
            return hs if all(h.get("state") in ("succeeded", "failed", "dead") for h in hs) else None
        return wait_for(states, timeout, what="%d jobs to end" % len(ids))

    def test_injection_payloads_never_execute(self):
        jobs = []
        for i, p in enumerate(self.payloads("pv")):
            jobs += [("provision.host.exec", {"argv": ["echo", p]}, "pp"),
                     ("provision.host.exec", {"argv": ["sh", "-c", 'echo "$V"'], "env": {"V": p}}, "pp"),
                     ("provision.host.exec", {"argv": ["true"], "cwd": "/tmp/" + p}, "pp"),
                     ("provision.host.upload", {"path": os.path.join(self.roots, "data", "u%d-" % i + p),
                                                "content": p}, "pw"),
                     ("provision.run", {"vars": {"v": p}, "steps": [
                         {"kind": "upload", "path": os.path.join(self.roots, "data", "r%d" % i), "content": "{{v}}"},
                         {"kind": "exec", "argv": ["cat", os.path.join(self.roots, "data", "r%d" % i)]}]}, "pw"),
                     ("provision.validate", {"hostname": p, "repo": "https://127.0.0.1:9/" + p,
                                             "ssh_public_key": p}, "pp")]
        for i, p in enumerate(self.payloads("rt")):
            jobs += [("runtime.container.run", {"name": "inj%d" % i, "image": dockerd.BUSYBOX_IMAGE, "env": {"V": p},
                                                "cmd": ["echo", p], "labels": {"l": p}, "wait": "exit"}, "dock"),
                     ("runtime.container.run", {"name": p, "image": p}, "dock"),
                     ("registry.tags", {"image": self.reghost + "/" + p}, None)]
        hs = self.batch(jobs)
        echo = [h for h, j in zip(hs, jobs) if j[0] == "provision.host.exec" and j[1]["argv"][0] == "echo"]
        self.assertTrue(all(h["state"] == "succeeded" for h in echo), echo)
        for h, (_, args, _) in zip(echo, [j for j in jobs if j[0] == "provision.host.exec"
                                          and j[1]["argv"][0] == "echo"]):
            log = "\n".join(f["l"] for _, f in self.r.xrange(self.prefix + "job:" + h["id"] + ":log"))
            self.assertIn(args["argv"][1].strip("\n").split("\n")[-1], log)  # arrived verbatim
        self.batch([("runtime.container.remove", {"name": "inj%d" % i, "force": True}, "dock")
                    for i in range(len(self.payloads("rt")))])
        self.assertEqual(sorted(os.listdir(self.marks)), [], "a payload was executed")

    def test_scope_outside_the_inventory_and_roots_is_refused(self):
        # a listener on an address that is not in the inventory: nothing may dial it
        import socket
        import threading
        lst = socket.socket()
        lst.bind(("127.0.0.32", 0))
        lst.listen(16)
        lst.settimeout(0.2)
        port = lst.getsockname()[1]
        dials = []
        stop = threading.Event()

        def accept():
            while not stop.is_set():
                try:
                    c, _ = lst.accept()
                    dials.append(c)
                except socket.timeout:
                    pass

        th = threading.Thread(target=accept)
        th.start()
        try:
            for target in ("127.0.0.32", "localhost", "evil.example"):
                h = self.finish("provision.host.exec", {"argv": ["true"]}, target=target)
                self.assertEqual(h.get("error"), "unknown_host", h)
                h = self.finish("runtime.host.ping", {}, target=target)
                self.assertEqual(h.get("error"), "unknown_host", h)
            h = self.finish("registry.check", {"registry": "nope"})
            self.assertEqual(h["state"], "failed", h)
            for image in ("127.0.0.32:%d/team/bb:1" % port, "evil.example/x:1"):
                for type_ in ("registry.tags", "registry.digest"):
                    h = self.finish(type_, {"image": image})
                    self.assertEqual(h["state"], "failed", h)
                    self.assertEqual(h.get("error"), "unknown_host", h)
                h = self.finish("runtime.image.pull", {"image": image}, target="dock")
                self.assertEqual(h["state"], "failed", h)
        finally:
            stop.set()
            th.join()
            lst.close()
        self.assertEqual(len(dials), 0, "a job dialed an address outside the inventory")
        # paths outside the roots, ../ escapes included
        outside = ["/etc", self.roots + "/../" + os.path.basename(self.marks), self.roots + "/data/../../x",
                   "/tmp"]
        for src in outside:
            h = self.finish("runtime.container.run", {"name": "scope1", "image": dockerd.BUSYBOX_IMAGE,
                                                      "binds": [{"source": src, "target": "/x"}]}, target="dock")
            self.assertEqual(h.get("error"), "bad_args", (src, h))
            h = self.finish("runtime.volume.backup", {"name": "v1", "image": dockerd.BUSYBOX_IMAGE,
                                                      "dest": src + "/backup.tar"}, target="dock")
            self.assertEqual(h.get("error"), "bad_args", (src, h))
            h = self.finish("provision.host.upload", {"path": src + "/f", "content": "x"}, target="pw")
            self.assertEqual(h["state"], "failed", (src, h))
            self.assertEqual(h.get("error"), "bad_args", (src, h))
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.roots), "x")))
        self.finish("runtime.container.remove", {"name": "scope1", "force": True}, target="dock")


if __name__ == "__main__":
    unittest.main()
