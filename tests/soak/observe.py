"""What the soak watches while it runs (issue 21): the events channel and a
once-a-second sample.

    ev = observe.Events(topo, rec); ev.start()    # -> events.jsonl
    sm = observe.Sampler(topo, rec, ev); sm.start()   # -> samples.jsonl
    ev.terminal(id)      # a terminal word was seen for id
    ...
    sm.stop(); ev.stop()

Events: a subscriber on `<prefix>events` on the current Redis master
(schemas 9.3: a subscriber on a replica may see nothing). When its connection
breaks, or the server it listens on is no longer a master (checked every 2 s
with ROLE on a second connection to the same address), it subscribes again
on the master `topo.redis_master()` names now and writes a `#resubscribed` marker
(with `lost_at`, when the old subscription was last known good): events
between the two are not in the file.

Samples: `{t, stats_ok, stats_failed, stats_dead, stats_retried, stats_cancelled, states,
rss_kb, pids, queue_depth}`. The stats are the minute buckets of every type
summed since the run started (schemas 9.5); `states` counts the last word seen
per job in the events (cheap, and what the subscriber saw, not the hashes);
rss_kb is VmRSS of each live process the run started, by name (`pids` gives
the process the name stood for); queue_depth the ready messages of
`wharf.system` (a passive declare), null when no broker answered.
"""
import collections
import threading
import time

import redis

from soaklog import now_ms

TERMINAL = ("succeeded", "failed", "dead", "cancelled")


def _text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


class Events:
    def __init__(self, topo, rec):
        self.topo, self.rec = topo, rec
        self.last = {}
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.subscribed = threading.Event()

    def start(self, timeout=60):
        self.thread.start()
        if not self.subscribed.wait(timeout):
            raise RuntimeError("the events subscriber did not subscribe in %ss" % timeout)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)

    def terminal(self, id):
        with self.lock:
            return self.last.get(id) in TERMINAL

    def ids(self):
        with self.lock:
            return set(self.last)

    def counts(self):
        with self.lock:
            return dict(collections.Counter(self.last.values()))

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self._listen(self._good_since)
            except Exception:  # noqa: BLE001 - any failure: subscribe again on the master
                pass
            self.stop_ev.wait(0.5)

    _good_since = None  # when the subscription was last known good (ms)

    def _listen(self, lost_at):
        ps = self.topo.redis_master().pubsub(ignore_subscribe_messages=True)
        try:
            ps.subscribe(self.topo.prefix + "events")
            first = ps.get_message(timeout=1.0)  # reads the confirmation: now the connection exists
            conn = ps.connection
            addr = (getattr(conn, "host", None), getattr(conn, "port", None))
            if self.subscribed.is_set():
                self.rec.marker("#resubscribed", lost_at=lost_at, addr="%s:%s" % addr)
            self.subscribed.set()
            role = redis.Redis(host=addr[0], port=addr[1], password=getattr(conn, "password", None),
                               socket_timeout=2) if addr[0] else None
            checked = time.monotonic()
            while not self.stop_ev.is_set():
                m, first = first or ps.get_message(timeout=0.5), None
                if m and m.get("type") == "message":
                    self._note(_text(m["data"]))
                    self._good_since = now_ms()
                if role is not None and time.monotonic() - checked > 2:
                    if _text(role.execute_command("ROLE")[0]) != "master":
                        return
                    self._good_since = now_ms()
                    checked = time.monotonic()
        finally:
            try:
                ps.close()
            except Exception:  # noqa: BLE001
                pass

    def _note(self, data):
        id, _, word = data.partition(" ")
        self.rec.event(id, word)
        with self.lock:
            if self.last.get(id) not in TERMINAL or word in TERMINAL:
                self.last[id] = word


def stats_totals(r, prefix, since_s=None, type="*"):
    """{ok, failed, retried, dead, cancelled} summed over the minute buckets of every
    type (or of `type`): from since_s on, by key; without since_s by SCAN,
    every bucket there is."""
    fields = ("ok", "failed", "retried", "dead", "cancelled")
    if since_s is None:
        keys = list(r.scan_iter(match="%sstats:%s:1m:*" % (prefix, type), count=1000))
    else:
        types = [_text(t) for t in r.smembers(prefix + "stats:types")]
        minutes = range(since_s - since_s % 60, int(time.time()) + 61, 60)
        keys = ["%sstats:%s:1m:%d" % (prefix, t, m) for t in types for m in minutes]
    p = r.pipeline(transaction=False)
    for k in keys:
        p.hmget(k, *fields)
    tot = dict.fromkeys(fields, 0)
    for vals in p.execute():
        for f, v in zip(fields, vals):
            tot[f] += int(v or 0)
    return tot


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class QueueDepth:
    """Ready messages in a queue, by a passive declare (pika), reconnecting
    through the topology's AMQP URLs in turn."""

    def __init__(self, urls, queue="wharf.system"):
        self.urls, self.queue, self.conn, self.k = urls, queue, None, 0

    def get(self):
        import pika
        try:
            if self.conn is None or not self.conn.is_open:
                self.k += 1
                params = pika.URLParameters(self.urls[self.k % len(self.urls)])
                params.socket_timeout = params.blocked_connection_timeout = 2
                params.connection_attempts = 1
                self.conn = pika.BlockingConnection(params)
            ch = self.conn.channel()
            n = ch.queue_declare(self.queue, passive=True).method.message_count
            ch.close()
            return n
        except Exception:  # noqa: BLE001 - a node down, an alarm: no depth this second
            self.close()
            return None

    def close(self):
        try:
            if self.conn is not None and self.conn.is_open:
                self.conn.close()
        except Exception:  # noqa: BLE001
            pass
        self.conn = None


class Sampler:
    def __init__(self, topo, rec, events, period_s=1.0):
        self.topo, self.rec, self.events, self.period = topo, rec, events, period_s
        self.since_s = int(time.time())
        self.depth = QueueDepth(topo.amqp_urls)
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join(15)
        self.depth.close()

    def _run(self):
        next_t = time.monotonic()
        while not self.stop_ev.is_set():
            self.rec.sample(self.sample())
            next_t = max(next_t + self.period, time.monotonic())
            self.stop_ev.wait(next_t - time.monotonic())

    def sample(self):
        s = {"t": now_ms(), "states": self.events.counts()}
        try:
            tot = stats_totals(self.topo.redis_master(), self.topo.prefix, self.since_s)
            s.update({"stats_" + k: v for k, v in tot.items()})
        except Exception as ex:  # noqa: BLE001 - Redis failing over: no stats this second
            s.update({"stats_ok": None, "stats_failed": None, "stats_dead": None, "stats_cancelled": None,
                      "stats_error": repr(ex)[:200]})
        procs = self.rec.live_procs()
        s["rss_kb"] = {n: rss_kb(p) for n, p in procs.items()}
        s["pids"] = procs
        s["queue_depth"] = self.depth.get()
        return s
