/* wk_job: what a handler sees of the job it runs, and the binding tables.
 *
 * The job catalogue (common/catalog/catalog.h) describes every type: its
 * args table, check, defaults and lock key, shared with the producer. A
 * family binds each of its catalogue types to a run function here: one
 * table of wk_bind rows in worker/families/<name>/handlers.c. The pipe
 * (decode, admit against the catalogue, status, retry, dead-letter, ack) is
 * the same for every family, so adding a type means a catalogue row and a
 * binding, never touching the pipe.
 *
 * Handlers run on a worker thread. They report through the wk_job_* calls:
 * log lines go to the job's Redis stream, progress and step to its hash, the
 * result is JSON. They return WK_RUN_OK, or the value of wk_job_fail_err()
 * (an error a call returned) or wk_job_fail() (one of the handler's own), or
 * WK_RUN_INTERRUPTED when wk_job_interrupted() said to stop. The job itself
 * is the pipe's (wk_job_int.h): a handler borrows it for its run. */
#ifndef WK_JOB_H
#define WK_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "wh_args.h"
#include "wh_env.h"
#include "wh_inv.h"
#include "wh_redis.h"
#include "wh_json.h"

#define WK_LOG_LINE_MAX 8192   /* bytes of one log line kept; longer is cut */
#define WK_RESULT_MAX (1u << 20) /* bytes of result JSON accepted */

typedef struct wk_job wk_job;

typedef enum wk_run {
    WK_RUN_OK = 0,
    WK_RUN_FAIL = 1,        /* wk_job_fail() was called */
    WK_RUN_INTERRUPTED = 2  /* stopped for worker shutdown; the job is requeued */
} wk_run;

typedef enum wk_stream { WK_OUT, WK_ERR, WK_SYS } wk_stream;

/* A type's run function. */
typedef wk_run wk_run_fn(wk_job *job);

/* One row of a family's binding table. */
typedef struct wk_bind {
    const char *type;             /* a catalogue type, e.g. "system.sleep" */
    wk_run_fn *run;
    /* Optional admission check of the worker, run instead of the catalogue
     * row's: the same rules plus what needs a library the producer does not
     * link (provision.container reads the SSH key with libssh). NULL: the
     * catalogue's check. */
    wh_job_check *check;
} wk_bind;

typedef struct wk_family {
    const char *name;             /* "system" */
    const wk_bind *binds;
    int nbinds;
} wk_family;

/* The job's decoded envelope and its validated args. */
const wh_env *wk_job_env(const wk_job *job);
const wh_mp_obj *wk_job_args(const wk_job *job);

/* Append a line to the job's log stream (capped at WK_LOG_LINE_MAX; a
 * trailing newline is dropped). Lines are pipelined to Redis in batches. */
void wk_job_log(wk_job *job, wk_stream s, const char *line, size_t len);
void wk_job_logf(wk_job *job, wk_stream s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Set progress (0..100, clamped) and a short step text in the job hash. */
void wk_job_progress(wk_job *job, int pct, const char *step);

/* Set the result, stealing `v` (replacing any earlier result). */
void wk_job_set_result(wk_job *job, wh_json *v);

/* Keep this job's record (hash, result, log) for at most `ttl_s` seconds
 * once it ends, instead of jobs.ttl_s (a shorter value only): for results
 * that carry a secret. 0 restores the default. */
void wk_job_set_ttl(wk_job *job, int64_t ttl_s);

/* Record a failure and return WK_RUN_FAIL. `code` is the stable code;
 * `custom` overrides its name (NULL to use the code's). A transient failure
 * is retried while attempts remain; a permanent one ends the job `failed`.
 * The message keeps WH_ERR_MSG_MAX bytes (cut between characters); a longer
 * one is also written whole as a `sys` line of the job's log. */
wk_run wk_job_fail(wk_job *job, wh_code code, const char *custom, bool transient, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Fail the job with an error a call returned: `rc` and the `err` it filled
 * (NULL: the code's name is the message). The one rule every family uses:
 *  - WH_E_INTERRUPTED, or any failure once wk_job_interrupted() is true
 *    (the stop caused it), returns WK_RUN_INTERRUPTED, and the pipe records
 *    the stop (requeued, cancelled or timeout);
 *  - otherwise the failure is recorded as wk_job_fail() would, named by
 *    err->custom when set, transient exactly when wh_code_transient(rc),
 *    and WK_RUN_FAIL is returned. */
wk_run wk_job_fail_err(wk_job *job, wh_code rc, const wh_err *err);

/* True once the job must stop: worker shutdown past grace, a cancel request
 * or its timeout. Cheap enough to call in every loop iteration; long I/O
 * must poll it (at least every ~100 ms) and return WK_RUN_INTERRUPTED. The
 * pipe then records the right outcome: requeued, cancelled or failed with
 * `timeout`. */
bool wk_job_interrupted(const wk_job *job);

/* Why wk_job_interrupted() says stop: shutdown comes first, then a cancel
 * request, then the timeout. For handlers that clean up differently. */
typedef enum wk_stop { WK_STOP_NONE, WK_STOP_SHUTDOWN, WK_STOP_CANCEL, WK_STOP_TIMEOUT } wk_stop;
wk_stop wk_job_stop_reason(const wk_job *job);

/* Sleep `ms`, waking early on interruption. Returns true if interrupted. */
bool wk_job_sleep(wk_job *job, int64_t ms);

/* Milliseconds left before the job's timeout (INT64_MAX when it has none),
 * for bounding I/O waits. */
int64_t wk_job_remaining_ms(const wk_job *job);

/* The worker's configuration, and the inventory entry named by the job's
 * target (NULL when the job has no target or it is not in the inventory;
 * types with needs_host never see NULL). */
const wh_cfg *wk_job_cfg(const wk_job *job);
const wh_inv_host *wk_job_host(const wk_job *job);

/* This job thread's own Redis connection and the key prefix, for families
 * that keep data of their own (container logs, rollups, port maps). Use it
 * only from the handler's thread. Log lines are pipelined on the same
 * connection, so a handler that has logged calls wk_job_flush() before its
 * own commands. */
wh_redis *wk_job_redis(wk_job *job);
const char *wk_job_prefix(const wk_job *job);

/* Send pipelined log lines now (before using wk_job_redis directly). */
void wk_job_flush(wk_job *job);

/* The binding of catalogue type `type` in the family tables; NULL when
 * no family binds it. */
const wk_bind *wk_bind_find(const char *type);

/* Check the bindings against the catalogue, once at worker start: every
 * catalogue type is bound exactly once, and every binding names a
 * catalogue type of its own family. WH_E_INTERNAL naming the first
 * offender otherwise. */
wh_code wk_families_check(wh_err *err);

/* Admission of a decoded envelope, exactly as the worker does it: find the
 * catalogue row and its binding (WH_E_UNKNOWN_TYPE), validate args against
 * the row's table and check, or the binding's check (WH_E_BAD_ARGS). On
 * WH_OK *type and *run are set and *prepared (if not NULL) receives the
 * check's prepared result or NULL; the caller frees it. */
wh_code wk_type_admit(const char *type_name, const wh_mp_obj *args, const wh_job_type **type, wk_run_fn **run,
                      wh_json **prepared, wh_err *err);

/* The binding tables (wk_families.c lists them). */
extern const wk_family wk_family_system;
extern const wk_family wk_family_registry;
extern const wk_family wk_family_runtime;
extern const wk_family wk_family_provision;

#endif
