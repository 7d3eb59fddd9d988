#!/usr/bin/python3
"""No secrets at rest or in logs, across every job family at once.

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
result field); it is covered by tests/integration/test_provision_*."""
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


class SecretsTest(unittest.TestCase):
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
        sets.update(cls.ssh.inventory("pw", key_file="", password_file=secret_file(t, "sshpw", SSH_PASS)))
        sets.update(cls.ssh.inventory("pp", key_file=enc, passphrase_file=secret_file(t, "sshpp", SSH_PASSPHRASE)))
        sets.update(cls.ssh.inventory("badpw", key_file="", password_file=secret_file(t, "sshbad", SSH_WRONG)))
        lines = []
        sections = {}
        for k, v in sets.items():
            sec, key = k.rsplit(".", 1)
            sections.setdefault(sec, []).append("%s = %s" % (key, v))
        for sec, body in sections.items():
            lines.append("[%s]\n%s" % (sec, "\n".join(body)))
        lines.append("[host.dock]\ndocker = unix://%s\n" % cls.d.sock)
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
        self.r = env.redis()
        self.outputs = []
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
        # every Redis key and value in the database
        for key in self.r.scan_iter(count=1000):
            problems += self.leaks(key, "redis key")
            t = self.r.type(key)
            if t == "hash":
                v = self.r.hgetall(key)
            elif t == "string":
                v = self.r.get(key)
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
        raw = env.redis_raw()
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
        self.srv.stop()
        self.worker.stop()
        problems += self.leaks(self.worker.log_text(), "worker log")
        problems += self.leaks(self.srv.log_text(), "serve log")
        for out in self.outputs:
            problems += self.leaks(out, "CLI or HTTP output")
        self.assertEqual(problems, [], "\n".join(problems))
        # the password, not a key, is what logged in on host pw
        self.assertGreater(self.ssh.log_text_count("Accepted password"), 0)


if __name__ == "__main__":
    unittest.main()
