#!/usr/bin/python3
"""The floor plan holds: the rules that docs/hacking.md states for the tree,
checked from the #include lines of the sources.

- common/ is layered: util/ includes only util/, adapters/ util/ and
  adapters/, model/ those and model/, catalog/ those and catalog/;
- each third-party library's headers are included by its adapter only;
- producer/ never includes the worker, and the worker's families include
  worker/engine/, the catalogue and common/ but never another family, and
  see the pipe through its handler API (wk_job.h) only;
- no two modules include each other, directly or through others (a module
  is a .c file with its .h: a.c including b.h is an edge a -> b).
"""
import os
import re
import sys
import unittest

SRC = os.environ.get("WHARF_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

# Layers of common/, lowest first: a layer may include itself and the ones before it.
LAYERS = ["util", "adapters", "model", "catalog"]

# Third-party headers and the adapter module (file stem prefix) that alone may include them.
LIBRARIES = {
    "amqp": "wh_amqp", "hiredis/": "wh_redis", "curl/": "wh_curl", "libssh/": "wh_ssh",
    "msgpack": "wh_mp", "jansson": "wh_json", "ini.h": "wh_cfg", "microhttpd": "wh_mhd", "openssl/": "wh_crypto",
}


def sources():
    """Every .c and .h of common/, worker/ and producer/, as paths relative to SRC."""
    out = []
    for top in ("common", "worker", "producer"):
        for d, _, files in os.walk(os.path.join(SRC, top)):
            out += [os.path.relpath(os.path.join(d, f), SRC) for f in files if f.endswith((".c", ".h"))]
    return sorted(out)


def includes(path):
    with open(os.path.join(SRC, path), encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


class Tree:
    def __init__(self):
        self.files = sources()
        # header name -> the path that defines it (names are unique in the tree)
        self.headers = {}
        for p in self.files:
            if p.endswith(".h"):
                name = os.path.basename(p)
                assert name not in self.headers, "two headers named %s: %s, %s" % (name, self.headers[name], p)
                self.headers[name] = p

    def local(self, path):
        """The tree paths of the quoted headers `path` includes."""
        return [self.headers[n] for kind, n in includes(path) if kind == '"' and n in self.headers]


def module(path):
    """A .c file with its .h; a private header x_int.h belongs to module x."""
    m = os.path.splitext(path)[0]
    return m[:-4] if m.endswith("_int") else m


def place(path):
    """('common', layer) | ('family', name) | ('engine',) | ('pipe',) | ('producer',)."""
    parts = path.split("/")
    if parts[0] == "common":
        return ("common", parts[1])
    if parts[0] == "producer":
        return ("producer",)
    if parts[1] == "families":
        return ("family", parts[2])
    if parts[1] == "engine":
        return ("engine",)
    return ("pipe",)


class LayersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = Tree()

    def test_common_layers_point_down(self):
        bad = []
        for p in self.tree.files:
            if place(p)[0] != "common":
                continue
            mine = LAYERS.index(place(p)[1])
            for h in self.tree.local(p):
                where = place(h)
                if where[0] != "common" or LAYERS.index(where[1]) > mine:
                    bad.append("%s includes %s" % (p, h))
        self.assertEqual(bad, [])

    def test_library_headers_only_in_their_adapter(self):
        bad = []
        for p in self.tree.files:
            stem = os.path.basename(module(p))
            for kind, name in includes(p):
                for lib, adapter in LIBRARIES.items():
                    if kind == "<" and name.startswith(lib) and not stem.startswith(adapter):
                        bad.append("%s includes <%s> (only %s* may)" % (p, name, adapter))
        self.assertEqual(bad, [])

    def test_producer_and_families_stay_in_their_rooms(self):
        bad = []
        for p in self.tree.files:
            me = place(p)
            for h in self.tree.local(p):
                there = place(h)
                if me[0] == "producer" and there[0] not in ("common", "producer"):
                    bad.append("%s includes %s: the producer links no worker code" % (p, h))
                if me[0] == "family" and there[0] == "family" and there != me:
                    bad.append("%s includes %s: a family never includes another" % (p, h))
                if me[0] in ("engine", "common") and there[0] == "family":
                    bad.append("%s includes %s: a lower room reaches up" % (p, h))
                if me[0] in ("family", "engine") and there == ("pipe",) and h != "worker/wk_job.h":
                    bad.append("%s includes %s: families see the pipe through wk_job.h only" % (p, h))
                if me[0] == "common" and there == ("pipe",):
                    bad.append("%s includes %s: common/ knows no worker" % (p, h))
        self.assertEqual(bad, [])

    def test_no_module_loops(self):
        # A header with no .c of its own (a family's shared declarations)
        # is no module: what it includes, its includers include.
        real = {module(p) for p in self.tree.files if p.endswith(".c")}
        direct = {}
        for p in self.tree.files:
            direct.setdefault(module(p), set()).update(module(h) for h in self.tree.local(p))

        def reach(m, seen):
            for n in direct.get(m, ()):
                if n in seen:
                    continue
                seen.add(n)
                if n not in real:
                    reach(n, seen)
            return seen

        edges = {a: {b for b in reach(a, set()) if b in real and b != a} for a in real}
        loops = []
        state = {}  # 1: on the path, 2: done

        def visit(n, path):
            state[n] = 1
            for m in sorted(edges.get(n, ())):
                if state.get(m) == 1:
                    loops.append(" -> ".join(path[path.index(m):] + [m]))
                elif m not in state:
                    visit(m, path + [m])
            state[n] = 2

        for n in sorted(edges):
            if n not in state:
                visit(n, [n])
        self.assertEqual(loops, [])


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
