"""The fault primitives of the soak's Topology (a mixin: topology.py holds
the state they use). Each has an undo, each returns a detail dict for the
fault log, none logs a fault itself (nemesis.py does). Process starts and
exits they cause go to procs.jsonl (by_nemesis true).

    kill_worker(name) / start_worker(name)      SIGKILL; a replacement, same name and uid, new log
    worker_procs(), rss_kb()                    live worker processes ("w1.0": pid / VmRSS kB)
    stop_worker(name) / cont_worker(name)       SIGSTOP / SIGCONT
    stop_rmq_node(i, mode) / start_rmq_node(i)  mode "kill" (SIGKILL the VM) or "stop" (clean)
    rmq_leader()                                node index leading the job queue (or None)
    kill_redis_master() / restart_redis(name)   SIGKILL; back empty, as the replica
    partition(w, "redis"|"amqp", "stall"|"reset") / heal(w, what)
    disk_fill(node) / disk_free(node)           node 3's tmpfs; returns once the alarm shows / clears
    redis_maxmemory(True) / redis_maxmemory(False)
    heal_all()                                  undo whatever is still active
"""
import os
import signal
import socket
import time

import broker

PARTITION_WHAT = ("redis", "amqp")
QUEUE = "wharf.system"   # the job queue (families = system); its leader is a fault target
RESTART_READY_S = 20     # a replacement worker registers within this (not fatal: Redis may be failing over)
HOST = socket.gethostname()   # a worker's id is <host>-<pid> (worker.id unset)


class Primitives:
    # ------------------------------------------------------------ workers

    def start_worker(self, name, ready_timeout=RESTART_READY_S, by_nemesis=True):
        """Start (a replacement for) worker `name` under its uid, logging to
        workers/<name>.<n>.log. Returns {pid, log, registered_s} (None if it
        did not register in Redis within ready_timeout; fatal only at up())."""
        with self._lock:
            if name in self.workers and self.workers[name].alive():
                raise RuntimeError("%s is running already" % name)
            self.generation[name] += 1
            log = os.path.join(self.run, "workers", "%s.%d.log" % (name, self.generation[name]))
        exe = os.path.join(self.bin, "wharf-worker")
        t0 = time.monotonic()
        p = self.pt.spawn(name, [exe], self.worker_env(name), log, uid=self.uids[name],
                          extra=lambda pid: {"log": os.path.relpath(log, self.run), "uid": self.uids[name],
                                             "by_nemesis": by_nemesis, "worker_id": "%s-%d" % (HOST, pid)})
        with self._lock:
            self.workers[name] = p
            self._active["killed"].discard(name)
        reg = self._wait_registered(p, ready_timeout)
        if reg is None and not by_nemesis:
            raise RuntimeError("%s (pid %d, exit %s) did not register within %d s; %s:\n%s" % (
                name, p.pid, p.popen.poll(), ready_timeout, log, _tail(log)))
        return {"pid": p.pid, "log": os.path.relpath(log, self.run), "registered_s": reg and round(reg - t0, 2)}

    def worker_procs(self):
        """The live worker processes: {"<name>.<n>": pid} ("w1.0", "w1.1" after a
        restart: the stem of its log file, one per process lifetime)."""
        with self._lock:
            return {os.path.basename(p.log_path)[:-4]: p.pid for p in self.workers.values() if p.alive()}

    def rss_kb(self):
        """VmRSS (kB) of each live worker process, keyed as worker_procs()."""
        out = {}
        for key, pid in self.worker_procs().items():
            try:
                with open("/proc/%d/status" % pid) as f:
                    out[key] = int(next(line for line in f if line.startswith("VmRSS:")).split()[1])
            except (OSError, StopIteration, ValueError):
                pass
        return out

    def _wait_registered(self, p, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and p.alive():
            try:
                r = self.redis_master()
                for key in r.scan_iter(match=self.prefix + "worker:*", count=1000):
                    if r.hget(key, "pid") == str(p.pid):
                        return time.monotonic()
            except Exception:  # noqa: BLE001 - Redis may be failing over; keep polling
                pass
            time.sleep(0.2)
        return None

    def _worker(self, name):
        p = self.workers.get(name)
        if p is None or not p.alive():
            raise RuntimeError("%s is not running" % name)
        return p

    def kill_worker(self, name):
        """SIGKILL worker `name` and reap it (undo: start_worker). Returns {pid}."""
        p = self._worker(name)
        with self._lock:
            self._active["killed"].add(name)
            self._active["stopped"].discard(name)
        self.pt.kill(p, signal.SIGKILL, by_nemesis=True)
        return {"pid": p.pid}

    def stop_worker(self, name):
        """SIGSTOP worker `name` (undo: cont_worker). Returns {pid}."""
        p = self._worker(name)
        with self._lock:
            self._active["stopped"].add(name)
        self.pt.send(p, signal.SIGSTOP, by_nemesis=False)
        return {"pid": p.pid}

    def cont_worker(self, name):
        """SIGCONT worker `name`. Returns {pid}."""
        p = self._worker(name)
        self.pt.send(p, signal.SIGCONT, by_nemesis=False)
        with self._lock:
            self._active["stopped"].discard(name)
        return {"pid": p.pid}

    # ------------------------------------------------------------ RabbitMQ

    def rmq_leader(self):
        """Index (1..3) of the node leading the job queue, or None if unknown."""
        return self.broker.leader(self.vhost, QUEUE)

    def stop_rmq_node(self, i, mode="kill"):
        """Take RabbitMQ node i down: "kill" SIGKILLs its VM, "stop" stops it
        cleanly (undo: start_rmq_node). Returns {node, pid, mode, leader}:
        leader = it led the job queue just before."""
        with self._lock:
            if self._active["rmq_down"]:
                raise RuntimeError("node %s is down already: never two at once" % list(self._active["rmq_down"]))
            self._active["rmq_down"][i] = mode
        lead = self.rmq_leader()
        pid = self.broker.kill(i) if mode == "kill" else self.broker.stop(i)
        self._server_event("rmq-n%d" % i, pid, "exit", by_nemesis=True, extra={"mode": mode})
        return {"node": i, "pid": pid, "mode": mode, "leader": lead == i}

    def start_rmq_node(self, i):
        """Start node i again (it rejoins with its data). Returns {node, pid, start_s, leader_now}."""
        t0 = time.monotonic()
        pid = self.broker.start(i)
        with self._lock:
            self._active["rmq_down"].pop(i, None)
        self._server_event("rmq-n%d" % i, pid, "start", by_nemesis=True)
        return {"node": i, "pid": pid, "start_s": round(time.monotonic() - t0, 1), "leader_now": self.rmq_leader()}

    # ------------------------------------------------------------ Redis

    def kill_redis_master(self):
        """SIGKILL the Redis master; returns once the Sentinels promoted the
        replica: {killed, pid, new_master, promote_s} (undo: restart_redis(killed))."""
        with self._lock:
            if self._active["redis_down"]:
                raise RuntimeError("%s is down already: never both" % list(self._active["redis_down"]))
            self._active["redis_down"].add("?")
        try:
            d = self.redis.kill_master()
        except BaseException:
            with self._lock:
                self._active["redis_down"].discard("?")
            raise
        with self._lock:
            self._active["redis_down"] = {d["killed"]}
        self._server_event("redis-" + d["killed"], d["pid"], "exit", by_nemesis=True)
        return d

    def restart_redis(self, name):
        """Start redis `name` again, empty; returns once it is a replica in
        sync that every Sentinel knows: {name, pid, resync_s}."""
        d = self.redis.restart(name)
        with self._lock:
            self._active["redis_down"].discard(name)
        self._server_event("redis-" + name, d["pid"], "start", by_nemesis=True)
        return dict(d, name=name)

    def redis_ready_for_failover(self):
        """A kill of the master now would fail over (the replica is in sync and known)."""
        return self.redis.ready_for_failover()

    def redis_maxmemory(self, on):
        """on: CONFIG SET maxmemory just above used_memory (noeviction) on the
        master; off: restore it. Returns {node, used, maxmemory} / {node}."""
        if on:
            return self.redis.maxmemory_on()
        return self.redis.maxmemory_off()

    # ------------------------------------------------------------ partitions

    def _partition_ports(self, what):
        if what == "redis":
            return sorted(self.redis.port.values())
        if what == "amqp":
            return sorted(self.broker.amqp.values())
        raise ValueError("partition from %r: not one of %s" % (what, PARTITION_WHAT))

    def partition(self, worker, what, mode):
        """Cut worker `worker` off from Redis (servers and Sentinels) or from
        RabbitMQ (the three nodes): mode "stall" drops its packets, "reset"
        answers them with a TCP reset (undo: heal). Returns {uid, ports, mode,
        pid}: pid = the worker process it cut off (the rule holds for its uid,
        so for a replacement too)."""
        ports = self._partition_ports(what)
        self.fw.block("%s-%s" % (worker, what), self.uids[worker], ports, mode)
        with self._lock:
            self._active["partitions"].add((worker, what))
            p = self.workers.get(worker)
        return {"uid": self.uids[worker], "ports": ports, "mode": mode, "pid": p.pid if p else None}

    def heal(self, worker, what):
        """Remove the partition of `worker` from `what`. Returns {removed}."""
        removed = self.fw.unblock("%s-%s" % (worker, what))
        with self._lock:
            self._active["partitions"].discard((worker, what))
        return {"removed": removed}

    # ------------------------------------------------------------ disk

    def disk_fill(self, node=broker.DISK_NODE):
        """Fill node's tmpfs; returns once RabbitMQ reports its disk alarm:
        {node, fill_mb, free_mb, alarm_s} (undo: disk_free)."""
        with self._lock:
            self._active["disk"].add(node)
        d = self.broker.disk_fill(node)
        return dict(d, node=node)

    def disk_free(self, node=broker.DISK_NODE):
        """Remove the fill; returns once the alarm cleared: {node, clear_s}."""
        d = self.broker.disk_free(node)
        with self._lock:
            self._active["disk"].discard(node)
        return dict(d, node=node)

    # ------------------------------------------------------------ all

    def active_faults(self):
        """What is active now: {killed, stopped, rmq_down, redis_down, partitions, disk, maxmemory}."""
        with self._lock:
            a = {k: sorted(v) if isinstance(v, set) else dict(v) for k, v in self._active.items()}
        a["maxmemory"] = self.redis.maxmemory_active() if self.redis else False
        return a

    def heal_all(self):
        """Undo every fault still active, in an order that lets the rest heal
        (processes resumed and the network back before servers restart).
        Returns {undone: [...], problems: [...]}."""
        a = self.active_faults()
        steps = [("cont " + w, lambda w=w: self.cont_worker(w)) for w in a["stopped"]]
        steps += [("heal %s-%s" % p, lambda p=p: self.heal(*p)) for p in a["partitions"]]
        if a["maxmemory"]:
            steps.append(("maxmemory off", lambda: self.redis_maxmemory(False)))
        steps += [("disk_free %d" % n, lambda n=n: self.disk_free(n)) for n in a["disk"]]
        steps += [("restart_redis " + n, lambda n=n: self.restart_redis(n)) for n in a["redis_down"] if n != "?"]
        steps += [("start_rmq_node %d" % i, lambda i=i: self.start_rmq_node(i)) for i in a["rmq_down"]]
        steps += [("start_worker " + w, lambda w=w: self.start_worker(w)) for w in a["killed"]]
        undone, problems = [], []
        for what, fn in steps:
            try:
                fn()
                undone.append(what)
            except Exception as e:  # noqa: BLE001 - heal the rest anyway
                problems.append("%s: %r" % (what, e))
        return {"undone": undone, "problems": problems}


def _tail(path, n=4000):
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - n))
        return f.read().decode("utf-8", "replace")
