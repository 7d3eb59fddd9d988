/* wk_job_int: the job behind the wk_job_* calls. Private to wk_job.c and
 * the pipe that runs jobs (wk_exec.c); handlers see only wk_job.h.
 *
 * The pipe owns the struct (one per delivery it holds), fills it with
 * wk_job_init, sets the envelope, type and limits as it admits and starts
 * the job, and reads what the handler left (result, err) to record the
 * outcome. Everything a job needs from the thread running it is given down
 * here, at init: it never reaches for the pool. */
#ifndef WK_JOB_INT_H
#define WK_JOB_INT_H

#include <stdatomic.h>

#include "wh_keys.h"
#include "wk_halt.h"
#include "wk_job.h"

struct wk_job {
    /* Given by wk_job_init: what the job runs with (not owned). */
    const wh_cfg *cfg;
    wh_redis *redis;        /* the job thread's own connection */
    wk_halt *halt;          /* the pool's stop signals */
    /* Set by the pipe as it admits and starts the job. */
    wh_env env;             /* owned: released by wk_job_release */
    const wh_job_type *type; /* the catalogue row */
    wk_run_fn *run;          /* its family's binding */
    char key[WH_KEY_MAX];   /* job hash */
    char logkey[WH_KEY_MAX];
    const wh_inv_host *host;/* the target's inventory entry, or NULL */
    int timeout_s;          /* effective run-time limit; 0: none */
    int64_t started_us;     /* monotonic start of the handler */
    int64_t deadline_us;    /* monotonic timeout; 0: none */
    atomic_bool cancel;     /* set (by the beat thread) when cancel was asked */
    /* Set by the handler through the wk_job_* calls. */
    wh_json *result;        /* owned; NULL for none */
    wh_err err;             /* set by wk_job_fail */
    bool transient;
    int64_t ttl_s;          /* wk_job_set_ttl: a shorter record expiry; 0 none */
    int log_pending;        /* XADDs queued on the pipeline */
    bool logged;            /* the hash's `log` flag is set (finish expires the stream) */
    bool log_failed;        /* a log write failed; warned once */
};

/* Make `job` empty, to run on a thread with `cfg`, its Redis connection and
 * the pool's stop signals (all must outlive the job). */
void wk_job_init(wk_job *job, const wh_cfg *cfg, wh_redis *redis, wk_halt *halt);

/* Free what the job owns (envelope, result); it may be init'ed again.
 * Safe on a job that was only init'ed. */
void wk_job_release(wk_job *job);

#endif
