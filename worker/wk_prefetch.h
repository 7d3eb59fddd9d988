/* wk_prefetch: the consume channel's prefetch, adapted to how long jobs run.
 *
 * With worker.prefetch at 0 (the default) the worker holds 4 deliveries per
 * job thread, as before, while jobs take their time: enough to keep the
 * threads busy between round trips, few enough that one worker does not
 * hoard long jobs that another could start. Once the jobs it finishes are
 * short (under WK_SHORT_US on average), a thread takes them in runs of up
 * to WK_RUN_MAX, and 4 per thread would starve those runs: the prefetch
 * then rises, as far as the memory the base prefetch allows for bodies
 * (base x jobs.max_body) holds at the bodies' recent average size, at most
 * WK_PREFETCH_HIGH_MAX, and falls back as soon as jobs run long again. A prefetch set in the configuration
 * is never changed. Looked at every WK_PREFETCH_EVERY_MS, on what the job
 * threads finished since. Private to the worker. */
#ifndef WK_PREFETCH_H
#define WK_PREFETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_cfg.h"

#define WK_PREFETCH_EVERY_MS 100
#define WK_PREFETCH_HIGH_MAX 1024
#define WK_PREFETCH_MIN_RUNS 16 /* jobs finished in a period before it judges */

typedef struct wk_prefetch {
    bool fixed;            /* set in the configuration: never changed */
    int base, now;
    long long budget;      /* bytes of bodies the base prefetch may hold */
    int64_t next_ms;       /* mono ms of the next look */
    long long runs, run_us, bytes; /* the totals at the last look */
} wk_prefetch;

/* From the configuration; `now` starts at the configured or base value. */
void wk_prefetch_init(wk_prefetch *p, const wh_cfg *c);

/* The prefetch to set now, given the pool's totals of jobs run, their run
 * time (µs) and their bodies' bytes; 0 when it stays as it is. */
int wk_prefetch_due(wk_prefetch *p, int64_t now_ms, long long runs, long long run_us, long long bytes);

/* A new connection starts from `now` as it stands. */
static inline int wk_prefetch_current(const wk_prefetch *p) { return p->now; }

#endif
