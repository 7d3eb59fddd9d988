/* wk_stats: per-worker aggregation of the stats rollups.
 *
 * Job threads record each attempt's outcome here (a mutex and a few adds);
 * the heartbeat thread flushes the totals to Redis about once a second with
 * one stats.lua call per (type, minute). A worker that dies loses at most
 * the last unflushed second of *stats*; job statuses are written per job and
 * are never batched. If Redis is down the totals are kept and retried, up to
 * WK_STATS_SLOTS (type, minute) pairs; beyond that the oldest are dropped. A
 * flush whose reply was lost after Redis applied it is retried too, so such a
 * failure can count a batch twice: stats are approximate at the edges. */
#ifndef WK_STATS_H
#define WK_STATS_H

#include <stdint.h>

#include "wh_redis.h"
#include "wh_status.h"

#define WK_STATS_SLOTS 256

typedef struct wk_stats wk_stats;

wk_stats *wk_stats_new(void);
void wk_stats_free(wk_stats *s);

/* Record one attempt of `type` that ended in `state` (succeeded, failed,
 * retrying, dead) after `run_us` of handler time (-1: did not run). */
void wk_stats_add(wk_stats *s, const char *type, const char *state, int64_t run_us);

/* Write the totals to Redis; what cannot be written is kept for next time.
 * Returns the first error, or WH_OK. */
wh_code wk_stats_flush(wk_stats *s, wh_redis *r, const char *prefix, wh_err *err);

#endif
