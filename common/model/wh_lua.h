/* wh_lua: the Lua scripts under common/model/lua/, embedded at build time by
 * cmake/embed.cmake into wh_lua.c (generated), and their argument slots.
 *
 * C passes a script its keys and then its arguments in one array (see
 * wh_redis_eval). Each script's slots are listed below once, in order:
 * K(index, name) for a KEYS slot, A(index, name) for an ARGV slot. The list
 * gives an enum of indexes into that array, WH_<SCRIPT>_KEY_* then
 * WH_<SCRIPT>_ARG_*, and the counts WH_<SCRIPT>_NKEYS and WH_<SCRIPT>_ARGC.
 * The script binds the same names in the same order, one line each
 * (`local <name> = KEYS[n]` / `ARGV[n]`), and reads its arguments only
 * through them; tests/unit/test_wh_lua.c holds the two side by side. A
 * script that takes a variable tail (stats, renew) ends its enum with the
 * tail's first index instead of ARGC. */
#ifndef WH_LUA_H
#define WH_LUA_H

extern const char wh_lua_enqueue[];
extern const char wh_lua_unenqueue[];
extern const char wh_lua_start[];
extern const char wh_lua_finish[];
extern const char wh_lua_moves[]; /* start and finish for many jobs: see moves.lua */
extern const char wh_lua_enqueue_many[]; /* enqueue for many jobs: see enqueue_many.lua */
extern const char wh_lua_requeue[];
extern const char wh_lua_revive[];
extern const char wh_lua_stats[];
extern const char wh_lua_cancel[];
extern const char wh_lua_due[];
extern const char wh_lua_renew[];
extern const char wh_lua_reap[];
extern const char wh_lua_lead[];
extern const char wh_lua_unsent[]; /* shorten the leases of jobs the scheduler could not publish */

/* Expanders for the slot lists. */
#define WH_SLOT_INDEX(index, name) index,
#define WH_SLOT_COUNT(index, name) +1
#define WH_SLOT_SKIP(index, name)

#define WH_ENQUEUE_SLOTS(K, A)                                                                                 \
    K(WH_ENQUEUE_KEY_JOB, job) K(WH_ENQUEUE_KEY_RECENT, recent) K(WH_ENQUEUE_KEY_SCHEDULED, scheduled)         \
    A(WH_ENQUEUE_ARG_ID, id) A(WH_ENQUEUE_ARG_JOB_TYPE, job_type) A(WH_ENQUEUE_ARG_TARGET, target)             \
    A(WH_ENQUEUE_ARG_CREATED_AT, created_at) A(WH_ENQUEUE_ARG_MAX_ATTEMPTS, max_attempts)                      \
    A(WH_ENQUEUE_ARG_NOW, now) A(WH_ENQUEUE_ARG_EVENTS, events) A(WH_ENQUEUE_ARG_RUN_AT, run_at)               \
    A(WH_ENQUEUE_ARG_BODY, body) A(WH_ENQUEUE_ARG_UNIQUE_FOR, unique_for) A(WH_ENQUEUE_ARG_LOCK, lock)         \
    A(WH_ENQUEUE_ARG_PRIORITY, priority) A(WH_ENQUEUE_ARG_PREFIX, prefix)                                      \
    A(WH_ENQUEUE_ARG_UNIQUE, unique) A(WH_ENQUEUE_ARG_PARK, park) A(WH_ENQUEUE_ARG_ARGS, args)
enum { WH_ENQUEUE_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_ENQUEUE_ARGC };
enum { WH_ENQUEUE_NKEYS = 0 WH_ENQUEUE_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_UNENQUEUE_SLOTS(K, A)                                                                               \
    K(WH_UNENQUEUE_KEY_JOB, job) K(WH_UNENQUEUE_KEY_RECENT, recent)                                            \
    K(WH_UNENQUEUE_KEY_SCHEDULED, scheduled) A(WH_UNENQUEUE_ARG_ID, id)
enum { WH_UNENQUEUE_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_UNENQUEUE_ARGC };
enum { WH_UNENQUEUE_NKEYS = 0 WH_UNENQUEUE_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_START_SLOTS(K, A)                                                                                   \
    K(WH_START_KEY_JOB, job) K(WH_START_KEY_RECENT, recent) K(WH_START_KEY_SCHEDULED, scheduled)               \
    K(WH_START_KEY_LEASES, leases) K(WH_START_KEY_LOCK_KEY, lock_key) K(WH_START_KEY_WORKERS, workers)         \
    A(WH_START_ARG_ID, id) A(WH_START_ARG_JOB_TYPE, job_type) A(WH_START_ARG_TARGET, target)                   \
    A(WH_START_ARG_CREATED_AT, created_at) A(WH_START_ARG_MAX_ATTEMPTS, max_attempts)                          \
    A(WH_START_ARG_NOW, now) A(WH_START_ARG_WORKER, worker) A(WH_START_ARG_EVENTS, events)                     \
    A(WH_START_ARG_MAX_REDELIVERIES, max_redeliveries) A(WH_START_ARG_MODE, mode) A(WH_START_ARG_LOCK, lock)   \
    A(WH_START_ARG_LOCK_MS, lock_ms) A(WH_START_ARG_RUN_AT, run_at) A(WH_START_ARG_BODY, body)                 \
    A(WH_START_ARG_LEASE_UNTIL, lease_until) A(WH_START_ARG_TTL, ttl) A(WH_START_ARG_RUN_MS, run_ms)
enum { WH_START_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_START_ARGC };
enum { WH_START_NKEYS = 0 WH_START_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_FINISH_SLOTS(K, A)                                                                                  \
    K(WH_FINISH_KEY_JOB, job) K(WH_FINISH_KEY_LOG, log) K(WH_FINISH_KEY_LEASES, leases)                        \
    K(WH_FINISH_KEY_STATS_MINUTE, stats_minute) K(WH_FINISH_KEY_STATS_HOUR, stats_hour)                        \
    K(WH_FINISH_KEY_STATS_TYPES, stats_types)                                                                  \
    A(WH_FINISH_ARG_ID, id) A(WH_FINISH_ARG_STATE, state) A(WH_FINISH_ARG_RESULT, result)                      \
    A(WH_FINISH_ARG_ERROR_CODE, error_code) A(WH_FINISH_ARG_ERROR_MESSAGE, error_message)                      \
    A(WH_FINISH_ARG_NOW, now) A(WH_FINISH_ARG_TTL, ttl) A(WH_FINISH_ARG_EVENTS, events)                        \
    A(WH_FINISH_ARG_JOB_TYPE, job_type) A(WH_FINISH_ARG_CREATED_AT, created_at)                                \
    A(WH_FINISH_ARG_LEASE_UNTIL, lease_until) A(WH_FINISH_ARG_COUNT, count)                                    \
    A(WH_FINISH_ARG_TTL_MINUTE, ttl_minute) A(WH_FINISH_ARG_TTL_HOUR, ttl_hour)
enum { WH_FINISH_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_FINISH_ARGC };
enum { WH_FINISH_NKEYS = 0 WH_FINISH_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_REQUEUE_SLOTS(K, A)                                                                                 \
    K(WH_REQUEUE_KEY_JOB, job) K(WH_REQUEUE_KEY_LEASES, leases)                                                \
    A(WH_REQUEUE_ARG_ID, id) A(WH_REQUEUE_ARG_WORKER, worker) A(WH_REQUEUE_ARG_EVENTS, events)                 \
    A(WH_REQUEUE_ARG_STEP, step) A(WH_REQUEUE_ARG_LEASE_UNTIL, lease_until)
enum { WH_REQUEUE_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_REQUEUE_ARGC };
enum { WH_REQUEUE_NKEYS = 0 WH_REQUEUE_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_REVIVE_SLOTS(K, A)                                                                                  \
    K(WH_REVIVE_KEY_JOB, job) A(WH_REVIVE_ARG_ID, id) A(WH_REVIVE_ARG_NOW, now)                                \
    A(WH_REVIVE_ARG_EVENTS, events)
enum { WH_REVIVE_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_REVIVE_ARGC };
enum { WH_REVIVE_NKEYS = 0 WH_REVIVE_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

/* Then field, increment pairs from WH_STATS_ARG_FIELDS on. */
#define WH_STATS_SLOTS(K, A)                                                                                   \
    K(WH_STATS_KEY_MINUTE, minute) K(WH_STATS_KEY_HOUR, hour) K(WH_STATS_KEY_TYPES, types)                     \
    A(WH_STATS_ARG_JOB_TYPE, job_type) A(WH_STATS_ARG_TTL_MINUTE, ttl_minute)                                  \
    A(WH_STATS_ARG_TTL_HOUR, ttl_hour) A(WH_STATS_ARG_DUR_US_MAX, dur_us_max)
enum { WH_STATS_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_STATS_ARG_FIELDS };
enum { WH_STATS_NKEYS = 0 WH_STATS_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_CANCEL_SLOTS(K, A)                                                                                  \
    K(WH_CANCEL_KEY_JOB, job) K(WH_CANCEL_KEY_LOG, log) K(WH_CANCEL_KEY_SCHEDULED, scheduled)                  \
    K(WH_CANCEL_KEY_LEASES, leases) A(WH_CANCEL_ARG_ID, id) A(WH_CANCEL_ARG_NOW, now)                          \
    A(WH_CANCEL_ARG_TTL, ttl) A(WH_CANCEL_ARG_EVENTS, events)
enum { WH_CANCEL_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_CANCEL_ARGC };
enum { WH_CANCEL_NKEYS = 0 WH_CANCEL_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_DUE_SLOTS(K, A)                                                                                     \
    K(WH_DUE_KEY_SCHEDULED, scheduled) K(WH_DUE_KEY_LEASES, leases) A(WH_DUE_ARG_NOW, now)                     \
    A(WH_DUE_ARG_BATCH, batch) A(WH_DUE_ARG_JOB_PREFIX, job_prefix) A(WH_DUE_ARG_EVENTS, events)               \
    A(WH_DUE_ARG_LEASE_UNTIL, lease_until)
enum { WH_DUE_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_DUE_ARGC };
enum { WH_DUE_NKEYS = 0 WH_DUE_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

/* Then the ids of the running jobs, from WH_RENEW_ARG_IDS on. */
#define WH_RENEW_SLOTS(K, A)                                                                                   \
    K(WH_RENEW_KEY_LEASES, leases) A(WH_RENEW_ARG_LEASE_UNTIL, lease_until)                                    \
    A(WH_RENEW_ARG_LOCK_MS, lock_ms) A(WH_RENEW_ARG_JOB_PREFIX, job_prefix)
enum { WH_RENEW_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_RENEW_ARG_IDS };
enum { WH_RENEW_NKEYS = 0 WH_RENEW_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_REAP_SLOTS(K, A)                                                                                    \
    K(WH_REAP_KEY_LEASES, leases) A(WH_REAP_ARG_NOW, now) A(WH_REAP_ARG_BATCH, batch)                          \
    A(WH_REAP_ARG_JOB_PREFIX, job_prefix) A(WH_REAP_ARG_EVENTS, events)                                        \
    A(WH_REAP_ARG_LEASE_UNTIL, lease_until) A(WH_REAP_ARG_TTL, ttl)
enum { WH_REAP_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_REAP_ARGC };
enum { WH_REAP_NKEYS = 0 WH_REAP_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

/* Then the ids of the jobs not handed to the broker, from WH_UNSENT_ARG_IDS on. */
#define WH_UNSENT_SLOTS(K, A)                                                                                  \
    K(WH_UNSENT_KEY_LEASES, leases) A(WH_UNSENT_ARG_LEASE_UNTIL, lease_until) A(WH_UNSENT_ARG_RETRY_AT, retry_at)
enum { WH_UNSENT_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_UNSENT_ARG_IDS };
enum { WH_UNSENT_NKEYS = 0 WH_UNSENT_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#define WH_LEAD_SLOTS(K, A)                                                                                    \
    K(WH_LEAD_KEY_LEADER, leader) A(WH_LEAD_ARG_CANDIDATE, candidate) A(WH_LEAD_ARG_LEASE_MS, lease_ms)
enum { WH_LEAD_SLOTS(WH_SLOT_INDEX, WH_SLOT_INDEX) WH_LEAD_ARGC };
enum { WH_LEAD_NKEYS = 0 WH_LEAD_SLOTS(WH_SLOT_COUNT, WH_SLOT_SKIP) };

#endif
