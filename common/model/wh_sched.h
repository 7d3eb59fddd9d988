/* wh_sched: periodic schedules and the scheduler loop.
 *
 * Schedules live in Redis (<p>schedules: name -> JSON spec; <p>schedules:next:
 * name -> next firing, ms), so every scheduler shares them. The loop runs in
 * every worker and in `wharf serve`; a Redis lease (wh_jobctl_lead) makes
 * one of them the leader, and only the leader acts:
 *   - each due schedule fires one job with the deterministic id
 *     "<name>-<fire time in unix s>", created `scheduled` with run_at = the
 *     firing, so two schedulers can never create one firing twice;
 *   - due scheduled jobs (delayed jobs and firings) are published to
 *     wharf.jobs with confirms; each keeps its message in Redis under a lease
 *     until a worker starts it;
 *   - expired leases are reaped (wh_jobctl_reap): abandoned jobs are queued
 *     again, or made dead with no attempts left.
 * A leader that dies stops renewing its lease; another takes over within
 * scheduler.leader_ttl_ms. */
#ifndef WH_SCHED_H
#define WH_SCHED_H

#include <stdint.h>

#include "wh_cfg.h"
#include "wh_json.h"
#include "wh_redis.h"

#define WH_SCHED_NAME_MAX 40

/* A schedule as stored. */
typedef struct wh_sched_spec {
    const char *name;        /* [A-Za-z0-9_-]{1,40} */
    const char *type;
    const char *target;      /* NULL or "" for none */
    const char *args_json;   /* a JSON object; NULL for {} */
    int every_s;             /* > 0, or 0 with cron */
    const char *cron;        /* wh_cron syntax, or NULL */
    int max_attempts, timeout_s;
} wh_sched_spec;

/* Check and store (create or replace) a schedule; its first firing is the
 * next one after now. Errors name the field (name, type, every_s, cron.*). */
wh_code wh_sched_add(wh_redis *r, const char *prefix, const wh_sched_spec *s, wh_err *err);

/* Remove a schedule; WH_E_NOT_FOUND when none has that name. */
wh_code wh_sched_rm(wh_redis *r, const char *prefix, const char *name, wh_err *err);

/* Every schedule as a JSON array (sorted by name) with next_at added. */
wh_json *wh_sched_list(wh_redis *r, const char *prefix, wh_err *err);

/* The first firing strictly after `after_ms` of a stored spec (JSON). -1
 * when it never fires. */
int64_t wh_sched_next_fire(const wh_json *spec, int64_t after_ms);

typedef struct wh_sched wh_sched;

/* A type's own default for max_attempts, 0 when it has none (the job
 * catalogue's wh_cat_max_attempts; this module does not link it). */
typedef int wh_sched_attempts(const char *type);

/* Start the loop thread for candidate `me` (with its own Redis and AMQP
 * connections). A firing whose schedule sets no max_attempts records its
 * type's default from `attempts` (NULL: none), else cfg's
 * jobs.max_attempts. NULL on ENOMEM. Connection failures are retried
 * inside. */
wh_sched *wh_sched_start(const wh_cfg *cfg, const char *me, wh_sched_attempts *attempts, wh_err *err);

/* Stop and join the thread, then free. NULL is a no-op. */
void wh_sched_stop(wh_sched *s);

#endif
