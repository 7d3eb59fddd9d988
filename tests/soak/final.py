"""The end of a soak run (issue 21): wait for the drain, then write the final
state the checker judges.

    ok, left = final.drain(topo, ids_fn, timeout_s, refused_fn=...)  # every id terminal, or the bound ran out
    final.dump(topo, run_dir, ids)                      # final.jsonl, final_stats.json

final.jsonl has one line per job id known: the id's whole hash (HGETALL,
every field as text, plus `id`) or `{id, missing: true}`. The ids are the
caller's (submitted ids, dedup answers, ids seen in events) plus the
schedule's firings found in Redis and every `job` named in the worker logs.
final_stats.json: the stats counters summed over every type and minute bucket
(`ok`, `failed`, `retried`, `dead`, and `by_type`), `leases` and `scheduled`
(zset member -> score) and `dead_letters`: every message of `wharf.dead` with
its headers, read without acking, so they stay in the queue.
"""
import glob
import json
import os
import time

from observe import TERMINAL, _text, stats_totals
from soaklog import write_json

CHUNK = 1000


def _states(r, prefix, ids):
    p = r.pipeline(transaction=False)
    for i in ids:
        p.hget(prefix + "job:" + i, "state")
    return dict(zip(ids, (_text(v) for v in p.execute())))


def drain(topo, ids_fn, timeout_s, log=print, refused_fn=set):
    """Poll the job hashes until every id of ids_fn() is terminal or
    timeout_s passed (Redis errors: try again). An id of refused_fn() (its
    submit failed) whose hash is gone is not waited for: the client undid
    its enqueue (unenqueue.lua), and its `queued` event is all it left.
    Returns (drained, the ids left with their last state)."""
    done, left = set(), {}
    deadline = time.monotonic() + timeout_s
    said = 0
    while True:
        pending = sorted(ids_fn() - done)
        try:
            r = topo.redis_master()
            refused = refused_fn()
            left = {}
            for k in range(0, len(pending), CHUNK):
                for i, st in _states(r, topo.prefix, pending[k:k + CHUNK]).items():
                    if st in TERMINAL or (st is None and i in refused):
                        done.add(i)
                    else:
                        left[i] = st
        except Exception as ex:  # noqa: BLE001 - a failover in progress: next round
            left = left or {"?": repr(ex)[:200]}
        if not left:
            return True, {}
        if time.monotonic() > deadline:
            return False, left
        if time.monotonic() - said > 15:
            log("soak: draining, %d job(s) not terminal yet" % len(left))
            said = time.monotonic()
        time.sleep(2)


def log_job_ids(run_dir):
    """Every `job` field of the JSON lines in RUN/workers/*.log."""
    ids = set()
    for path in glob.glob(os.path.join(run_dir, "workers", "*.log")):
        with open(path, errors="replace") as f:
            for line in f:
                if '"job"' not in line:
                    continue
                try:
                    j = json.loads(line).get("job")
                except ValueError:
                    continue
                if isinstance(j, str) and j:
                    ids.add(j)
    return ids


def firing_ids(r, prefix, name):
    pat = prefix + "job:" + name + "-*"
    skip = len(prefix) + len("job:")
    return {_text(k)[skip:] for k in r.scan_iter(match=pat, count=1000) if _text(k).count(":") == prefix.count(":") + 1}


def dump(topo, run_dir, ids, schedule_name=None, tries=3):
    """Write final.jsonl and final_stats.json; returns the number of ids.
    A Redis error (a failover still settling) is tried again after 5 s."""
    for k in range(tries):
        try:
            return _dump(topo, run_dir, ids, schedule_name)
        except Exception:  # noqa: BLE001 - raised again on the last try
            if k == tries - 1:
                raise
            time.sleep(5)


def _dump(topo, run_dir, ids, schedule_name):
    r = topo.redis_master()
    ids = set(ids) | log_job_ids(run_dir)
    if schedule_name:
        ids |= firing_ids(r, topo.prefix, schedule_name)
    ids.discard(None)
    order = sorted(ids)
    with open(os.path.join(run_dir, "final.jsonl"), "w") as f:
        for k in range(0, len(order), CHUNK):
            chunk = order[k:k + CHUNK]
            p = r.pipeline(transaction=False)
            for i in chunk:
                p.hgetall(topo.prefix + "job:" + i)
            for i, h in zip(chunk, p.execute()):
                obj = {_text(a): _text(b) for a, b in h.items()} if h else {"missing": True}
                obj["id"] = i
                f.write(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n")
    stats = stats_totals(r, topo.prefix)
    stats["by_type"] = {}
    for t in sorted(_text(t) for t in r.smembers(topo.prefix + "stats:types")):
        stats["by_type"][t] = stats_totals(r, topo.prefix, type=t)
    for key in ("leases", "scheduled"):
        stats[key] = {_text(m): s for m, s in r.zrange(topo.prefix + key, 0, -1, withscores=True)}
    stats["dead_letters"], stats["dead_letters_error"] = dead_letters(topo.amqp_urls)
    write_json(os.path.join(run_dir, "final_stats.json"), stats)
    return len(order)


def _plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return {_plain(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def dead_letters(urls, queue="wharf.dead"):
    """([{headers, message_id, type, redelivered, body_len, envelope}], error
    or None): every message of the queue, got unacked and requeued when the
    connection closes. envelope = the body's id, type, attempt if it decodes."""
    import msgpack
    import pika
    err = None
    for url in urls:
        try:
            conn = pika.BlockingConnection(pika.URLParameters(url))
        except Exception as ex:  # noqa: BLE001 - that node is down: the next one
            err = repr(ex)[:300]
            continue
        out = []
        try:
            ch = conn.channel()
            while True:
                m, props, body = ch.basic_get(queue, auto_ack=False)
                if m is None:
                    break
                try:
                    env = msgpack.unpackb(body, raw=False)
                    env = {k: env.get(k) for k in ("id", "type", "attempt")} if isinstance(env, dict) else None
                except Exception:  # noqa: BLE001 - a bad-input letter: its body is junk by design
                    env = None
                out.append({"headers": _plain(props.headers or {}), "message_id": props.message_id,
                            "type": props.type, "redelivered": m.redelivered, "body_len": len(body),
                            "envelope": _plain(env)})
            return out, None
        except Exception as ex:  # noqa: BLE001
            err = repr(ex)[:300]
        finally:
            try:
                conn.close()  # the unacked letters go back to the queue
            except Exception:  # noqa: BLE001
                pass
    return [], err
