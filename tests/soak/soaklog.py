"""The run directory's writers (issue 21): one JSON object per line, times in
ms since the epoch, each line flushed as it is written so a run that dies
keeps everything up to its end.

    rec = soaklog.Recorder(run_dir)
    rec.submit({...}); rec.cancel({...}); rec.event(id, word); rec.sample({...})
    rec.log_proc(name, pid, "start")              # the Topology's log_proc callback
    rec.log_fault(kind, target, start, end, detail)   # the Nemesis' log_fault callback
    rec.live_procs()                              # {name: pid} of processes started and not exited
    soaklog.write_json(path, obj)                 # whole-file JSON, replaced atomically
"""
import json
import os
import threading
import time


def now_ms():
    return int(time.time() * 1000)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_jsonl(path):
    """The objects of a .jsonl file (a torn last line, a killed writer's, is skipped)."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


class Jsonl:
    def __init__(self, path):
        self.f = open(path, "a")
        self.lock = threading.Lock()

    def write(self, obj):
        line = json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"
        with self.lock:
            if not self.f.closed:
                self.f.write(line)
                self.f.flush()

    def close(self):
        with self.lock:
            self.f.close()


class Recorder:
    FILES = ("submits", "cancels", "faults", "procs", "events", "samples")

    def __init__(self, run_dir):
        self.dir = run_dir
        os.makedirs(run_dir, exist_ok=True)
        self.out = {n: Jsonl(os.path.join(run_dir, n + ".jsonl")) for n in self.FILES}
        self._procs = {}
        self._lock = threading.Lock()

    def submit(self, obj):
        self.out["submits"].write(obj)

    def cancel(self, obj):
        self.out["cancels"].write(obj)

    def event(self, id, word, t=None):
        self.out["events"].write({"t": t or now_ms(), "id": id, "word": word})

    def marker(self, word, **extra):
        self.out["events"].write(dict(extra, t=now_ms(), word=word))

    def sample(self, obj):
        self.out["samples"].write(obj)

    def log_proc(self, name, pid=None, event=None, status=None, signal=None, by_nemesis=False, t=None, **extra):
        """One line of procs.jsonl; event "start" or "exit" (status: the exit
        code, signal: the signal number that ended it, if any). Also takes
        one dict with those keys (the topology's form). Thread-safe."""
        if isinstance(name, dict):
            d = dict(name)
            return self.log_proc(d.pop("name"), d.pop("pid", None), d.pop("event", None), d.pop("status", None),
                                 d.pop("signal", None), d.pop("by_nemesis", False), d.pop("t", None), **d)
        with self._lock:
            if event == "start":
                self._procs[name] = pid
            elif self._procs.get(name) == pid:
                del self._procs[name]
        self.out["procs"].write(dict(extra, t=t or now_ms(), name=name, pid=pid, event=event, status=status,
                                     signal=signal, by_nemesis=bool(by_nemesis)))

    def proc(self, name, pid, event):
        self.log_proc(name, pid, event)

    def proc_exit(self, name, pid, rc):
        """The exit of a subprocess.Popen: rc < 0 means killed by -rc."""
        self.log_proc(name, pid, "exit", status=rc if rc >= 0 else None, signal=-rc if rc < 0 else None)

    def log_fault(self, kind=None, target=None, start=None, end=None, detail=None, **extra):
        """One line of faults.jsonl. Also takes one dict with those keys."""
        if isinstance(kind, dict):
            obj = dict(kind)
        else:
            obj = dict(extra, kind=kind, target=target, start=start, end=end, detail=detail)
        self.out["faults"].write(obj)

    def live_procs(self):
        with self._lock:
            return dict(self._procs)

    def close(self):
        for j in self.out.values():
            j.close()
