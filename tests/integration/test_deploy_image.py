#!/usr/bin/python3
"""deploy/container/build makes a from-scratch image of a Release build with a
private dockerd (nothing pulled); a worker container from it, on the host's
network namespace, serves the test RabbitMQ and Redis on 127.0.0.1: a job
submitted with the CLI of the build succeeds. Prints the image size."""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import dockerd  # noqa: E402
import relbuild  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
wait_for = wharftest.wait_for
TAG = "wharf:test-image"
UID = 10001


class ImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bdir = relbuild.ensure(["wharf", "wharf-worker"])
        cls.d = dockerd.Dockerd.start(env.tmp)
        benv = cls.d.env()
        benv["DOCKER"] = dockerd._need("docker")
        benv["DOCKER_BUILDKIT"] = "0"
        t0 = time.monotonic()
        cp = subprocess.run([os.path.join(env.src, "deploy", "container", "build"), "--bin",
                             os.path.join(bdir, "bin"), "-t", TAG], env=benv, capture_output=True, text=True,
                            timeout=300, stdin=subprocess.DEVNULL)
        if cp.returncode != 0:
            cls.d.stop()
            raise RuntimeError("deploy/container/build -> %d\n%s\n%s" % (cp.returncode, cp.stdout, cp.stderr))
        cls.build_out = cp.stdout
        cls.size = int(cls.d.docker(["image", "inspect", "-f", "{{.Size}}", TAG]).stdout)
        print("\nimage %s: %d bytes (%.1f MiB), built in %.1f s" % (TAG, cls.size, cls.size / 1048576.0,
                                                                    time.monotonic() - t0), flush=True)

    @classmethod
    def tearDownClass(cls):
        root = cls.d.root
        cls.d.stop()
        # A host-network container leaves dockerd's netns/default bind mount
        # under our exec-root: unmount what is left under our own root.
        with open("/proc/mounts") as f:
            left = [ln.split()[1] for ln in f if ln.split()[1].startswith(root + "/")]
        for m in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", m], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", "--one-file-system", root], check=False)

    def run_ctr(self, args, check=True, timeout=60):
        cp = self.d.docker(["run", "--rm"] + args, check=False, timeout=timeout)
        if check:
            self.assertEqual(cp.returncode, 0, cp.stderr.decode(errors="replace"))
        return cp

    def test_image_is_from_scratch_non_root_and_small(self):
        info = json.loads(self.d.docker(["image", "inspect", TAG]).stdout)[0]
        self.assertEqual(info["Config"]["User"], "%d:%d" % (UID, UID))
        self.assertEqual(info["Config"]["Entrypoint"], ["/usr/bin/wharf-worker"])
        # FROM scratch: the only layers are the two COPYs (rootfs/ and state/)
        self.assertEqual(len(info["RootFS"]["Layers"]), 2, info["RootFS"])
        self.assertLess(self.size, 64 * 1048576, "the image grew past 64 MiB")
        self.assertIn("built %s, %d bytes" % (TAG, self.size), self.build_out)
        # no shell, no package manager: only what the binaries need
        cp = self.run_ctr(["--network", "none", "--entrypoint", "/bin/sh", TAG, "-c", "true"], check=False)
        self.assertNotEqual(cp.returncode, 0)
        files = self.export_files()
        for want in ("usr/bin/wharf-worker", "usr/bin/wharf", "lib64/ld-linux-x86-64.so.2",
                     "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "etc/group", "etc/nsswitch.conf"):
            self.assertIn(want, files)
        self.assertTrue(any(re.search(r"/libc\.so\.6$", f) for f in files))
        self.assertTrue(any(re.search(r"/librabbitmq\.so\.\d+$", f) for f in files))
        # loaded on demand by the worker, so not in ldd's list: copied all the same
        for lib in ("libcurl", "libssh"):
            self.assertTrue(any(re.search(r"/%s\.so\.\d+$" % lib, f) for f in files), "no %s in the image" % lib)
        self.assertFalse(any(f.startswith(("bin/", "sbin/")) for f in files), [f for f in files if "bin/" in f])
        self.assertIn("wharf:x:%d:%d:" % (UID, UID), files["etc/passwd"])
        self.assertEqual(files["tmp"], "1777")
        self.assertEqual(files["var/lib/wharf"], "%d" % UID)

    def test_worker_loads_libcurl_and_libssh_in_the_image(self):
        """A worker whose inventory reaches an engine over ssh:// loads both
        libraries at start, and would refuse to start without them."""
        cid = self.d.docker(["run", "-d", "--network", "none", TAG, "--families", "runtime,provision",
                             "-s", "host.h.address=127.0.0.1", "-s", "host.h.docker=ssh://",
                             "-s", "amqp.url=amqp://guest:guest@127.0.0.1:1/%2f",
                             "-s", "redis.url=redis://127.0.0.1:1/0"]).stdout.decode().strip()
        try:
            def started():
                logs = self.logs(cid)
                return logs if "worker started" in logs or "cannot start" in logs else None
            logs = wait_for(started, timeout=30, what="the worker to start or refuse")
            self.assertNotIn("cannot start", logs)
            self.assertIn("worker started", logs)
        finally:
            self.d.docker(["rm", "-f", cid], check=False)

    def export_files(self):
        """{path: content} of small text files, mode of /tmp, owner of the state dir."""
        cid = self.d.docker(["create", TAG]).stdout.decode().strip()
        try:
            tar = self.d.docker(["export", cid], timeout=120).stdout
        finally:
            self.d.docker(["rm", cid], check=False)
        out = {}
        path = os.path.join(env.tmp, "export-%d.tar" % os.getpid())
        with open(path, "wb") as f:
            f.write(tar)
        with tarfile.open(path) as t:
            for m in t.getmembers():
                name = m.name.lstrip("./")
                if name.startswith("etc/") and m.isfile():
                    out[name] = t.extractfile(m).read().decode(errors="replace")
                elif name == "tmp":
                    out[name] = "%o" % (m.mode & 0o7777)
                elif name == "var/lib/wharf":
                    out[name] = "%d" % m.uid
                else:
                    out[name] = ""
        os.unlink(path)
        return out

    def test_worker_container_runs_a_job_submitted_by_the_cli(self):
        amqp, prefix = env.new_vhost(), env.new_prefix()
        name = "wharf-worker-%s" % prefix.rstrip(":")
        cid = self.d.docker(["run", "-d", "--name", name, "--network", "host",
                             "-e", "WHARF_AMQP_URL=" + amqp, "-e", "WHARF_REDIS_URL=" + env.redis_url,
                             "-e", "WHARF_REDIS_PREFIX=" + prefix, "-e", "WHARF_WORKER_FAMILIES=system",
                             "-e", "WHARF_WORKER_CONCURRENCY=2", TAG]).stdout.decode().strip()
        try:
            def registered():
                keys = env.worker_keys(prefix)
                return keys if keys else None
            try:
                wait_for(registered, timeout=30, what="the containerised worker to register")
            except AssertionError:
                self.fail("no worker registered; container logs:\n%s" % self.logs(cid))
            pid = int(self.d.docker(["inspect", "-f", "{{.State.Pid}}", cid]).stdout)
            with open("/proc/%d/status" % pid) as f:
                uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", f.read(), re.M).groups()
            self.assertEqual(uids, (str(UID), str(UID)), "the worker must not run as root")

            cp = env.wharf(["submit", "system.log", "--arg", "lines=3", "--wait", "--timeout", "60"], amqp, prefix,
                           timeout=90)
            self.assertEqual(cp.returncode, 0, "stdout: %s\nstderr: %s\nworker:\n%s"
                             % (cp.stdout, cp.stderr, self.logs(cid)))
            jid = cp.stdout.split()[0]
            self.assertEqual(env.redis().hget(prefix + "job:" + jid, "state"), "succeeded")
            self.assertEqual(env.redis().xlen(prefix + "job:" + jid + ":log"), 3)

            # the CLI inside the image, by host name: nsswitch + /etc/hosts work
            local = re.sub(r"@127\.0\.0\.1:", "@localhost:", amqp)
            cp = self.run_ctr(["--network", "host", "-e", "WHARF_AMQP_URL=" + local,
                               "-e", "WHARF_REDIS_URL=" + env.redis_url.replace("127.0.0.1", "localhost"),
                               "-e", "WHARF_REDIS_PREFIX=" + prefix, "--entrypoint", "/usr/bin/wharf", TAG,
                               "status", "--json", jid])
            self.assertEqual(json.loads(cp.stdout)["state"], "succeeded")

            # docker stop sends SIGTERM: the worker drains and exits 0
            self.d.docker(["stop", "-t", "45", cid], timeout=90)
            code = int(self.d.docker(["inspect", "-f", "{{.State.ExitCode}}", cid]).stdout)
            self.assertEqual(code, 0, self.logs(cid))
            self.assertIn("worker started", self.logs(cid))
        finally:
            self.d.docker(["rm", "-f", cid], check=False)

    def test_compose_scales_the_worker_service(self):
        """deploy/compose's worker service from this image, --scale worker=3,
        pointed at the test servers by an override (host network, the test
        vhost): three consumers, healthy by their own healthcheck, a job runs."""
        exe = shutil.which("docker-compose")
        if not exe:  # fail, never skip: tests/lib/packages.txt has docker-compose
            raise RuntimeError("docker-compose not found (tests/lib/packages.txt)")
        amqp, prefix = env.new_vhost(), env.new_prefix()
        wd = tempfile.mkdtemp(prefix="compose-run-", dir=env.tmp)
        src = os.path.join(env.src, "deploy", "compose")
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), wd)
        with open(os.path.join(wd, "tokens"), "w") as f:
            f.write("a-token-for-the-compose-test\n")
        with open(os.path.join(wd, "override.yml"), "w") as f:
            f.write('version: "3.8"\nservices:\n  worker:\n    network_mode: host\n    environment:\n'
                    '      WHARF_AMQP_URL: "%s"\n      WHARF_REDIS_URL: "%s"\n      WHARF_REDIS_PREFIX: "%s"\n'
                    % (amqp, env.redis_url, prefix))
        cenv = self.d.env()
        cenv["WHARF_IMAGE"] = TAG
        project = "wharft" + prefix.rstrip(":")
        base = [exe, "-p", project, "-f", os.path.join(wd, "docker-compose.yml"), "-f", os.path.join(wd, "override.yml")]

        def compose(*args, timeout=180):
            cp = subprocess.run(base + list(args), env=cenv, cwd=wd, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
            self.assertEqual(cp.returncode, 0, "docker-compose %s:\n%s" % (" ".join(args), cp.stderr[-3000:]))
            return cp
        # --no-deps: RabbitMQ and Redis are the test's own, not images to pull
        compose("up", "-d", "--no-deps", "--scale", "worker=3", "worker")
        try:
            ids = self.d.docker(["ps", "-q", "--filter", "label=com.docker.compose.service=worker"]).stdout.split()
            self.assertEqual(len(ids), 3)
            wait_for(lambda: (env.queue_info(amqp, "wharf.system") or {}).get("consumers") == 3, timeout=30,
                     what="three consumers on wharf.system")

            def healthy():
                states = [self.d.docker(["inspect", "-f", "{{.State.Health.Status}}", i.decode()]).stdout.strip()
                          for i in ids]
                self.assertNotIn(b"unhealthy", states)
                return all(s == b"healthy" for s in states)
            wait_for(healthy, timeout=60, interval=1, what="the workers' healthcheck (wharf workers) to pass")
            cp = env.wharf(["submit", "system.noop", "--wait", "--timeout", "60"], amqp, prefix, timeout=90)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        finally:
            compose("down", "-t", "45")
        self.assertEqual(self.d.docker(["ps", "-aq", "--filter", "label=com.docker.compose.service=worker"])
                         .stdout.split(), [])

    def logs(self, cid):
        cp = self.d.docker(["logs", cid], check=False)
        return (cp.stdout + cp.stderr).decode(errors="replace")[-4000:]


if __name__ == "__main__":
    unittest.main()
