"""The soak's Redis: master r1, replica r2 and Sentinels s1..s3 of
tests/cluster/sentinel.sh (through sentinelset.SentinelSet), plus the Redis
faults of the nemesis.

    rs = redisset.RedisSet(RUN)       # up (r1 master, r2 replica in sync)
    rs.master()                       # redis.Redis on the current master (follows failovers)
    rs.master_name()                  # "r1" | "r2"
    rs.kill_master()                  # SIGKILL it; returns once a Sentinel promoted the other
    rs.restart("r1")                  # back, empty, as the replica; returns once it is in sync
    rs.maxmemory_on(); rs.maxmemory_off()
    rs.down()
"""
import os
import sys
import time

import redis
import redis.sentinel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import sentinelset  # noqa: E402

MASTER = sentinelset.MASTER
NAMES = ("r1", "r2")
PROMOTE_TIMEOUT_S = 30   # down-after is 1 s; a failover takes a few
RESYNC_TIMEOUT_S = 40    # the Sentinels see a restarted replica on their 10 s INFO round
MAXMEM_HEADROOM = 256 * 1024  # maxmemory = used_memory + this, so writes soon meet OOM


class RedisError(RuntimeError):
    pass


def dir_for(run_dir):
    """The directory RedisSet(run_dir) uses (sentinelset's naming)."""
    return os.path.join(run_dir, "redis-%d" % os.getpid())


class RedisSet:
    def __init__(self, run_dir):
        self.set = sentinelset.SentinelSet(run_dir, "redis")
        self.dir = self.set.dir
        assert self.dir == dir_for(run_dir)
        self.port = dict(self.set.port)
        self.sentinels = list(self.set.sentinels)
        self._sent = redis.sentinel.Sentinel(self.sentinels, socket_timeout=2)
        self._maxmem = None  # (port, old maxmemory, old policy) while maxmemory is on

    def down(self):
        r = self.set.down()
        return [] if r.returncode == 0 else ["sentinel.sh down: %s" % r.stderr[-2000:]]

    def sentinel_url(self, db=0):
        return "redis-sentinel://%s/%s/%d" % (",".join("127.0.0.1:%d" % p for _, p in self.sentinels), MASTER, db)

    def client(self, name, timeout=2):
        return redis.Redis(host="127.0.0.1", port=self.port[name], socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def master(self):
        """A client on whatever node the Sentinels call master (re-asked on
        each new connection, so it follows failovers)."""
        return self._sent.master_for(MASTER, socket_timeout=5, decode_responses=True)

    def master_name(self):
        """"r1" or "r2": the master by the Sentinels' word; RedisError if none answers."""
        for _, p in self.sentinels:
            try:
                _, port = redis.Redis(host="127.0.0.1", port=p, socket_timeout=2).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
                return self._name_of(int(port))
            except (redis.RedisError, TypeError, ValueError):
                continue
        raise RedisError("no Sentinel answered for %s" % MASTER)

    def _name_of(self, port):
        for n in NAMES:
            if self.port[n] == port:
                return n
        raise RedisError("port %d is neither r1 nor r2" % port)

    def pid(self, name):
        """PID of redis `name` (r1, r2, s1..s3) if it is running, else None."""
        try:
            with open(os.path.join(self.dir, name + ".pid")) as f:
                pid = int(f.read().strip() or 0)
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return pid if b"redis-server" in f.read() else None
        except (OSError, ValueError):
            return None

    def _is_master(self, name):
        try:
            return self.client(name).execute_command("ROLE")[0] == "master"
        except redis.RedisError:
            return False

    def _synced_replica(self, name):
        """`name` is a replica with its link up, and every Sentinel lists it as
        a healthy replica (so a next failover has somewhere to go)."""
        try:
            info = self.client(name).info("replication")
        except redis.RedisError:
            return False
        if info.get("role") != "slave" or info.get("master_link_status") != "up":
            return False
        for _, p in self.sentinels:
            try:
                reps = redis.Redis(host="127.0.0.1", port=p, socket_timeout=2, decode_responses=True).execute_command(
                    "SENTINEL", "REPLICAS", MASTER)
            except redis.RedisError:
                return False
            ok = [r for r in reps if _pairs(r).get("port") == str(self.port[name])
                  and "s_down" not in _pairs(r).get("flags", "") and "disconnected" not in _pairs(r).get("flags", "")
                  and _pairs(r).get("master-link-status") == "ok"]
            if not ok:
                return False
        return True

    def ready_for_failover(self):
        """The master has a replica in sync that every Sentinel knows."""
        try:
            m = self.master_name()
        except RedisError:
            return False
        return self._synced_replica([n for n in NAMES if n != m][0])

    # ------------------------------------------------------------ faults

    def kill_master(self):
        """SIGKILL the current master and wait until the Sentinels promoted
        the other node. Returns {killed, pid, new_master, promote_s}."""
        old = self.master_name()
        new = [n for n in NAMES if n != old][0]
        r = self.set.script("kill", old)
        if r.returncode != 0:
            raise RedisError("kill %s: %s" % (old, r.stderr.strip()))
        t0 = time.monotonic()
        while time.monotonic() - t0 < PROMOTE_TIMEOUT_S:
            try:
                if self.master_name() == new and self._is_master(new):
                    return {"killed": old, "pid": int(r.stdout.strip()), "new_master": new,
                            "promote_s": round(time.monotonic() - t0, 2)}
            except RedisError:
                pass
            time.sleep(0.1)
        raise RedisError("%s killed, but %s was not promoted within %d s" % (old, new, PROMOTE_TIMEOUT_S))

    def restart(self, name):
        """Start `name` again (empty; the Sentinels make it a replica) and wait
        until it is a replica in sync that every Sentinel knows. Returns
        {pid, resync_s}."""
        t0 = time.monotonic()
        r = self.set.script("start", name)
        if r.returncode != 0:
            raise RedisError("start %s: %s" % (name, r.stderr.strip()))
        while time.monotonic() - t0 < RESYNC_TIMEOUT_S:
            if self._synced_replica(name):
                return {"pid": self.pid(name), "resync_s": round(time.monotonic() - t0, 2)}
            time.sleep(0.2)
        raise RedisError("%s restarted but not a synced replica within %d s" % (name, RESYNC_TIMEOUT_S))

    def maxmemory_on(self):
        """CONFIG SET maxmemory just above used_memory (policy noeviction) on
        the master, so writes soon fail with OOM. Returns {node, used, maxmemory}."""
        if self._maxmem:
            raise RedisError("maxmemory is already on")
        name = self.master_name()
        c = self.client(name)
        old = c.config_get("maxmemory")["maxmemory"]
        policy = c.config_get("maxmemory-policy")["maxmemory-policy"]
        used = int(c.info("memory")["used_memory"])
        self._maxmem = (name, old, policy)
        c.config_set("maxmemory-policy", "noeviction")
        c.config_set("maxmemory", used + MAXMEM_HEADROOM)
        return {"node": name, "used": used, "maxmemory": used + MAXMEM_HEADROOM}

    def maxmemory_off(self):
        """Restore the settings maxmemory_on changed, on the node it changed
        them on (a failover may have moved the master meanwhile; a node that
        was killed since restarted from its config file already)."""
        if not self._maxmem:
            return {}
        name, old, policy = self._maxmem
        self._maxmem = None
        try:
            c = self.client(name)
            c.config_set("maxmemory", old)
            c.config_set("maxmemory-policy", policy)
        except redis.RedisError as e:
            return {"node": name, "restore_error": str(e)}
        return {"node": name}

    def maxmemory_active(self):
        return self._maxmem is not None


def _pairs(flat):
    """A Sentinel reply [k1, v1, k2, v2, ...] (or a dict) as a dict."""
    if isinstance(flat, dict):
        return flat
    return dict(zip(flat[0::2], flat[1::2]))
