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
#include "wh_status.h"
#include "wh_time.h"
#include "wh_topo.h"

#define PERSIST_REPLY_TRIES 5 /* Redis error replies tolerated per write (about 1.5 s) */

typedef wh_code (*persist_fn)(wk_job *job, void *arg, wh_err *err);

/* Run a status write until it succeeds. Lost connections are retried with
 * backoff until the pool is abandoned (hard shutdown); error replies from a
 * live server (a corrupted key, say) are retried a few times, then given up.
 * Returns WH_OK, or the last error. */
static wh_code persist(wk_job *job, const char *what, persist_fn fn, void *arg, wh_err *err)
{
    int64_t backoff = 50;
    int reply_errors = 0;
    for(;;) {
        wh_code rc = fn(job, arg, err);
        if(rc == WH_OK)
            return WH_OK;
        bool connected = wh_redis_connected(job->t->redis);
        if(connected && ++reply_errors >= PERSIST_REPLY_TRIES)
            return rc;
        wh_log(WH_LOG_WARN, job->d->id, "status write failed; retrying", "op", what, "error", err->msg);
        if(wk_pool_abandoned(job->t->pool))
            return rc;
        wh_sleep_ms(backoff);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}

/* ---- the persisted operations ---- */

/* start.lua's inputs and output, and what the pipe decided beforehand. */
typedef struct start_ctx {
    wh_start_opts o;
    wh_start st;
    char lock[WH_LOCK_MAX + WH_TARGET_MAX + 2]; /* o.lock points here */
    bool early;   /* ack when it starts: the job lives under a Redis lease */
    bool started; /* the start was made already (see record) */
} start_ctx;

/* A delivery a job thread took off the queue while finishing the job
 * before it: the finish and this one's start share one round trip
 * (wh_status_finish_start). `admitted`: decoded and validated (a message
 * that is not gets the whole pipe from scratch in wk_exec). */
struct wk_ahead {
    wk_delivery *d;
    bool admitted;
    wk_job job;
    start_ctx sc;
};

static void set_lease(const wk_job *job, start_ctx *sc)
{
    if(sc->o.body && !sc->o.park)
        sc->o.lease_until = wh_now_ms() + (int64_t)job->t->cfg->lease_s * 1000;
}

static wh_code op_start(wk_job *job, void *arg, wh_err *err)
{
    start_ctx *sc = arg;
    set_lease(job, sc);
    return wh_status_start(job->t->redis, job->t->cfg->redis_prefix, &job->env, &sc->o, &sc->st, err);
}

/* The finish, with the start of the delivery taken ahead (if any) in the
 * same round trip. When that start was not made (*started false), the
 * ahead job makes it itself in wk_exec, as any job does. */
static wh_code op_finish(wk_job *job, void *arg, wh_err *err)
{
    wk_ahead *a = job->t->ahead;
    if(a && a->d && a->admitted && !a->sc.started && !a->sc.o.park && !a->sc.early) {
        set_lease(&a->job, &a->sc);
        bool started = false;
        wh_code rc = wh_status_finish_start(job->t->redis, job->t->cfg->redis_prefix, arg, NULL, &a->job.env,
                                            &a->sc.o, &a->sc.st, &started, err);
        a->sc.started = started;
        return rc;
    }
    return wh_status_finish(job->t->redis, job->t->cfg->redis_prefix, arg, NULL, err);
}

static wh_code op_requeue(wk_job *job, void *arg, wh_err *err)
{
    (void)arg;
    int64_t lease = wh_now_ms() + (int64_t)job->t->cfg->republish_s * 1000;
    return wh_status_requeue(job->t->redis, job->t->cfg->redis_prefix, job->env.id, job->t->worker_id,
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
static void give_up(wk_job *job, const char *what, const wh_err *err)
{
    if(wh_redis_connected(job->t->redis) && !wk_pool_abandoned(job->t->pool)) {
        char msg[sizeof(err->msg) + 64]; /* dead_letter cuts it to fit */
        snprintf(msg, sizeof(msg), "cannot %s: %s", what, err->msg);
        wh_log(WH_LOG_ERROR, job->d->id, "status write refused; dead-lettering", "error", err->msg);
        dead_letter(job->d, WH_E_REDIS, wh_code_name(WH_E_REDIS), msg);
        return;
    }
    wh_log(WH_LOG_ERROR, job->d->id, "status write failed; requeueing", "op", what, "error", err->msg);
    job->d->verdict = WK_REQUEUE;
}

static bool admit_quiet(wk_job *job, wh_err *err, bool *known);
static void plan_start(wk_job *job, start_ctx *sc);

static void job_init(wk_job *job, wk_thread *t, wk_delivery *d)
{
    memset(job, 0, sizeof(*job));
    atomic_init(&job->cancel, false);
    job->t = t;
    job->d = d;
    d->family = -1;
    d->verdict = WK_ACK;
}

static void job_release(wk_job *job)
{
    wh_json_free(job->result);
    job->result = NULL;
    wh_env_release(&job->env);
}

/* Before a finish: take the next queued delivery, if one waits, so that its
 * start rides with the finish (op_finish). Only a message that decodes and
 * validates is planned; any other goes through the whole pipe later. */
static void take_ahead(wk_thread *t)
{
    if(!t->ahead || t->ahead->d || wk_pool_interrupted(t->pool))
        return;
    wk_delivery *d = wk_pool_try_take(t->pool);
    if(!d)
        return;
    wk_ahead *a = t->ahead;
    a->d = d;
    job_init(&a->job, t, d);
    wh_err err;
    bool known;
    a->admitted = admit_quiet(&a->job, &err, &known);
    if(a->admitted)
        plan_start(&a->job, &a->sc);
    else
        job_release(&a->job); /* wk_exec runs the whole pipe for it */
}

wk_delivery *wk_exec_ahead(wk_thread *t)
{
    return t->ahead ? t->ahead->d : NULL;
}

bool wk_exec_thread_init(wk_thread *t)
{
    t->ahead = calloc(1, sizeof(*t->ahead));
    return t->ahead != NULL;
}

void wk_exec_thread_free(wk_thread *t)
{
    if(!t->ahead)
        return;
    if(t->ahead->d) {
        if(t->ahead->admitted)
            job_release(&t->ahead->job);
        wk_delivery_free(t->ahead->d);
    }
    free(t->ahead);
    t->ahead = NULL;
}

/* Record an outcome and count it in the stats (for a known type); on a
 * write that could not be made, the delivery is requeued instead (nothing
 * was acked, nothing is lost). */
static bool record(wk_job *job, wh_finish *f, int64_t run_us, bool count)
{
    f->id = job->d->id;
    f->ttl_s = job->t->cfg->job_ttl_s;
    if(job->ttl_s > 0 && job->ttl_s < f->ttl_s)
        f->ttl_s = job->ttl_s;
    f->created_at = job->env.created_at;
    f->count = count;
    /* A retry copy of an early-acked job must arrive within the retry delay;
     * if it does not, the reaper publishes the job again from Redis. */
    f->lease_until = wh_now_ms() + job->d->retry_ms + (int64_t)job->t->cfg->republish_s * 1000;
    take_ahead(job->t);
    wh_err err;
    if(persist(job, "finish", op_finish, f, &err) == WH_OK) {
        if(count)
            wk_stats_add(job->t->stats, f->type, run_us);
        return true;
    }
    give_up(job, "record the job outcome", &err);
    return false;
}

/* Bad input: record `failed` under the id if there is one, then dead-letter
 * the message with the code as its reason. */
static void reject(wk_job *job, const wh_err *why, bool known_type)
{
    wk_delivery *d = job->d;
    wh_log(WH_LOG_WARN, d->id, "rejected message", "reason", wh_code_name(why->code), "error", why->msg);
    if(d->id[0]) {
        /* Stats are per known type only, so junk cannot mint stats keys. */
        wh_finish f = {.type = d->type, .state = "failed", .error = wh_code_name(why->code),
                       .error_message = why->msg};
        if(!record(job, &f, -1, known_type))
            return;
    }
    dead_letter(d, why->code, wh_code_name(why->code), why->msg);
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

static void on_failure(wk_job *job, const wh_start *st, int64_t run_us)
{
    wk_delivery *d = job->d;
    const char *code = wh_err_name(&job->err);
    wh_finish f = {.type = d->type, .error = code, .error_message = job->err.msg};
    if(!job->transient) {
        f.state = "failed";
        d->failed = true;
        if(record(job, &f, run_us, true))
            d->verdict = WK_ACK;
    } else if(st->attempt < st->max_attempts) {
        f.state = "retrying";
        d->retry_ms = wh_topo_retry_tier(job->t->cfg, st->attempt, wh_random_u64());
        if(record(job, &f, run_us, true))
            d->verdict = WK_RETRY;
    } else {
        f.state = "dead";
        if(record(job, &f, run_us, true)) {
            char msg[sizeof(job->err.custom) + sizeof(job->err.msg) + 2]; /* dead_letter cuts it to fit */
            snprintf(msg, sizeof(msg), "%s: %s", code, job->err.msg);
            dead_letter(d, WH_E_ATTEMPTS_EXHAUSTED, code, msg);
        }
    }
    wh_log(WH_LOG_INFO, d->id, "job failed", "type", d->type, "error", code, "state", f.state);
}

/* The handler stopped because wk_job_interrupted() said so: record why. */
static void on_interrupt(wk_job *job, int64_t run_us)
{
    wk_delivery *d = job->d;
    wk_stop why = wk_job_stop_reason(job);
    if(why == WK_STOP_CANCEL || why == WK_STOP_TIMEOUT) {
        char msg[128];
        wh_finish f = {.type = d->type};
        if(why == WK_STOP_CANCEL) {
            f.state = "cancelled";
            f.error = wh_code_name(WH_E_CANCELLED);
            f.error_message = "cancelled while running";
        } else {
            int64_t limit = (job->deadline_us - job->started_us) / 1000000;
            snprintf(msg, sizeof(msg), "timed out after %lld s", (long long)limit);
            f.state = "failed";
            f.error = wh_code_name(WH_E_TIMEOUT);
            f.error_message = msg;
            d->failed = true;
        }
        if(record(job, &f, run_us, true))
            d->verdict = WK_ACK;
        wh_log(WH_LOG_INFO, d->id, "job stopped", "type", d->type, "state", f.state);
        return;
    }
    wh_err err;
    if(persist(job, "requeue", op_requeue, NULL, &err) != WH_OK)
        wh_log(WH_LOG_WARN, d->id, "could not mark job queued", "error", err.msg);
    if(d->early_acked) {
        /* Acked already: hand it back through the shortest retry tier. */
        d->verdict = WK_RETRY;
        d->retry_ms = job->t->cfg->tiers[0];
    } else {
        d->verdict = WK_REQUEUE;
    }
}

static void run_handler(wk_job *job, const wh_start *st)
{
    wk_delivery *d = job->d;
    d->attempts = st->attempt;
    int64_t t0 = wh_mono_us();
    job->started_us = t0;
    job->deadline_us = job->timeout_s ? t0 + (int64_t)job->timeout_s * 1000000 : 0;
    job->host = job->env.target[0] ? wh_inv_host_find(job->t->cfg->inv, job->env.target) : NULL;
    wk_pool_job_begin(job->t, d->id, &job->cancel);
    wk_run r;
    if(job->type->needs_host && !job->host)
        r = wk_job_fail(job, WH_E_UNKNOWN_HOST, NULL, false, "target: \"%s\" is not a host in this worker's inventory",
                        job->env.target);
    else
        r = job->run(job);
    wk_pool_job_end(job->t);
    int64_t run_us = wh_mono_us() - t0;
    wk_job_flush_log(job);
    if(r == WK_RUN_INTERRUPTED) {
        on_interrupt(job, run_us);
        return;
    }
    char *result = r == WK_RUN_OK ? result_text(job) : NULL;
    if(r == WK_RUN_OK && job->err.code == WH_OK) {
        wh_finish f = {.type = d->type, .state = "succeeded", .result = result};
        if(record(job, &f, run_us, true))
            d->verdict = WK_ACK;
        wh_log(WH_LOG_DEBUG, d->id, "job succeeded", "type", d->type);
    } else {
        on_failure(job, st, run_us);
    }
    free(result);
}

/* Decode and validate; false (with the reason in *err, nothing recorded)
 * when the message is bad; *known then says whether its stats may count it
 * (bad args of a known type). */
static bool admit_quiet(wk_job *job, wh_err *err, bool *known)
{
    wk_delivery *d = job->d;
    *known = false;
    if(d->too_large) {
        /* The body was never read; the AMQP message id may still name it. */
        size_t n = strlen(d->message_id);
        if(wh_id_valid(d->message_id, n)) /* valid ids fit: at most WH_ID_MAX bytes */
            memcpy(d->id, d->message_id, n + 1);
        wh_err_set(err, WH_E_TOO_LARGE, "", "body is %llu bytes; the limit is %lld",
                   (unsigned long long)d->body_size, (long long)job->t->cfg->max_body);
        return false;
    }
    wh_code rc = wh_env_decode(d->body, d->len, (size_t)job->t->cfg->max_body, &job->env, err);
    memcpy(d->id, job->env.id, sizeof(d->id));
    memcpy(d->type, job->env.type, sizeof(d->type));
    d->family = job->env.family;
    if(rc)
        return false;
    if(wk_type_admit(job->env.type, job->env.args, &job->type, &job->run, &job->result, err) != WH_OK) {
        *known = err->code == WH_E_BAD_ARGS;
        return false;
    }
    wh_key_job(job->key, job->t->cfg->redis_prefix, job->env.id);
    wh_key_log(job->logkey, job->t->cfg->redis_prefix, job->env.id);
    return true;
}

/* Decode and validate; false when the message was rejected. */
static bool admit(wk_job *job)
{
    wh_err err;
    bool known;
    if(admit_quiet(job, &err, &known))
        return true;
    reject(job, &err, known);
    return false;
}

/* The job's lock: the envelope's, else the type's key on its target. False
 * when the type's key does not fit (the job then fails bad_args). */
static bool lock_name(wk_job *job, char *out, size_t cap)
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
static void plan_start(wk_job *job, start_ctx *sc)
{
    wk_thread *t = job->t;
    wk_delivery *d = job->d;
    const wh_cfg *c = t->cfg;
    memset(sc, 0, sizeof(*sc));
    d->priority = job->env.priority;
    if(!lock_name(job, sc->lock, sizeof(sc->lock)))
        sc->lock[0] = '\0';
    job->timeout_s = job->env.timeout_s ? job->env.timeout_s : job->type->timeout_s ? job->type->timeout_s
                                                                                     : c->job_timeout_s;
    sc->o = (wh_start_opts){.worker = t->worker_id, .max_redeliveries = c->max_redeliveries,
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
static void start_and_run(wk_job *job, start_ctx *sc)
{
    wk_thread *t = job->t;
    wk_delivery *d = job->d;
    const wh_cfg *c = t->cfg;
    wh_err err;
    if(!sc->started && persist(job, "start", op_start, sc, &err) != WH_OK) {
        give_up(job, "mark the job running", &err);
        return;
    }
    const wh_start *st = &sc->st;
    switch(st->kind) {
    case WH_START_RUN:
        if(sc->early)
            wk_pool_ack_early(t->pool, d);
        run_handler(job, st);
        break;
    case WH_START_PARKED:
        wh_log(WH_LOG_DEBUG, d->id, "parked until run_at", "type", d->type);
        break;
    case WH_START_LOCKED:
        /* Wait through the shortest retry tier: no attempt is used, no thread
         * is held, and other jobs keep flowing meanwhile. */
        d->verdict = WK_RETRY;
        d->retry_ms = c->tiers[0];
        wh_log(WH_LOG_DEBUG, d->id, "waiting for lock", "lock", sc->lock, "holder", st->error);
        break;
    case WH_START_DEAD: {
        wh_finish f = {.type = d->type, .state = "dead", .error = "redelivery_limit",
                       .error_message = "delivered too many times without finishing"};
        if(record(job, &f, -1, true))
            dead_letter(d, WH_E_REDELIVERY_LIMIT, f.error, f.error_message);
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

void wk_exec(wk_thread *t, wk_delivery *d)
{
    wk_job job;
    start_ctx sc;
    wk_ahead *a = t->ahead;
    if(a && a->d == d && a->admitted) {
        /* Taken ahead while the job before it finished: admitted, planned,
         * perhaps started. Moved here before anything can point into it. */
        memcpy(&job, &a->job, sizeof(job));
        atomic_init(&job.cancel, false);
        memcpy(&sc, &a->sc, sizeof(sc));
        sc.o.lock = sc.lock[0] ? sc.lock : NULL;
        a->d = NULL;
        start_and_run(&job, &sc);
    } else {
        if(a && a->d == d)
            a->d = NULL;
        job_init(&job, t, d);
        if(admit(&job)) {
            plan_start(&job, &sc);
            start_and_run(&job, &sc);
        }
    }
    job_release(&job);
}
