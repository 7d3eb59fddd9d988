/* wk_exec_int: what wk_exec.c and wk_exec_outcome.c share; private to
 * them. wk_exec.c holds the deliveries (slots) and runs them; the outcome
 * file decides how an attempt ends and makes the status writes. */
#ifndef WK_EXEC_INT_H
#define WK_EXEC_INT_H

#include <pthread.h>

#include "wh_status.h"
#include "wh_time.h"
#include "wk_exec.h"
#include "wk_job_int.h"

/* start.lua's inputs and output, and what the pipe decided beforehand. */
typedef struct start_ctx {
    wh_start_opts o;
    wh_start st;
    char lock[WH_LOCK_MAX + WH_TARGET_MAX + 2]; /* o.lock points here */
    bool early;   /* ack when it starts: the job lives under a Redis lease */
    bool started; /* made already, with the finish of the delivery before */
    bool sent;    /* sent with a batch, perhaps made: it must be seen through */
} start_ctx;

/* The log line said once an outcome is written. */
typedef enum note { NOTE_NONE, NOTE_SUCCEEDED, NOTE_FAILED, NOTE_STOPPED } note;

/* An outcome wk_exec_run decided and wk_exec_finish_and_start writes:
 * finish.lua's inputs, and what the verdict becomes once they are in
 * Redis. */
typedef struct outcome {
    bool pending;
    bool written;           /* in Redis (a run's write may succeed in part) */
    wh_finish f;
    int64_t run_us;         /* handler run time; -1: it did not run */
    wk_verdict verdict;     /* once written, unless dead_reason is set */
    wh_code dead_reason;    /* WH_OK, or: once written, dead-letter for this */
    const char *dead_msg;   /* the dead copy's message */
    char *result;           /* owned: the JSON text behind f.result */
    wh_err why;             /* bad input: the reason */
    char text[WH_ERR_CUSTOM_MAX + WH_ERR_MSG_MAX + 4]; /* composed messages point here */
    note said;
} outcome;

/* A delivery the pipe holds, with its job. */
typedef struct slot {
    wk_delivery *d;         /* NULL: empty */
    bool admitted;          /* decoded and validated; job and sc planned */
    wk_job job;
    start_ctx sc;
    outcome out;
} slot;

/* How long a job type runs on this thread, to know a short one. */
typedef struct type_speed {
    const void *type;       /* the catalogue row */
    int64_t avg_us;         /* moving average of its run times */
    int64_t last_us;
} type_speed;

#define TYPE_SPEEDS 16

struct wk_exec {
    const wh_cfg *cfg;
    const char *worker_id;
    wk_stats *stats;
    wh_redis *redis;        /* owned: this thread's own connection */
    wk_commit *commit;      /* starts and finishes go out through it */
    wk_commit_waiter waiter;
    wk_halt *halt;
    const wk_wire *wire;
    wk_exec_ack_fn ack_early;
    void *ud;
    /* Two runs of deliveries: the one running (row `run`, members [0, n),
     * the one in the handler at `at`) and the next, taken ahead into the
     * other row (members [0, ahead)). Never moved: the beat thread may
     * point into a slot. */
    slot slots[2][WK_RUN_MAX];
    int run, n, at, ahead;
    slot *cur;              /* the member wk_exec_run ran last */
    wh_move *moves[WK_RUN_MAX]; /* owned: this thread's part of a batch */
    type_speed speeds[TYPE_SPEEDS];
    /* The job whose handler runs now, for the beat thread. */
    pthread_mutex_t mu;     /* guards the two below */
    char running_id[WH_ID_MAX + 1];
    atomic_bool *running_cancel;
};

/* May `d` be started: is the connection it came on still the live one
 * (wk_wire)? A start made for a delivery whose message the broker has
 * handed out again would run the job twice or spend an attempt. */
static inline bool wk_exec__current(const wk_exec *x, const wk_delivery *d)
{
    return !x->wire || wk_wire_current(x->wire, d->gen, wh_mono_ms());
}

/* Step 2: start.lua for `s` (unless it rode with the finish before it).
 * False when the write could not be made; the verdict then says what the
 * loop does (requeue, or dead-letter as redis_error). */
bool wk_exec__start(wk_exec *x, slot *s);

/* The handler of `s` returned `r` after run_us: decide the outcome (a
 * cancel, a timeout, a failure or a success), or hand the job back to the
 * queue at shutdown (that write is made here: it is not a finish). */
void wk_exec__ended(wk_exec *x, slot *s, wk_run r, int64_t run_us);

/* Bad input (`why`): an outcome `failed` to record when the message has an
 * id, then a dead-letter for the code; without an id, dead-letter only.
 * `known_type`: its stats may count it. */
void wk_exec__reject(slot *s, const wh_err *why, bool known_type);

/* start.lua said the job was delivered too often without finishing: an
 * outcome `dead` (redelivery_limit) to record, then a dead-letter. */
void wk_exec__redelivered(slot *s);

/* Step 4: record the pending outcomes of the run's n members, with the
 * starts of the nn slots taken ahead (the next run) in the same batch when
 * they may ride along, and count them in the stats (for a known type).
 * Sets each member's verdict: the decided one once written; requeue or
 * redis_error when the write cannot be made (nothing was acked, nothing is
 * lost). */
void wk_exec__record(wk_exec *x, slot *run, int n, slot *next, int nn);

/* Dead-letter `d`: `reason` says why it is dead, `job_code` is the job's own
 * last error code (the same as the reason for bad input). */
void wk_exec__dead_letter(wk_delivery *d, wh_code reason, const char *job_code, const char *msg);

#endif
