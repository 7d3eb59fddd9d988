#!/usr/bin/python3
"""SSH authentication options of the inventory, against a private sshd on
127.0.0.13 (tests/lib/sshd.py) that also takes passwords (its own copy of
/etc/shadow, in a private mount namespace):
  - ssh-agent: a private agent started here (stopped by its PID) holding a
    key that no file of the worker names; agent = true
  - password_file (discouraged, but supported)
  - key_file with passphrase_file
and the failing variants (auth_failed, the secret in no job field or log)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402
import sshd  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for

PASSWORD = "pw-" + os.urandom(6).hex()
PASSPHRASE = "pp-" + os.urandom(6).hex()


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


def setUpModule():
    global TMP, S, AGENT, AGENT_SOCK, URL, PREFIX, WORKER
    for prog in ("ssh-agent", "ssh-add", "unshare"):
        if not shutil.which(prog):
            raise RuntimeError("%s is missing: install openssh-client and util-linux" % prog)
    TMP = tempfile.mkdtemp(prefix="provision-auth-", dir=env.tmp)
    S = sshd.Sshd.start("127.0.0.13", TMP, password=PASSWORD)
    # an encrypted key, and a key only the agent holds
    enc = os.path.join(TMP, "enc_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-f", enc], check=True)
    agent_key = sshd.keygen(os.path.join(TMP, "agent_ed25519"))
    with open(S.authorized_keys, "a") as out:
        for pub in (enc + ".pub", agent_key + ".pub"):
            with open(pub) as f:
                out.write(f.read())
    AGENT_SOCK = os.path.join(TMP, "agent.sock")
    AGENT = subprocess.Popen(["ssh-agent", "-D", "-a", AGENT_SOCK], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(AGENT_SOCK), timeout=10, what="ssh-agent's socket")
    subprocess.run(["ssh-add", "-q", agent_key], check=True, env=dict(os.environ, SSH_AUTH_SOCK=AGENT_SOCK),
                   capture_output=True)
    os.remove(agent_key)  # only the agent has it now
    good_pw = write_secret(os.path.join(TMP, "password"), PASSWORD)
    bad_pw = write_secret(os.path.join(TMP, "bad_password"), "not-" + PASSWORD)
    good_pp = write_secret(os.path.join(TMP, "passphrase"), PASSPHRASE)
    bad_pp = write_secret(os.path.join(TMP, "bad_passphrase"), "not-" + PASSPHRASE)
    sets = {}
    sets.update(S.inventory("agent", key_file="", agent="true"))
    sets.update(S.inventory("password", key_file="", password_file=good_pw))
    sets.update(S.inventory("bad_password", key_file="", password_file=bad_pw))
    sets.update(S.inventory("passphrase", key_file=enc, passphrase_file=good_pp))
    sets.update(S.inventory("bad_passphrase", key_file=enc, passphrase_file=bad_pp))
    sets.update(S.inventory("no_passphrase", key_file=enc))
    args = []
    for k, v in sets.items():
        args += ["--set", "%s=%s" % (k, v)]
    URL, PREFIX = env.new_vhost(), env.new_prefix()
    WORKER = env.start_worker(URL, PREFIX, concurrency=2, families="provision", args=args,
                              extra_env={"SSH_AUTH_SOCK": AGENT_SOCK})


def tearDownModule():
    try:
        WORKER.stop()
        S.stop()
    finally:
        if AGENT.poll() is None:
            os.kill(AGENT.pid, signal.SIGTERM)
            AGENT.wait(timeout=10)
        shutil.rmtree(TMP, ignore_errors=True)


def run_on(target):
    cp = env.wharf(["submit", "provision.host.exec", "--target", target, "--args-json",
                    json.dumps({"argv": ["sh", "-c", "echo auth-ok-$0", target]})], URL, PREFIX)
    assert cp.returncode == 0, cp.stderr
    jid = cp.stdout.split()[0]
    r = env.redis()
    h = wait_for(lambda: (lambda x: x if x.get("state") in ("succeeded", "failed", "dead") else None)(
        r.hgetall(PREFIX + "job:" + jid)), timeout=60, what="job on " + target)
    log = [f["l"] for _, f in r.xrange(PREFIX + "job:" + jid + ":log")]
    return h, log


class Auth(unittest.TestCase):
    def assert_ok(self, target):
        h, log = run_on(target)
        self.assertEqual(h["state"], "succeeded", h)
        self.assertIn("auth-ok-" + target, log)

    def assert_refused(self, target):
        h, log = run_on(target)
        self.assertEqual((h["state"], h["error"]), ("failed", "auth_failed"), h)
        self.assertIn("host.%s" % target, h["error_message"])
        for secret in (PASSWORD, PASSPHRASE):
            self.assertNotIn(secret, json.dumps(h))
            self.assertNotIn(secret, json.dumps(log))

    def test_agent(self):
        self.assert_ok("agent")

    def test_password_file(self):
        self.assert_ok("password")
        self.assertGreater(S.log_text_count("Accepted password"), 0, "it was the password that worked")

    def test_wrong_password_is_refused(self):
        self.assert_refused("bad_password")

    def test_key_with_passphrase_file(self):
        self.assert_ok("passphrase")

    def test_wrong_or_missing_passphrase_is_refused(self):
        self.assert_refused("bad_passphrase")
        self.assert_refused("no_passphrase")

    def test_no_secret_in_the_worker_log(self):
        self.assert_ok("password")
        with open(WORKER.log_path, errors="replace") as f:
            text = f.read()
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(PASSPHRASE, text)


if __name__ == "__main__":
    unittest.main()
