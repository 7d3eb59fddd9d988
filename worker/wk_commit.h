/* wk_commit: group commit of the job threads' status writes.
 *
 * Each job thread hands its state moves (a finish, the next start, or
 * both: a wh_move) to the worker's one wk_commit and waits until they are
 * in Redis. The moves of every thread that waits at the same time go out
 * together, as one EVALSHA of moves.lua over one connection with one WAIT,
 * and each is checked there exactly as alone. There is no thread and no
 * timer: a thread that arrives while no batch is out sends the batch
 * itself, with every move waiting at that moment, its own included; moves
 * that arrive meanwhile wait and go out as the next batch as soon as that
 * one is back. A lone move therefore goes out at once, and under load the
 * batches grow by themselves, up to every move of every job thread.
 * Private to the worker. */
#ifndef WK_COMMIT_H
#define WK_COMMIT_H

#include <pthread.h>
#include <stdbool.h>

#include "wh_cfg.h"
#include "wh_status.h"

typedef struct wk_commit wk_commit;

#define WK_COMMIT_MAX 256 /* moves per script call; more wait for the next one */

/* A job thread's place in the line; one per thread, reused for every
 * move. Fields are the commit's. */
typedef struct wk_commit_waiter {
    pthread_cond_t cv;
    wh_move *const *moves;
    int n;
    bool done;
    wh_code rc;
    wh_err *err;
    struct wk_commit_waiter *next;
} wk_commit_waiter;

/* The commit of one worker, with its own Redis connection (connected on
 * first use). NULL with *err on ENOMEM or a bad Redis URL. */
wk_commit *wk_commit_new(const wh_cfg *cfg, wh_err *err);
void wk_commit_free(wk_commit *c); /* NULL is a no-op; no move may wait */

void wk_commit_waiter_init(wk_commit_waiter *w);
void wk_commit_waiter_destroy(wk_commit_waiter *w);

/* Commit the n moves (filled by wh_move_set; n at most WK_COMMIT_MAX),
 * batched with the moves of the threads that commit at the same time; blocks
 * until their batch is back. Returns the batch's code (WH_OK, or why the
 * whole call failed: every move of the batch then failed with it); each
 * move's own outcome is read with wh_move_result. */
wh_code wk_commit_moves(wk_commit *c, wk_commit_waiter *w, wh_move *const *moves, int n, wh_err *err);

/* True while the last batch left the connection usable (for retry
 * decisions: a refused write is not retried forever). */
bool wk_commit_connected(const wk_commit *c);

/* Batches sent and moves made, for the tests and the benchmarks. */
void wk_commit_counts(const wk_commit *c, long long *batches, long long *moves);

#endif
