/* wk_stats: per-worker aggregation of the run-time stats.
 *
 * Outcome counts (ok, failed, retried, dead, cancelled) are exact: finish.lua
 * counts them with the state change. Run times (sum, max, histogram) are
 * aggregated here by the job threads (a mutex and a few adds) and the
 * heartbeat thread flushes them to Redis about once a second with one
 * stats.lua call per (type, minute). A worker that dies loses at most the
 * last unflushed second of *run times*; job statuses and counts are written
 * per job. If Redis is down the totals are kept and retried, up to
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

/* Record `run_us` of handler time for one attempt of `type` (-1: the
 * handler did not run; nothing is recorded). */
void wk_stats_add(wk_stats *s, const char *type, int64_t run_us);

/* Write the totals to Redis; what cannot be written is kept for next time.
 * Returns the first error, or WH_OK. */
wh_code wk_stats_flush(wk_stats *s, wh_redis *r, const char *prefix, wh_err *err);

#endif
