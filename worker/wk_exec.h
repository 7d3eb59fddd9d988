/* wk_exec: a job thread's pipe, from a delivery's bytes to its verdict.
 *
 * Each job thread of the pool owns one wk_exec and drives it one run of
 * deliveries at a time: one delivery, or several short ones taken
 * together. For a run:
 *
 *   wk_exec_run(x, d)             for each member in turn: decode and
 *                                 validate, mark the job running (or park
 *                                 it, wait for its lock, skip it), run the
 *                                 handler, and decide the outcome;
 *   wk_exec_ahead(x, d)           meanwhile, the thread may take the next
 *                                 run's deliveries: each is decoded and
 *                                 planned now; the answer says whether one
 *                                 more may join it (it is short and plain);
 *   wk_exec_finish_and_start(x)   write every outcome of the run, with the
 *                                 starts of the next run in the same batch;
 *                                 each member then carries its verdict for
 *                                 the AMQP loop.
 *
 * A thread that took a next run runs its members, in the order taken,
 * before any other delivery. A short job is one whose type ran in well
 * under a millisecond here lately (WK_SHORT_US); only such jobs, without a
 * lock, a run_at or an early ack, are started ahead of their turn, so a
 * job shows `running` at most a few milliseconds before its handler runs.
 * wk_exec calls down only (wk_job, the handlers, the status scripts); what
 * it needs from the thread comes in wk_exec_opts, the early ack included,
 * as a function the thread gives. Private to the worker. */
#ifndef WK_EXEC_H
#define WK_EXEC_H

#include <stdbool.h>

#include "wh_cfg.h"
#include "wk_commit.h"
#include "wk_delivery.h"
#include "wk_halt.h"
#include "wk_stats.h"
#include "wk_wire.h"

#define WK_RUN_MAX 8   /* deliveries in one run */
#define WK_SHORT_US 500 /* a type whose recent runs average less is short */

typedef struct wk_exec wk_exec;

/* Hand the ack of `d` to the AMQP loop now, while its job goes on running
 * (from then on the job lives under a Redis lease); must set
 * d->early_acked. Called on the job thread. */
typedef void (*wk_exec_ack_fn)(void *ud, wk_delivery *d);

/* What a job thread gives its pipe. Pointers are not owned and must outlive
 * the wk_exec. */
typedef struct wk_exec_opts {
    const wh_cfg *cfg;
    const char *worker_id;
    wk_stats *stats;          /* outcomes of known types are counted here */
    wk_halt *halt;            /* the pool's stop signals */
    const wk_wire *wire;      /* the pool's view of the broker connection */
    wk_commit *commit;        /* the worker's group commit: start and finish go there */
    wk_exec_ack_fn ack_early; /* for jobs longer than jobs.max_hold_s */
    void *ud;                 /* for ack_early */
} wk_exec_opts;

/* A pipe for one job thread, with its own Redis connection (connected on
 * first use) for everything but the starts and finishes (the job's log,
 * progress, lock renewal, a requeue at shutdown). NULL with *err on ENOMEM or a bad Redis URL. wk_exec_free
 * releases every job it holds (never a delivery: those are the caller's);
 * NULL is a no-op. */
wk_exec *wk_exec_new(const wk_exec_opts *o, wh_err *err);
void wk_exec_free(wk_exec *x);

/* Run `d` up to its outcome: steps 1 to 3 of wk_exec.c. `d` is the next
 * member of the run the last wk_exec_finish_and_start started (in the
 * order taken), or, once that run is done, any delivery (a run of one).
 * The outcome is decided, not written, when wk_exec_outcome_pending() says
 * so; otherwise (parked, waiting for a lock, skipped, requeued, rejected
 * without an id) d's verdict is final already. Never fails: every outcome,
 * including Redis being down until shutdown, ends as a verdict. */
void wk_exec_run(wk_exec *x, wk_delivery *d);

/* True when an outcome of the current run waits to be written: the moment
 * to take the next run, whose starts can then ride with that write. */
bool wk_exec_outcome_pending(const wk_exec *x);

/* Take `d` into the next run (at most WK_RUN_MAX). True when one more may
 * join that run after it: `d` is a short, plain job (see above) and there
 * is room. */
bool wk_exec_ahead(wk_exec *x, wk_delivery *d);

/* Step 4 for the current run (every member has been through wk_exec_run):
 * record its outcomes, and set each member's verdict; a write that cannot
 * be made requeues the delivery instead (or dead-letters it as
 * redis_error when Redis refuses it). The starts of the next run (taken
 * with wk_exec_ahead) ride in the same batch when they can. After this
 * call the pipe holds nothing of the run, and the next run is current. */
void wk_exec_finish_and_start(wk_exec *x);

/* For other threads (the heartbeat): the id of the job whose handler runs
 * now, copied into id (WH_ID_MAX + 1 bytes); false when none runs. */
bool wk_exec_running_id(wk_exec *x, char *id);

/* For other threads: set the cancel flag of the running job if its id is
 * `id`. The caller then wakes sleepers with wk_halt_wake. */
void wk_exec_cancel(wk_exec *x, const char *id);

#endif
