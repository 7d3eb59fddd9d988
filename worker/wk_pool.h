/* wk_pool: N job threads between the AMQP loop and the handlers.
 *
 * The loop thread owns the AMQP connection and never touches Redis; job
 * threads own one Redis connection each and never touch AMQP. Deliveries go
 * to the threads through a FIFO; finished deliveries come back on a done
 * list, and an eventfd wakes the loop's poll(). A delivery carries the
 * verdict (ack, requeue, retry or dead-letter) the loop must carry out. */
#ifndef WK_POOL_H
#define WK_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wh_cfg.h"
#include "wh_env.h"

typedef enum wk_verdict {
    WK_ACK,     /* done (or nothing to do): ack */
    WK_REQUEUE, /* not run or interrupted: nack with requeue */
    WK_RETRY,   /* republish to wharf.retry with retry_ms, then ack */
    WK_DEAD     /* copy to wharf.dead with the reason, then ack */
} wk_verdict;

typedef struct wk_delivery {
    struct wk_delivery *next;
    /* Set by the loop. */
    uint64_t tag;              /* AMQP delivery tag */
    uint32_t gen;              /* connection generation it arrived on */
    char *body;                /* owned; NULL when too_large */
    size_t len;
    bool too_large;
    uint64_t body_size;        /* declared size, bytes */
    char message_id[128];      /* AMQP message_id property */
    /* Set by the job thread. */
    wk_verdict verdict;
    int retry_ms;              /* WK_RETRY: delay tier */
    int family;                /* routing key for a retry; -1 unknown */
    int attempts;              /* attempts made so far */
    bool failed;               /* ended failed or dead (for counters) */
    char id[WH_ID_MAX + 1];    /* "" when the id did not parse */
    char type[WH_TYPE_MAX + 1];
    wh_err err;                /* WK_DEAD: reason code and message */
    char error_code[72];       /* WK_DEAD: the job's own last error code */
    int priority;              /* envelope priority, kept on copies */
    bool early_acked;          /* acked at start (the job lives under a Redis
                                * lease): verdicts publish copies, never ack */
} wk_delivery;

typedef struct wk_pool wk_pool;

typedef struct wk_stats wk_stats;

/* Start `n` threads that execute deliveries for worker `worker_id`, adding
 * outcomes to `stats`. All three must outlive the pool. */
wk_pool *wk_pool_new(int n, const wh_cfg *cfg, const char *worker_id, wk_stats *stats, wh_err *err);

/* Ask threads to finish, join them and free everything. Deliveries still
 * queued are freed unexecuted (their messages are requeued by the broker).
 * NULL is a no-op. */
void wk_pool_free(wk_pool *p);

/* Queue a list of `n` deliveries (linked by next), in order, with one lock
 * and one wake-up; the pool owns each until it comes back from take_done. */
void wk_pool_submit(wk_pool *p, wk_delivery *head, int n);

/* Take every finished delivery (FIFO order) and reset the wake fd. */
wk_delivery *wk_pool_take_done(wk_pool *p);

/* For job threads: the oldest queued delivery, or NULL when none waits
 * (or the pool is stopping). Never blocks. */
wk_delivery *wk_pool_try_take(wk_pool *p);

/* Take the deliveries no thread has started yet (for shutdown). */
wk_delivery *wk_pool_take_queued(wk_pool *p);

/* File descriptor that becomes readable when deliveries are done. */
int wk_pool_fd(const wk_pool *p);

/* Deliveries submitted and not yet taken back. */
int wk_pool_inflight(const wk_pool *p);

/* For job threads: ack `d` now while its job goes on running (the job is
 * kept under a Redis lease instead). Marks d->early_acked. */
void wk_pool_ack_early(wk_pool *p, wk_delivery *d);

typedef struct wk_thread wk_thread;

/* For job threads: the job `id` runs on thread `t`; `cancel` is its flag.
 * wk_pool_job_end clears it. */
void wk_pool_job_begin(wk_thread *t, const char *id, atomic_bool *cancel);
void wk_pool_job_end(wk_thread *t);

/* Copy the ids of the running jobs into ids (max of them); returns how many. */
int wk_pool_running_ids(wk_pool *p, char (*ids)[WH_ID_MAX + 1], int max);

/* Set the cancel flag of running job `id` (if it runs here) and wake it. */
void wk_pool_cancel(wk_pool *p, const char *id);

/* Ask running handlers to stop (they requeue their jobs). */
void wk_pool_interrupt(wk_pool *p);

/* Tell threads to stop retrying Redis writes (hard shutdown). */
void wk_pool_abandon(wk_pool *p);

/* For job threads: has wk_pool_interrupt / wk_pool_abandon been called? */
bool wk_pool_interrupted(const wk_pool *p);
bool wk_pool_abandoned(const wk_pool *p);

/* For job threads: sleep `ms`, waking early on interrupt or when `flag`
 * (may be NULL) becomes true; wk_pool_wake() wakes sleepers to look at their
 * flags. True if woken by an interrupt or the flag. */
bool wk_pool_sleep(wk_pool *p, int64_t ms, const atomic_bool *flag);

/* Wake every sleeping job thread (after setting a job's cancel flag). */
void wk_pool_wake(wk_pool *p);

/* Counters for the worker registry. */
typedef struct wk_counts {
    int running;
    long long done;
    long long failed;
} wk_counts;
void wk_pool_counts(const wk_pool *p, wk_counts *out);

/* Free one delivery and its body. NULL is a no-op. */
void wk_delivery_free(wk_delivery *d);

#endif
