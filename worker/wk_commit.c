/* wk_commit: group commit of the job threads' status writes. See
 * wk_commit.h. */
#include "wk_commit.h"

#include <stdatomic.h>
#include <stdlib.h>


struct wk_commit {
    pthread_mutex_t mu;          /* guards the line and `leading` */
    wk_commit_waiter *head, *tail; /* moves waiting to go out */
    bool leading;                /* a batch is out */
    wh_redis *redis;             /* used by the thread that leads, only */
    atomic_bool connected;
    atomic_llong batches, moves;
};

wk_commit *wk_commit_new(const wh_cfg *cfg, wh_err *err)
{
    wk_commit *c = calloc(1, sizeof(*c));
    if(!c) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    /* A connection that fails now is retried on first use. */
    c->redis = wh_redis_new(cfg->redis_url, 5000, err);
    if(!c->redis) {
        free(c);
        return NULL;
    }
    /* Status writes then outlive a Redis failover before the ack. */
    wh_redis_set_wait(c->redis, cfg->redis_wait_replicas, cfg->redis_wait_ms);
    atomic_store(&c->connected, true);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void wk_commit_free(wk_commit *c)
{
    if(!c)
        return;
    wh_redis_free(c->redis);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void wk_commit_waiter_init(wk_commit_waiter *w)
{
    pthread_cond_init(&w->cv, NULL);
    w->next = NULL;
}

void wk_commit_waiter_destroy(wk_commit_waiter *w)
{
    pthread_cond_destroy(&w->cv);
}

/* Send the moves waiting now as one batch, as the leader: called and
 * returning with the lock held, which it drops while the batch is out.
 * `self` is the leader's own waiter (in this batch or, past WK_COMMIT_MAX, in
 * a later one). */
static void lead(wk_commit *c, wk_commit_waiter *self)
{
    wh_move *moves[WK_COMMIT_MAX];
    wk_commit_waiter *batch = c->head, *last = NULL;
    int n = 0;
    /* Whole waiters only: a thread's moves go out together. */
    for(wk_commit_waiter *w = batch; w && n + w->n <= WK_COMMIT_MAX; w = w->next) {
        for(int i = 0; i < w->n; i++)
            moves[n++] = w->moves[i];
        last = w;
    }
    if(!last)
        return; /* cannot be: the leader's own moves wait in the line */
    c->head = last->next;
    if(!c->head)
        c->tail = NULL;
    last->next = NULL;
    c->leading = true;
    pthread_mutex_unlock(&c->mu);

    wh_err err;
    wh_code rc = wh_moves_commit(c->redis, moves, n, &err);
    atomic_store(&c->connected, wh_redis_connected(c->redis));
    atomic_fetch_add(&c->batches, 1);
    atomic_fetch_add(&c->moves, n);

    pthread_mutex_lock(&c->mu);
    for(wk_commit_waiter *w = batch, *next; w; w = next) {
        next = w->next; /* the owner may reuse w once done */
        w->rc = rc;
        if(rc)
            *w->err = err;
        w->done = true;
        if(w != self)
            pthread_cond_signal(&w->cv);
    }
    c->leading = false;
    if(c->head) /* the first of the next batch leads it */
        pthread_cond_signal(&c->head->cv);
}

wh_code wk_commit_moves(wk_commit *c, wk_commit_waiter *w, wh_move *const *moves, int n, wh_err *err)
{
    w->moves = moves;
    w->n = n;
    w->err = err;
    w->done = false;
    w->next = NULL;
    pthread_mutex_lock(&c->mu);
    if(c->tail)
        c->tail->next = w;
    else
        c->head = w;
    c->tail = w;
    while(!w->done) {
        if(!c->leading)
            lead(c, w);
        else
            pthread_cond_wait(&w->cv, &c->mu);
    }
    wh_code rc = w->rc;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

bool wk_commit_connected(const wk_commit *c)
{
    return atomic_load(&c->connected);
}

void wk_commit_counts(const wk_commit *c, long long *batches, long long *moves)
{
    *batches = atomic_load(&c->batches);
    *moves = atomic_load(&c->moves);
}
