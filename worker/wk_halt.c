/* wk_halt: stop flags and the naps that wake on them. See wk_halt.h. */
#include "wk_halt.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "wh_time.h"

struct wk_halt {
    pthread_mutex_t mu;  /* pairs with nap; flags are raised under it */
    pthread_cond_t nap;  /* broadcast when a flag is raised, or by wk_halt_wake */
    atomic_bool interrupted;
    atomic_bool abandoned;
    atomic_bool quit;
};

wk_halt *wk_halt_new(void)
{
    wk_halt *h = calloc(1, sizeof(*h));
    if(!h)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    /* Naps are measured on the monotonic clock, so a wall-clock jump cannot
     * stretch or cut a sleeping job. */
    wh_cond_init_mono(&h->nap);
    atomic_init(&h->interrupted, false);
    atomic_init(&h->abandoned, false);
    atomic_init(&h->quit, false);
    return h;
}

void wk_halt_free(wk_halt *h)
{
    if(!h)
        return;
    pthread_cond_destroy(&h->nap);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Raise `flag` under the lock, so a sleeper that found it down is waiting
 * already when the broadcast comes: no wake-up is lost. */
static void raise_flag(wk_halt *h, atomic_bool *flag)
{
    pthread_mutex_lock(&h->mu);
    atomic_store(flag, true);
    pthread_cond_broadcast(&h->nap);
    pthread_mutex_unlock(&h->mu);
}

void wk_halt_interrupt(wk_halt *h) { raise_flag(h, &h->interrupted); }
void wk_halt_quit(wk_halt *h) { raise_flag(h, &h->quit); }

void wk_halt_abandon(wk_halt *h)
{
    atomic_store(&h->abandoned, true);
    wk_halt_interrupt(h);
}

bool wk_halt_interrupted(const wk_halt *h) { return atomic_load(&h->interrupted); }
bool wk_halt_abandoned(const wk_halt *h) { return atomic_load(&h->abandoned); }

void wk_halt_wake(wk_halt *h)
{
    pthread_mutex_lock(&h->mu);
    pthread_cond_broadcast(&h->nap);
    pthread_mutex_unlock(&h->mu);
}

static bool woken(const wk_halt *h, const atomic_bool *flag)
{
    return atomic_load(&h->interrupted) || atomic_load(&h->quit) || (flag && atomic_load(flag));
}

bool wk_halt_sleep(wk_halt *h, int64_t ms, const atomic_bool *flag)
{
    struct timespec until = wh_mono_deadline(ms);
    pthread_mutex_lock(&h->mu);
    int rc = 0;
    while(!woken(h, flag) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&h->nap, &h->mu, &until);
    bool w = woken(h, flag);
    pthread_mutex_unlock(&h->mu);
    return w;
}
