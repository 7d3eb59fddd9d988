"""The processes the soak starts itself (workers, `wharf serve`): start,
signal, stop, and one `procs.jsonl` record per start and per exit.

    pt = procs.ProcTable(log_proc)          # log_proc(dict): one procs.jsonl line
    p = pt.spawn("w1", cmd, env, log_path, uid=60011)    # a Proc
    pt.kill(p, signal.SIGKILL, by_nemesis=True)          # waits; logs the exit (pt.send: no wait)
    pt.stop(p)                                            # SIGTERM, then SIGKILL after `grace`
    pt.close()

Records: {t, name, pid, event: "start"|"exit", status, signal, by_nemesis}
(plus, on starts, whatever `extra` the caller gives: log file, uid, ...).
`status` is the exit status, `signal` the signal that ended it (else None).
An exit nobody asked for (a crash) is noticed by a monitor thread within
0.5 s and logged with by_nemesis false.

Every process is started from one long-lived launcher thread with
PR_SET_PDEATHSIG = SIGKILL (setpriv --pdeathsig, after the uid change that
would clear it): the kernel kills it when the thread that forked it ends,
so it must not be a short-lived nemesis thread, and a soak killed outright
leaves no worker behind.
"""
import concurrent.futures
import ctypes
import signal
import subprocess
import threading
import time

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def now_ms():
    return int(time.time() * 1000)


def _pdeathsig():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Proc:
    def __init__(self, name, popen, log_path, uid):
        self.name, self.popen, self.log_path, self.uid = name, popen, log_path, uid
        self.pid = popen.pid
        self.logged_exit = False
        self.by_nemesis = False   # set before a signal the nemesis sends, so the exit is attributed
        self.expected = False     # set before a stop we ask for (down())

    def alive(self):
        return self.popen.poll() is None


class ProcTable:
    def __init__(self, log_proc):
        self._log = log_proc
        self._lock = threading.Lock()
        self._procs = []
        self._launcher = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="soak-launcher")
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="soak-proc-monitor", daemon=True)
        self._monitor.start()

    def log(self, rec):
        self._log(rec)

    def call(self, fn, *args, **kw):
        """Run fn on the launcher thread (so children it starts with a death
        signal outlive the calling thread) and return its result."""
        return self._launcher.submit(fn, *args, **kw).result()

    def spawn(self, name, cmd, env, log_path, uid=None, cwd="/", extra=None):
        """Start cmd (as uid/gid `uid` with no groups, if given) with stdout
        and stderr appended to log_path; log its start. Returns a Proc."""
        if uid is not None:
            cmd = ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
                   "--pdeathsig", "KILL", "--"] + list(cmd)

        def start():
            with open(log_path, "ab") as logf:
                return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                        stderr=subprocess.STDOUT, cwd=cwd, preexec_fn=_pdeathsig)
        p = Proc(name, self.call(start), log_path, uid)
        self.adopt(p, extra)
        return p

    def adopt(self, p, extra=None):
        """Track (and log the start of) a Proc started elsewhere. extra: more
        fields for the start record (a dict, or a function of the pid)."""
        with self._lock:
            self._procs.append(p)
        rec = {"t": now_ms(), "name": p.name, "pid": p.pid, "event": "start", "status": None, "signal": None,
               "by_nemesis": p.by_nemesis}
        rec.update((extra(p.pid) if callable(extra) else extra) or {})
        self.log(rec)

    def _log_exit(self, p):
        with self._lock:
            if p.logged_exit or p.popen.returncode is None:
                return
            p.logged_exit = True
        rc = p.popen.returncode
        self.log({"t": now_ms(), "name": p.name, "pid": p.pid, "event": "exit",
                  "status": rc if rc >= 0 else None, "signal": -rc if rc < 0 else None,
                  "by_nemesis": p.by_nemesis})

    def _watch(self):
        while not self._stop.wait(0.5):
            with self._lock:
                procs = [p for p in self._procs if not p.logged_exit]
            for p in procs:
                if p.popen.poll() is not None:
                    self._log_exit(p)

    def send(self, p, sig, by_nemesis=True):
        """Send sig to p (alive). by_nemesis: attribute a resulting exit to the nemesis."""
        if by_nemesis:
            p.by_nemesis = True
        p.popen.send_signal(sig)

    def kill(self, p, sig=signal.SIGKILL, by_nemesis=True, timeout=30):
        """Signal p, wait for its exit, log it; returns the exit code."""
        if p.alive():
            self.send(p, sig, by_nemesis)
        rc = p.popen.wait(timeout)
        self._log_exit(p)
        return rc

    def stop(self, p, grace=30):
        """SIGCONT + SIGTERM, then SIGKILL after `grace` s; logs the exit.
        Returns the exit code (negative: the signal that ended it)."""
        if p.alive():
            p.expected = True
            try:
                p.popen.send_signal(signal.SIGCONT)
                p.popen.send_signal(signal.SIGTERM)
                p.popen.wait(grace)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(10)
        rc = p.popen.wait(10)
        self._log_exit(p)
        return rc

    def live(self):
        with self._lock:
            return [p for p in self._procs if p.alive()]

    def close(self, grace=30):
        """Stop every live process, then the monitor and the launcher."""
        for p in self.live():
            try:
                self.stop(p, grace)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop.set()
        self._monitor.join(5)
        self._launcher.shutdown(wait=True)
