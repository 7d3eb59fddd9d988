/* wk_heartbeat: the worker registry heartbeat.
 *
 * A thread with its own Redis connection refreshes <prefix>worker:<id> (host,
 * pid, version, queues, concurrency, started_at, heartbeat_at, jobs_running,
 * jobs_done, jobs_failed, rss, state) every worker.heartbeat_s seconds with a TTL of
 * three periods, and scores the id in the <prefix>workers sorted set with the
 * heartbeat time. A worker that stops beating disappears by itself.
 *
 * The same thread flushes the worker's aggregated stats (wk_stats) every
 * second, and once more when stopped, and renews the leases and locks of the
 * running jobs, interrupting those whose cancel was requested.
 *
 * Each beat also takes a worker control command (<p>worker:<id>:control,
 * "quiet" or "drain", from `wharf workers quiet|drain` or serve) and raises
 * the signal the main loop answers to (wk_loop.h); `state` then says
 * "quiet" or "draining" instead of "running". */
#ifndef WK_BEAT_H
#define WK_BEAT_H

#include "wh_cfg.h"
#include "wk_pool.h"
#include "wk_stats.h"

typedef struct wk_beat wk_beat;

/* Start the heartbeat thread. It writes nothing until the first
 * wk_beat_kick(), so a registered worker is one that consumes; then it beats
 * every period. NULL only on ENOMEM or a bad URL. */
wk_beat *wk_beat_start(const wh_cfg *cfg, const char *worker_id, wk_pool *pool, wk_stats *stats,
                       wh_err *err);

/* Beat now (thread-safe). Matches wk_loop_ready_fn. */
void wk_beat_kick(void *beat);

/* Stop the thread and remove this worker from the registry. Call before the
 * pool is freed (the thread reads its counters). NULL is a no-op. */
void wk_beat_stop(wk_beat *b);

/* Flush the stats one last time and free. Call after the pool is freed, so
 * the last outcomes are counted. NULL is a no-op. */
void wk_beat_free(wk_beat *b);

#endif
