/* wk_exec: one delivery from bytes to verdict. See wk_exec.h.
 *
 * The order of effects is what makes the guarantees:
 *   1. decode and validate; bad input is recorded (if it has an id) and
 *      dead-lettered, never run;
 *   2. start.lua marks the job running (or says it is already terminal);
 *   3. the handler runs;
 *   4. finish.lua records the outcome;
 *   5. only then does the loop ack (or publish the retry / dead copy and ack
 *      once the broker confirmed it).
 * wk_exec_run makes steps 1 to 3 and decides the outcome; step 4 is
 * wk_exec_finish_and_start, which may carry step 2 of the next delivery in
 * the same round trip (that delivery then skips its own step 2); the
 * verdict goes back to the loop through the pool for step 5. The status
 * writes and the outcomes are in wk_exec_outcome.c.
 * A job that may run longer than jobs.max_hold_s (its timeout is above it,
 * or it has none) is acked right after step 2 instead: its message then
 * lives in Redis under a lease, and step 5 only publishes copies.
 * A status write that fails for want of Redis is retried until it succeeds
 * (or, at a hard shutdown, the delivery is requeued); the delivery is not
 * acked meanwhile, so a crash at any point leaves the message in the queue.
 * A write that a live Redis refuses (a corrupted key) is retried briefly and
 * then dead-lettered as redis_error, so it cannot loop. */
#include "wk_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_id.h"
#include "wh_log.h"
#include "wh_time.h"
#include "wk_exec_int.h"

/* ---- running the handler ---- */

/* The job whose handler runs now (id NULL: none), for the beat thread. */
static void set_running(wk_exec *x, const char *id, atomic_bool *cancel)
{
    pthread_mutex_lock(&x->mu);
    snprintf(x->running_id, sizeof(x->running_id), "%s", id ? id : "");
    x->running_cancel = cancel;
    pthread_mutex_unlock(&x->mu);
}

/* The speed entry of `type`: its slot, by the row's address. A type that
 * shares the slot replaces it (16 slots; a worker runs a few types). */
static type_speed *speed_slot(wk_exec *x, const void *type)
{
    return &x->speeds[(uintptr_t)type / 64 % TYPE_SPEEDS];
}

static void note_speed(wk_exec *x, const void *type, int64_t run_us)
{
    type_speed *e = speed_slot(x, type);
    if(e->type != type)
        *e = (type_speed){.type = type, .avg_us = run_us};
    e->avg_us = (3 * e->avg_us + run_us) / 4;
    e->last_us = run_us;
}

/* Short: the type's runs here average under WK_SHORT_US and the last one
 * was not slow either. A type not seen yet is not short. Reads only. */
static bool is_short(wk_exec *x, const void *type)
{
    const type_speed *e = speed_slot(x, type);
    return e->type == type && e->avg_us < WK_SHORT_US && e->last_us < 10 * WK_SHORT_US;
}

static const char *const run_outcome[] = {
    [WK_RUN_OK] = "ok", [WK_RUN_FAIL] = "fail", [WK_RUN_INTERRUPTED] = "interrupted"};

/* Step 3, for a job start.lua said to run; the outcome is decided from
 * what the handler returns. */
static void run_handler(wk_exec *x, slot *s)
{
    wk_delivery *d = s->d;
    wk_job *job = &s->job;
    d->attempts = s->sc.st.attempt;
    int64_t t0 = wh_mono_us();
    job->started_us = t0;
    job->deadline_us = job->timeout_s ? t0 + (int64_t)job->timeout_s * 1000000 : 0;
    job->host = job->env.target[0] ? wh_inv_host_find(x->cfg->inv, job->env.target) : NULL;
    set_running(x, d->id, &job->cancel);
    /* Debug lines bracket every run of a handler: with log.level = debug a
     * worker's log is a durable record of what ran where and when (the soak
     * checker reads it for duplicate runs and lock overlaps). */
    wh_log(WH_LOG_DEBUG, d->id, "run started", "type", d->type);
    wk_run r;
    if(job->type->needs_host && !job->host)
        r = wk_job_fail(job, WH_E_UNKNOWN_HOST, NULL, false, "target: \"%s\" is not a host in this worker's inventory",
                        job->env.target);
    else
        r = job->run(job);
    set_running(x, NULL, NULL);
    wh_log(WH_LOG_DEBUG, d->id, "run ended", "outcome", run_outcome[r]);
    int64_t run_us = wh_mono_us() - t0;
    note_speed(x, job->type, run_us);
    d->ran = true;
    d->run_us = run_us;
    wk_job_flush(job);
    wk_exec__ended(x, s, r, run_us);
}

/* ---- admission and start ---- */

/* Decode and validate; false (with the reason in *err, nothing recorded)
 * when the message is bad; *known then says whether its stats may count it
 * (bad args of a known type). */
static bool admit_quiet(const wk_exec *x, slot *s, wh_err *err, bool *known)
{
    wk_delivery *d = s->d;
    wk_job *job = &s->job;
    *known = false;
    if(d->too_large) {
        /* The body was never read; the AMQP message id may still name it. */
        size_t n = strlen(d->message_id);
        if(wh_id_valid(d->message_id, n)) /* valid ids fit: at most WH_ID_MAX bytes */
            memcpy(d->id, d->message_id, n + 1);
        wh_err_set(err, WH_E_TOO_LARGE, "", "body is %llu bytes; the limit is %lld",
                   (unsigned long long)d->body_size, (long long)x->cfg->max_body);
        return false;
    }
    wh_code rc = wh_env_decode(d->body, d->len, (size_t)x->cfg->max_body, &job->env, err);
    memcpy(d->id, job->env.id, sizeof(d->id));
    memcpy(d->type, job->env.type, sizeof(d->type));
    d->family = job->env.family;
    if(rc)
        return false;
    if(wk_type_admit(job->env.type, job->env.args, &job->type, &job->run, &job->result, err) != WH_OK) {
        *known = err->code == WH_E_BAD_ARGS;
        return false;
    }
    wh_key_job(job->key, x->cfg->redis_prefix, job->env.id);
    wh_key_log(job->logkey, x->cfg->redis_prefix, job->env.id);
    return true;
}

/* The job's lock: the envelope's, else the type's key on its target. False
 * when the type's key does not fit (the job then fails bad_args). */
static bool lock_name(const wk_job *job, char *out, size_t cap)
{
    out[0] = '\0';
    if(job->env.lock[0]) {
        snprintf(out, cap, "%s", job->env.lock);
        return true;
    }
    char key[WH_LOCK_MAX + 1];
    if(!job->type->lock_key || !job->type->lock_key(job->env.args, key, sizeof(key)))
        return true;
    int n = snprintf(out, cap, "%s/%s", job->env.target, key);
    return n > 0 && (size_t)n < cap;
}

/* What the start of an admitted job asks: its lock, attempts, whether to
 * park it or hold it under a lease (early ack). Sets job->timeout_s. */
static void plan_start(const wk_exec *x, slot *s)
{
    wk_delivery *d = s->d;
    wk_job *job = &s->job;
    start_ctx *sc = &s->sc;
    const wh_cfg *c = x->cfg;
    memset(sc, 0, sizeof(*sc));
    d->priority = job->env.priority;
    if(!lock_name(job, sc->lock, sizeof(sc->lock)))
        sc->lock[0] = '\0';
    job->timeout_s = job->env.timeout_s ? job->env.timeout_s : job->type->timeout_s ? job->type->timeout_s
                                                                                     : c->job_timeout_s;
    sc->o = (wh_start_opts){.worker = x->worker_id, .max_redeliveries = c->max_redeliveries,
                            .lock = sc->lock[0] ? sc->lock : NULL, .lock_ms = (int64_t)c->lease_s * 1000};
    sc->o.max_attempts = job->env.max_attempts ? job->env.max_attempts
                       : job->type->max_attempts ? job->type->max_attempts : c->max_attempts;
    sc->o.ttl_s = c->job_ttl_s; /* a start that ends the job (a cancel) */
    /* Past its timeout and a lease, a run on a live worker has been lost
     * there: its copies stop waiting for it (start.lua, busy). */
    sc->o.run_ms = job->timeout_s ? ((int64_t)job->timeout_s + c->lease_s) * 1000 : 0;
    /* One clock for every try of this start: start.lua knows a retry of a
     * start it already ran by its worker and this time. */
    sc->o.now_ms = wh_now_ms();
    /* Park a job whose time has not come; hold long jobs under a lease. */
    sc->o.park = job->env.run_at > sc->o.now_ms;
    sc->early = !sc->o.park && (job->timeout_s == 0 || job->timeout_s > c->max_hold_s);
    if(sc->o.park || sc->early) {
        sc->o.body = d->body;
        sc->o.body_len = d->len;
    }
}

/* A copy of a job that is dead already. Only a redelivered copy (or the
 * wait copy of one) can be the one whose worker recorded the death and then
 * stopped, or lost its connection, before its dead letter was confirmed, so
 * only such a copy publishes one (again, perhaps:
 * at-least-once), with the reason the job died of. A fresh copy (a retry
 * copy, a copy the reaper published) owes none; nor does any copy of a job
 * the reaper made dead (`abandoned`): the reaper dead-letters those. */
static void dead_again(wk_delivery *d, const wh_start *st)
{
    if(!d->redelivered || strcmp(st->error, wh_code_name(WH_E_ABANDONED)) == 0)
        return;
    wh_code why = strcmp(st->error, wh_code_name(WH_E_REDELIVERY_LIMIT)) == 0 ? WH_E_REDELIVERY_LIMIT
                                                                             : WH_E_ATTEMPTS_EXHAUSTED;
    d->attempts = st->attempt;
    wk_exec__dead_letter(d, why, st->error, "dead; delivered again, copied again");
}

/* After admission: park, wait for the lock, skip, or run. */
static void start_and_run(wk_exec *x, slot *s)
{
    wk_delivery *d = s->d;
    start_ctx *sc = &s->sc;
    if(!sc->started && !sc->sent && !wk_exec__current(x, d)) {
        /* Its connection is gone, perhaps while this worker was paused:
         * the broker has handed the message out again. Start nothing. A
         * start already sent may have been made (its reply lost): it is
         * seen through and the job run, or the job would stay `running`
         * here, and its other copies would wait for it forever. */
        wh_log(WH_LOG_DEBUG, d->id, "delivery of a lost connection not started");
        d->verdict = WK_REQUEUE;
        return;
    }
    if(!wk_exec__start(x, s))
        return;
    const wh_start *st = &sc->st;
    switch(st->kind) {
    case WH_START_RUN:
        if(sc->early)
            x->ack_early(x->ud, d);
        run_handler(x, s);
        break;
    case WH_START_PARKED:
        wh_log(WH_LOG_DEBUG, d->id, "parked until run_at", "type", d->type);
        break;
    case WH_START_LOCKED:
    case WH_START_BUSY:
        /* Wait through the shortest retry tier: no attempt is used, no thread
         * is held, and other jobs keep flowing meanwhile. The wait copy of a
         * redelivered message says so (dead_again). */
        d->verdict = WK_RETRY;
        d->retry_ms = x->cfg->tiers[0];
        d->waiting = true;
        if(st->kind == WH_START_LOCKED)
            wh_log(WH_LOG_DEBUG, d->id, "waiting for lock", "lock", sc->lock, "holder", st->error);
        else
            wh_log(WH_LOG_DEBUG, d->id, "waiting for its run on a live worker", "worker", st->error);
        break;
    case WH_START_DEAD: wk_exec__redelivered(s); break;
    case WH_START_SKIP:
        wh_log(WH_LOG_DEBUG, d->id, "copy skipped", "state", wh_state_name(st->state), "redelivered",
               d->redelivered ? "yes" : "no");
        if(st->state == WH_STATE_DEAD)
            dead_again(d, st);
        /* Any other state: already done, or running elsewhere under a live
         * lease; ack. */
        break;
    }
}

/* ---- the slots and the API ---- */

static void slot_init(const wk_exec *x, slot *s, wk_delivery *d)
{
    memset(&s->sc, 0, sizeof(s->sc));
    memset(&s->out, 0, sizeof(s->out));
    wk_job_init(&s->job, x->cfg, x->redis, x->halt);
    s->d = d;
    s->admitted = false;
    d->family = -1;
    d->verdict = WK_ACK;
}

static void slot_release(slot *s)
{
    free(s->out.result);
    memset(&s->out, 0, sizeof(s->out));
    wk_job_release(&s->job);
    s->d = NULL;
    s->admitted = false;
}

/* Take `d` into `s` ahead of its turn: admitted and planned when it decodes
 * and validates, so that its start can ride with the finishes before it;
 * any other message goes through the whole pipe in its wk_exec_run. */
static void take_ahead(const wk_exec *x, slot *s, wk_delivery *d)
{
    slot_init(x, s, d);
    wh_err err;
    bool known;
    s->admitted = admit_quiet(x, s, &err, &known);
    if(s->admitted)
        plan_start(x, s);
    else
        wk_job_release(&s->job);
}

void wk_exec_run(wk_exec *x, wk_delivery *d)
{
    slot *row = x->slots[x->run], *s;
    if(x->at < x->n && row[x->at].d == d) {
        s = &row[x->at++]; /* taken ahead */
        x->cur = s;
        if(s->admitted) { /* admitted, planned, perhaps started already */
            start_and_run(x, s);
            return;
        }
    } else if(x->n == 0) {
        s = &row[0]; /* a run of one */
        x->n = x->at = 1;
        x->cur = s;
    } else {
        /* Not the member whose turn it is: the thread broke the contract.
         * Hand the delivery back untouched rather than guess. */
        wh_log(WH_LOG_ERROR, d->id, "delivery out of its turn in a run; requeued");
        d->verdict = WK_REQUEUE;
        return;
    }
    slot_init(x, s, d);
    wh_err err;
    bool known;
    if(!admit_quiet(x, s, &err, &known)) {
        wk_exec__reject(s, &err, known);
        return;
    }
    s->admitted = true;
    plan_start(x, s);
    start_and_run(x, s);
}

bool wk_exec_outcome_pending(const wk_exec *x)
{
    for(int i = 0; i < x->at; i++)
        if(x->slots[x->run][i].out.pending)
            return true;
    return false;
}

/* Plain: its start may ride ahead of its turn (no park, no early ack, no
 * lock to hold while others run). */
static bool plain(const slot *s)
{
    return s->admitted && !s->sc.o.park && !s->sc.early && !s->sc.lock[0];
}

bool wk_exec_ahead(wk_exec *x, wk_delivery *d)
{
    slot *s = &x->slots[!x->run][x->ahead++];
    take_ahead(x, s, d);
    return x->ahead < WK_RUN_MAX && plain(s) && is_short(x, s->job.type);
}

void wk_exec_finish_and_start(wk_exec *x)
{
    slot *row = x->slots[x->run], *next = x->slots[!x->run];
    wk_exec__record(x, row, x->at, next, x->ahead);
    for(int i = 0; i < x->n; i++)
        if(row[i].d)
            slot_release(&row[i]);
    x->run = !x->run;
    x->n = x->ahead;
    x->at = x->ahead = 0;
    x->cur = NULL;
}

wk_exec *wk_exec_new(const wk_exec_opts *o, wh_err *err)
{
    wk_exec *x = calloc(1, sizeof(*x));
    if(!x) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    /* A connection that fails now is retried on first use. */
    x->redis = wh_redis_new(o->cfg->redis_url, 5000, err);
    if(!x->redis) {
        free(x);
        return NULL;
    }
    /* Status writes then outlive a Redis failover before the ack. */
    wh_redis_set_wait(x->redis, o->cfg->redis_wait_replicas, o->cfg->redis_wait_ms);
    x->cfg = o->cfg;
    x->worker_id = o->worker_id;
    x->stats = o->stats;
    x->halt = o->halt;
    x->wire = o->wire;
    x->commit = o->commit;
    wk_commit_waiter_init(&x->waiter);
    x->ack_early = o->ack_early;
    x->ud = o->ud;
    pthread_mutex_init(&x->mu, NULL);
    return x;
}

void wk_exec_free(wk_exec *x)
{
    if(!x)
        return;
    for(int r = 0; r < 2; r++)
        for(int i = 0; i < WK_RUN_MAX; i++)
            if(x->slots[r][i].d)
                slot_release(&x->slots[r][i]);
    wh_redis_free(x->redis);
    for(int i = 0; i < WK_RUN_MAX; i++)
        wh_move_free(x->moves[i]);
    wk_commit_waiter_destroy(&x->waiter);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

bool wk_exec_running_id(wk_exec *x, char *id)
{
    pthread_mutex_lock(&x->mu);
    bool any = x->running_id[0] != '\0';
    if(any)
        memcpy(id, x->running_id, sizeof(x->running_id));
    pthread_mutex_unlock(&x->mu);
    return any;
}

void wk_exec_cancel(wk_exec *x, const char *id)
{
    pthread_mutex_lock(&x->mu);
    if(x->running_cancel && strcmp(x->running_id, id) == 0)
        atomic_store(x->running_cancel, true);
    pthread_mutex_unlock(&x->mu);
}
