#!/usr/bin/python3
"""`cmake --install` of a Release build into a temporary DESTDIR: binaries,
libwharf.so with wharf.h and wharf.pc (a C program built with pkg-config
submits a job that the installed worker runs), the man pages (lint-clean and
naming every real flag and config key), the example configs (valid), and
the systemd units (systemd-analyze verify and security, offline, on the
installed tree; a broken copy must fail)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import relbuild  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
TOOLS = ("pkg-config", "cc", "man", "groff", "mandoc", "systemd-analyze", "nm", "ldd")

PROG = r"""
#include <stdio.h>
#include <string.h>
#include <wharf.h>

int main(int argc, char **argv)
{
    if(argc != 4) return 2;
    wharf_client_opts o = {.amqp_url = argv[1], .redis_url = argv[2], .redis_prefix = argv[3]};
    wharf_error err;
    wharf_client *c = wharf_client_new(&o, &err);
    if(!c) { fprintf(stderr, "connect: %s (%s)\n", err.message, err.name); return 1; }
    wharf_job job = {.type = "system.sleep", .args_json = "{\"ms\": 50}"};
    wharf_submitted s;
    if(wharf_submit(c, &job, &s, &err) != 0) { fprintf(stderr, "submit: %s\n", err.message); return 1; }
    char state[16] = "";
    if(wharf_wait(c, s.id, 30000, state, &err) != 0) { fprintf(stderr, "wait: %s\n", err.message); return 1; }
    printf("%s %s\n", s.id, state);
    wharf_client_free(c);
    return strcmp(state, "succeeded") == 0 ? 0 : 1;
}
"""


def run(cmd, ok=True, **kw):
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120),
                        stdin=subprocess.DEVNULL, **kw)
    if ok and cp.returncode != 0:
        raise AssertionError("%s -> %d\nstdout: %s\nstderr: %s" % (cmd, cp.returncode, cp.stdout, cp.stderr))
    return cp


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:  # fail, never skip: tests/run installs them (tests/lib/packages.txt)
            raise RuntimeError("missing tools: %s (tests/lib/packages.txt: mandoc, groff-base, "
                               "pkg-config, systemd)" % ", ".join(missing))
        cls.bdir = relbuild.ensure(["wharf", "wharf-worker", "wharf_shared"])
        cls.dest = tempfile.mkdtemp(prefix="install-", dir=env.tmp)
        relbuild.install(cls.bdir, cls.dest)
        cls.usr = os.path.join(cls.dest, "usr")
        libs = [os.path.join(dp, f) for dp, _, fs in os.walk(cls.usr) for f in fs if f == "libwharf.so.0"]
        assert len(libs) == 1, "libwharf.so.0 installed %d times: %s" % (len(libs), libs)
        cls.libdir = os.path.dirname(libs[0])
        cls.bin = os.path.join(cls.usr, "bin")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.usr, *parts)

    # ------------------------------------------------------------ files and binaries

    def test_tree_has_every_part(self):
        want = ["bin/wharf", "bin/wharf-worker", "include/wharf.h", "share/man/man1/wharf.1",
                "share/man/man8/wharf-worker.8", "share/doc/wharf/examples/default.ini",
                "share/doc/wharf/examples/serve.ini", "share/doc/wharf/examples/wharf.env",
                "lib/systemd/system/wharf-worker@.service", "lib/systemd/system/wharf-serve.service"]
        for rel in want:
            self.assertTrue(os.path.isfile(self.p(rel)), "not installed: /usr/" + rel)
        for b in ("wharf", "wharf-worker"):
            self.assertTrue(os.access(self.p("bin", b), os.X_OK), b)
        self.assertFalse(os.path.exists(self.p("bin", "wharf-bench")), "wharf-bench is a test tool")
        self.assertTrue(os.path.islink(os.path.join(self.libdir, "libwharf.so")), "no dev symlink libwharf.so")
        self.assertTrue(os.path.isfile(os.path.join(self.libdir, "pkgconfig", "wharf.pc")))

    def test_binaries_are_release_builds_and_run(self):
        for b in ("wharf", "wharf-worker"):
            exe = self.p("bin", b)
            deps = run(["ldd", exe]).stdout
            self.assertNotIn("libasan", deps, "%s is a sanitizer build:\n%s" % (b, deps))
            self.assertNotIn("not found", deps, deps)
            out = run([exe, "--version"]).stdout
            self.assertRegex(out, r"^%s \d+\.\d+\.\d+\n$" % re.escape(b))

    def test_library_exports_only_the_api(self):
        syms = run(["nm", "-D", "--defined-only", os.path.join(self.libdir, "libwharf.so.0")]).stdout
        names = [ln.split()[-1].split("@")[0] for ln in syms.splitlines() if " T " in ln]
        self.assertIn("wharf_submit", names)
        self.assertIn("wharf_client_new", names)
        leaked = [n for n in names if not n.startswith("wharf_")]
        self.assertEqual(leaked, [], "libwharf.so exports internal symbols")
        with open(self.p("include", "wharf.h")) as f:
            header = f.read()
        for n in names:  # every export is declared in the installed header
            self.assertIn(n + "(", header)

    # ------------------------------------------------------------ pkg-config + a program

    def test_pkg_config_program_submits_a_job_the_installed_worker_runs(self):
        penv = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        penv.pop("PKG_CONFIG_SYSROOT_DIR", None)
        ver = run(["pkg-config", "--modversion", "wharf"], env=penv).stdout.strip()
        self.assertEqual(ver, run([self.p("bin", "wharf"), "--version"]).stdout.split()[1])
        flags = run(["pkg-config", "--cflags", "--libs", "wharf"], env=penv).stdout.split()
        self.assertIn("-I" + self.p("include"), [os.path.normpath(f[:2] + os.path.normpath(f[2:]))
                                                 if f.startswith("-I") else f for f in flags])
        work = tempfile.mkdtemp(prefix="pcprog-", dir=env.tmp)
        src = os.path.join(work, "prog.c")
        with open(src, "w") as f:
            f.write(PROG)
        exe = os.path.join(work, "prog")
        run(["cc", "-std=c11", "-Wall", "-Werror", src, "-o", exe] + flags)
        self.assertIn("libwharf.so.0", run(["ldd", exe], env=dict(os.environ, LD_LIBRARY_PATH=self.libdir)).stdout)

        amqp, prefix = env.new_vhost(), env.new_prefix()
        ienv = wharftest.Env()
        ienv.bin = self.bin  # the installed worker, not the test build
        w = ienv.start_worker(amqp, prefix, concurrency=2, families="system")
        try:
            cp = run([exe, amqp, env.redis_url, prefix], ok=False, timeout=60,
                     env=dict(os.environ, LD_LIBRARY_PATH=self.libdir))
            self.assertEqual(cp.returncode, 0, "stdout: %s\nstderr: %s\nworker:\n%s"
                             % (cp.stdout, cp.stderr, w.log_tail()))
            jid, state = cp.stdout.split()
            self.assertEqual(state, "succeeded")
            self.assertEqual(env.redis().hget(prefix + "job:" + jid, "state"), "succeeded")
        finally:
            self.assertEqual(w.stop(), 0)

    # ------------------------------------------------------------ man pages

    def man_text(self, page):
        menv = dict(os.environ, MANPATH=self.p("share", "man"), MANWIDTH="100", LC_ALL="C", LANG="C")
        cp = run(["man", "-P", "cat", page], env=menv)
        return re.sub(r".\x08", "", cp.stdout)

    def test_man_pages_are_lint_clean_and_found_by_man(self):
        pages = [self.p("share/man/man1/wharf.1"), self.p("share/man/man8/wharf-worker.8")]
        for pg in pages:
            g = run(["groff", "-ww", "-z", "-mandoc", pg])
            self.assertEqual(g.stderr, "", pg)
            m = run(["mandoc", "-T", "lint", "-W", "warning", pg], ok=False)
            self.assertEqual((m.returncode, m.stdout + m.stderr), (0, ""), pg)
            self.assertIn("NAME", run(["man", "-l", "-P", "cat", pg]).stdout)
        self.assertIn("wharf-worker", self.man_text("wharf-worker"))
        self.assertIn("serve", self.man_text("wharf"))

    def test_lint_catches_a_broken_page(self):
        bad = os.path.join(env.tmp, "broken-%d.1" % os.getpid())
        with open(self.p("share/man/man1/wharf.1")) as f:
            text = f.read()
        with open(bad, "w") as f:  # an unclosed list and a macro that does not exist
            f.write(text.replace(".El\n.Sh CONFIGURATION", ".Sh CONFIGURATION", 1) + ".Xq nonsense\n")
        m = run(["mandoc", "-T", "lint", "-W", "warning", bad], ok=False)
        self.assertNotEqual(m.returncode, 0, m.stdout + m.stderr)
        os.unlink(bad)

    def help_options(self, *cmd):
        out = run([self.p("bin", cmd[0])] + list(cmd[1:]) + ["--help"]).stdout
        return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", out))

    def test_man_pages_name_every_real_flag_and_command(self):
        wharf_man = self.man_text("wharf")
        worker_man = self.man_text("wharf-worker")
        top = run([self.p("bin", "wharf"), "--help"]).stdout
        commands = sorted(set(re.findall(r"^  wharf ([a-z-]+)", top, re.M)))
        self.assertGreaterEqual(len(commands), 10, top)
        flags = {"--config", "--set", "--help", "--version"}
        for c in commands:
            flags |= self.help_options("wharf", c)
            self.assertRegex(wharf_man, r"\n {5,}%s\b" % re.escape(c), "wharf(1) lacks the command " + c)
        missing = sorted(f for f in flags if f not in wharf_man)
        self.assertEqual(missing, [], "wharf(1) lacks these flags of the real CLI: document them in deploy/man/wharf.1")
        wflags = self.help_options("wharf-worker")
        self.assertGreaterEqual(len(wflags), 6)
        self.assertEqual(sorted(f for f in wflags if f not in worker_man), [],
                         "wharf-worker(8) lacks these flags: document them in deploy/man/wharf-worker.8")

    def test_worker_man_page_names_every_config_key(self):
        cp = run([self.p("bin", "wharf-worker"), "--check-config", "--set", "host.h.address=127.0.0.1",
                  "--set", "registry.r.provider=custom", "--set", "registry.r.url=http://127.0.0.1:1"],
                 env=dict(os.environ, WHARF_AMQP_URL="amqp://127.0.0.1/"))
        section, keys = None, []
        for ln in cp.stdout.splitlines():
            m = re.match(r"^\[([a-z]+)(?:\.[a-z]+)?\]$", ln)
            if m:
                section = m.group(1)
            elif "=" in ln:
                keys.append((section, ln.split("=")[0].strip()))
        self.assertGreater(len(keys), 60, cp.stdout)
        with open(self.p("share/man/man8/wharf-worker.8")) as f:
            src = f.read()
        missing = sorted("%s.%s" % k for k in keys if not re.search(r"^\.(It )?Cm %s( |$)" % re.escape(k[1]),
                                                                     src, re.M))
        self.assertEqual(missing, [], "wharf-worker(8) does not document these keys of wharf-worker: add an "
                         "`.It Cm KEY` line under `.Ss Section SECTION` in deploy/man/wharf-worker.8")
        for s in sorted(set(k[0] for k in keys) - {"host", "registry"}):
            self.assertIn(".Ss Section %s\n" % s, src)

    # ------------------------------------------------------------ example configs

    def test_example_configs_are_valid(self):
        ex = self.p("share/doc/wharf/examples")
        cp = run([self.p("bin", "wharf-worker"), "--config", os.path.join(ex, "default.ini"), "--check-config"])
        self.assertIn("[host.local]", cp.stdout)
        self.assertIn("grace_s = 30", cp.stdout)
        cp = run([self.p("bin", "wharf"), "--config", os.path.join(ex, "serve.ini"), "serve", "--help"])
        self.assertIn("--listen", cp.stdout)
        with open(os.path.join(ex, "wharf.env")) as f:
            names = re.findall(r"^(WHARF_[A-Z_]+)=", f.read(), re.M)
        self.assertEqual(sorted(names), ["WHARF_AMQP_URL", "WHARF_REDIS_URL"])
        # a broken copy is refused, naming the key
        bad = os.path.join(env.tmp, "bad-%d.ini" % os.getpid())
        with open(bad, "w") as f:
            f.write("[worker]\nconcurency = 4\n")
        cp = run([self.p("bin", "wharf-worker"), "--config", bad, "--check-config"], ok=False)
        self.assertEqual(cp.returncode, 78, cp.stderr)
        self.assertIn("concurency", cp.stderr)

    # ------------------------------------------------------------ systemd units

    def unit_root(self):
        """The installed tree as a root for systemd-analyze: our units plus the
        host's own targets and slices (sysinit.target, network-online.target...),
        which the units depend on; no systemd needs to run."""
        root = tempfile.mkdtemp(prefix="sdroot-", dir=env.tmp)
        shutil.copytree(self.usr, os.path.join(root, "usr"), symlinks=True)
        udir = os.path.join(root, "usr/lib/systemd/system")
        host_units = "/usr/lib/systemd/system"
        for f in os.listdir(host_units):
            if f.endswith((".target", ".slice")) and not os.path.exists(os.path.join(udir, f)):
                shutil.copy(os.path.join(host_units, f), udir)
        return root, udir

    def analyze(self, root, *args):
        senv = dict(os.environ, MANPATH=os.path.join(root, "usr/share/man"), SYSTEMD_LOG_COLOR="0")
        return run(["systemd-analyze"] + list(args), ok=False, env=senv, cwd=root)

    def test_units_verify_clean_offline(self):
        root, udir = self.unit_root()
        units = [os.path.join(udir, "wharf-worker@default.service"), os.path.join(udir, "wharf-worker@b.service"),
                 os.path.join(udir, "wharf-serve.service")]
        cp = self.analyze(root, "verify", "--root=" + root, *units)
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 0, out)
        self.assertNotRegex(out, r"wharf", "systemd-analyze verify complained about our units:\n" + out)
        for u in units:  # hardening: exposure at most 2.0 of 10 ("OK")
            cp = self.analyze(root, "security", "--offline=true", "--root=" + root, "--threshold=20", u)
            self.assertEqual(cp.returncode, 0, cp.stdout[-3000:] + cp.stderr)
            self.assertRegex(cp.stdout, r"Overall exposure level for \S+: [01]\.\d OK")
        shutil.rmtree(root, ignore_errors=True)

    def test_verify_catches_broken_units(self):
        root, udir = self.unit_root()
        with open(os.path.join(udir, "wharf-worker@.service")) as f:
            text = f.read()
        with open(os.path.join(udir, "bad-exec@.service"), "w") as f:
            f.write(text.replace("/usr/bin/wharf-worker ", "/usr/bin/wharf-wrker "))
        with open(os.path.join(udir, "bad-key@.service"), "w") as f:
            f.write(text.replace("ProtectHome=yes", "ProtectHom=yes"))
        cp = self.analyze(root, "verify", "--root=" + root, os.path.join(udir, "bad-exec@x.service"))
        self.assertNotEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("wharf-wrker", cp.stderr)
        cp = self.analyze(root, "verify", "--root=" + root, os.path.join(udir, "bad-key@x.service"))
        self.assertIn("Unknown key 'ProtectHom'", cp.stderr)
        shutil.rmtree(root, ignore_errors=True)

    def test_units_run_as_wharf_hardened_and_outwait_the_drain(self):
        grace = int(re.search(r"^grace_s = (\d+) +; ", run([self.p("bin", "wharf-worker"), "--check-config"])
                              .stdout, re.M).group(1))
        for name in ("wharf-worker@.service", "wharf-serve.service"):
            with open(self.p("lib/systemd/system", name)) as f:
                unit = f.read()
            kv = {}
            for ln in unit.splitlines():
                if "=" in ln and not ln.startswith("#"):
                    k, v = ln.split("=", 1)
                    kv.setdefault(k, []).append(v)
            for k, v in {"User": "wharf", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                         "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
                         "CapabilityBoundingSet": "", "KillSignal": "SIGTERM", "Restart": "on-failure",
                         "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6"}.items():
                self.assertEqual(kv.get(k), [v], "%s: %s" % (name, k))
            self.assertIn("@system-service", kv["SystemCallFilter"])
            self.assertTrue(kv.get("EnvironmentFile"), name)
            self.assertTrue(kv["ExecStart"][0].startswith("/usr/bin/wharf"), kv["ExecStart"])
            if name.startswith("wharf-worker"):
                self.assertIn("%i", kv["ExecStart"][0])
                self.assertGreaterEqual(int(kv["TimeoutStopSec"][0]), grace + 10,
                                        "TimeoutStopSec must outwait worker.grace_s=%d" % grace)
                self.assertTrue(any("backups" in v for v in kv["ReadWritePaths"]))


if __name__ == "__main__":
    unittest.main()
