"""A steady producer through the C client library, for failover tests.

    import probeload
    prod = probeload.Producer(env, amqp_urls, prefix, extra_env=None)
    ...                     # fail something over
    prod.stop()
    prod.confirmed          # [(job id, monotonic time of the confirm)]
    prod.errors             # [(monotonic time, error line)]

It drives one long-lived $WHARF_BIN/wharf-client-probe (a line-driven
front end to the library) that submits system.sleep {ms: 20} jobs until
stopped: about 40 jobs/s when all is well, load without starving 2 shared
cores; after an error it waits 0.2 s, and the next submit reconnects, to
the next URL of the list if need be.
"""
import subprocess
import threading
import time


class Producer:
    def __init__(self, env, amqp_urls, prefix, extra_env=None):
        e = env.child_env(amqp_urls, prefix, extra_env=extra_env)
        self.proc = subprocess.Popen([env._bin("wharf-client-probe")], env=e, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        first = self.proc.stdout.readline().strip()
        if first != "ready":
            raise RuntimeError("client probe did not start: %r" % first)
        self.confirmed = []  # (id, monotonic time of the confirm)
        self.errors = []     # (monotonic time, error line)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.proc.stdin.write('submit system.sleep {"ms": 20}\n')
            self.proc.stdin.flush()
            line = self.proc.stdout.readline().strip()
            if not line:
                self.errors.append((time.monotonic(), "probe exited"))
                return
            if line.startswith("ok "):
                self.confirmed.append((line.split()[1], time.monotonic()))
                time.sleep(0.02)
            else:
                self.errors.append((time.monotonic(), line))
                time.sleep(0.2)

    def stop(self):
        self._stop.set()
        self.thread.join(30)
        self.proc.stdin.close()
        self.proc.wait(30)
