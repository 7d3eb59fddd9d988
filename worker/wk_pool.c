/* wk_pool: job threads and the queues to and from the AMQP loop.
 * See wk_pool.h. */
#include "wk_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "wh_log.h"
#include "wh_time.h"
#include "wk_exec.h"

struct wk_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;      /* signalled when queued gains an item or on quit */
    pthread_cond_t nap;       /* broadcast on interrupt, wakes wk_pool_sleep */
    wk_delivery *queued_head, *queued_tail;
    wk_delivery *done_head, *done_tail;
    int evfd;
    bool quit;
    atomic_bool interrupted;
    atomic_bool abandoned;
    atomic_int inflight;
    atomic_int running;
    atomic_llong done_count;
    atomic_llong failed_count;
    int nthreads;
    wk_thread *threads;
};

static void push(wk_delivery **head, wk_delivery **tail, wk_delivery *d)
{
    d->next = NULL;
    if(*tail)
        (*tail)->next = d;
    else
        *head = d;
    *tail = d;
}

static void push_done(wk_pool *p, wk_delivery *d);

/* The oldest queued delivery; the caller holds the lock and knows there is one. */
static wk_delivery *pop_queued(wk_pool *p)
{
    wk_delivery *d = p->queued_head;
    p->queued_head = d->next;
    if(!p->queued_head)
        p->queued_tail = NULL;
    return d;
}

wk_delivery *wk_pool_try_take(wk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    wk_delivery *d = p->queued_head && !p->quit && !atomic_load(&p->interrupted) ? pop_queued(p) : NULL;
    pthread_mutex_unlock(&p->mu);
    return d;
}

static void *thread_main(void *arg)
{
    wk_thread *t = arg;
    wk_pool *p = t->pool;
    for(;;) {
        wk_delivery *d = wk_exec_ahead(t);
        if(!d) {
            pthread_mutex_lock(&p->mu);
            while(!p->queued_head && !p->quit)
                pthread_cond_wait(&p->work, &p->mu);
            if(p->quit) {
                pthread_mutex_unlock(&p->mu);
                return NULL;
            }
            d = pop_queued(p);
            pthread_mutex_unlock(&p->mu);
        }

        atomic_fetch_add(&p->running, 1);
        wk_exec(t, d);
        atomic_fetch_sub(&p->running, 1);
        atomic_fetch_add(&p->done_count, 1);
        if(d->failed)
            atomic_fetch_add(&p->failed_count, 1);

        push_done(p, d);
    }
}

wk_pool *wk_pool_new(int n, const wh_cfg *cfg, const char *worker_id, wk_stats *stats, wh_err *err)
{
    wk_pool *p = calloc(1, sizeof(*p));
    wk_thread *threads = calloc((size_t)n, sizeof(*threads));
    if(!p || !threads) {
        free(p);
        free(threads);
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    /* Naps are measured on the monotonic clock, so a wall-clock jump cannot
     * stretch or cut a sleeping job. */
    wh_cond_init_mono(&p->nap);
    p->threads = threads;
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if(p->evfd < 0) {
        wh_err_set(err, WH_E_IO, "", "eventfd: %s", strerror(errno));
        wk_pool_free(p);
        return NULL;
    }
    for(int i = 0; i < n; i++) {
        wk_thread *t = &threads[i];
        t->pool = p;
        t->cfg = cfg;
        t->worker_id = worker_id;
        t->stats = stats;
        /* A connection that fails now is retried on first use. */
        t->redis = wh_redis_new(cfg->redis_url, 5000, NULL);
        if(t->redis) /* status writes then outlive a Redis failover before the ack */
            wh_redis_set_wait(t->redis, cfg->redis_wait_replicas, cfg->redis_wait_ms);
        if(!t->redis || !wk_exec_thread_init(t) || pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            wh_err_set(err, WH_E_IO, "", "cannot start job thread %d", i);
            wh_redis_free(t->redis);
            t->redis = NULL;
            wk_exec_thread_free(t);
            wk_pool_free(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

void wk_delivery_free(wk_delivery *d)
{
    if(!d)
        return;
    free(d->body);
    free(d);
}

static void free_list(wk_delivery *d)
{
    while(d) {
        wk_delivery *next = d->next;
        wk_delivery_free(d);
        d = next;
    }
}

void wk_pool_free(wk_pool *p)
{
    if(!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->nap);
    pthread_mutex_unlock(&p->mu);
    for(int i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i].tid, NULL);
        wh_redis_free(p->threads[i].redis);
        wk_exec_thread_free(&p->threads[i]);
    }
    free_list(p->queued_head);
    free_list(p->done_head);
    if(p->evfd >= 0)
        close(p->evfd);
    pthread_cond_destroy(&p->nap);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

void wk_pool_submit(wk_pool *p, wk_delivery *head, int n)
{
    if(!head)
        return;
    atomic_fetch_add(&p->inflight, n);
    pthread_mutex_lock(&p->mu);
    for(wk_delivery *d = head, *next; d; d = next) {
        next = d->next;
        push(&p->queued_head, &p->queued_tail, d);
    }
    if(n == 1)
        pthread_cond_signal(&p->work);
    else
        pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* Detach a list under the lock and count it out of inflight. */
static wk_delivery *take(wk_pool *p, wk_delivery **head, wk_delivery **tail)
{
    pthread_mutex_lock(&p->mu);
    wk_delivery *d = *head;
    *head = *tail = NULL;
    pthread_mutex_unlock(&p->mu);
    int n = 0;
    for(wk_delivery *x = d; x; x = x->next)
        n++;
    atomic_fetch_sub(&p->inflight, n);
    return d;
}

wk_delivery *wk_pool_take_done(wk_pool *p)
{
    uint64_t v;
    ssize_t r = read(p->evfd, &v, sizeof(v)); /* reset; EAGAIN when zero */
    (void)r;
    return take(p, &p->done_head, &p->done_tail);
}

wk_delivery *wk_pool_take_queued(wk_pool *p)
{
    return take(p, &p->queued_head, &p->queued_tail);
}

int wk_pool_fd(const wk_pool *p) { return p->evfd; }
int wk_pool_inflight(const wk_pool *p) { return atomic_load(&p->inflight); }
bool wk_pool_interrupted(const wk_pool *p) { return atomic_load(&p->interrupted); }
bool wk_pool_abandoned(const wk_pool *p) { return atomic_load(&p->abandoned); }

void wk_pool_interrupt(wk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->interrupted, true);
    pthread_cond_broadcast(&p->nap);
    pthread_mutex_unlock(&p->mu);
}

void wk_pool_abandon(wk_pool *p)
{
    atomic_store(&p->abandoned, true);
    wk_pool_interrupt(p);
}

static void push_done(wk_pool *p, wk_delivery *d)
{
    /* Wake the loop only when the list stops being empty: a loop that has
     * not drained the list yet was woken already. No wake-up is lost,
     * because the loop resets the eventfd before it takes the list. */
    pthread_mutex_lock(&p->mu);
    bool wake = p->done_head == NULL;
    push(&p->done_head, &p->done_tail, d);
    pthread_mutex_unlock(&p->mu);
    if(wake) {
        uint64_t one = 1;
        ssize_t w = write(p->evfd, &one, sizeof(one)); /* never blocks: counter */
        (void)w;
    }
}

void wk_pool_ack_early(wk_pool *p, wk_delivery *d)
{
    wk_delivery *ack = calloc(1, sizeof(*ack));
    if(!ack)
        return; /* the delivery is then acked at the end, as usual */
    ack->tag = d->tag;
    ack->gen = d->gen;
    ack->verdict = WK_ACK;
    snprintf(ack->id, sizeof(ack->id), "%s", d->id);
    d->early_acked = true;
    atomic_fetch_add(&p->inflight, 1); /* taken back like any delivery */
    push_done(p, ack);
}

void wk_pool_job_begin(wk_thread *t, const char *id, atomic_bool *cancel)
{
    pthread_mutex_lock(&t->pool->mu);
    snprintf(t->cur_id, sizeof(t->cur_id), "%s", id);
    t->cur_cancel = cancel;
    pthread_mutex_unlock(&t->pool->mu);
}

void wk_pool_job_end(wk_thread *t)
{
    pthread_mutex_lock(&t->pool->mu);
    t->cur_id[0] = '\0';
    t->cur_cancel = NULL;
    pthread_mutex_unlock(&t->pool->mu);
}

int wk_pool_running_ids(wk_pool *p, char (*ids)[WH_ID_MAX + 1], int max)
{
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for(int i = 0; i < p->nthreads && n < max; i++)
        if(p->threads[i].cur_id[0])
            memcpy(ids[n++], p->threads[i].cur_id, sizeof(ids[0]));
    pthread_mutex_unlock(&p->mu);
    return n;
}

void wk_pool_cancel(wk_pool *p, const char *id)
{
    pthread_mutex_lock(&p->mu);
    for(int i = 0; i < p->nthreads; i++)
        if(p->threads[i].cur_cancel && strcmp(p->threads[i].cur_id, id) == 0)
            atomic_store(p->threads[i].cur_cancel, true);
    pthread_cond_broadcast(&p->nap);
    pthread_mutex_unlock(&p->mu);
}

void wk_pool_wake(wk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->nap);
    pthread_mutex_unlock(&p->mu);
}

bool wk_pool_sleep(wk_pool *p, int64_t ms, const atomic_bool *flag)
{
    struct timespec until = wh_mono_deadline(ms);
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while(!atomic_load(&p->interrupted) && !p->quit && !(flag && atomic_load(flag)) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&p->nap, &p->mu, &until);
    bool woken = atomic_load(&p->interrupted) || p->quit || (flag && atomic_load(flag));
    pthread_mutex_unlock(&p->mu);
    return woken;
}

void wk_pool_counts(const wk_pool *p, wk_counts *out)
{
    out->running = atomic_load(&p->running);
    out->done = atomic_load(&p->done_count);
    out->failed = atomic_load(&p->failed_count);
}
