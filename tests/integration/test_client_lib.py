#!/usr/bin/python3
"""The C client library (wharf.h) as a long-lived producer: idempotent
submits, unknown types, and surviving a broker-side close of its connection
and a Redis restart between submits; and the reads added for the parity
with the Python and TypeScript clients (wait with the job, result, logs,
follow, events). tests/clients/test_parity.py runs every operation in all
three languages."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for


class Probe:
    def __init__(self, amqp_url, prefix):
        self.p = subprocess.Popen([os.path.join(env.bin, "wharf-client-probe")], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=env.child_env(amqp_url, prefix))
        assert self.p.stdout.readline().strip() == "ready"

    def __call__(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip().split(" ", 2)

    def close(self):
        self.p.stdin.close()
        self.assert_exit = self.p.wait(10)


class ClientLibTest(unittest.TestCase):
    def setUp(self):
        self.amqp = env.new_vhost()
        self.prefix = env.new_prefix()
        self.worker = env.start_worker(self.amqp, self.prefix)
        self.probe = Probe(self.amqp, self.prefix)

    def tearDown(self):
        self.probe.close()
        self.assertEqual(self.probe.assert_exit, 0)
        self.worker.stop()

    def submit_and_wait(self, type="system.noop", args="{}"):
        r = self.probe("submit %s %s" % (type, args))
        self.assertEqual(r[0], "ok", r)
        id = r[1].split()[0]
        w = self.probe("wait %s 20000" % id)
        self.assertEqual(w, ["ok", "succeeded"], w)
        return id

    def test_submit_status_and_unknown_family(self):
        id = self.submit_and_wait("system.noop", '{"k": [1, 2]}')
        st = self.probe("status " + id)
        self.assertEqual(json.loads(st[1] + (" " + st[2] if len(st) > 2 else ""))["result"], {"k": [1, 2]})
        bad = self.probe("submit nosuchfamily.x {}")
        self.assertEqual(bad[:2], ["err", "unknown_type"])
        badjson = self.probe("submit system.noop {not json")
        self.assertEqual(badjson[:2], ["err", "bad_args"], badjson)
        self.assertRegex(badjson[2], r"^args: invalid JSON at line 1 column \d+")
        missing = self.probe("status nope")
        self.assertEqual(missing[:2], ["err", "not_found"])

    def lines(self, line):
        """A command whose reply is several lines, up to "ok ..." or "err ..."."""
        self.probe.p.stdin.write(line + "\n")
        self.probe.p.stdin.flush()
        out = []
        while not out or not out[-1].startswith(("ok", "err")):
            out.append(self.probe.p.stdout.readline().rstrip("\n"))
        return out

    def test_result_logs_follow_and_events(self):
        self.assertEqual(self.probe("sub *"), ["ok"])
        r = self.probe('submitj {"type": "system.log", "args": {"lines": 4}, "meta": {"t": "x"}}')
        self.assertEqual(r[0], "ok", r)
        jid = r[1].split()[0]
        final = json.loads(" ".join(self.probe("waitjson %s 20000" % jid)[1:]))
        self.assertEqual((final["state"], final["id"]), ("succeeded", jid), final)
        self.assertEqual(json.loads(" ".join(self.probe("result " + jid)[1:])), final["result"])
        logs = json.loads(" ".join(self.probe("logs %s 0" % jid)[1:]))["lines"]
        self.assertEqual([x["l"].split()[:2] for x in logs], [["line", str(i)] for i in range(1, 5)])
        tail = json.loads(" ".join(self.probe("logs %s 2" % jid)[1:]))["lines"]
        self.assertEqual(tail, logs[-2:])
        follow = self.lines("follow " + jid)
        self.assertEqual(follow[-1], "ok end")
        self.assertEqual([x.split(" ", 3)[1] for x in follow[:-1]], [x["id"] for x in logs])
        states = []
        while "succeeded" not in states:
            ev = self.probe("next 5000")
            self.assertEqual(ev[0], "ok", ev)
            if ev[1] == jid:
                states.append(ev[2])
        self.assertEqual(states, ["queued", "running", "succeeded"])
        self.assertEqual(self.probe("next 200")[:2], ["err", "timeout"])
        self.assertEqual(self.probe("unsub"), ["ok"])
        self.assertEqual(self.probe("result nope")[:2], ["err", "not_found"])

    def test_type_default_max_attempts_is_recorded(self):
        # runtime.host.stats makes one attempt unless the job sets its own;
        # no runtime worker here: the job hash made at submit is the record
        r = self.probe("submit runtime.host.stats {}")
        self.assertEqual(r[0], "ok", r)
        self.assertEqual(env.redis().hget(self.prefix + "job:" + r[1].split()[0], "max_attempts"), "1")
        r = self.probe("submit system.noop {}")
        self.assertEqual(env.redis().hget(self.prefix + "job:" + r[1].split()[0], "max_attempts"), "3")

    def test_survives_a_broker_side_close_between_submits(self):
        self.submit_and_wait()
        vhost = env.vhost_of(self.amqp)
        conns = wait_for(lambda: [c for c in env.mgmt("GET", "/api/connections") if c.get("vhost") == vhost and
                                  c.get("client_properties", {}).get("connection_name") == "wharf producer"],
                         15, what="the producer's connection in the management API")
        old = {c["name"] for c in conns}
        for name in old:
            env.mgmt("DELETE", "/api/connections/" + env._q(name))
        import time
        time.sleep(0.5)  # let the broker's close reach the idle client
        # The next submit notices the close and reconnects before publishing.
        self.submit_and_wait()
        wait_for(lambda: [c for c in env.mgmt("GET", "/api/connections") if c.get("vhost") == vhost and
                          c.get("client_properties", {}).get("connection_name") == "wharf producer" and
                          c["name"] not in old], 15, what="a new producer connection")


if __name__ == "__main__":
    unittest.main()
