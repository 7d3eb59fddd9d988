/* What the two files of wharf-bench share: bench.c (the end-to-end sides,
 * the producer, latency, the log floor) and drain.c (the drain sides of
 * tests/bench/drain). Not a library: a failure ends the process. */
#ifndef WHARF_BENCH_H
#define WHARF_BENCH_H

#include <stdint.h>

#include "wh_amqp.h"
#include "wh_cfg.h"
#include "wh_redis.h"

/* The queue the floor sides publish to and consume from (in the vhost of
 * WHARF_AMQP_URL, declared with the configured queue type). */
#define BENCH_FLOOR_QUEUE "bench.floor"

/* Print "wharf-bench: <what>: <e's message>" to stderr and exit(1). */
void bench_die(const char *what, const wh_err *e);

/* A connection to c->amqp_url with channel 1 open; exits on failure. */
wh_amqp *bench_connect(const wh_cfg *c);

/* Sum the `ok` counts (into *ok) and the `failed` and `dead` counts (into
 * *bad) of job type `type` in the stats minute buckets from the one that
 * starts at `first_s` (a minute boundary, Unix seconds) to the current one.
 * finish.lua counts every outcome exactly once, in the same atomic step as
 * the state change, so these are exact. One HMGET per minute bucket. */
wh_code bench_stats_count(wh_redis *r, const char *prefix, const char *type, int64_t first_s, long *ok, long *bad,
                          wh_err *e);

/* `wharf-bench drain -n N`: the floor-drain consumer (drain.c). */
int bench_drain_floor(const wh_cfg *c, long n);

/* `wharf-bench drain-watch -n N`: the clock of a wharf worker's drain
 * (drain.c). */
int bench_drain_watch(const wh_cfg *c, long n);

#endif
