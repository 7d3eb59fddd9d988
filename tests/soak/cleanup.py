"""What the soak's Topology left on the machine, and how to remove it when
the soak could not (killed outright: no atexit ran).

Topology records in RUN/topology-state.json, as it creates them, the
things that outlive a killed Python: the iptables chain, the RabbitMQ
cluster directory (and whether it is ours or reused), node 3's tmpfs, the
Redis set's directory. (Workers and `wharf serve` die with the soak:
PR_SET_PDEATHSIG.) A guard process started by up() waits for the soak to
end and, unless down() marked the state done, cleans up from it:

    python3 cleanup.py --guard PID RUN     # started by Topology.up(); its own session
    python3 cleanup.py RUN                 # by hand, after the fact

Servers are stopped only through rmqcluster.sh / sentinel.sh, which signal
nothing but the PIDs recorded in their directories.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RMQCLUSTER = os.path.join(HERE, "..", "cluster", "rmqcluster.sh")
SENTINEL = os.path.join(HERE, "..", "cluster", "sentinel.sh")
STATE = "topology-state.json"


def load(run):
    try:
        with open(os.path.join(run, STATE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def record(run, **kv):
    """Merge kv into RUN/topology-state.json (atomically)."""
    s = load(run)
    s.update(kv)
    path = os.path.join(run, STATE)
    with open(path + ".tmp", "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _run(args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return r.returncode == 0, (r.stdout + r.stderr).strip()[-500:]


def cleanup(run):
    """Remove whatever RUN's state lists; returns what was done."""
    s = load(run)
    done = []
    chain = s.get("chain")
    if chain:
        while _run(["iptables", "-w", "10", "-D", "OUTPUT", "-o", "lo", "-j", chain])[0]:
            done.append("jump to %s removed" % chain)
        if _run(["iptables", "-w", "10", "-F", chain])[0] and _run(["iptables", "-w", "10", "-X", chain])[0]:
            done.append("chain %s removed" % chain)
    if s.get("redis_dir"):
        done.append("sentinel.sh down: %s" % (_run([SENTINEL, "down", s["redis_dir"]]),))
    if s.get("rmq_dir") and not s.get("rmq_reused"):
        done.append("rmqcluster.sh down: %s" % (_run([RMQCLUSTER, "down", s["rmq_dir"]]),))
    if s.get("fill_file") and os.path.exists(s["fill_file"]):
        os.unlink(s["fill_file"])
        done.append("fill file removed")
    mount = s.get("mount")
    if mount and not s.get("rmq_reused") and os.path.ismount(mount):
        ok, out = _run(["umount", mount])
        if not ok:
            ok, out = _run(["umount", "-l", mount])
        done.append("umount %s: %s %s" % (mount, ok, out))
    record(run, down=True)
    return done


def _start_time(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def guard(pid, run):
    """Wait for process pid to end; then clean up unless its down() ran."""
    born = _start_time(pid)
    while born and _start_time(pid) == born:
        time.sleep(1)
    if load(run).get("down"):
        return 0
    for line in cleanup(run):
        print("guard: %s" % line, flush=True)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--guard":
        return guard(int(argv[2]), argv[3])
    if len(argv) == 2:
        for line in cleanup(argv[1]):
            print(line)
        return 0
    print("usage: cleanup.py RUN | cleanup.py --guard PID RUN", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
