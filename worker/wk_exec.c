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
 * verdict goes back to the loop through the pool for step 5. A job that
 * may run longer than jobs.max_hold_s (its timeout is above it, or it has
 * none) is acked right after step 2 instead: its message then lives in
 * Redis under a lease, and step 5 only publishes copies.
 * A status write that fails for want of Redis is retried until it succeeds
 * (or, at a hard shutdown, the delivery is requeued); the delivery is not
 * acked meanwhile, so a crash at any point leaves the message in the queue.
 * A write that a live Redis refuses (a corrupted key) is retried briefly and
 * then dead-lettered as redis_error, so it cannot loop. */
#include "wk_exec.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_id.h"
#include "wh_log.h"
#include "wh_status.h"
#include "wh_time.h"
#include "wh_topo.h"
#include "wk_job_int.h"

#define PERSIST_REPLY_TRIES 5 /* Redis error replies tolerated per write (about 1.5 s) */

/* start.lua's inputs and output, and what the pipe decided beforehand. */
typedef struct start_ctx {
    wh_start_opts o;
    wh_start st;
    char lock[WH_LOCK_MAX + WH_TARGET_MAX + 2]; /* o.lock points here */
    bool early;   /* ack when it starts: the job lives under a Redis lease */
    bool started; /* made already, with the finish of the delivery before */
} start_ctx;

/* The log line said once an outcome is written. */
typedef enum note { NOTE_NONE, NOTE_SUCCEEDED, NOTE_FAILED, NOTE_STOPPED } note;

/* An outcome wk_exec_run decided and wk_exec_finish_and_start writes:
 * finish.lua's inputs, and what the verdict becomes once they are in
 * Redis. */
typedef struct outcome {
    bool pending;
    wh_finish f;
    int64_t run_us;         /* handler run time; -1: it did not run */
    wk_verdict verdict;     /* once written, unless dead_reason is set */
    wh_code dead_reason;    /* WH_OK, or: once written, dead-letter for this */
    const char *dead_msg;   /* the dead copy's message */
    char *result;           /* owned: the JSON text behind f.result */
    wh_err why;             /* bad input: the reason */
    char text[300];         /* composed messages point here */
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

struct wk_exec {
    const wh_cfg *cfg;
    const char *worker_id;
    wk_stats *stats;
    wh_redis *redis;        /* owned: this thread's own connection */
    wk_halt *halt;
    wk_exec_ack_fn ack_early;
    void *ud;
    slot slots[2];          /* never moved: the beat thread may point into one */
    slot *cur;              /* from wk_exec_run to its finish */
    slot *next;             /* taken ahead by the finish; runs next */
    /* The job whose handler runs now, for the beat thread. */
    pthread_mutex_t mu;     /* guards the two below */
    char running_id[WH_ID_MAX + 1];
    atomic_bool *running_cancel;
};

typedef wh_code (*persist_fn)(wk_exec *x, slot *s, void *arg, wh_err *err);

/* Run a status write until it succeeds. Lost connections are retried with
 * backoff until the pool is abandoned (hard shutdown); error replies from a
 * live server (a corrupted key, say) are retried a few times, then given up.
 * Returns WH_OK, or the last error. */
static wh_code persist(wk_exec *x, slot *s, const char *what, persist_fn fn, void *arg, wh_err *err)
{
    int64_t backoff = 50;
    int reply_errors = 0;
    for(;;) {
        wh_code rc = fn(x, s, arg, err);
        if(rc == WH_OK)
            return WH_OK;
        bool connected = wh_redis_connected(x->redis);
        if(connected && ++reply_errors >= PERSIST_REPLY_TRIES)
            return rc;
        wh_log(WH_LOG_WARN, s->d->id, "status write failed; retrying", "op", what, "error", err->msg);
        if(wk_halt_abandoned(x->halt))
            return rc;
        wh_sleep_ms(backoff);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}

/* ---- the persisted operations ---- */

static void set_lease(const wk_exec *x, start_ctx *sc)
{
    if(sc->o.body && !sc->o.park)
        sc->o.lease_until = wh_now_ms() + (int64_t)x->cfg->lease_s * 1000;
}

static wh_code op_start(wk_exec *x, slot *s, void *arg, wh_err *err)
{
    (void)arg;
    set_lease(x, &s->sc);
    return wh_status_start(x->redis, x->cfg->redis_prefix, &s->job.env, &s->sc.o, &s->sc.st, err);
}

/* The finish of `s`, with the start of `arg` (the slot taken ahead, or
 * NULL) in the same round trip when it may ride along. When that start was
 * not made (started stays false), the next wk_exec_run makes it itself, as
 * for any job. */
static wh_code op_finish(wk_exec *x, slot *s, void *arg, wh_err *err)
{
    slot *n = arg;
    if(n && n->admitted && !n->sc.started && !n->sc.o.park && !n->sc.early) {
        set_lease(x, &n->sc);
        bool started = false;
        wh_code rc = wh_status_finish_start(x->redis, x->cfg->redis_prefix, &s->out.f, NULL, &n->job.env, &n->sc.o,
                                            &n->sc.st, &started, err);
        n->sc.started = started;
        return rc;
    }
    return wh_status_finish(x->redis, x->cfg->redis_prefix, &s->out.f, NULL, err);
}

static wh_code op_requeue(wk_exec *x, slot *s, void *arg, wh_err *err)
{
    (void)arg;
    int64_t lease = wh_now_ms() + (int64_t)x->cfg->republish_s * 1000;
    return wh_status_requeue(x->redis, x->cfg->redis_prefix, s->job.env.id, x->worker_id,
                             "requeued: worker shutdown", lease, err);
}

/* Dead-letter `d`: `reason` says why it is dead, `job_code` is the job's own
 * last error code (the same as the reason for bad input). */
static void dead_letter(wk_delivery *d, wh_code reason, const char *job_code, const char *msg)
{
    d->verdict = WK_DEAD;
    d->failed = true;
    wh_err_set(&d->err, reason, "", "%s", msg);
    snprintf(d->error_code, sizeof(d->error_code), "%s", job_code);
}

/* A status write could not be made. With Redis unreachable (or the worker
 * shutting down) the delivery goes back to the queue unacked: nothing is
 * lost and the write happens later. With Redis answering but refusing (a
 * job key overwritten with another type, say) a retry would fail the same
 * way forever, so the message is dead-lettered as redis_error instead. */
static void give_up(wk_exec *x, slot *s, const char *what, const wh_err *err)
{
    if(wh_redis_connected(x->redis) && !wk_halt_abandoned(x->halt)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot %s: %s", what, err->msg);
        wh_log(WH_LOG_ERROR, s->d->id, "status write refused; dead-lettering", "error", err->msg);
        dead_letter(s->d, WH_E_REDIS, wh_code_name(WH_E_REDIS), msg);
        return;
    }
    wh_log(WH_LOG_ERROR, s->d->id, "status write failed; requeueing", "op", what, "error", err->msg);
    s->d->verdict = WK_REQUEUE;
}

/* ---- outcomes: decided by wk_exec_run, written by the finish ---- */

/* Leave an outcome of `state` for the finish to write; the caller fills in
 * the error and what the verdict becomes. */
static outcome *decide(slot *s, const char *state, int64_t run_us, bool count)
{
    outcome *o = &s->out;
    o->pending = true;
    o->f = (wh_finish){.type = s->d->type, .state = state, .count = count};
    o->run_us = run_us;
    o->verdict = WK_ACK;
    o->dead_reason = WH_OK;
    o->said = NOTE_NONE;
    return o;
}

static void say(const slot *s)
{
    const wk_delivery *d = s->d;
    const wh_finish *f = &s->out.f;
    switch(s->out.said) {
    case NOTE_NONE: break;
    case NOTE_SUCCEEDED: wh_log(WH_LOG_DEBUG, d->id, "job succeeded", "type", d->type); break;
    case NOTE_FAILED:
        wh_log(WH_LOG_INFO, d->id, "job failed", "type", d->type, "error", f->error, "state", f->state);
        break;
    case NOTE_STOPPED: wh_log(WH_LOG_INFO, d->id, "job stopped", "type", d->type, "state", f->state); break;
    }
}

/* Step 4: record the pending outcome of `s` (with the start of `next`, if
 * any, riding along) and count it in the stats (for a known type); on a
 * write that could not be made, the delivery is requeued instead (nothing
 * was acked, nothing is lost). */
static void record(wk_exec *x, slot *s, slot *next)
{
    wk_delivery *d = s->d;
    outcome *o = &s->out;
    wh_finish *f = &o->f;
    f->id = d->id;
    f->ttl_s = x->cfg->job_ttl_s;
    if(s->job.ttl_s > 0 && s->job.ttl_s < f->ttl_s)
        f->ttl_s = s->job.ttl_s;
    f->created_at = s->job.env.created_at;
    /* A retry copy of an early-acked job must arrive within the retry delay;
     * if it does not, the reaper publishes the job again from Redis. */
    f->lease_until = wh_now_ms() + d->retry_ms + (int64_t)x->cfg->republish_s * 1000;
    wh_err err;
    if(persist(x, s, "finish", op_finish, next, &err) == WH_OK) {
        if(f->count)
            wk_stats_add(x->stats, f->type, o->run_us);
        if(o->dead_reason)
            dead_letter(d, o->dead_reason, f->error, o->dead_msg);
        else
            d->verdict = o->verdict;
    } else {
        give_up(x, s, "record the job outcome", &err);
    }
    say(s);
}

/* Bad input: record `failed` under the id if there is one, then dead-letter
 * the message with the code as its reason. */
static void reject(slot *s, const wh_err *why, bool known_type)
{
    wk_delivery *d = s->d;
    wh_log(WH_LOG_WARN, d->id, "rejected message", "reason", wh_code_name(why->code), "error", why->msg);
    if(!d->id[0]) {
        dead_letter(d, why->code, wh_code_name(why->code), why->msg);
        return;
    }
    /* Stats are per known type only, so junk cannot mint stats keys. */
    outcome *o = decide(s, "failed", -1, known_type);
    o->why = *why;
    o->f.error = wh_code_name(why->code);
    o->f.error_message = o->why.msg;
    o->dead_reason = why->code;
    o->dead_msg = o->why.msg;
}

/* ---- running the handler ---- */

/* The result as JSON text, or NULL; fails the job when it is too large. */
static char *result_text(wk_job *job)
{
    if(!job->result)
        return NULL;
    char *s = wh_json_dump(job->result);
    if(s && strlen(s) > WK_RESULT_MAX) {
        free(s);
        wk_job_fail(job, WH_E_TOO_LARGE, NULL, false, "result is larger than %u bytes", WK_RESULT_MAX);
        return NULL;
    }
    return s;
}

static void on_failure(const wk_exec *x, slot *s, int64_t run_us)
{
    wk_delivery *d = s->d;
    const wk_job *job = &s->job;
    const wh_start *st = &s->sc.st;
    const char *code = wh_err_name(&job->err);
    outcome *o;
    if(!job->transient) {
        d->failed = true;
        o = decide(s, "failed", run_us, true);
    } else if(st->attempt < st->max_attempts) {
        d->retry_ms = wh_topo_retry_tier(x->cfg, st->attempt, wh_random_u64());
        o = decide(s, "retrying", run_us, true);
        o->verdict = WK_RETRY;
    } else {
        o = decide(s, "dead", run_us, true);
        snprintf(o->text, sizeof(o->text), "%s: %s", code, job->err.msg);
        o->dead_reason = WH_E_ATTEMPTS_EXHAUSTED;
        o->dead_msg = o->text;
    }
    o->f.error = code;
    o->f.error_message = job->err.msg;
    o->said = NOTE_FAILED;
}

/* The handler stopped because wk_job_interrupted() said so: a cancel or a
 * timeout is an outcome to record; a shutdown hands the job back (this
 * write is made here: it is not a finish). */
static void on_interrupt(wk_exec *x, slot *s, int64_t run_us)
{
    wk_delivery *d = s->d;
    wk_job *job = &s->job;
    wk_stop why = wk_job_stop_reason(job);
    if(why == WK_STOP_CANCEL) {
        outcome *o = decide(s, "cancelled", run_us, true);
        o->f.error = wh_code_name(WH_E_CANCELLED);
        o->f.error_message = "cancelled while running";
        o->said = NOTE_STOPPED;
        return;
    }
    if(why == WK_STOP_TIMEOUT) {
        outcome *o = decide(s, "failed", run_us, true);
        int64_t limit = (job->deadline_us - job->started_us) / 1000000;
        snprintf(o->text, sizeof(o->text), "timed out after %lld s", (long long)limit);
        o->f.error = wh_code_name(WH_E_TIMEOUT);
        o->f.error_message = o->text;
        o->said = NOTE_STOPPED;
        d->failed = true;
        return;
    }
    wh_err err;
    if(persist(x, s, "requeue", op_requeue, NULL, &err) != WH_OK)
        wh_log(WH_LOG_WARN, d->id, "could not mark job queued", "error", err.msg);
    if(d->early_acked) {
        /* Acked already: hand it back through the shortest retry tier. */
        d->verdict = WK_RETRY;
        d->retry_ms = x->cfg->tiers[0];
    } else {
        d->verdict = WK_REQUEUE;
    }
}

/* The job whose handler runs now (id NULL: none), for the beat thread. */
static void set_running(wk_exec *x, const char *id, atomic_bool *cancel)
{
    pthread_mutex_lock(&x->mu);
    snprintf(x->running_id, sizeof(x->running_id), "%s", id ? id : "");
    x->running_cancel = cancel;
    pthread_mutex_unlock(&x->mu);
}

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
    wk_run r;
    if(job->type->needs_host && !job->host)
        r = wk_job_fail(job, WH_E_UNKNOWN_HOST, NULL, false, "target: \"%s\" is not a host in this worker's inventory",
                        job->env.target);
    else
        r = job->type->run(job);
    set_running(x, NULL, NULL);
    int64_t run_us = wh_mono_us() - t0;
    wk_job_flush(job);
    if(r == WK_RUN_INTERRUPTED) {
        on_interrupt(x, s, run_us);
        return;
    }
    char *result = r == WK_RUN_OK ? result_text(job) : NULL;
    if(r == WK_RUN_OK && job->err.code == WH_OK) {
        outcome *o = decide(s, "succeeded", run_us, true);
        o->result = result; /* freed with the slot, once written */
        o->f.result = result;
        o->said = NOTE_SUCCEEDED;
    } else {
        free(result);
        on_failure(x, s, run_us);
    }
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
    if(wk_type_admit(job->env.type, job->env.args, &job->type, &job->result, err) != WH_OK) {
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
    /* Park a job whose time has not come; hold long jobs under a lease. */
    sc->o.park = job->env.run_at > wh_now_ms();
    sc->early = !sc->o.park && (job->timeout_s == 0 || job->timeout_s > c->max_hold_s);
    if(sc->o.park || sc->early) {
        sc->o.body = d->body;
        sc->o.body_len = d->len;
    }
}

/* After admission: park, wait for the lock, skip, or run. */
static void start_and_run(wk_exec *x, slot *s)
{
    wk_delivery *d = s->d;
    start_ctx *sc = &s->sc;
    wh_err err;
    if(!sc->started && persist(x, s, "start", op_start, NULL, &err) != WH_OK) {
        give_up(x, s, "mark the job running", &err);
        return;
    }
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
        /* Wait through the shortest retry tier: no attempt is used, no thread
         * is held, and other jobs keep flowing meanwhile. */
        d->verdict = WK_RETRY;
        d->retry_ms = x->cfg->tiers[0];
        wh_log(WH_LOG_DEBUG, d->id, "waiting for lock", "lock", sc->lock, "holder", st->error);
        break;
    case WH_START_DEAD: {
        outcome *o = decide(s, "dead", -1, true);
        o->f.error = "redelivery_limit";
        o->f.error_message = "delivered too many times without finishing";
        o->dead_reason = WH_E_REDELIVERY_LIMIT;
        o->dead_msg = o->f.error_message;
        break;
    }
    case WH_START_SKIP:
        /* Dead but redelivered: the copy in wharf.dead may not have been
         * confirmed, so publish it again (at-least-once). Any other state:
         * already done, or running elsewhere under a live lease; ack. */
        if(strcmp(st->state, "dead") == 0)
            dead_letter(d, WH_E_ATTEMPTS_EXHAUSTED, st->error, "dead; delivered again, copied again");
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
 * and validates, so that its start can ride with the finish before it; any
 * other message goes through the whole pipe in its wk_exec_run. */
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
    slot *s = x->next ? x->next : &x->slots[0];
    x->next = NULL;
    x->cur = s;
    if(s->d == d && s->admitted) {
        /* Taken ahead: admitted, planned, perhaps started already. */
        start_and_run(x, s);
        return;
    }
    slot_init(x, s, d);
    wh_err err;
    bool known;
    if(!admit_quiet(x, s, &err, &known)) {
        reject(s, &err, known);
        return;
    }
    s->admitted = true;
    plan_start(x, s);
    start_and_run(x, s);
}

bool wk_exec_outcome_pending(const wk_exec *x)
{
    return x->cur && x->cur->out.pending;
}

void wk_exec_finish_and_start(wk_exec *x, wk_delivery *cur, wk_delivery *next)
{
    slot *s = x->cur;
    if(!s || s->d != cur) {
        wh_log(WH_LOG_ERROR, cur ? cur->id : NULL, "finish of a delivery that is not running; ignored");
        return;
    }
    slot *n = NULL;
    if(next) {
        n = &x->slots[s == &x->slots[0] ? 1 : 0];
        take_ahead(x, n, next);
    }
    if(s->out.pending)
        record(x, s, n);
    slot_release(s);
    x->cur = NULL;
    x->next = n;
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
    x->ack_early = o->ack_early;
    x->ud = o->ud;
    pthread_mutex_init(&x->mu, NULL);
    return x;
}

void wk_exec_free(wk_exec *x)
{
    if(!x)
        return;
    for(int i = 0; i < 2; i++)
        if(x->slots[i].d)
            slot_release(&x->slots[i]);
    wh_redis_free(x->redis);
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
