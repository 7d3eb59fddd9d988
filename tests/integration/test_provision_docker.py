#!/usr/bin/python3
"""provision.container / validate / destroy and the `docker` recipe step with
the docker driver, for real: a private dockerd (tests/lib/dockerd.py) whose
busybox image is extended here with /etc/shadow and /root, a hook directory
with an LDAP-like and a monitoring-like script, and a git repository served
over dumb HTTP by a server on 127.0.0.1 (with a /private/ tree answering
401). Containers are reached only through exec. Every container made here
is removed at the end, even on failure (dockerd.stop removes them all)."""
import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402
import dockerd  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for

IMAGE = "wharf-pv-base:test"
BAD_SSH_IMAGE = "wharf-pv-badssh:test"
SECRET_TTL = 300

LDAP_HOOK = """#!/bin/sh
# LDAP-like client setup: write the config and a marker
mkdir -p /etc/ldap
echo "uri ldap://ldap.example" > /etc/ldap/ldap.conf
echo "ldap for $1" > /root/ldap-marker
"""
MON_HOOK = """#!/bin/sh
# monitoring-agent-like setup
mkdir -p /var/lib/agent
echo "agent registered $1" > /var/lib/agent/marker
"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/private/"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.path = self.path.split("?", 1)[0]  # a dumb server ignores ?service=
        super().do_GET()

    def log_message(self, *a):
        pass


def git(*args, cwd=None):
    cp = subprocess.run(["git"] + list(args), cwd=cwd, capture_output=True, text=True,
                        env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=TMP,
                                 GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example",
                                 GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example"))
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def make_image(base, tag, script):
    name = "mk-" + secrets.token_hex(3)
    D.docker(["run", "--name", name, base, "sh", "-c", script])
    D.docker(["commit", name, tag])
    D.docker(["rm", "-f", name])


def setUpModule():
    global TMP, D, URL, PREFIX, WORKER, HOOKS, WWW, HTTPD, REPO_URL, ARGS, KEY
    if not shutil.which("git"):
        raise RuntimeError("git is missing: install git (tests/lib/packages.txt)")
    TMP = tempfile.mkdtemp(prefix="provision-docker-", dir=env.tmp)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(TMP, "user")], check=True)
    with open(os.path.join(TMP, "user.pub")) as f:
        KEY = f.read().strip()
    D = dockerd.Dockerd.start(TMP)
    base = D.busybox_image()
    make_image(base, IMAGE, "mkdir -p /root /var/lib && echo 'root:*:19000:0:99999:7:::' > /etc/shadow"
                            " && chmod 600 /etc/shadow")
    make_image(IMAGE, BAD_SSH_IMAGE, "touch /root/.ssh")  # authorized_keys cannot be written
    HOOKS = os.path.join(TMP, "hooks")
    os.makedirs(HOOKS)
    for name, text in (("ldap.sh", LDAP_HOOK), ("monitoring.sh", MON_HOOK)):
        with open(os.path.join(HOOKS, name), "w") as f:
            f.write(text)
    with open(os.path.join(TMP, "outside.sh"), "w") as f:
        f.write("#!/bin/sh\ntouch /root/outside\n")
    # the app: a git repository served by dumb HTTP
    WWW = os.path.join(TMP, "www")
    src = os.path.join(TMP, "src")
    os.makedirs(src)
    with open(os.path.join(src, "app.txt"), "w") as f:
        f.write("hello app\n")
    git("init", "-q", src)
    git("add", "app.txt", cwd=src)
    git("commit", "-q", "-m", "app", cwd=src)
    git("clone", "-q", "--bare", src, os.path.join(WWW, "app.git"))
    git("update-server-info", cwd=os.path.join(WWW, "app.git"))
    HTTPD = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            lambda *a, **k: _Handler(*a, directory=WWW, **k))
    threading.Thread(target=HTTPD.serve_forever, daemon=True).start()
    REPO_URL = "http://127.0.0.1:%d/app.git" % HTTPD.server_address[1]
    URL, PREFIX = env.new_vhost(), env.new_prefix()
    ARGS = ["--set", "host.dk.docker=unix://" + D.sock,
            "--set", "provision.hook_dir=" + HOOKS,
            "--set", "provision.protocols=http, ssh,ssh",
            "--set", "provision.secret_ttl_s=%d" % SECRET_TTL]
    WORKER = env.start_worker(URL, PREFIX, concurrency=2, families="provision", args=ARGS)


def tearDownModule():
    try:
        WORKER.stop()
        HTTPD.shutdown()
    finally:
        D.stop()
        shutil.rmtree(TMP, ignore_errors=True)


def job_hash(jid, prefix=None):
    raw = env.redis_raw().hgetall(((prefix or PREFIX) + "job:" + jid).encode())
    return {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items() if k != b"body"}


def submit(type, args, timeout=180, extra=(), url=None, prefix=None, worker=None):
    cp = env.wharf(["submit", type, "--args-json", json.dumps(args), "--target", "dk"] + list(extra),
                   url or URL, prefix or PREFIX)
    assert cp.returncode == 0, cp.stderr
    jid = cp.stdout.split()[0]
    w = worker or WORKER

    def done():
        if not w.alive():
            raise AssertionError("the worker died:\n" + w.log_tail())
        h = job_hash(jid, prefix)
        return h if h.get("state") in ("succeeded", "failed", "dead", "cancelled") else None
    return jid, wait_for(done, timeout=timeout, what="job %s" % jid)


def portmap(hostname):
    v = env.redis().hget(PREFIX + "portmap", hostname)
    return json.loads(v) if v else None


def exists(name):
    return D.docker(["inspect", name], check=False).returncode == 0


def dexec(name, *cmd):
    return D.docker(["exec", name] + list(cmd)).stdout.decode()


def job_log(jid):
    return "\n".join(json.dumps({k.decode(): v.decode("utf-8", "replace") for k, v in fields.items()})
                     for _, fields in env.redis_raw().xrange((PREFIX + "job:" + jid + ":log").encode()))


def redis_dump():
    """Every key of the test's prefix and its value(s), as text."""
    r = env.redis_raw()
    out = []
    for k in r.scan_iter(match=(PREFIX + "*").encode(), count=1000):
        t = r.type(k).decode()
        if t == "string":
            v = r.get(k)
        elif t == "hash":
            v = r.hgetall(k)
        elif t == "stream":
            v = r.xrange(k)
        elif t == "list":
            v = r.lrange(k, 0, -1)
        elif t == "set":
            v = r.smembers(k)
        elif t == "zset":
            v = r.zrange(k, 0, -1)
        else:
            v = b""
        out.append((k.decode(), repr(v)))
    return out


class DockerProvision(unittest.TestCase):
    def test_end_to_end_with_hooks_repo_and_random_password_then_destroy(self):
        host = "dk-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {
            "driver": "docker", "template": IMAGE, "hostname": host, "ssh_public_key": KEY,
            "protocols": ["http", "ssh", "http"], "http_port": 8080, "repo": REPO_URL,
            "env": {"PORT": "8080", "GREETING": "it's $(not run)"}, "hooks": ["ldap.sh", "monitoring.sh"],
            "root_password": "random",
            "setup": [["sh", "-c", "cat /root/app/app.txt > /root/app/setup.txt"]],
            "services": [["sh", "-c", "echo started > /root/app/service.txt"]]})
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual((h["progress"], h["step"]), ("100", "ready"))
        r = json.loads(h["result"])
        pw = r.pop("root_password")
        self.assertRegex(pw, r"^[A-Za-z0-9]{20}$")
        self.assertEqual(r, {"hostname": host, "container": host, "driver": "docker", "host": "dk",
                             "state": "ready", "hooks": ["ldap.sh", "monitoring.sh"],
                             "repo_bytes": r.get("repo_bytes")})
        self.assertGreater(r["repo_bytes"], 0)
        # the container: running, labelled, with what the recipe put there
        st = json.loads(D.docker(["inspect", host]).stdout)[0]
        self.assertTrue(st["State"]["Running"])
        self.assertEqual(st["Config"]["Labels"]["wharf.provision"], host)
        self.assertEqual(dexec(host, "cat", "/root/.ssh/authorized_keys").strip(), KEY)
        self.assertIn("rw-------", dexec(host, "ls", "-l", "/root/.ssh/authorized_keys"))
        self.assertEqual(dexec(host, "cat", "/root/app/.env"), "PORT=8080\nGREETING=it's $(not run)\n")
        self.assertIn("rw-------", dexec(host, "ls", "-l", "/root/app/.env"))
        self.assertEqual(dexec(host, "cat", "/root/ldap-marker"), "ldap for %s\n" % host)
        self.assertEqual(dexec(host, "cat", "/var/lib/agent/marker"), "agent registered %s\n" % host)
        self.assertEqual(dexec(host, "cat", "/root/app/app.txt"), "hello app\n")
        self.assertEqual(dexec(host, "cat", "/root/app/setup.txt"), "hello app\n")
        self.assertEqual(dexec(host, "cat", "/root/app/service.txt"), "started\n")
        self.assertEqual(dexec(host, "sh", "-c", "ls /tmp | grep -c wharf-in || true").strip(), "0",
                         "stdin files are removed")
        # the password is set: root's hash in /etc/shadow matches it
        line = [l for l in dexec(host, "cat", "/etc/shadow").splitlines() if l.startswith("root:")][0]
        hashed = line.split(":")[1]
        m = re.match(r"^\$(\d)\$([^$]+)\$", hashed)
        self.assertIsNotNone(m, "root has a crypt hash, not a locked or empty password: " + hashed[:3])
        got = subprocess.run(["openssl", "passwd", "-" + m.group(1), "-salt", m.group(2), "-stdin"],
                             input=pw, capture_output=True, text=True).stdout.strip()
        self.assertEqual(got, hashed)
        # ... and appears nowhere else: no log line, no other Redis key, not the worker's log
        self.assertNotIn(pw, job_log(jid))
        for k, v in redis_dump():
            if k == PREFIX + "job:" + jid:
                self.assertEqual(v.count(pw), 1, "only in the result")
            else:
                self.assertNotIn(pw, v, k)
        with open(WORKER.log_path, encoding="utf-8", errors="replace") as f:
            self.assertNotIn(pw, f.read())
        ttl = env.redis().ttl(PREFIX + "job:" + jid)
        self.assertTrue(0 < ttl <= SECRET_TTL, ttl)
        pm = portmap(host)
        self.assertEqual((pm["host"], pm["container"], pm["driver"], pm["state"], pm["ports"], pm["protocols"],
                          pm["job"]), ("dk", host, "docker", "ready", {"http": 8080}, ["http", "ssh"], jid))
        # destroy: the container and the entry go
        jid3, h3 = submit("provision.destroy", {"hostname": host, "driver": "docker"})
        self.assertEqual(h3["state"], "succeeded", h3)
        self.assertEqual(json.loads(h3["result"]), {"hostname": host, "destroyed": True, "released": True})
        self.assertFalse(exists(host))
        self.assertIsNone(portmap(host))

    def test_killed_worker_resumes_and_sets_its_own_password(self):
        host = "resume-" + secrets.token_hex(3)
        url, prefix = env.new_vhost(), env.new_prefix()
        w1 = env.start_worker(url, prefix, concurrency=1, families="provision", args=ARGS)
        spec = {"driver": "docker", "template": IMAGE, "hostname": host, "ssh_public_key": KEY,
                "root_password": "random",
                "setup": [["sh", "-c", "echo run >> /root/setup-runs"],
                          ["sh", "-c", "while [ ! -e /root/gate ]; do sleep 0.2; done"]]}
        cp = env.wharf(["submit", "provision.container", "--args-json", json.dumps(spec), "--target", "dk"],
                       url, prefix)
        jid = cp.stdout.split()[0]
        r = env.redis()
        try:
            wait_for(lambda: (r.hget(prefix + "job:" + jid, "step") or "").endswith(" setup[1]"), timeout=120,
                     what="the job to wait in setup[1]")
        finally:
            w1.kill()
        dexec(host, "touch", "/root/gate")
        w2 = env.start_worker(url, prefix, concurrency=1, families="provision", args=ARGS)
        try:
            h = wait_for(lambda: (lambda x: x if x.get("state") in ("succeeded", "failed", "dead") else None)(
                job_hash(jid, prefix)), timeout=120, what="the job to finish on the second worker")
        finally:
            w2.stop()
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(dexec(host, "cat", "/root/setup-runs"), "run\n", "completed steps did not run again")
        pw = json.loads(h["result"])["root_password"]
        line = [l for l in dexec(host, "cat", "/etc/shadow").splitlines() if l.startswith("root:")][0]
        hashed = line.split(":")[1]
        m = re.match(r"^\$(\d)\$([^$]+)\$", hashed)
        got = subprocess.run(["openssl", "passwd", "-" + m.group(1), "-salt", m.group(2), "-stdin"],
                             input=pw, capture_output=True, text=True).stdout.strip()
        self.assertEqual(got, hashed, "the resumed attempt set the password it returns")
        logs = [f["l"] for _, f in r.xrange(prefix + "job:" + jid + ":log")]
        self.assertIn("running container[4] again", logs)
        self.assertNotIn(pw, json.dumps(logs))
        self.assertEqual(json.loads(r.hget(prefix + "portmap", host))["state"], "ready")
        D.docker(["rm", "-f", host])

    def test_locked_password_by_default_and_normal_ttl(self):
        host = "lk-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {"driver": "docker", "template": IMAGE, "hostname": host,
                                                "ssh_public_key": KEY})
        self.assertEqual(h["state"], "succeeded", h)
        self.assertNotIn("root_password", json.loads(h["result"]))
        line = [l for l in dexec(host, "cat", "/etc/shadow").splitlines() if l.startswith("root:")][0]
        self.assertTrue(line.split(":")[1].startswith("!"), "locked")
        self.assertGreater(env.redis().ttl(PREFIX + "job:" + jid), SECRET_TTL)
        D.docker(["rm", "-f", host])
        submit("provision.destroy", {"hostname": host, "driver": "docker"})

    def test_step4_clone_conflict_keeps_a_foreign_container_and_releases(self):
        host = "taken-" + secrets.token_hex(3)
        D.docker(["create", "--name", host, IMAGE, "true"])  # made outside wharf
        jid, h = submit("provision.container", {"driver": "docker", "template": IMAGE, "hostname": host,
                                                "ssh_public_key": KEY, "http_port": 8091})
        self.assertEqual((h["state"], h["error"]), ("failed", "conflict"), h)
        self.assertIn("container[0]", h["error_message"], "the clone (create) step failed")
        self.assertTrue(exists(host), "a container wharf did not create is never removed")
        self.assertIsNone(portmap(host))
        D.docker(["rm", "-f", host])

    def test_step7_unwritable_authorized_keys_leaves_nothing(self):
        host = "nokey-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {"driver": "docker", "template": BAD_SSH_IMAGE, "hostname": host,
                                                "ssh_public_key": KEY, "http_port": 8092})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("container[3]", h["error_message"])  # create, start, wait, authorized_keys
        self.assertFalse(exists(host), "the container was removed")
        self.assertIsNone(portmap(host), "the reservation was released")

    def test_step10_failing_setup_leaves_nothing(self):
        host = "bad-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {"driver": "docker", "template": IMAGE, "hostname": host,
                                                "ssh_public_key": KEY, "http_port": 8093, "repo": REPO_URL,
                                                "setup": [["sh", "-c", "echo boom >&2; exit 4"]]})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("exit status 4", h["error_message"])
        self.assertIn("boom", h["error_message"])
        self.assertFalse(exists(host))
        self.assertIsNone(portmap(host))

    def test_hooks_only_from_the_hook_directory(self):
        for bad in ("../outside.sh", "x/y", "..", ".hidden"):
            cp = env.wharf(["submit", "provision.container", "--target", "dk", "--args-json",
                            json.dumps({"driver": "docker", "template": IMAGE, "hostname": "hk",
                                        "ssh_public_key": KEY, "hooks": [bad]})], URL, PREFIX)
            self.assertNotEqual(cp.returncode, 0, bad)
            self.assertIn("args.hooks", cp.stderr, bad)
            # the worker refuses it too when the producer does not check
            jid, h = submit("provision.container", {"driver": "docker", "template": IMAGE, "hostname": "hk",
                                                    "ssh_public_key": KEY, "hooks": [bad]}, extra=["--no-validate"])
            self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), h)
            self.assertIn("args.hooks", h["error_message"])
        host = "nohook-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {"driver": "docker", "template": IMAGE, "hostname": host,
                                                "ssh_public_key": KEY, "hooks": ["missing.sh"]})
        self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), h)
        self.assertIn("args.hooks[0]: no hook missing.sh", h["error_message"])
        self.assertFalse(exists(host))
        self.assertIsNone(portmap(host))

    def test_validate_reports_every_problem(self):
        port = HTTPD.server_address[1]
        jid, h = submit("provision.validate", {
            "driver": "docker", "template": "no-such-image:1", "hostname": "Bad_Host",
            "ssh_public_key": "-----BEGIN OPENSSH PRIVATE KEY-----", "protocols": ["https", "ssh", "ssh"],
            "repo": "http://127.0.0.1:%d/private/app.git" % port, "hooks": ["nope.sh"]})
        self.assertEqual(h["state"], "succeeded", h)
        r = json.loads(h["result"])
        self.assertFalse(r["ok"])
        by = {p["field"]: p["message"] for p in r["problems"]}
        self.assertEqual(sorted(by), ["args.hooks[0]", "args.hostname", "args.protocols[0]", "args.repo",
                                      "args.ssh_public_key", "args.template"], r)
        self.assertIn("args.protocols[0]: https is not in the allow list", by["args.protocols[0]"])
        self.assertIn("credentials", by["args.repo"])
        self.assertEqual(r["protocols"], ["ssh"])
        jid, h = submit("provision.validate", {"driver": "docker", "template": IMAGE, "hostname": "fine",
                                               "ssh_public_key": KEY, "protocols": ["ssh", "http", "ssh"],
                                               "repo": REPO_URL, "hooks": ["ldap.sh"]})
        self.assertEqual(json.loads(h["result"]), {"ok": True, "problems": [], "protocols": ["ssh", "http"]})
        jid, h = submit("provision.validate", {"driver": "docker", "template": IMAGE, "hostname": "fine",
                                               "ssh_public_key": KEY,
                                               "repo": "http://127.0.0.1:%d/none.git" % port})
        self.assertIn("not a git repository", json.loads(h["result"])["problems"][0]["message"])

    def test_problem_fields_name_the_element(self):
        jid, h = submit("provision.validate", {"driver": "docker", "template": IMAGE, "hostname": "fine",
                                               "ssh_public_key": KEY, "protocols": ["ssh", "ftp"],
                                               "hooks": ["ldap.sh", "nope.sh"]})
        r = json.loads(h["result"])
        self.assertEqual(sorted(p["field"] for p in r["problems"]), ["args.hooks[1]", "args.protocols[1]"], r)
        for p in r["problems"]:
            self.assertTrue(p["message"].startswith(p["field"] + ": "), p)
        jid, h = submit("provision.validate", {"driver": "docker", "template": IMAGE, "hostname": "fine",
                                               "ssh_public_key": KEY, "hooks": ["ldap.sh", "../x"]})
        self.assertEqual([p["field"] for p in json.loads(h["result"])["problems"]], ["args.hooks[1]"], h)

    def test_container_reports_every_problem_before_reserving(self):
        # Five bad fields, four of which only the worker can see (the key
        # is read by libssh; the rest need I/O or the worker's settings):
        # provision.container names all five at once, as provision.validate
        # does, and reserves nothing.
        host = "five-" + secrets.token_hex(3)
        args = {"driver": "docker", "template": "no-such-image:1", "hostname": host,
                "ssh_public_key": "ssh-ed25519 notakey user@example", "protocols": ["https"],
                "repo": "http://127.0.0.1:%d/private/app.git" % HTTPD.server_address[1], "hooks": ["nope.sh"]}
        jid, h = submit("provision.validate", args)
        problems = json.loads(h["result"])["problems"]
        self.assertEqual(len(problems), 5, problems)
        jid, h = submit("provision.container", args, extra=["--no-validate"])
        self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), h)
        self.assertTrue(h["error_message"].startswith("5 problem(s): "), h["error_message"])
        for p in problems:
            self.assertIn(p["message"], h["error_message"])
        self.assertFalse(exists(host))
        self.assertIsNone(portmap(host))

    def test_recipe_docker_steps_and_rollback(self):
        name = "rcp-" + secrets.token_hex(3)
        steps = [{"kind": "docker", "action": "create", "container": name, "image": IMAGE,
                  "rollback": {"kind": "docker", "action": "destroy", "container": name}},
                 {"kind": "docker", "action": "start", "container": name},
                 {"kind": "docker", "action": "wait", "container": name},
                 {"kind": "docker", "action": "exec", "container": name, "stdin": "from stdin; $(x)\n",
                  "argv": ["sh", "-c", "cat > /root/in; echo \"$1\" > /root/hello", "sh", "{{msg}}"]}]
        jid, h = submit("provision.run", {"vars": {"msg": "hi; $(reboot)"}, "steps": steps})
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(dexec(name, "cat", "/root/hello"), "hi; $(reboot)\n")
        self.assertEqual(dexec(name, "cat", "/root/in"), "from stdin; $(x)\n")
        name2 = name + "b"
        bad = json.loads(json.dumps(steps).replace(name, name2))
        bad.append({"kind": "docker", "action": "exec", "container": name2, "argv": ["false"]})
        jid, h = submit("provision.run", {"vars": {"msg": "x"}, "steps": bad})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("docker exec %s: exit status 1" % name2, h["error_message"])
        self.assertFalse(exists(name2), "rolled back")
        cp = env.wharf(["submit", "provision.run", "--target", "dk", "--args-json", json.dumps(
            {"steps": [{"kind": "docker", "action": "create", "container": name}]})], URL, PREFIX)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("args.steps[0].image", cp.stderr)
        D.docker(["rm", "-f", name])


if __name__ == "__main__":
    unittest.main()
