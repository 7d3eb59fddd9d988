#!/usr/bin/python3
"""provision.run recipes against a private sshd (tests/lib/sshd.py): steps
with {{var}} templates, checks, waits through the host, rollback of the
completed steps in reverse on failure, and resume after a worker is killed
mid-recipe."""
import http.server
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
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


def setUpModule():
    global TMP, A, URL, PREFIX, WORKER, ROOT, ARGS
    TMP = tempfile.mkdtemp(prefix="provision-run-", dir=env.tmp)
    A = sshd.Sshd.start("127.0.0.11", TMP)
    ROOT = os.path.join(TMP, "root")
    os.makedirs(ROOT)
    URL, PREFIX = env.new_vhost(), env.new_prefix()
    ARGS = []
    for k, v in A.inventory("a", roots=ROOT).items():
        ARGS += ["--set", "%s=%s" % (k, v)]
    WORKER = env.start_worker(URL, PREFIX, concurrency=2, families="provision", args=ARGS)


def tearDownModule():
    try:
        WORKER.stop()
    finally:
        A.stop()
        shutil.rmtree(TMP, ignore_errors=True)


def submit(args, extra=(), target="a"):
    cp = env.wharf(["submit", "provision.run", "--args-json", json.dumps(args), "--target", target] + list(extra),
                   URL, PREFIX)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.split()[0]


def job(jid):
    return job_hash(jid)


def logs(jid):
    return [(f["s"], f["l"]) for _, f in env.redis().xrange(PREFIX + "job:" + jid + ":log")]


def read(path):
    with open(path) as f:
        return f.read()


def finished(jid, timeout=60):
    return wait_for(lambda: (lambda h: h if h.get("state") in ("succeeded", "failed", "dead", "cancelled")
                             else None)(job(jid)), timeout=timeout, what="job %s to finish" % jid)


class Http(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204 if self.path == "/ready" else 404)
        self.end_headers()

    def log_message(self, *a):
        pass


class Recipes(unittest.TestCase):
    def test_recipe_runs_every_kind_of_step(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Http)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.server_address[1]
        out = os.path.join(ROOT, "app")
        try:
            jid = submit({"vars": {"app": "demo's app", "dir": out, "greeting": "$(touch %s/pwned)" % ROOT},
                          "steps": [
                              {"kind": "exec", "name": "mkdir", "argv": ["mkdir", "-p", "{{dir}}"]},
                              {"kind": "upload", "name": "env", "path": "{{dir}}/.env", "mode": 0o600,
                               "content": "APP={{app}}\nGREETING={{greeting}}\n"},
                              {"kind": "check", "name": "env written", "argv": ["test", "-s", "{{dir}}/.env"],
                               "message": ".env is missing"},
                              {"kind": "exec", "name": "script", "script": "printf '%s\\n' \"$app\" > \"$dir/name\"\n"},
                              {"kind": "wait_port", "port": port, "timeout_s": 10},
                              {"kind": "wait_http", "name": "ready", "port": port, "path": "/ready", "status": 204,
                               "timeout_s": 10},
                          ]})
            h = finished(jid)
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual((h["progress"], h["step"]), ("100", "done"))
        self.assertEqual(json.loads(h["result"]), {"steps": 6})
        with open(os.path.join(out, ".env")) as f:
            self.assertEqual(f.read(), "APP=demo's app\nGREETING=$(touch %s/pwned)\n" % ROOT)
        self.assertEqual(os.stat(os.path.join(out, ".env")).st_mode & 0o777, 0o600)
        with open(os.path.join(out, "name")) as f:
            self.assertEqual(f.read(), "demo's app\n")
        self.assertFalse(os.path.exists(os.path.join(ROOT, "pwned")))
        self.assertIsNone(env.redis().get(PREFIX + "pv:run:" + jid), "the resume record is gone after success")

    def test_failure_rolls_back_completed_steps_in_reverse(self):
        trail = os.path.join(ROOT, "trail")
        step = lambda n: {"kind": "exec", "name": "s%d" % n, "argv": ["sh", "-c", "echo do%d >> %s" % (n, trail)],
                          "rollback": {"kind": "exec", "argv": ["sh", "-c", "echo undo%d >> %s" % (n, trail)]}}
        jid = submit({"steps": [step(1), step(2),
                                {"kind": "check", "name": "gate", "argv": ["false"], "message": "gate is closed",
                                 "rollback": {"kind": "exec", "argv": ["sh", "-c", "echo never >> " + trail]}},
                                step(4)],
                      "rollback": [{"kind": "exec", "argv": ["sh", "-c", "echo cleanup >> " + trail]}]})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("args.steps[2]: gate is closed", h["error_message"])
        self.assertEqual(h["attempt"], "1")
        with open(trail) as f:
            self.assertEqual(f.read().split(), ["do1", "do2", "undo2", "undo1", "cleanup"])

    def test_rollback_order_is_completed_steps_newest_first_then_the_recipe_list(self):
        # docs/families/provision.md (Recipes): the rollbacks of the completed
        # steps, newest first, then the recipe's own list in its order; the
        # failed step did not complete, so its rollback does not run.
        trail = os.path.join(ROOT, "trail-order")
        append = lambda name: {"kind": "exec", "argv": ["sh", "-c", "echo %s >> %s" % (name, trail)]}
        jid = submit({"steps": [{"kind": "exec", "name": "one", "argv": ["true"], "rollback": append("step1")},
                                {"kind": "exec", "name": "two", "argv": ["true"], "rollback": append("step2")},
                                {"kind": "exec", "name": "three", "argv": ["false"], "rollback": append("step3")}],
                      "rollback": [append("recipe-a"), append("recipe-b")]})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("args.steps[2]", h["error_message"])
        with open(trail) as f:
            self.assertEqual(f.read().split(), ["step2", "step1", "recipe-a", "recipe-b"])

    def test_timeout_rolls_back(self):
        trail = os.path.join(ROOT, "trail-timeout")
        jid = submit({"steps": [{"kind": "exec", "argv": ["touch", trail],
                                 "rollback": {"kind": "exec", "argv": ["rm", "-f", trail]}},
                                {"kind": "exec", "argv": ["sleep", "60"]}]}, extra=["--job-timeout", "3"])
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "timeout"), h)
        self.assertFalse(os.path.exists(trail), "step 1 was rolled back after the timeout")

    def test_bad_recipes_name_the_field(self):
        cases = [({"steps": [{"kind": "teleport"}]}, "args.steps[0].kind"),
                 ({"steps": [{"kind": "exec"}]}, "args.steps[0]"),
                 ({"steps": [{"kind": "exec", "argv": ["{{nope}}"]}]}, "{{nope}}"),
                 ({"steps": [{"kind": "upload", "path": "/x", "content": "{{nope}}"}]}, "{{nope}}"),
                 ({"steps": [{"kind": "wait_port", "port": 70000}]}, "args.steps[0].port"),
                 ({"steps": [{"kind": "exec", "argv": ["true"], "rollback": {"kind": "exec", "argv": ["true"],
                                                                             "rollback": {}}}]}, "rollback"),
                 ({"steps": []}, "args.steps"),
                 ({"steps": [{"kind": "exec", "argv": ["true"]}], "vars": {"a": 1}}, "args.vars")]
        for args, needle in cases:
            jid = submit(args, extra=["--no-validate"])
            h = finished(jid)
            self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), (args, h))
            self.assertIn(needle, h["error_message"], (args, h))

    def test_upload_outside_roots_is_refused(self):
        jid = submit({"vars": {"p": "/etc/wharf-pwned"},
                      "steps": [{"kind": "upload", "path": "{{p}}", "content": "x"}]})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), h)
        self.assertIn("outside the roots", h["error_message"])
        self.assertFalse(os.path.exists("/etc/wharf-pwned"))


class Resume(unittest.TestCase):
    def test_killed_worker_mid_recipe_resumes_after_the_last_completed_step(self):
        trail = os.path.join(ROOT, "resume-trail")
        gate = os.path.join(ROOT, "resume-gate")
        url, prefix = env.new_vhost(), env.new_prefix()
        w1 = env.start_worker(url, prefix, concurrency=1, families="provision", args=ARGS)
        args = {"steps": [
            {"kind": "exec", "argv": ["sh", "-c", "echo one >> " + trail]},
            {"kind": "exec", "argv": ["sh", "-c", "echo two-start >> %s; while [ ! -e %s ]; do sleep 0.2; done"
                                      % (trail, gate)]},
            {"kind": "exec", "argv": ["sh", "-c", "echo three >> " + trail]}]}
        cp = env.wharf(["submit", "provision.run", "--args-json", json.dumps(args), "--target", "a"], url, prefix)
        jid = cp.stdout.split()[0]
        r = env.redis()
        wait_for(lambda: os.path.exists(trail) and "two-start" in read(trail), timeout=30,
                 what="step 2 to start")
        self.assertEqual(r.get(prefix + "pv:run:" + jid), "1", "step 1 is recorded as completed")
        w1.kill()
        open(gate, "w").close()  # step 2 may finish now
        w2 = env.start_worker(url, prefix, concurrency=1, families="provision", args=ARGS)
        try:
            h = wait_for(lambda: (lambda x: x if x.get("state") in ("succeeded", "failed", "dead") else None)(
                job_hash(jid, prefix)), timeout=60, what="the job to finish on the second worker")
        finally:
            w2.stop()
        self.assertEqual(h["state"], "succeeded", h)
        with open(trail) as f:
            lines = f.read().split()
        self.assertEqual(lines.count("one"), 1, lines)
        self.assertEqual(lines[-1], "three", lines)
        self.assertIn("resuming after 1 completed step(s)", [l for s, l in
                      [(f["s"], f["l"]) for _, f in r.xrange(prefix + "job:" + jid + ":log")]])


if __name__ == "__main__":
    unittest.main()
