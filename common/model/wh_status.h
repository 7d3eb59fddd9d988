/* wh_status: job state in Redis, through the Lua scripts in common/model/lua/.
 *
 * Every state move is one atomic script call that also publishes the
 * `<prefix>events` message; finish also rolls up stats. States only move
 * forward: once succeeded, failed, dead or cancelled, a job hash is never
 * rewritten, which is what makes redelivery safe. */
#ifndef WH_STATUS_H
#define WH_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_env.h"
#include "wh_json.h"
#include "wh_redis.h"
#include "wh_state.h"

#define WH_STATS_TTL_1M (48 * 3600)       /* minute buckets live 48 h, s */
#define WH_STATS_TTL_1H (30 * 24 * 3600)  /* hour buckets live 30 days, s */

/* One enqueue request: create the hash in state `queued` (or `scheduled`,
 * with the message kept in Redis, when run_at is in the future or `park`
 * is set) unless the id exists, or, with spec->unique_for_s, unless a live
 * job of the same uniqueness material exists. */
typedef struct wh_enqueue {
    const wh_env_spec *spec; /* in; NULL: skip this one */
    int max_attempts;        /* in */
    const char *body;        /* in: the packed envelope (stored when scheduled) */
    size_t body_len;
    const char *unique;      /* in: uniqueness material, NULL without unique_for_s */
    size_t unique_len;
    bool park;               /* in: schedule even when run_at has come */
    const char *args;        /* in: the args as canonical JSON (kept in the
                              * hash up to 8 KiB; enqueue.lua), NULL: none */
    size_t args_len;
    bool created;            /* out: true when this request created the job */
    char state[16];          /* out: state found or created; "" until read */
    char id[WH_ID_MAX + 1];  /* out: the job that stands (another id when
                              * uniqueness found a live equal job) */
} wh_enqueue;

/* One request, one round trip. */
wh_code wh_status_enqueue(wh_redis *r, const char *prefix, wh_enqueue *req, wh_err *err);

/* enqueue for n requests, 256 to a script call (enqueue_many.lua, which
 * makes each exactly as enqueue.lua). Fails as a whole on a Redis error;
 * the requests of the batches before it are made (their state is set). */
wh_code wh_status_enqueue_many(wh_redis *r, const char *prefix, wh_enqueue *reqs, size_t n, wh_err *err);

/* A job's args as canonical JSON: compact, object keys sorted, as every
 * client writes them (schemas/README.md), `{}` without args. Returns a
 * malloc'd string (length in *len) or NULL when out of memory or the args
 * do not convert. */
char *wh_status_args_json(const wh_env_spec *s, size_t *len);

/* The uniqueness material of a job: type, target and its args as canonical
 * JSON (keys sorted), NUL-separated, so equal jobs from any client compare
 * equal. Returns a malloc'd string (length in *len) or NULL. */
char *wh_status_unique_material(const wh_env_spec *s, size_t *len);

/* Remove a hash created by enqueue whose publish failed (only if untouched). */
wh_code wh_status_unenqueue(wh_redis *r, const char *prefix, const char *id, wh_err *err);

typedef enum wh_start_kind {
    WH_START_RUN,    /* run it: attempt and max_attempts are set */
    WH_START_SKIP,   /* already terminal (or running under a live lease):
                      * state (and error) are set */
    WH_START_DEAD,   /* delivered more than max_redeliveries times */
    WH_START_PARKED, /* held in `scheduled` until run_at */
    WH_START_LOCKED, /* its lock is held by job `error` (the holder's id) */
    WH_START_BUSY    /* running on worker `error`, which is alive: wait */
} wh_start_kind;

typedef struct wh_start {
    wh_start_kind kind;
    int attempt;
    int max_attempts;
    wh_state state;          /* the job's state now (for SKIP: the one found) */
    char error[WH_ID_MAX + 1];
} wh_start;

/* How a worker starts a delivery. */
typedef struct wh_start_opts {
    int max_attempts;
    const char *worker;
    int max_redeliveries;
    bool park;               /* run_at is in the future: park, do not run */
    const char *lock;        /* full lock name (without prefix), or NULL */
    int64_t lock_ms;         /* lock expiry; renewed while the job runs */
    const char *body;        /* the message, kept in Redis when parking or
                              * acking early; NULL otherwise */
    size_t body_len;
    int64_t lease_until;     /* ms; with body when not parking */
    int64_t now_ms;          /* the start's clock (ms); 0: read it now. Keep
                              * it across the retries of one start, so that
                              * start.lua knows a start it already ran. */
    int64_t ttl_s;           /* s: the expiry of a job this start ends (one
                              * cancelled while its worker died); 0: none */
    int64_t run_ms;          /* the longest a run of this job may last (its
                              * timeout and a lease): a copy that finds it
                              * running on a live worker waits for that run
                              * only this long after it started; 0: no bound */
} wh_start_opts;

/* The outcome of one attempt. */
typedef struct wh_finish {
    const char *id;
    const char *type;          /* as received; may be "" */
    wh_state state;            /* succeeded, failed, dead, retrying or cancelled */
    const char *result;        /* JSON text or NULL */
    const char *error;         /* code name or NULL */
    const char *error_message; /* or NULL */
    int64_t created_at;        /* for a hash first created here; 0 unknown */
    int64_t ttl_s;             /* expiry of a terminal job */
    int64_t lease_until;       /* retrying, message in Redis: reaper's deadline */
    bool count;                /* count the outcome in the stats rollup (a known type) */
} wh_finish;

/* The worker's state moves, made in batches: many jobs' moves in one script
 * call (moves.lua, which runs start.lua and finish.lua for each, checked
 * as if alone). A wh_move is one job thread's part of a batch: a finish, a
 * start, or a finish and then the next start (one round trip per job for a
 * busy thread); each thread keeps one and refills it for every write.
 *
 * A start marks the job running for o->worker (or parks it), creating the
 * hash if a client published straight to RabbitMQ. A finish records an
 * outcome and, with f->count, counts it in the type's minute and hour stats
 * buckets in the same step (exactly once per outcome); it is skipped when
 * the job was terminal already. */
typedef struct wh_move wh_move;

/* NULL when out of memory. wh_move_free(NULL) is a no-op. */
wh_move *wh_move_new(void);
void wh_move_free(wh_move *m);

/* Fill `m` with the finish `f` (NULL: none) and the start of `env` with `o`
 * (env NULL: none). The strings are copied or pointed at: those of `f`,
 * `env` and `o` must live until the batch is committed. */
void wh_move_set(wh_move *m, const char *prefix, const wh_finish *f, const wh_env *env, const wh_start_opts *o);

/* Make the n moves in one EVALSHA, in order, then wh_redis_wait(r). A move
 * that Redis refuses (a key of the wrong type) fails alone; a failed call
 * (lost connection, a WAIT short of replicas) fails every move with its
 * code, and returns it. Either way each move then holds its outcome. */
wh_code wh_moves_commit(wh_redis *r, wh_move *const *moves, int n, wh_err *err);

/* The outcome of a committed move: the finish's code and *skipped (or, for
 * a move with no finish, the start's code); *started when the start was
 * made, with its reply in *st. A start that was not made (its move failed)
 * is made again later, which is safe: a start whose reply was lost is
 * recognized by its worker and clock (wh_start_opts.now_ms). */
wh_code wh_move_result(const wh_move *m, bool *skipped, wh_start *st, bool *started, wh_err *err);

/* Load the worker's and the producer's scripts into the server's cache,
 * for callers that pipeline them (the benchmarks). */
wh_code wh_status_load(wh_redis *r, wh_err *err);

/* Hand a running job of `worker` back to queued (worker shutdown, or a
 * lock wait), with `step` saying why. Its lock is released. A job whose
 * message lives in Redis gets a lease until `lease_until` (ms). */
wh_code wh_status_requeue(wh_redis *r, const char *prefix, const char *id, const char *worker, const char *step,
                          int64_t lease_until, wh_err *err);

/* Make a dead or failed job queued again with fresh attempts. WH_E_BUSY when
 * it is running. */
wh_code wh_status_revive(wh_redis *r, const char *prefix, const char *id, wh_err *err);

/* Any hash as a JSON object of strings, except the fields named in the
 * NULL-terminated lists `numeric` (integers) and `json` (embedded JSON; NULL:
 * none), which are converted when they parse. NULL with WH_E_NOT_FOUND when
 * the key does not exist. Caller frees with wh_json_free(). */
wh_json *wh_status_hash_json(wh_redis *r, const char *key, const char *const *numeric, const char *const *json,
                             wh_err *err);

/* The job hash as a JSON object: numeric fields (attempt, progress, *_at,
 * ...) as numbers, `result` and `args` as embedded JSON. NULL with WH_E_NOT_FOUND when
 * the job does not exist. Caller frees with wh_json_free(). */
wh_json *wh_status_json(wh_redis *r, const char *prefix, const char *id, wh_err *err);

/* The same from an HGETALL reply of a job hash (read pipelined by the
 * caller); NULL when the reply is empty (the job does not exist). */
wh_json *wh_status_job_reply_json(const wh_redis_reply *rep);

/* Read state (16 bytes), progress and step (cap bytes) cheaply. WH_E_NOT_FOUND
 * when the job does not exist. `step` may be NULL. */
wh_code wh_status_state(wh_redis *r, const char *prefix, const char *id, char *state, int *progress, char *step,
                        size_t cap, wh_err *err);

/* True when `state` (text, as read from a job hash) names a terminal
 * state: succeeded, failed, dead or cancelled (wh_state_terminal). */
bool wh_status_terminal(const char *state);

#define WH_STATS_HIST 7 /* run-time histogram buckets: h_1ms .. h_60s, h_inf */

/* Counts of one job type in one minute, as a worker aggregates them. */
typedef struct wh_stats_counts {
    long long ok, failed, retried, dead, cancelled; /* attempts ended so (wh_status_finish counts these) */
    long long dur_us_sum, dur_us_max;    /* handler run time, us */
    long long hist[WH_STATS_HIST];       /* run times per histogram bucket */
} wh_stats_counts;

/* Histogram bucket of a run time (index into hist), and its field name. */
int wh_status_hist_index(int64_t run_us);
const char *wh_status_hist_name(int i);

/* Add counts to the minute bucket starting at `minute_s` (unix s) and its
 * hour bucket, and register the type. One script call. */
wh_code wh_status_stats_add(wh_redis *r, const char *prefix, const char *type, int64_t minute_s,
                            const wh_stats_counts *c, wh_err *err);

#endif
