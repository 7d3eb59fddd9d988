/* wk_pool: job threads and the queues to and from the AMQP loop.
 * See wk_pool.h. */
#include "wk_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "wh_log.h"
#include "wk_exec.h"
#include "wk_halt.h"

/* A job thread: its pipe, and the pool it takes deliveries from. */
typedef struct wk_thread {
    pthread_t tid;
    wk_pool *pool;
    wk_exec *exec;            /* owned; used by this thread only, except for
                               * the running job's id and cancel flag */
} wk_thread;

struct wk_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;      /* signalled when queued gains an item or on quit */
    wk_delivery *queued_head, *queued_tail;
    wk_delivery *done_head, *done_tail;
    int evfd;
    bool quit;
    wk_halt *halt;            /* owned: the stop signals the threads' pipes see */
    wk_wire wire;             /* the broker connection, as the threads see it */
    wk_commit *commit;        /* owned: the threads' status writes, batched */
    atomic_int inflight;
    atomic_int running;
    atomic_llong done_count;
    atomic_llong failed_count;
    atomic_llong ran, ran_us, ran_bytes;
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
static void push_done_many(wk_pool *p, wk_delivery **ds, int n);

/* The oldest queued delivery; the caller holds the lock and knows there is one. */
static wk_delivery *pop_queued(wk_pool *p)
{
    wk_delivery *d = p->queued_head;
    p->queued_head = d->next;
    if(!p->queued_head)
        p->queued_tail = NULL;
    return d;
}

/* The oldest queued delivery, waiting for one; NULL once the pool quits. */
static wk_delivery *wait_take(wk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while(!p->queued_head && !p->quit)
        pthread_cond_wait(&p->work, &p->mu);
    wk_delivery *d = p->quit ? NULL : pop_queued(p);
    pthread_mutex_unlock(&p->mu);
    return d;
}

/* The oldest queued delivery, or NULL when none waits or the pool is
 * stopping (interrupted: no job should start early). Never blocks. */
static wk_delivery *try_take(wk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    wk_delivery *d = p->queued_head && !p->quit && !wk_halt_interrupted(p->halt) ? pop_queued(p) : NULL;
    pthread_mutex_unlock(&p->mu);
    return d;
}

/* The run's deliveries have their verdicts: count them and hand them to the
 * loop in one go. */
static void settle(wk_pool *p, wk_delivery **run, int n)
{
    long long ran = 0, us = 0, bytes = 0;
    for(int i = 0; i < n; i++) {
        if(run[i]->failed)
            atomic_fetch_add(&p->failed_count, 1);
        if(run[i]->ran) {
            ran++;
            us += run[i]->run_us;
            bytes += (long long)run[i]->len;
        }
    }
    atomic_fetch_add(&p->done_count, n);
    atomic_fetch_add(&p->ran, ran);
    atomic_fetch_add(&p->ran_us, us);
    atomic_fetch_add(&p->ran_bytes, bytes);
    push_done_many(p, run, n);
}

/* Run `first` and then, run after run, the deliveries taken ahead behind
 * it. The next run is taken while the current one's outcomes are still to
 * be written, so that its starts ride with that write in one batch; it
 * runs before any other delivery. A run grows past one delivery only with
 * short jobs (wk_exec_ahead says when), so a burst of tiny jobs costs one
 * write, one wake-up and one hand-off per run rather than per job. */
static void run_chain(wk_thread *t, wk_delivery *first)
{
    wk_pool *p = t->pool;
    wk_delivery *runs[2][WK_RUN_MAX], **run = runs[0], **next = runs[1];
    int n = 1;
    run[0] = first;
    while(n > 0) {
        for(int i = 0; i < n; i++) {
            atomic_fetch_add(&p->running, 1);
            wk_exec_run(t->exec, run[i]);
            atomic_fetch_sub(&p->running, 1);
        }
        int nn = 0;
        wk_delivery *d;
        if(wk_exec_outcome_pending(t->exec))
            while(nn < WK_RUN_MAX && (d = try_take(p))) {
                next[nn++] = d;
                if(!wk_exec_ahead(t->exec, d))
                    break;
            }
        wk_exec_finish_and_start(t->exec);
        settle(p, run, n);
        wk_delivery **done = run;
        run = next;
        next = done;
        n = nn;
    }
}

static void *thread_main(void *arg)
{
    wk_thread *t = arg;
    for(wk_delivery *d = wait_take(t->pool); d; d = wait_take(t->pool))
        run_chain(t, d);
    return NULL;
}

/* wk_exec_ack_fn of the pool's threads: the ack goes to the loop on the
 * done list, as a delivery of its own, ahead of the job's verdict. */
static void ack_early(void *ud, wk_delivery *d)
{
    wk_pool *p = ud;
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

/* Make thread i: its pipe, then the thread itself. */
static bool start_thread(wk_pool *p, int i, const wh_cfg *cfg, const char *worker_id, wk_stats *stats,
                         wh_err *err)
{
    wk_thread *t = &p->threads[i];
    t->pool = p;
    wk_exec_opts o = {.cfg = cfg, .worker_id = worker_id, .stats = stats, .halt = p->halt, .wire = &p->wire,
                      .commit = p->commit, .ack_early = ack_early, .ud = p};
    t->exec = wk_exec_new(&o, err);
    if(!t->exec || pthread_create(&t->tid, NULL, thread_main, t) != 0) {
        wh_err_set(err, WH_E_IO, "", "cannot start job thread %d", i);
        wk_exec_free(t->exec);
        t->exec = NULL;
        return false;
    }
    return true;
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
    wk_wire_init(&p->wire, cfg->amqp_heartbeat_s);
    p->threads = threads;
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if(p->evfd < 0) {
        wh_err_set(err, WH_E_IO, "", "eventfd: %s", strerror(errno));
        wk_pool_free(p);
        return NULL;
    }
    if(!(p->halt = wk_halt_new())) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        wk_pool_free(p);
        return NULL;
    }
    if(!(p->commit = wk_commit_new(cfg, err))) {
        wk_pool_free(p);
        return NULL;
    }
    for(int i = 0; i < n; i++) {
        if(!start_thread(p, i, cfg, worker_id, stats, err)) {
            wk_pool_free(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
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
    pthread_mutex_unlock(&p->mu);
    if(p->halt)
        wk_halt_quit(p->halt); /* wakes sleeping handlers */
    for(int i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i].tid, NULL);
        wk_exec_free(p->threads[i].exec);
    }
    free_list(p->queued_head);
    free_list(p->done_head);
    if(p->evfd >= 0)
        close(p->evfd);
    if(p->commit) {
        long long batches, moves;
        wk_commit_counts(p->commit, &batches, &moves);
        wh_logf(WH_LOG_INFO, NULL, "group commit: %lld moves in %lld batches", moves, batches);
    }
    wk_commit_free(p->commit);
    wk_halt_free(p->halt);
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
wk_wire *wk_pool_wire(wk_pool *p) { return &p->wire; }
int wk_pool_inflight(const wk_pool *p) { return atomic_load(&p->inflight); }
void wk_pool_interrupt(wk_pool *p) { wk_halt_interrupt(p->halt); }
void wk_pool_abandon(wk_pool *p) { wk_halt_abandon(p->halt); }

static void push_done(wk_pool *p, wk_delivery *d)
{
    push_done_many(p, &d, 1);
}

static void push_done_many(wk_pool *p, wk_delivery **ds, int n)
{
    /* Wake the loop only when the list stops being empty: a loop that has
     * not drained the list yet was woken already. No wake-up is lost,
     * because the loop resets the eventfd before it takes the list. */
    pthread_mutex_lock(&p->mu);
    bool wake = p->done_head == NULL;
    for(int i = 0; i < n; i++)
        push(&p->done_head, &p->done_tail, ds[i]);
    pthread_mutex_unlock(&p->mu);
    if(wake) {
        uint64_t one = 1;
        ssize_t w = write(p->evfd, &one, sizeof(one)); /* never blocks: counter */
        (void)w;
    }
}

int wk_pool_running_ids(wk_pool *p, char (*ids)[WH_ID_MAX + 1], int max)
{
    int n = 0;
    for(int i = 0; i < p->nthreads && n < max; i++)
        if(wk_exec_running_id(p->threads[i].exec, ids[n]))
            n++;
    return n;
}

void wk_pool_cancel(wk_pool *p, const char *id)
{
    for(int i = 0; i < p->nthreads; i++)
        wk_exec_cancel(p->threads[i].exec, id);
    wk_halt_wake(p->halt);
}

void wk_pool_counts(const wk_pool *p, wk_counts *out)
{
    out->running = atomic_load(&p->running);
    out->done = atomic_load(&p->done_count);
    out->failed = atomic_load(&p->failed_count);
    out->ran = atomic_load(&p->ran);
    out->ran_us = atomic_load(&p->ran_us);
    out->ran_bytes = atomic_load(&p->ran_bytes);
}
