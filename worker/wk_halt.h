/* wk_halt: the pool's stop signals, as the code below it sees them.
 *
 * The pool owns one and hands it down to each job thread's pipe (wk_exec)
 * and through it to every job (wk_job), so neither reaches back up into the
 * pool. Three flags, each raised once and never lowered:
 *   interrupted  running handlers must stop (their jobs are requeued);
 *   abandoned    status writes stop retrying (hard shutdown); implies
 *                interrupted;
 *   quit         the pool is going away.
 * A nap (wk_halt_sleep) ends early when any flag is raised, or a flag of
 * the sleeper's own (a job's cancel) is and wk_halt_wake is called. All
 * calls are thread-safe. */
#ifndef WK_HALT_H
#define WK_HALT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wk_halt wk_halt;

/* NULL on ENOMEM. wk_halt_free(NULL) is a no-op; free after every sleeper
 * is gone. */
wk_halt *wk_halt_new(void);
void wk_halt_free(wk_halt *h);

/* Raise a flag and wake every sleeper. */
void wk_halt_interrupt(wk_halt *h);
void wk_halt_abandon(wk_halt *h);
void wk_halt_quit(wk_halt *h);

bool wk_halt_interrupted(const wk_halt *h);
bool wk_halt_abandoned(const wk_halt *h);

/* Sleep `ms`, waking early when interrupted, quit or `flag` (may be NULL)
 * is true. True if woken so. Measured on the monotonic clock. */
bool wk_halt_sleep(wk_halt *h, int64_t ms, const atomic_bool *flag);

/* Wake every sleeper to look at its flag again (after setting one). */
void wk_halt_wake(wk_halt *h);

#endif
