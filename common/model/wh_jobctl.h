/* wh_jobctl: job control in Redis beyond a job's own run: cancel, the
 * leader lease, moving due jobs, renewing running jobs and reaping
 * abandoned ones. Each call is one Lua script (common/model/lua/), so every move
 * is atomic; schemas/README.md section 15 documents the keys. */
#ifndef WH_JOBCTL_H
#define WH_JOBCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_id.h"
#include "wh_redis.h"

/* Cancel job `id`. WH_OK with state "cancelled" (it had not started) or
 * "running" (its worker was asked to stop it); WH_E_NOT_FOUND; WH_E_CONFLICT
 * when it already finished (state says how). state is 16 bytes. */
wh_code wh_jobctl_cancel(wh_redis *r, const char *prefix, const char *id, int64_t ttl_s, char *state, wh_err *err);

/* Take or keep the leadership for `me` for ttl_ms. */
wh_code wh_jobctl_lead(wh_redis *r, const char *prefix, const char *me, int64_t ttl_ms, bool *leader, wh_err *err);

/* A message the leader must publish: job `id` of `type` (family = the part
 * before the dot), its packed envelope, and what to do: "publish" for a due
 * or reaped job, "dead" for a reaped job with no attempts left. */
typedef void (*wh_jobctl_msg_fn)(void *ud, const char *id, const char *type, const char *action, const char *body,
                                 size_t len);

/* Move up to `max` due scheduled jobs to `queued` and hand each message to
 * fn; each stays under a lease until lease_until (ms). *n = how many. */
wh_code wh_jobctl_due(wh_redis *r, const char *prefix, int max, int64_t lease_until, wh_jobctl_msg_fn fn, void *ud,
                      int *n, wh_err *err);

/* Sweep up to `max` expired leases: requeue (fn "publish") or bury (fn
 * "dead") their jobs; dead hashes expire after ttl_s. */
wh_code wh_jobctl_reap(wh_redis *r, const char *prefix, int max, int64_t lease_until, int64_t ttl_s,
                       wh_jobctl_msg_fn fn, void *ud, int *n, wh_err *err);

/* Trim <p>recent to its newest `cap` ids (jobs.recent_max), and then the
 * per-type and per-target indexes named in <p>recent:indexes (enqueue.lua
 * and start.lua add to them) to the same time span: an id older than the
 * oldest one <p>recent keeps leaves them all. The leader does it once a
 * second, so enqueues only add to the indexes. */
wh_code wh_jobctl_trim_recent(wh_redis *r, const char *prefix, int cap, wh_err *err);

/* Renew the leases and locks of the n running jobs `ids`; cancel(ud, id) is
 * called for each one whose cancel was requested. */
wh_code wh_jobctl_renew(wh_redis *r, const char *prefix, char (*ids)[WH_ID_MAX + 1], int n, int64_t lease_until,
                        int64_t lock_ms, void (*cancel)(void *ud, const char *id), void *ud, wh_err *err);

/* The n jobs `ids`, leased until `lease_until` by a due or reap sweep, were
 * never handed to the broker: their leases end at `retry_at` instead, so
 * the reaper publishes them again then. Leases that changed are kept. */
wh_code wh_jobctl_unsent(wh_redis *r, const char *prefix, const char *const *ids, int n, int64_t lease_until,
                         int64_t retry_at, wh_err *err);

#endif
