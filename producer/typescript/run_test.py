#!/usr/bin/python3
"""clients.node: the TypeScript package as users get it.

npm pack (its prepack builds ESM and CommonJS with tsc), npm install of the
tarball into a fresh project, `tsc --noEmit` (strict) on examples/every_call.ts
against the installed types, then `node --test` on test/package.test.mjs in
that project, and the example itself against a real worker.

Exit status 77 (skip, for ctest's SKIP_RETURN_CODE) when node or npm is not
installed.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WHARF_SRC", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import clientpkg  # noqa: E402
import wharftest  # noqa: E402

SKIP = 77


def step(what, cmd, cwd, env=None):
    print("==> %s" % what, flush=True)
    return subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, timeout=900).returncode


def typecheck(js):
    ex = os.path.join(js.dir, "every_call.ts")
    shutil.copyfile(os.path.join(HERE, "examples", "every_call.ts"), ex)
    # skipLibCheck: ioredis's .d.ts need types of a package it does not ship.
    with open(os.path.join(js.dir, "tsconfig.json"), "w") as f:
        f.write('{"compilerOptions": {"strict": true, "target": "ES2022", "module": "nodenext",'
                ' "moduleResolution": "nodenext", "typeRoots": ["%s"], "types": ["node"],'
                ' "outDir": "out", "skipLibCheck": true}, "files": ["every_call.ts"]}\n' % js.types)
    return step("tsc --noEmit on examples/every_call.ts", ["node", js.tsc, "--noEmit", "-p", js.dir], js.dir)


def run_example(js):
    """Compile the example and run it against a worker: every call for real."""
    rc = step("tsc examples/every_call.ts", ["node", js.tsc, "-p", js.dir], js.dir)
    if rc:
        return rc
    env = wharftest.Env()
    amqp, prefix = env.new_vhost(), env.new_prefix()
    worker = env.start_worker(amqp, prefix, concurrency=4, families="system")
    try:
        rc = step("node every_call.js", ["node", os.path.join(js.dir, "out", "every_call.js")], js.dir,
                  env=env.child_env(amqp, prefix))
    finally:
        wrc = worker.stop()
    return rc or wrc


def main():
    try:
        js = clientpkg.node_project()
    except clientpkg.Unavailable as e:
        print("%s; skipping the TypeScript client test" % e)
        return SKIP
    print("tarball: %s\nproject: %s" % (js.tarball, js.dir), flush=True)
    test = os.path.join(js.dir, "package.test.mjs")
    shutil.copyfile(os.path.join(HERE, "test", "package.test.mjs"), test)
    return (typecheck(js)
            or step("node --test on the installed package", ["node", "--test", test], js.dir,
                    env=dict(os.environ, WHARF_SRC=SRC))
            or run_example(js))


if __name__ == "__main__":
    sys.exit(main())
