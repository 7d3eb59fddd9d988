/* fleet: the fleet's data in Redis as the runtime and registry families
 * leave it, read for `wharf serve` (/v1/hosts...) and the CLI (`wharf
 * updates`, `wharf host-stats`). One reader, so the two front ends never
 * disagree. The writers and the key layout (wh_keys.h, docs/operations.md):
 *
 *   <p>host:<h>:containers, :images, :volumes, :networks, :sync   runtime.host.sync
 *   <p>host:<h>:stats:<name|_host>:1m|1h:<bucket start>           runtime.host.stats
 *   <p>host:<h>:reach                                             host.sync and host.stats
 *   <p>host:<h>:ctr:<name>:log                                    runtime.container.logs
 *   <p>updates:<h>                                                registry.update_check
 *
 * Every read is bounded: hashes by FLEET_HASH_MAX entries, series by the
 * number of buckets asked for (at most FLEET_BUCKETS_MAX). */
#ifndef FLEET_H
#define FLEET_H

#include <stdint.h>

#include "wh_json.h"
#include "wh_redis.h"

#define FLEET_HASH_MAX 10000    /* entries of one host hash read at most (containers, updates) */
#define FLEET_BUCKETS_MAX 2880  /* buckets of one series read at most (48 h of minutes) */

/* HGETALL of `key` as a JSON object field -> value, each value parsed as
 * JSON (a value that is not JSON is kept as a string). An empty object when
 * the key does not exist; WH_E_TOO_LARGE (naming `key`) for a hash of more
 * than FLEET_HASH_MAX entries. NULL with err on failure. Caller frees. */
wh_json *fleet_hash_json(wh_redis *r, const char *key, wh_err *err);

/* The same for a hash of integers (the sync summary, reachability): every
 * value as a number when it is one, else as a string. JSON null when the
 * key does not exist. */
wh_json *fleet_hash_ints(wh_redis *r, const char *key, wh_err *err);

/* An HGETALL reply of such a hash the same way (JSON null for an empty
 * reply or NULL), for callers that pipeline their reads. */
wh_json *fleet_reply_ints(const wh_redis_reply *rep);

/* One rollup bucket of runtime.host.stats (units as written there). */
typedef struct fleet_bucket {
    int64_t t;                      /* bucket start, Unix seconds */
    double n;                       /* samples */
    double cpu_n, cpu_sum, cpu_max; /* samples with a CPU value; percent of one CPU */
    double mem_sum, mem_max, mem_limit; /* bytes */
    double rx, tx, blk_r, blk_w;    /* the last cumulative byte counters */
} fleet_bucket;

/* The `count` (1..FLEET_BUCKETS_MAX) buckets of `step_s` (60 or 3600)
 * seconds ending with the one holding `now_s`, of container `name`
 * ("_host" for the host's sums) of `host`, in one pipelined round trip.
 * *out (malloc'd, the caller frees) receives the buckets that hold samples,
 * oldest first, and *nout their number. */
wh_code fleet_stats_read(wh_redis *r, const char *prefix, const char *host, const char *name, int step_s, int count,
                         int64_t now_s, fleet_bucket **out, int *nout, wh_err *err);

/* The health word in a container's Docker status text ("Up 3 minutes
 * (healthy)"): "healthy", "unhealthy", "starting", or NULL without a check. */
const char *fleet_health_of(const char *status);

#endif
