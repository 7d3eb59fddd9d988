/* wk_exec_outcome: how an attempt ends, and the status writes that record
 * it (steps 2 and 4 of wk_exec.c). Starts and finishes go out through the
 * worker's group commit (wk_commit), batched with other threads' moves.
 * Every write goes through persist(), which retries it while Redis is away
 * and gives up in the two ways wk_exec.c describes (requeue, or dead-letter
 * as redis_error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_log.h"
#include "wh_time.h"
#include "wh_topo.h"
#include "wk_exec_int.h"

#define PERSIST_REPLY_TRIES 5 /* Redis error replies tolerated per write (about 1.5 s) */

typedef wh_code (*persist_fn)(wk_exec *x, slot *s, void *arg, wh_err *err);

/* Whether the connection of the write `fn` is usable: a live server that
 * refuses a write is not asked forever. */
static bool connected(const wk_exec *x, persist_fn fn);

/* Run a status write until it succeeds. Lost connections, and error
 * replies about the server's state (OOM at maxmemory, a failover's
 * READONLY: wh_redis_state_error), are retried with backoff until the pool
 * is abandoned (hard shutdown); other error replies from a live server (a
 * corrupted key, say) are retried a few times, then given up.
 * Returns WH_OK, or the last error. */
static wh_code persist(wk_exec *x, slot *s, const char *what, persist_fn fn, void *arg, wh_err *err)
{
    int64_t backoff = 50;
    int reply_errors = 0;
    for(;;) {
        wh_code rc = fn(x, s, arg, err);
        if(rc == WH_OK)
            return WH_OK;
        if(connected(x, fn) && !wh_redis_state_error(err) && ++reply_errors >= PERSIST_REPLY_TRIES)
            return rc;
        wh_log(WH_LOG_WARN, s->d->id, "status write failed; retrying", "op", what, "error", err->msg);
        if(wk_halt_abandoned(x->halt))
            return rc;
        wh_sleep_ms(backoff);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}

static void set_lease(const wk_exec *x, start_ctx *sc)
{
    if(sc->o.body && !sc->o.park)
        sc->o.lease_until = wh_now_ms() + (int64_t)x->cfg->lease_s * 1000;
}

/* The thread's first m moves, made on first use: an idle worker keeps its
 * memory small. */
static wh_code moves(wk_exec *x, int m, wh_err *err)
{
    for(int k = 0; k < m; k++)
        if(!x->moves[k] && !(x->moves[k] = wh_move_new()))
            return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    return WH_OK;
}

static wh_code op_start(wk_exec *x, slot *s, void *arg, wh_err *err)
{
    (void)arg;
    set_lease(x, &s->sc);
    if(moves(x, 1, err))
        return WH_E_NOMEM;
    wh_move *m = x->moves[0];
    wh_move_set(m, x->cfg->redis_prefix, NULL, &s->job.env, &s->sc.o);
    wh_code rc = wk_commit_moves(x->commit, &x->waiter, &m, 1, err);
    bool started;
    return rc ? rc : wh_move_result(m, NULL, &s->sc.st, &started, err);
}

/* What a run's write covers: its members, and the next run taken ahead. */
typedef struct run_write {
    slot *run, *next;
    int n, nn;
} run_write;

/* May the start of `s` (taken ahead) ride with the finishes before it? A
 * start that does not ride, or is not made, is made by its own
 * wk_exec_run, as for any job. */
static bool rides(const wk_exec *x, const slot *s)
{
    /* A start sent with an earlier try of the batch may be in Redis already
     * (its reply was lost): it is sent again whatever the connection. */
    return s->admitted && !s->sc.started && !s->sc.o.park && !s->sc.early &&
           (s->sc.sent || wk_exec__current(x, s->d));
}

/* Pair the run's finishes still to write with the next run's starts that
 * ride along, one wh_move per pair (made with moves() first). */
static int pair_moves(wk_exec *x, const run_write *w, slot **fin, int *nf, slot **sta, int *ns)
{
    *nf = *ns = 0;
    for(int i = 0; i < w->n; i++)
        if(w->run[i].d && w->run[i].out.pending && !w->run[i].out.written)
            fin[(*nf)++] = &w->run[i];
    for(int i = 0; i < w->nn; i++)
        if(rides(x, &w->next[i])) {
            if(w->next[i].sc.sent && !wk_exec__current(x, w->next[i].d))
                wh_log(WH_LOG_DEBUG, w->next[i].d->id, "start of a lost connection sent again");
            set_lease(x, &w->next[i].sc);
            w->next[i].sc.sent = true;
            sta[(*ns)++] = &w->next[i];
        }
    int m = *nf > *ns ? *nf : *ns;
    if(moves(x, m, &(wh_err){0}))
        return -1;
    for(int k = 0; k < m; k++)
        wh_move_set(x->moves[k], x->cfg->redis_prefix, k < *nf ? &fin[k]->out.f : NULL,
                    k < *ns ? &sta[k]->job.env : NULL, k < *ns ? &sta[k]->sc.o : NULL);
    return m;
}

/* The run's finishes, with the next run's starts, in one batch. The code is
 * the first finish that failed; the finishes written are marked, the
 * starts made too, so a retry sends only the rest. */
static wh_code op_run(wk_exec *x, slot *s, void *arg, wh_err *err)
{
    (void)s;
    slot *fin[WK_RUN_MAX], *sta[WK_RUN_MAX];
    int nf, ns, m = pair_moves(x, arg, fin, &nf, sta, &ns);
    if(m < 0)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    wh_code rc = m ? wk_commit_moves(x->commit, &x->waiter, x->moves, m, err) : WH_OK;
    if(rc)
        return rc;
    for(int k = 0; k < m; k++) {
        bool started = false;
        wh_err e;
        wh_code r = wh_move_result(x->moves[k], NULL, k < ns ? &sta[k]->sc.st : NULL, &started, &e);
        if(k < ns)
            sta[k]->sc.started = started;
        if(k >= nf)
            continue; /* a start alone: if it failed, its own run makes it */
        if(r == WH_OK)
            fin[k]->out.written = true;
        else if(rc == WH_OK) {
            rc = r;
            *err = e;
        }
    }
    return rc;
}

static wh_code op_requeue(wk_exec *x, slot *s, void *arg, wh_err *err)
{
    (void)arg;
    int64_t lease = wh_now_ms() + (int64_t)x->cfg->republish_s * 1000;
    return wh_status_requeue(x->redis, x->cfg->redis_prefix, s->job.env.id, x->worker_id,
                             "requeued: worker shutdown", lease, err);
}

static bool connected(const wk_exec *x, persist_fn fn)
{
    return fn == op_requeue ? wh_redis_connected(x->redis) : wk_commit_connected(x->commit);
}

void wk_exec__dead_letter(wk_delivery *d, wh_code reason, const char *job_code, const char *msg)
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
    if(wk_commit_connected(x->commit) && !wk_halt_abandoned(x->halt)) {
        char msg[sizeof(err->msg) + 64]; /* the dead letter cuts it to fit */
        snprintf(msg, sizeof(msg), "cannot %s: %s", what, err->msg);
        wh_log(WH_LOG_ERROR, s->d->id, "status write refused; dead-lettering", "error", err->msg);
        wk_exec__dead_letter(s->d, WH_E_REDIS, wh_code_name(WH_E_REDIS), msg);
        return;
    }
    wh_log(WH_LOG_ERROR, s->d->id, "status write failed; requeueing", "op", what, "error", err->msg);
    s->d->verdict = WK_REQUEUE;
}

bool wk_exec__start(wk_exec *x, slot *s)
{
    wh_err err;
    if(s->sc.started || persist(x, s, "start", op_start, NULL, &err) == WH_OK)
        return true;
    give_up(x, s, "mark the job running", &err);
    return false;
}

/* ---- outcomes: decided by wk_exec_run, written by the finish ---- */

/* Leave an outcome of `state` for the finish to write; the caller fills in
 * the error and what the verdict becomes. */
static outcome *decide(slot *s, wh_state state, int64_t run_us, bool count)
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
        wh_log(WH_LOG_INFO, d->id, "job failed", "type", d->type, "error", f->error, "state",
               wh_state_name(f->state));
        break;
    case NOTE_STOPPED:
        wh_log(WH_LOG_INFO, d->id, "job stopped", "type", d->type, "state", wh_state_name(f->state));
        break;
    }
}

/* Fill in what the finish of `s` needs besides the outcome. */
static void finish_fields(const wk_exec *x, slot *s)
{
    wh_finish *f = &s->out.f;
    f->id = s->d->id;
    f->ttl_s = x->cfg->job_ttl_s;
    if(s->job.ttl_s > 0 && s->job.ttl_s < f->ttl_s)
        f->ttl_s = s->job.ttl_s;
    f->created_at = s->job.env.created_at;
    /* A retry copy of an early-acked job must arrive within the retry delay;
     * if it does not, the reaper publishes the job again from Redis. */
    f->lease_until = wh_now_ms() + s->d->retry_ms + (int64_t)x->cfg->republish_s * 1000;
}

/* The outcome of `s` is in Redis: count it, and set the verdict. */
static void recorded(wk_exec *x, slot *s)
{
    outcome *o = &s->out;
    if(o->f.count)
        wk_stats_add(x->stats, o->f.type, o->run_us);
    if(o->dead_reason)
        wk_exec__dead_letter(s->d, o->dead_reason, o->f.error, o->dead_msg);
    else
        s->d->verdict = o->verdict;
}

void wk_exec__record(wk_exec *x, slot *run, int n, slot *next, int nn)
{
    slot *first = NULL;
    for(int i = 0; i < n; i++)
        if(run[i].d && run[i].out.pending) {
            finish_fields(x, &run[i]);
            if(!first)
                first = &run[i];
        }
    if(!first)
        return; /* nothing to write: the next run's starts go with their runs */
    run_write w = {run, next, n, nn};
    wh_err err;
    persist(x, first, "finish", op_run, &w, &err);
    for(int i = 0; i < n; i++) {
        slot *s = &run[i];
        if(!s->d || !s->out.pending)
            continue;
        if(s->out.written)
            recorded(x, s);
        else
            give_up(x, s, "record the job outcome", &err);
        say(s);
    }
}

void wk_exec__reject(slot *s, const wh_err *why, bool known_type)
{
    wk_delivery *d = s->d;
    wh_log(WH_LOG_WARN, d->id, "rejected message", "reason", wh_code_name(why->code), "error", why->msg);
    if(!d->id[0]) {
        wk_exec__dead_letter(d, why->code, wh_code_name(why->code), why->msg);
        return;
    }
    /* Stats are per known type only, so junk cannot mint stats keys. */
    outcome *o = decide(s, WH_STATE_FAILED, -1, known_type);
    o->why = *why;
    o->f.error = wh_code_name(why->code);
    o->f.error_message = o->why.msg;
    o->dead_reason = why->code;
    o->dead_msg = o->why.msg;
}

void wk_exec__redelivered(slot *s)
{
    outcome *o = decide(s, WH_STATE_DEAD, -1, true);
    o->f.error = "redelivery_limit";
    o->f.error_message = "delivered too many times without finishing";
    o->dead_reason = WH_E_REDELIVERY_LIMIT;
    o->dead_msg = o->f.error_message;
}

/* ---- how the handler ended ---- */

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
        o = decide(s, WH_STATE_FAILED, run_us, true);
    } else if(st->attempt < st->max_attempts) {
        d->retry_ms = wh_topo_retry_tier(x->cfg, st->attempt, wh_random_u64());
        o = decide(s, WH_STATE_RETRYING, run_us, true);
        o->verdict = WK_RETRY;
    } else {
        o = decide(s, WH_STATE_DEAD, run_us, true);
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
        outcome *o = decide(s, WH_STATE_CANCELLED, run_us, true);
        o->f.error = wh_code_name(WH_E_CANCELLED);
        o->f.error_message = "cancelled while running";
        o->said = NOTE_STOPPED;
        return;
    }
    if(why == WK_STOP_TIMEOUT) {
        outcome *o = decide(s, WH_STATE_FAILED, run_us, true);
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

void wk_exec__ended(wk_exec *x, slot *s, wk_run r, int64_t run_us)
{
    if(r == WK_RUN_INTERRUPTED) {
        on_interrupt(x, s, run_us);
        return;
    }
    wk_job *job = &s->job;
    char *result = r == WK_RUN_OK ? result_text(job) : NULL;
    if(r == WK_RUN_OK && job->err.code == WH_OK) {
        outcome *o = decide(s, WH_STATE_SUCCEEDED, run_us, true);
        o->result = result; /* freed with the slot, once written */
        o->f.result = result;
        o->said = NOTE_SUCCEEDED;
    } else {
        free(result);
        on_failure(x, s, run_us);
    }
}
