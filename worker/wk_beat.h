/* wk_beat: the worker registry heartbeat.
 *
 * A thread with its own Redis connection refreshes <prefix>worker:<id> (host,
 * pid, version, queues, concurrency, started_at, heartbeat_at, jobs_running,
 * jobs_done, jobs_failed, rss) every worker.heartbeat_s seconds with a TTL of
 * three periods, and scores the id in the <prefix>workers sorted set with the
 * heartbeat time. A worker that stops beating disappears by itself. */
#ifndef WK_BEAT_H
#define WK_BEAT_H

#include "wh_cfg.h"
#include "wk_pool.h"

typedef struct wk_beat wk_beat;

/* Start the heartbeat thread. It writes nothing until the first
 * wk_beat_kick(), so a registered worker is one that consumes; then it beats
 * every period. NULL only on ENOMEM or a bad URL. */
wk_beat *wk_beat_start(const wh_cfg *cfg, const char *worker_id, const wk_pool *pool, wh_err *err);

/* Beat now (thread-safe). Matches wk_loop_ready_fn. */
void wk_beat_kick(void *beat);

/* Stop, remove this worker from the registry and free. NULL is a no-op. */
void wk_beat_stop(wk_beat *b);

#endif
