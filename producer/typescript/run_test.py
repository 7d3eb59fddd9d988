#!/usr/bin/python3
"""Run the Node.js client's test.js against a real worker.

Creates a fresh RabbitMQ vhost and Redis prefix with tests/lib/wharftest.py,
starts a wharf-worker (family "system") on them, then runs `node test.js`
with WHARF_AMQP_URL, WHARF_REDIS_URL and WHARF_REDIS_PREFIX set, and exits
with its status. Runs `npm ci` first if node_modules is missing.

Exit status 77 (skip, for ctest's SKIP_RETURN_CODE) when node or npm is not
installed.
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WHARF_SRC",
                     os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import wharftest  # noqa: E402

SKIP = 77


def ensure_node_modules():
    """Install the locked dependencies if they are not there yet."""
    if os.path.isdir(os.path.join(HERE, "node_modules", "amqplib")):
        return True
    if shutil.which("npm") is None:
        print("npm not found; skipping the Node.js client test")
        return False
    print("node_modules missing: running npm ci", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE,
                   check=True, stdin=subprocess.DEVNULL, timeout=600)
    return True


def main():
    if shutil.which("node") is None:
        print("node not found; skipping the Node.js client test")
        return SKIP
    if not ensure_node_modules():
        return SKIP

    env = wharftest.Env()
    amqp_url = env.new_vhost()
    prefix = env.new_prefix()
    worker = env.start_worker(amqp_url, prefix, concurrency=4,
                              families="system")
    try:
        child_env = dict(os.environ, WHARF_AMQP_URL=amqp_url,
                         WHARF_REDIS_URL=env.redis_url,
                         WHARF_REDIS_PREFIX=prefix)
        proc = subprocess.run(["node", "test.js"], cwd=HERE, env=child_env,
                              stdin=subprocess.DEVNULL, timeout=600)
        rc = proc.returncode
    finally:
        worker_rc = worker.stop()
    if worker_rc != 0:
        print("wharf-worker exited with %r on SIGTERM" % worker_rc)
    if rc != 0 or worker_rc != 0:
        print("--- worker log tail (%s) ---\n%s"
              % (worker.log_path, worker.log_tail()))
    return rc or (1 if worker_rc != 0 else 0)


if __name__ == "__main__":
    sys.exit(main())
