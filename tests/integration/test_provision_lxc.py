#!/usr/bin/python3
"""provision.container / validate / destroy with the lxc driver, for real:
the target is a private sshd on 127.0.0.11 (tests/lib/sshd.py) whose host
runs Debian's lxc tools on a private lxcpath; containers are cloned from a
busybox template with lxc.net.0.type = empty. Every container made here is
destroyed at the end, even on failure."""
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402
import sshd  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


def job_hash(jid, prefix=None):
    """The job hash as text (the binary `body` field, if any, left out)."""
    raw = env.redis_raw().hgetall(((prefix or PREFIX) + "job:" + jid).encode())
    return {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items() if k != b"body"}


def lxc(*args, check=True, timeout=120):
    cp = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and cp.returncode != 0:
        raise AssertionError("%s failed (%d): %s %s" % (" ".join(args), cp.returncode, cp.stdout, cp.stderr))
    return cp


def setUpModule():
    global TMP, A, URL, PREFIX, WORKER, LXCP, KEY
    for tool in ("lxc-create", "lxc-copy", "lxc-attach", "lxc-destroy", "rsync"):
        if not shutil.which(tool):
            raise RuntimeError("%s is missing: install lxc and rsync (tests/lib/packages.txt)" % tool)
    TMP = tempfile.mkdtemp(prefix="provision-lxc-", dir=env.tmp)
    LXCP = os.path.join(TMP, "lxc")
    os.makedirs(LXCP)
    cfg = os.path.join(TMP, "lxc.conf")
    with open(cfg, "w") as f:
        f.write("lxc.net.0.type = empty\n")
    lxc("lxc-create", "-P", LXCP, "-n", "tmpl", "-f", cfg, "-t", "busybox", timeout=300)
    A = sshd.Sshd.start("127.0.0.11", TMP)
    with open(A.key_file + ".pub") as f:
        KEY = f.read().strip()
    URL, PREFIX = env.new_vhost(), env.new_prefix()
    args = []
    for k, v in A.inventory("hv", lxc_path=LXCP, roots=TMP).items():
        args += ["--set", "%s=%s" % (k, v)]
    WORKER = env.start_worker(URL, PREFIX, concurrency=2, families="provision", args=args)


def tearDownModule():
    try:
        WORKER.stop()
        A.stop()
    finally:
        for name in lxc("lxc-ls", "-P", LXCP, "-1", check=False).stdout.split():
            lxc("lxc-stop", "-P", LXCP, "-n", name, "-k", check=False)
            lxc("lxc-destroy", "-P", LXCP, "-f", "-n", name, check=False)
        shutil.rmtree(TMP, ignore_errors=True)


def submit(type, args, timeout=300, extra=()):
    cp = env.wharf(["submit", type, "--args-json", json.dumps(args), "--target", "hv"] + list(extra), URL, PREFIX)
    assert cp.returncode == 0, cp.stderr
    jid = cp.stdout.split()[0]

    def done():
        # A crashed worker fails the test at once instead of after the timeout.
        if not WORKER.alive():
            raise AssertionError("the worker died:\n" + WORKER.log_tail())
        h = job_hash(jid)
        return h if h.get("state") in ("succeeded", "failed", "dead", "cancelled") else None
    return jid, wait_for(done, timeout=timeout, what="job %s" % jid)


def portmap(hostname):
    v = env.redis().hget(PREFIX + "portmap", hostname)
    return json.loads(v) if v else None


def exists(name):
    return lxc("lxc-info", "-P", LXCP, "-n", name, "-s", check=False).returncode == 0


def attach(name, *cmd):
    return lxc("lxc-attach", "-P", LXCP, "-n", name, "--", *cmd).stdout


class Containers(unittest.TestCase):
    def test_container_end_to_end_then_destroy(self):
        host = "web-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {
            "template": "tmpl", "hostname": host, "ssh_public_key": KEY, "protocols": ["http", "ssh", "http"],
            "http_port": 8080, "env": {"PORT": "8080", "GREETING": "it's $(not run)"}, "root_password": "random",
            "setup": [["sh", "-c", "echo set up > /root/app/setup.txt"]], "services": [["true"]]})
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual((h["progress"], h["step"]), ("100", "ready"))
        r = json.loads(h["result"])
        pw = r.pop("root_password")
        # root's hash (in shadow, or in passwd when shadow has no root line) is the returned password's
        text = attach(host, "sh", "-c", "cat /etc/shadow /etc/passwd 2>/dev/null")
        hashed = ([l.split(":")[1] for l in text.splitlines() if l.startswith("root:$")] + ["none"])[0]
        m = re.match(r"^\$(\d)\$([^$]+)\$", hashed)
        self.assertIsNotNone(m, "root has a crypt hash: " + hashed[:3])
        got = subprocess.run(["openssl", "passwd", "-" + m.group(1), "-salt", m.group(2), "-stdin"],
                             input=pw, capture_output=True, text=True).stdout.strip()
        self.assertEqual(got, hashed)
        logs = env.redis().xrange(PREFIX + "job:" + jid + ":log")
        self.assertNotIn(pw, json.dumps(logs))
        self.assertEqual((r["hostname"], r["container"], r["state"], r["host"]), (host, host, "ready", "hv"))
        self.assertIn("RUNNING", lxc("lxc-info", "-P", LXCP, "-n", host, "-s").stdout)
        self.assertEqual(attach(host, "cat", "/root/.ssh/authorized_keys").strip(), KEY)
        self.assertEqual(attach(host, "cat", "/root/app/.env"), "PORT=8080\nGREETING=it's $(not run)\n")
        self.assertIn("rw-------", attach(host, "ls", "-l", "/root/app/.env"))
        self.assertEqual(attach(host, "cat", "/root/app/setup.txt"), "set up\n")
        pm = portmap(host)
        self.assertEqual((pm["host"], pm["container"], pm["state"], pm["ports"], pm["protocols"], pm["job"]),
                         ("hv", host, "ready", {"http": 8080}, ["http", "ssh"], jid))
        # the same hostname cannot be taken twice
        jid2, h2 = submit("provision.container", {"template": "tmpl", "hostname": host, "ssh_public_key": KEY})
        self.assertEqual((h2["state"], h2["error"]), ("failed", "bad_args"), h2)
        self.assertIn("taken", h2["error_message"])
        self.assertEqual(portmap(host)["job"], jid, "the first reservation is untouched")
        # destroy: container and port map entry go
        jid3, h3 = submit("provision.destroy", {"hostname": host})
        self.assertEqual(h3["state"], "succeeded", h3)
        self.assertEqual(json.loads(h3["result"]), {"hostname": host, "destroyed": True, "released": True})
        self.assertFalse(exists(host))
        self.assertIsNone(portmap(host))

    def test_failing_setup_leaves_no_container_and_no_reservation(self):
        host = "bad-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {"template": "tmpl", "hostname": host, "ssh_public_key": KEY,
                                                "http_port": 8081,
                                                "setup": [["sh", "-c", "echo boom >&2; exit 4"]]})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("exit status 4", h["error_message"])
        self.assertFalse(exists(host), "the clone was destroyed")
        self.assertIsNone(portmap(host), "the reservation was released")

    def test_unwritable_authorized_keys_step7_leaves_nothing(self):
        # a template whose /root/.ssh is a file: step 7 cannot write the key
        bad = "tmpl-nokey"
        if not exists(bad):
            lxc("lxc-copy", "-P", LXCP, "-n", "tmpl", "-N", bad)
            rootfs = os.path.join(LXCP, bad, "rootfs", "root")
            os.makedirs(rootfs, exist_ok=True)
            open(os.path.join(rootfs, ".ssh"), "w").close()
        host = "nokey-" + secrets.token_hex(3)
        jid, h = submit("provision.container", {"template": bad, "hostname": host, "ssh_public_key": KEY,
                                                "http_port": 8082})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("container[3]", h["error_message"])  # clone, start, wait, authorized_keys
        self.assertFalse(exists(host), "the clone was destroyed")
        self.assertIsNone(portmap(host), "the reservation was released")

    def test_clone_failure_keeps_a_foreign_container_and_releases(self):
        host = "taken-" + secrets.token_hex(3)
        lxc("lxc-copy", "-P", LXCP, "-n", "tmpl", "-N", host)  # made outside wharf
        jid, h = submit("provision.container", {"template": "tmpl", "hostname": host, "ssh_public_key": KEY})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("container[0]", h["error_message"], "the clone step failed")
        self.assertTrue(exists(host), "a container wharf did not create is never destroyed")
        self.assertIsNone(portmap(host))
        lxc("lxc-destroy", "-P", LXCP, "-f", "-n", host)

    def test_killed_worker_mid_provision_resumes(self):
        host = "resume-" + secrets.token_hex(3)
        gate = os.path.join(TMP, "gate-" + host)
        args = []
        for k, v in A.inventory("hv", lxc_path=LXCP, roots=TMP).items():
            args += ["--set", "%s=%s" % (k, v)]
        url, prefix = env.new_vhost(), env.new_prefix()
        w1 = env.start_worker(url, prefix, concurrency=1, families="provision", args=args)
        spec = {"template": "tmpl", "hostname": host, "ssh_public_key": KEY,
                "setup": [["sh", "-c", "echo run >> /root/setup-runs"],
                          ["sh", "-c", "while [ ! -e /root/gate ]; do sleep 0.2; done"]]}
        cp = env.wharf(["submit", "provision.container", "--args-json", json.dumps(spec), "--target", "hv"],
                       url, prefix)
        jid = cp.stdout.split()[0]
        r = env.redis()
        wait_for(lambda: (r.hget(prefix + "job:" + jid, "step") or "").endswith(" setup[1]"), timeout=120,
                 what="the job to wait in setup[1]")
        w1.kill()
        attach(host, "touch", "/root/gate")
        w2 = env.start_worker(url, prefix, concurrency=1, families="provision", args=args)
        try:
            h = wait_for(lambda: (lambda x: x if x.get("state") in ("succeeded", "failed", "dead") else None)(
                job_hash(jid, prefix)), timeout=120, what="the job to finish on the second worker")
        finally:
            w2.stop()
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(attach(host, "cat", "/root/setup-runs"), "run\n", "completed steps did not run again")
        self.assertEqual(json.loads(r.hget(prefix + "portmap", host))["state"], "ready")
        lxc("lxc-destroy", "-P", LXCP, "-f", "-n", host)

    def test_recipe_lxc_steps_and_rollback(self):
        name = "rcp-" + secrets.token_hex(3)
        steps = [{"kind": "lxc", "action": "clone", "container": name, "template": "tmpl",
                  "rollback": {"kind": "lxc", "action": "destroy", "container": name}},
                 {"kind": "lxc", "action": "start", "container": name},
                 {"kind": "lxc", "action": "wait", "container": name},
                 {"kind": "lxc", "action": "exec", "container": name,
                  "argv": ["sh", "-c", "echo \"$1\" > /root/hello", "sh", "{{msg}}"]}]
        jid, h = submit("provision.run", {"vars": {"msg": "hi; $(reboot)"}, "steps": steps})
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(attach(name, "cat", "/root/hello"), "hi; $(reboot)\n")
        # the same recipe failing at its last step destroys the clone again
        name2 = name + "b"
        bad = json.loads(json.dumps(steps).replace(name, name2))
        bad.append({"kind": "lxc", "action": "exec", "container": name2, "argv": ["false"]})
        jid, h = submit("provision.run", {"vars": {"msg": "x"}, "steps": bad})
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertFalse(exists(name2), "rolled back")
        jid, h = submit("provision.run", {"steps": [{"kind": "lxc", "action": "exec", "container": name}]},
                        extra=["--no-validate"])
        self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), h)
        lxc("lxc-destroy", "-P", LXCP, "-f", "-n", name)

    def test_validate_reports_every_problem(self):
        jid, h = submit("provision.validate", {"template": "nope", "hostname": "Bad_Host",
                                               "ssh_public_key": "-----BEGIN OPENSSH PRIVATE KEY-----",
                                               "protocols": ["ftp", "ssh", "ssh"], "http_port": 80})
        self.assertEqual(h["state"], "succeeded", h)
        r = json.loads(h["result"])
        self.assertFalse(r["ok"])
        fields = sorted(p["field"] for p in r["problems"])
        self.assertEqual(fields, ["args.hostname", "args.protocols[0]", "args.ssh_public_key", "args.template"], r)
        self.assertEqual(r["protocols"], ["ssh"])
        jid, h = submit("provision.validate", {"template": "tmpl", "hostname": "fine", "ssh_public_key": KEY,
                                               "protocols": ["https"]})
        self.assertEqual(json.loads(h["result"]), {"ok": True, "problems": [], "protocols": ["https"]})


if __name__ == "__main__":
    unittest.main()
