#!/usr/bin/python3
"""The producer links only what a producer needs: `wharf` (the CLI and
`wharf serve`) and libwharf.so depend on neither libssh nor libcurl, and
carry none of the worker's code; they admit jobs with the job catalogue
(common/catalog), which links wharf_common only.

wharf-worker does use both libraries, but does not link them either: its
adapters load them with dlopen on first use (common/util/wh_dl.h), so an
idle worker that talks to no engine, registry or SSH host never maps them.
The worker's checks are: neither library in DT_NEEDED or ldd, while the
adapters' code is there, dlopen is imported, and the libraries' SONAMEs
are in the binary for it to open.

Reads the binaries tests/run built ($WHARF_BIN, the shared library in
$WHARF_BIN/../lib); needs no server."""
import os
import re
import shutil
import subprocess
import unittest

BIN = os.environ.get("WHARF_BIN", "")
LIB = os.path.join(BIN, "..", "lib", "libwharf.so")
WORKER_ONLY = ("libssh", "libcurl")  # library name prefixes
TOOLS = ("readelf", "ldd", "nm")
# Symbols only the worker defines: the pipe, the Engine client, the families,
# and the adapters of libssh and libcurl.
WORKER_SYMBOLS = re.compile(r"^(wk_|rt_conn_|rt_pull_|rg_conn_|pv_exec|wh_ssh_|wh_curl_)")


def run(cmd):
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise AssertionError("%s -> %d\nstdout: %s\nstderr: %s" % (cmd, cp.returncode, cp.stdout, cp.stderr))
    return cp.stdout


def needed(path):
    """The DT_NEEDED entries of an ELF file."""
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", path]))


def resolved(path):
    """Every library the dynamic loader maps for `path`, directly or not."""
    env_lib = os.path.dirname(os.path.realpath(LIB))
    out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, LD_LIBRARY_PATH=env_lib)).stdout
    return [ln.split()[0] for ln in out.splitlines() if ln.strip()]


def worker_only(libs):
    return [lib for lib in libs if os.path.basename(lib).startswith(WORKER_ONLY)]


class LinkageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BIN:
            raise RuntimeError("WHARF_BIN is not set: run the tests through tests/run")
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:  # fail, never skip: binutils and libc-bin come with the toolchain
            raise RuntimeError("missing tools: %s" % ", ".join(missing))
        cls.wharf = os.path.join(BIN, "wharf")
        cls.worker = os.path.join(BIN, "wharf-worker")
        for path in (cls.wharf, cls.worker, LIB):
            if not os.path.isfile(path):
                raise RuntimeError("not built: %s" % path)

    def test_worker_loads_both_on_demand(self):
        deps, maps = needed(self.worker), resolved(self.worker)
        # The control: the same checks do see the libraries the worker links.
        self.assertIn("librabbitmq.so.4", deps, "DT_NEEDED %s" % deps)
        self.assertIn("librabbitmq.so.4", [os.path.basename(m) for m in maps], "ldd %s" % maps)
        self.assertEqual(worker_only(deps), [], "wharf-worker: DT_NEEDED %s" % deps)
        self.assertEqual(worker_only(maps), [], "wharf-worker: ldd %s" % maps)
        defined = run(["nm", "--defined-only", self.worker])
        for fn in ("wh_curl_load", "wh_curl_do", "wh_ssh_load", "wh_ssh_connect", "wh_dl_load"):
            self.assertRegex(defined, r" T %s\n" % fn)
        imported = run(["nm", "-D", "--undefined-only", self.worker])
        self.assertRegex(imported, r" U dlopen(@\S+)?\n")
        with open(self.worker, "rb") as f:
            image = f.read()
        for prefix in WORKER_ONLY:
            self.assertRegex(image, rb"\0" + prefix.encode() + rb"\.so\.[0-9]+\0",
                             "no %s SONAME in wharf-worker to load" % prefix)

    def test_producer_needs_neither(self):
        for path in (self.wharf, LIB):
            deps = needed(path)
            self.assertTrue(deps, "no DT_NEEDED read from %s" % path)
            self.assertEqual(worker_only(deps), [], "%s: DT_NEEDED %s" % (path, deps))
            maps = resolved(path)
            self.assertIn("libc.so.6", [os.path.basename(m) for m in maps], "ldd read nothing of %s" % path)
            self.assertEqual(worker_only(maps), [], "%s: ldd %s" % (path, maps))

    def test_producer_carries_no_worker_code(self):
        for path, opts in ((self.wharf, []), (LIB, ["-D"])):
            syms = run(["nm"] + opts + ["--defined-only", path]).split("\n")
            names = [ln.split()[-1] for ln in syms if len(ln.split()) >= 3]
            self.assertTrue(names, "no symbols read from %s" % path)
            found = sorted(n for n in names if WORKER_SYMBOLS.match(n))
            self.assertEqual(found, [], "%s defines worker symbols" % path)
        # ...while the CLI does carry the catalogue it admits jobs with.
        syms = run(["nm", "--defined-only", self.wharf])
        self.assertRegex(syms, r" T wh_cat_admit_json\n")


if __name__ == "__main__":
    unittest.main()
