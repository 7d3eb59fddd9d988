#!/usr/bin/python3
"""provision.host.* over SSH against two private sshd instances (Debian
openssh-server on 127.0.0.11 and 127.0.0.12, started by tests/lib/sshd.py):
host keys, authentication, quoting, timeouts, streaming logs, uploads and
downloads, and the session pool."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "producer", "python", "src"))
import wharftest  # noqa: E402
import sshd  # noqa: E402
import wharf_client  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


def job_hash(jid, prefix=None):
    """The job hash as text (the binary `body` field, if any, left out)."""
    raw = env.redis_raw().hgetall(((prefix or PREFIX) + "job:" + jid).encode())
    return {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items() if k != b"body"}


def setUpModule():
    global TMP, A, B, URL, PREFIX, WORKER, ROOT, CANARY
    TMP = tempfile.mkdtemp(prefix="provision-ssh-", dir=env.tmp)
    A = sshd.Sshd.start("127.0.0.11", TMP)
    B = sshd.Sshd.start("127.0.0.12", TMP)
    ROOT = os.path.join(TMP, "root")      # the hosts' `roots`: files may only go here
    CANARY = os.path.join(TMP, "canary")  # must stay empty: nothing from a job may execute
    os.makedirs(ROOT)
    os.makedirs(CANARY)
    URL = env.new_vhost()
    PREFIX = env.new_prefix()
    sets = {}
    sets.update(A.inventory("a", roots=ROOT))
    sets.update(B.inventory("b", roots=ROOT, idle_s=2, keepalive_s=1))  # idle sessions closed after 2 s
    # a known_hosts that gives b's address a's key: b's key "changed"
    changed = os.path.join(TMP, "changed_known_hosts")
    with open(A.host_key + ".pub") as f:
        kt, kb = f.read().split()[:2]
    with open(changed, "w") as f:
        f.write("[%s]:%d %s %s\n" % (B.address, B.port, kt, kb))
    sets.update(B.inventory("bad_hostkey", known_hosts=changed, roots=ROOT))
    # b is not in a's known_hosts at all: unknown
    sets.update(B.inventory("unknown_hostkey", known_hosts=A.known_hosts, roots=ROOT))
    # a pinned fingerprint (no known_hosts) that matches, and one that does not
    sets.update(A.inventory("pinned", known_hosts="", fingerprint=A.fingerprint, roots=ROOT))
    sets.update(A.inventory("pinned_wrong", known_hosts="", fingerprint=B.fingerprint, roots=ROOT))
    # accept-new with an empty known_hosts file of its own
    global NEW_KH
    NEW_KH = os.path.join(TMP, "new_known_hosts")
    open(NEW_KH, "w").close()
    sets.update(A.inventory("acceptnew", known_hosts=NEW_KH, host_key="accept-new", roots=ROOT))
    # a key sshd does not know
    other = sshd.keygen(os.path.join(TMP, "other_key"))
    sets.update(A.inventory("wrong_key", key_file=other, roots=ROOT))
    # nothing listens there
    sets.update(A.inventory("down", port=sshd.free_port("127.0.0.11"), connect_timeout_s=3, roots=ROOT))
    sets.update({"jobs.max_body": "16777216", "retry.base_ms": "100", "retry.tiers": "1000"})
    # an INI file: more entries than the worker takes --set flags
    sections = {}
    for k, v in sets.items():
        sec, key = k.rsplit(".", 1)
        sections.setdefault(sec, []).append("%s = %s" % (key, v))
    ini = os.path.join(TMP, "worker.ini")
    with open(ini, "w") as f:
        for sec, lines in sections.items():
            f.write("[%s]\n%s\n" % (sec, "\n".join(lines)))
    WORKER = env.start_worker(URL, PREFIX, concurrency=4, families="provision", args=["--config", ini])


def tearDownModule():
    try:
        WORKER.stop()
    finally:
        A.stop()
        B.stop()
        if os.environ.get("WHARF_TEST_KEEP_TMP") != "1":
            shutil.rmtree(TMP, ignore_errors=True)


def submit(type, args, target="a", wait=True, extra=(), timeout=60):
    cp = env.wharf(["submit", type, "--args-json", json.dumps(args), "--target", target] + list(extra)
                   + (["--wait", "--timeout", str(timeout)] if wait else []), URL, PREFIX, timeout=timeout + 30)
    job_id = cp.stdout.split()[0] if cp.stdout.split() else ""
    return cp, job_id


def job(job_id):
    return job_hash(job_id)


def log_lines(job_id):
    return [(f["s"], f["l"]) for _, f in env.redis().xrange(PREFIX + "job:" + job_id + ":log")]


def finished(job_id, timeout=60):
    return wait_for(lambda: (lambda h: h if h.get("state") in ("succeeded", "failed", "dead", "cancelled")
                             else None)(job(job_id)), timeout=timeout, what="job %s to finish" % job_id)


class HostKeysAndAuth(unittest.TestCase):
    def test_known_host_runs(self):
        cp, jid = submit("provision.host.exec", {"argv": ["echo", "hello"]})
        h = finished(jid)
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual(json.loads(h["result"]), {"exit_code": 0})
        self.assertIn(("out", "hello"), log_lines(jid))

    def test_host_key_mismatch_is_refused(self):
        cp, jid = submit("provision.host.exec", {"argv": ["touch", os.path.join(CANARY, "hostkey")]},
                         target="bad_hostkey")
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "host_key_mismatch"), h)
        self.assertIn("CHANGED", h["error_message"])
        self.assertEqual(h["attempt"], "1", "a host key mismatch is permanent, never retried")
        self.assertFalse(os.path.exists(os.path.join(CANARY, "hostkey")))

    def test_unknown_host_key_is_refused(self):
        cp, jid = submit("provision.host.exec", {"argv": ["touch", os.path.join(CANARY, "unknown")]},
                         target="unknown_hostkey")
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "host_key_mismatch"), h)
        self.assertIn("unknown host key " + B.fingerprint, h["error_message"])
        self.assertFalse(os.path.exists(os.path.join(CANARY, "unknown")))

    def test_pinned_fingerprint(self):
        cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="pinned")
        self.assertEqual(finished(jid)["state"], "succeeded")
        cp, jid = submit("provision.host.exec", {"argv": ["touch", os.path.join(CANARY, "pin")]},
                         target="pinned_wrong")
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "host_key_mismatch"), h)
        self.assertIn("pinned fingerprint", h["error_message"])
        self.assertFalse(os.path.exists(os.path.join(CANARY, "pin")))

    def test_accept_new_records_the_key(self):
        cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="acceptnew")
        self.assertEqual(finished(jid)["state"], "succeeded")
        with open(NEW_KH) as f:
            text = f.read()
        self.assertIn("127.0.0.11", text)
        self.assertIn(open(A.host_key + ".pub").read().split()[1], text)

    def test_wrong_key_is_refused(self):
        cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="wrong_key")
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "auth_failed"), h)
        self.assertEqual(h["attempt"], "1")

    def test_unreachable_is_transient(self):
        cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="down",
                         extra=["--max-attempts", "2"])
        h = finished(jid, timeout=90)
        self.assertEqual((h["state"], h["error"]), ("dead", "unreachable"), h)
        self.assertEqual(h["attempt"], "2", "unreachable is retried")

    def test_unknown_target(self):
        cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="nope")
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "unknown_host"), h)


HOSTILE = [
    "; touch {c}/semi",
    "$(touch {c}/dollar)",
    "`touch {c}/backtick`",
    "'; touch {c}/squote; '",
    "\"; touch {c}/dquote; \"",
    "x\ntouch {c}/newline\n",
    "",
    "it's",
    "| touch {c}/pipe & touch {c}/amp > {c}/redir",
    "h\u00e9 \u20ac \U0001F433",
    "*",
    "$HOME",
]


class Exec(unittest.TestCase):
    def test_hostile_argv_arrives_verbatim_and_nothing_executes(self):
        args = [s.format(c=CANARY) for s in HOSTILE]
        out = os.path.join(ROOT, "argv.out")
        # python on the far side writes its argv back as JSON
        prog = "import json,sys; open(sys.argv[1],'w').write(json.dumps(sys.argv[2:]))"
        cp, jid = submit("provision.host.exec", {"argv": ["/usr/bin/python3", "-c", prog, out] + args,
                                                 "env": {"WHARF_X": "$(touch %s/env)" % CANARY},
                                                 "cwd": ROOT})
        h = finished(jid)
        self.assertEqual(h["state"], "succeeded", h)
        with open(out) as f:
            self.assertEqual(json.load(f), args)
        self.assertEqual(os.listdir(CANARY), [], "a canary file was created: something executed")

    def test_env_cwd_stdin(self):
        cp, jid = submit("provision.host.exec", {
            "argv": ["sh", "-c", "printf '%s|%s|' \"$GREETING\" \"$(pwd)\"; cat"],
            "env": {"GREETING": "hi 'there'"}, "cwd": ROOT, "stdin": "from stdin\nline 2\n"})
        h = finished(jid)
        self.assertEqual(h["state"], "succeeded", h)
        self.assertEqual([l for s, l in log_lines(jid) if s == "out"],
                         ["hi 'there'|%s|from stdin" % ROOT, "line 2"])

    def test_script_on_stdin(self):
        cp, jid = submit("provision.host.exec", {"script": "x=41\necho $((x+1))\necho err >&2\n"})
        h = finished(jid)
        self.assertEqual(h["state"], "succeeded", h)
        self.assertIn(("out", "42"), log_lines(jid))
        self.assertIn(("err", "err"), log_lines(jid))

    def test_nonzero_exit_is_command_failed_with_last_lines(self):
        cp, jid = submit("provision.host.exec", {"script": "for i in 1 2 3 4 5; do echo line$i; done\n"
                                                           "echo boom >&2\nexit 3\n"})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "command_failed"), h)
        self.assertIn("exit status 3", h["error_message"])
        self.assertIn("boom", h["error_message"])
        self.assertIn("line5", h["error_message"])
        self.assertNotIn("line1", h["error_message"], "only the last lines")

    def test_output_streams_while_running(self):
        cp, jid = submit("provision.host.exec", {"script": "echo first\nsleep 3\necho second\n"}, wait=False)
        wait_for(lambda: ("out", "first") in log_lines(jid), timeout=10, what="first line before the end")
        self.assertNotEqual(job(jid).get("state"), "succeeded", "the first line arrived while it ran")
        self.assertEqual(finished(jid)["state"], "succeeded")
        self.assertIn(("out", "second"), log_lines(jid))

    def test_timeout_s_arg_stops_a_hanging_command(self):
        marker = os.path.join(ROOT, "hang-%d" % os.getpid())
        t0 = time.monotonic()
        cp, jid = submit("provision.host.exec", {"argv": ["sh", "-c", "sleep 30; touch %s" % marker],
                                                 "timeout_s": 2})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "timeout"), h)
        self.assertLess(time.monotonic() - t0, 20)
        time.sleep(0.5)
        self.assertFalse(os.path.exists(marker))
        ps = subprocess.run(["pgrep", "-f", "sleep 30; touch %s" % marker], capture_output=True, text=True)
        self.assertEqual(ps.stdout.strip(), "", "remote process still running after the timeout")

    def test_job_timeout_stops_a_hanging_command(self):
        t0 = time.monotonic()
        cp, jid = submit("provision.host.exec", {"argv": ["sleep", "60"]}, extra=["--job-timeout", "2"])
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "timeout"), h)
        self.assertLess(time.monotonic() - t0, 20)

    def test_cancel_stops_a_hanging_command(self):
        marker = os.path.join(ROOT, "cancel-%d" % os.getpid())
        cp, jid = submit("provision.host.exec", {"argv": ["sh", "-c", "echo started; sleep 30; touch %s" % marker]},
                         wait=False)
        wait_for(lambda: ("out", "started") in log_lines(jid), timeout=15, what="the command to start")
        t0 = time.monotonic()
        cp = env.wharf(["cancel", jid], URL, PREFIX)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        h = finished(jid)
        self.assertEqual(h["state"], "cancelled", h)
        self.assertLess(time.monotonic() - t0, 10)
        time.sleep(0.5)
        self.assertFalse(os.path.exists(marker), "the remote command was stopped")
        # the remote sleep is gone too (sent TERM, then KILL)
        ps = subprocess.run(["pgrep", "-f", "sleep 30; touch %s" % marker], capture_output=True, text=True)
        self.assertEqual(ps.stdout.strip(), "", "remote process still running")

    def test_bad_args_are_refused_with_the_field(self):
        for args, field in [({}, "argv"), ({"argv": ["a"], "script": "b"}, "argv"),
                            ({"argv": [1]}, "argv"), ({"argv": ["true"], "env": {"A-B": "x"}}, "env"),
                            ({"script": "true", "stdin": "x"}, "stdin")]:
            cp, jid = submit("provision.host.exec", args, wait=False, extra=["--no-validate"])
            h = finished(jid)
            self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), (args, h))
            self.assertIn(field, h["error_message"], (args, h))

    def test_two_hosts(self):
        cp, jid = submit("provision.host.exec", {"argv": ["echo", "on b"]}, target="b")
        self.assertEqual(finished(jid)["state"], "succeeded")
        self.assertIn(("out", "on b"), log_lines(jid))


class Files(unittest.TestCase):
    def test_upload_5mb_checksum_mode_and_atomic_rename(self):
        data = os.urandom(5 * 1024 * 1024)
        path = os.path.join(ROOT, "big.bin")
        with open(path, "wb") as f:
            f.write(b"old")  # replaced atomically
        with wharf_client.Client(URL, env.redis_url, prefix=PREFIX, max_body=16777216) as c:
            jid = c.submit("provision.host.upload",
                           {"path": path, "content_b64": base64.b64encode(data).decode(), "mode": 0o640},
                           target="a").id
        h = finished(jid, timeout=120)
        self.assertEqual(h["state"], "succeeded", h)
        r = json.loads(h["result"])
        want = hashlib.sha256(data).hexdigest()
        self.assertEqual(r["sha256"], want)
        self.assertEqual(r["bytes"], len(data))
        with open(path, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), want)
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o640)
        self.assertEqual([n for n in os.listdir(ROOT) if "wharf-" in n], [], "no temp file left")

    def test_upload_text_owner_and_download(self):
        path = os.path.join(ROOT, "hello.txt")
        cp, jid = submit("provision.host.upload", {"path": path, "content": "h\u00e9llo\n", "owner": "1:1"})
        h = finished(jid)
        self.assertEqual(h["state"], "succeeded", h)
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_gid), (1, 1))
        self.assertEqual(st.st_mode & 0o7777, 0o644)
        cp, jid = submit("provision.host.download", {"path": path})
        h = finished(jid)
        self.assertEqual(h["state"], "succeeded", h)
        r = json.loads(h["result"])
        self.assertEqual(r["content"], "h\u00e9llo\n")
        self.assertEqual(r["sha256"], hashlib.sha256("h\u00e9llo\n".encode()).hexdigest())

    def test_upload_owner_by_name_resolved_on_the_host(self):
        import grp
        import pwd
        cases = [("nobody", (pwd.getpwnam("nobody").pw_uid, None)),
                 ("daemon:nogroup", (pwd.getpwnam("daemon").pw_uid, grp.getgrnam("nogroup").gr_gid)),
                 ("2:daemon", (2, grp.getgrnam("daemon").gr_gid))]
        for i, (owner, (uid, gid)) in enumerate(cases):
            path = os.path.join(ROOT, "owned-%d.txt" % i)
            cp, jid = submit("provision.host.upload", {"path": path, "content": "x", "owner": owner})
            h = finished(jid)
            self.assertEqual(h["state"], "succeeded", h)
            st = os.stat(path)
            self.assertEqual(st.st_uid, uid, owner)
            if gid is not None:
                self.assertEqual(st.st_gid, gid, owner)
        cp, jid = submit("provision.host.upload", {"path": os.path.join(ROOT, "x.txt"), "content": "x",
                                                   "owner": "no-such-user-x"})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), h)
        self.assertIn("args.owner: no user no-such-user-x", h["error_message"])
        self.assertFalse(os.path.exists(os.path.join(ROOT, "x.txt")))
        for bad in ("-x", "a;b", "a:b:c", "$(id)"):
            cp, jid = submit("provision.host.upload", {"path": os.path.join(ROOT, "y.txt"), "content": "x",
                                                       "owner": bad}, wait=False)
            self.assertNotEqual(cp.returncode, 0, bad)
            self.assertIn("args.owner", cp.stderr, bad)

    def test_download_binary_and_cap(self):
        path = os.path.join(ROOT, "bin.dat")
        data = bytes(range(256)) * 8
        with open(path, "wb") as f:
            f.write(data)
        cp, jid = submit("provision.host.download", {"path": path})
        r = json.loads(finished(jid)["result"])
        self.assertEqual(base64.b64decode(r["content_b64"]), data)
        cp, jid = submit("provision.host.download", {"path": path, "max_bytes": 100})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "too_large"), h)

    def test_paths_outside_roots_are_refused(self):
        for p in ["/etc/wharf-pwned", ROOT + "/../escape", ROOT + "x/f", "relative", ROOT + "/a/./b"]:
            cp, jid = submit("provision.host.upload", {"path": p, "content": "x"}, wait=False,
                             extra=["--no-validate"])
            h = finished(jid)
            self.assertEqual((h["state"], h["error"]), ("failed", "bad_args"), (p, h))
            self.assertIn("args.path", h["error_message"])
        self.assertFalse(os.path.exists("/etc/wharf-pwned"))
        self.assertFalse(os.path.exists(os.path.join(TMP, "escape")))

    def test_missing_directory_is_not_found(self):
        cp, jid = submit("provision.host.upload", {"path": ROOT + "/no/such/dir/f", "content": "x"})
        h = finished(jid)
        self.assertEqual((h["state"], h["error"]), ("failed", "not_found"), h)


class Pool(unittest.TestCase):
    def test_sessions_are_reused_across_jobs(self):
        before = A.log_text_count("Accepted publickey")
        ids = [submit("provision.host.exec", {"argv": ["true"]}, wait=False)[1] for _ in range(20)]
        for jid in ids:
            self.assertEqual(finished(jid)["state"], "succeeded")
        logins = A.log_text_count("Accepted publickey") - before
        self.assertLessEqual(logins, 4, "20 jobs on 4 threads made %d logins" % logins)


    def test_idle_sessions_are_closed_after_idle_s(self):
        time.sleep(3.5)  # host b: idle_s = 2, so no session of an earlier test is left
        before = B.log_text_count("Accepted publickey")
        gone = lambda: B.log_text_count("Closing connection to")
        closed_before = gone()
        for _ in range(2):
            cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="b")
            self.assertEqual(finished(jid)["state"], "succeeded")
        self.assertEqual(B.log_text_count("Accepted publickey") - before, 1, "the second job reused the session")
        wait_for(lambda: gone() > closed_before, timeout=10, what="the idle session to be closed")
        cp, jid = submit("provision.host.exec", {"argv": ["true"]}, target="b")
        self.assertEqual(finished(jid)["state"], "succeeded")
        self.assertEqual(B.log_text_count("Accepted publickey") - before, 2, "a new session after idle_s")

if __name__ == "__main__":
    unittest.main()
