#!/usr/bin/python3
"""The README's "Clients" section says what it shows: a five-line example
in Python, TypeScript and C, each type-checked (mypy --strict, tsc strict,
cc -Werror) against the installed packages and wharf.h and then run against
a worker, and a parity table whose every name is a real call of its
client and every route one of schemas/openapi.yaml."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import probes  # noqa: E402  (puts tests/lib on the path)

clientpkg = probes.clientpkg
wharftest = probes.wharftest
SRC = clientpkg.SRC
OPERATIONS = ["connect", "submit", "submit many", "status", "wait", "result", "logs", "cancel", "events"]


def section():
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        m = re.search(r"^## Clients\n(.*?)^## ", f.read(), re.S | re.M)
    assert m, "README.md has no '## Clients' section"
    return m.group(1)


def examples():
    return {lang: code for lang, code in re.findall(r"^```(\w+)\n(.*?)^```", section(), re.S | re.M)}


def table():
    """operation -> its cells (C, Python, TypeScript, HTTP)."""
    rows = {}
    for line in section().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 5 and cells[0] in OPERATIONS:
            rows[cells[0]] = cells[1:]
    return rows


def names(cell):
    """The calls a cell names: `Client.from_env()` -> from_env, `Client(...)` -> Client."""
    out = []
    for code in re.findall(r"`([^`]+)`", cell):
        out.append(re.sub(r"\(.*\)$", "", code).split(".")[-1])
    return out


def run(cmd, cwd, env=None, timeout=300):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


class Readme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = wharftest.Env()
        cls.amqp = cls.env.new_vhost()
        cls.prefix = cls.env.new_prefix()
        cls.worker = cls.env.start_worker(cls.amqp, cls.prefix, concurrency=2)
        cls.child = cls.env.child_env(cls.amqp, cls.prefix)
        cls.tmp = tempfile.mkdtemp(prefix="readme.", dir=os.environ.get("WHARF_TEST_TMP"))

    @classmethod
    def tearDownClass(cls):
        rc = cls.worker.stop()
        assert rc == 0, "worker exited %r\n%s" % (rc, cls.worker.log_tail())

    def ok(self, what, cmd, cwd, env=None):
        rc, out = run(cmd, cwd, env)
        self.assertEqual(rc, 0, "%s failed:\n%s" % (what, out[-3000:]))
        return out

    def test_five_lines_each(self):
        ex = examples()
        self.assertEqual(sorted(ex), ["c", "python", "ts"])
        for lang, code in ex.items():
            self.assertLessEqual(len(code.splitlines()), 5, "%s example:\n%s" % (lang, code))

    def test_python_example(self):
        py = clientpkg.python_env()
        path = os.path.join(self.tmp, "readme_example.py")
        with open(path, "w") as f:
            f.write(examples()["python"])
        self.ok("mypy --strict", ["/usr/bin/python3", "-m", "mypy", "--strict", "--python-executable", py.python,
                                  "--no-incremental", "--cache-dir", os.path.join(self.tmp, ".mypy"), path], self.tmp)
        self.assertEqual(self.ok("python", [py.python, path], self.tmp, self.child).strip(), "succeeded")

    def test_typescript_example(self):
        js = clientpkg.node_project()
        d = os.path.join(self.tmp, "ts")
        os.makedirs(d)
        os.symlink(os.path.join(js.dir, "node_modules"), os.path.join(d, "node_modules"))
        with open(os.path.join(d, "readme.mts"), "w") as f:
            f.write(examples()["ts"])
        with open(os.path.join(d, "tsconfig.json"), "w") as f:
            f.write('{"compilerOptions": {"strict": true, "target": "ES2022", "module": "nodenext",'
                    ' "moduleResolution": "nodenext", "typeRoots": ["%s"], "types": ["node"],'
                    ' "outDir": "out", "skipLibCheck": true}, "files": ["readme.mts"]}\n' % js.types)
        self.ok("tsc", ["node", js.tsc, "-p", d], d)
        self.assertEqual(self.ok("node", ["node", os.path.join(d, "out", "readme.mjs")], d, self.child).strip(),
                         "succeeded")

    def test_c_example(self):
        path = os.path.join(self.tmp, "readme.c")
        with open(path, "w") as f:
            f.write("#include <stdio.h>\n#include <wharf.h>\n\nint main(void)\n{\n%s    return 0;\n}\n"
                    % examples()["c"])
        lib = os.path.join(os.path.dirname(self.env.bin), "lib")
        exe = os.path.join(self.tmp, "readme")
        # The library may be a sanitizer build: the program then carries the runtimes.
        self.ok("cc", ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                       "-I", os.path.join(SRC, "producer"), path, "-o", exe, "-L", lib, "-lwharf",
                       "-Wl,-rpath," + lib], self.tmp)
        self.assertEqual(self.ok("the C example", [exe], self.tmp, self.child).strip(), "succeeded")

    def test_parity_table_names_real_calls(self):
        rows = table()
        self.assertEqual(list(rows), OPERATIONS)
        for op, cells in rows.items():
            for lang, cell in zip(("C", "Python", "TypeScript", "HTTP"), cells):
                self.assertTrue(cell, "%s: no %s entry" % (op, lang))
        with open(os.path.join(SRC, "producer", "wharf.h")) as f:
            header = f.read()
        for op, cells in rows.items():
            for name in names(cells[0]):
                self.assertRegex(header, r"\b%s\(" % re.escape(name), "%s: %s is not in wharf.h" % (op, name))
        py_names = sorted({n for cells in rows.values() for n in names(cells[1])})
        py = clientpkg.python_env()
        self.ok("the Python names", [py.python, "-c",
                                     "import sys, wharf_client as w\n"
                                     "for n in sys.argv[1:]:\n"
                                     "    assert n == 'Client' or (hasattr(w.Client, n) and hasattr(w.AsyncClient, n)), n\n"]
                + py_names, self.tmp)
        ts_names = sorted({n for cells in rows.values() for n in names(cells[2])})
        js = clientpkg.node_project()
        self.ok("the TypeScript names", ["node", "--input-type=module", "-e",
                                         "import { Client } from 'wharf-client';\n"
                                         "for (const n of process.argv.slice(1)) if (n !== 'Client' && typeof"
                                         " (Client[n] ?? Client.prototype[n]) !== 'function') throw new Error(n);\n"]
                + ts_names, js.dir)
        with open(os.path.join(SRC, "schemas", "openapi.yaml")) as f:
            paths = set(re.findall(r"^  (/v1/\S+):", f.read(), re.M))
        for op, cells in rows.items():
            for route in re.findall(r"`(?:GET|POST) (/v1/[^`?\s]*)", cells[3]):
                self.assertIn(route, paths, "%s: %s is not a route of schemas/openapi.yaml" % (op, route))


if __name__ == "__main__":
    unittest.main()
