/* wk_pool: N job threads between the AMQP loop and the handlers.
 *
 * The loop thread owns the AMQP connection and never touches Redis; job
 * threads own one Redis connection each (inside their wk_exec) and never
 * touch AMQP. Deliveries go to the threads through a FIFO; finished
 * deliveries come back on a done list, and an eventfd wakes the loop's
 * poll(). A delivery carries the verdict (ack, requeue, retry or
 * dead-letter) the loop must carry out.
 *
 * Each job thread (struct wk_thread, in wk_pool.c) owns its wk_exec and
 * runs this loop:
 *
 *   cur = wait for a queued delivery
 *   while cur:
 *       wk_exec_run(cur)                       decode, start, run, decide
 *       next = a queued delivery, if cur's outcome waits to be written
 *       wk_exec_finish_and_start(cur, next)    one round trip for both
 *       hand cur to the done list
 *       cur = next
 *
 * so a busy thread pays one Redis round trip per job. The pool calls down
 * into wk_exec and gives it what it needs (the stop signals, wk_halt; an
 * early-ack hook); nothing below calls back into the pool. */
#ifndef WK_POOL_H
#define WK_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_cfg.h"
#include "wh_env.h"
#include "wk_delivery.h"
#include "wk_wire.h"

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

/* Take the deliveries no thread has started yet (for shutdown). */
wk_delivery *wk_pool_take_queued(wk_pool *p);

/* The broker connection as the threads see it: the loop keeps it told. */
wk_wire *wk_pool_wire(wk_pool *p);

/* File descriptor that becomes readable when deliveries are done. */
int wk_pool_fd(const wk_pool *p);

/* Deliveries submitted and not yet taken back. */
int wk_pool_inflight(const wk_pool *p);

/* Copy the ids of the running jobs into ids (max of them); returns how many. */
int wk_pool_running_ids(wk_pool *p, char (*ids)[WH_ID_MAX + 1], int max);

/* Set the cancel flag of running job `id` (if it runs here) and wake it. */
void wk_pool_cancel(wk_pool *p, const char *id);

/* Ask running handlers to stop (they requeue their jobs); no delivery is
 * taken ahead any more. */
void wk_pool_interrupt(wk_pool *p);

/* Tell threads to stop retrying Redis writes (hard shutdown); interrupts
 * too. */
void wk_pool_abandon(wk_pool *p);

/* Counters for the worker registry. */
typedef struct wk_counts {
    int running;
    long long done;
    long long failed;
    long long ran, ran_us, ran_bytes; /* handlers run, their run time (µs), their bodies */
} wk_counts;
void wk_pool_counts(const wk_pool *p, wk_counts *out);

#endif
