/* wk_exec: runs one delivery on a job thread: decode, validate, mark
 * running, run the handler, record the outcome, and leave the verdict on the
 * delivery for the AMQP loop. Private to the worker. */
#ifndef WK_EXEC_H
#define WK_EXEC_H

#include <pthread.h>
#include <stdatomic.h>

#include "wh_keys.h"
#include "wh_redis.h"
#include "wk_job.h"
#include "wk_pool.h"
#include "wk_stats.h"

/* Per-thread state. The Redis connection is used by this thread only. */
struct wk_thread {
    pthread_t tid;
    wk_pool *pool;
    const wh_cfg *cfg;
    const char *worker_id;
    wk_stats *stats;
    wh_redis *redis;
    struct wk_ahead *ahead; /* the next delivery, taken while finishing (wk_exec.c) */
    /* The job running now, for the beat thread (guarded by the pool lock). */
    char cur_id[WH_ID_MAX + 1];
    atomic_bool *cur_cancel;
};

/* The job context behind the wk_job_* calls of wk_job.h. */
struct wk_job {
    wk_thread *t;
    wk_delivery *d;
    wh_env env;
    const wh_job_type *type; /* the catalogue row */
    wk_run_fn *run;         /* its family's binding */
    wh_json *result;        /* owned; NULL for none */
    wh_err err;             /* set by wk_job_fail */
    bool transient;
    char key[WH_KEY_MAX];   /* job hash */
    char logkey[WH_KEY_MAX];
    int log_pending;        /* XADDs queued on the pipeline */
    bool logged;            /* the hash's `log` flag is set (finish expires the stream) */
    bool log_failed;        /* a log write failed; warned once */
    const wh_inv_host *host;/* the target's inventory entry, or NULL */
    int timeout_s;          /* effective run-time limit; 0: none */
    int64_t started_us;     /* monotonic start of the handler */
    int64_t deadline_us;    /* monotonic timeout; 0: none */
    atomic_bool cancel;     /* set (by the beat thread) when cancel was asked */
    int64_t ttl_s;          /* wk_job_set_ttl: a shorter record expiry; 0 none */
};

/* Why wk_job_interrupted() said stop. */
typedef enum wk_stop { WK_STOP_NONE, WK_STOP_SHUTDOWN, WK_STOP_CANCEL, WK_STOP_TIMEOUT } wk_stop;
wk_stop wk_job_stop_reason(const wk_job *job);

/* Execute `d` on thread `t`; sets d->verdict and friends. Never fails: every
 * outcome, including Redis being down until shutdown, is a verdict. */
void wk_exec(wk_thread *t, wk_delivery *d);

/* The delivery this thread took ahead of its turn, or NULL: the thread
 * runs it next, with wk_exec, before it takes another from the queue. */
typedef struct wk_ahead wk_ahead;
wk_delivery *wk_exec_ahead(wk_thread *t);

/* Per-thread state of wk_exec: make before the thread's first job; free
 * after its last (an ahead delivery not run yet is freed unexecuted: the
 * broker requeues its message). */
bool wk_exec_thread_init(wk_thread *t);
void wk_exec_thread_free(wk_thread *t);

/* Send queued log lines to Redis now (before any other command). */
void wk_job_flush_log(wk_job *job);

#endif
