/* adm: the admin reads shared by the CLI (`wharf workers|stats|dead`) and
 * `wharf serve` (/v1/workers, /v1/stats, /v1/dead, /metrics): the worker
 * registry, the stats rollups and the dead-letter queue. One implementation,
 * so the two front ends can never disagree. */
#ifndef ADM_H
#define ADM_H

#include <stdint.h>

#include "wh_amqp.h"
#include "wh_cfg.h"
#include "wh_json.h"
#include "wh_redis.h"
#include "wh_status.h"

#define ADM_DEAD_MAX 10000 /* dead messages `list` and `retry` look at, at most */

/* Live workers (registry hashes that have not expired) as a JSON array of
 * objects, counters as numbers. NULL with err on a Redis failure. Caller
 * frees with wh_json_free(). */
wh_json *adm_workers_json(wh_redis *r, const char *prefix, wh_err *err);

/* Worker control: ask live worker `id` to stop taking new jobs ("quiet";
 * it finishes the running ones and stays up) or to drain and exit ("drain";
 * as on SIGTERM). Writes <p>worker:<id>:control (ADM_CONTROL_TTL_S), which
 * the worker's heartbeat takes within one period (worker/wk_heartbeat.c).
 * WH_E_USAGE (field "command") for another command, WH_E_NOT_FOUND (field
 * "id") when no live worker has that id. */
#define ADM_CONTROL_TTL_S 3600
wh_code adm_worker_control(wh_redis *r, const char *prefix, const char *id, const char *command, wh_err *err);

/* One job type's counts summed over the last `minutes` minute buckets
 * (the current minute included). */
typedef struct adm_totals {
    long long ok, failed, retried, dead, cancelled; /* attempts ended so */
    long long dur_sum, dur_max;                     /* run time, us */
    long long hist[WH_STATS_HIST];                  /* runs per histogram bucket */
} adm_totals;

/* The attempts counted in *t: every outcome, the run times' divisor. */
long long adm_totals_runs(const adm_totals *t);

/* Fill *t for `type`. One pipelined round trip. */
wh_code adm_type_totals(wh_redis *r, const char *prefix, const char *type, int minutes, adm_totals *t, wh_err *err);

/* The per-bucket totals of `type`: n minute buckets (hours: hour buckets)
 * from the bucket starting at unix second first_s, into out[0..n). One
 * pipelined round trip; a missing bucket counts zero. */
wh_code adm_type_series(wh_redis *r, const char *prefix, const char *type, bool hours, int64_t first_s, int n,
                        adm_totals *out, wh_err *err);

/* Every job type that ever reported stats, sorted, as a JSON array of
 * strings. NULL with err on failure. */
wh_json *adm_stats_types(wh_redis *r, const char *prefix, wh_err *err);

/* Totals as JSON: {ok, failed, retried, dead, cancelled, avg_ms, max_ms}. */
wh_json *adm_totals_json(const adm_totals *t);

/* An AMQP connection with the topology declared (channel 1), for the dead
 * queue and queue depths. NULL with err. Free with wh_amqp_free(). */
wh_amqp *adm_connect(const wh_cfg *cfg, int timeout_ms, wh_err *err);

/* Up to `limit` dead messages (they stay queued: nothing is acked, and they
 * return when the connection closes) appended to `arr` as objects {id,
 * reason, error-code, error, attempts, dead-at, ...} (the wharf-* headers
 * without their prefix). Uses channel 1. */
wh_code adm_dead_list(wh_amqp *a, int limit, wh_json *arr, wh_err *err);

/* Find the dead message of job `id` among the first ADM_DEAD_MAX, revive the
 * job in Redis (fresh attempts), republish it to wharf.jobs with a confirm
 * (channel 2) and ack the dead copy. WH_E_NOT_FOUND when there is none. */
wh_code adm_dead_retry(wh_amqp *a, wh_redis *r, const char *prefix, const char *id, wh_err *err);

/* Delete every dead message; *n receives how many. */
/* Drop job `id`'s dead message (its hash stays `dead`); WH_E_NOT_FOUND
 * when it is not among the first ADM_DEAD_MAX. */
wh_code adm_dead_drop(wh_amqp *a, const char *id, wh_err *err);

wh_code adm_dead_purge(wh_amqp *a, uint32_t *n, wh_err *err);

#endif
