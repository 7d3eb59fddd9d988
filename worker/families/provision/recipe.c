/* recipe: running a recipe (provision.run, provision.container).
 *
 * Progress: before step i of n, `step` = "i/n name" and progress = 100*i/n.
 * Resume: after each step the number of completed steps is stored in
 * <prefix>pv:run:<job id> (expiring with the job), so a retried or
 * redelivered job starts after the last completed step (and runs the
 * recipe's `rerun` step again when it was among them). Rollback: when the
 * job ends without success (a permanent failure, its last attempt, a cancel
 * or a timeout) the `rollback` step of every completed step runs, newest
 * first, then the recipe's own `rollback` list; a rollback step that fails
 * is logged and the others still run. Shutdown rolls nothing back: the job
 * is requeued and resumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"

static void record_key(wk_job *job, char *out, size_t cap)
{
    snprintf(out, cap, "%spv:run:%s", wk_job_prefix(job), wk_job_env(job)->id);
}

/* Completed steps recorded by an earlier attempt (0 when none). */
static int record_get(wk_job *job)
{
    char key[320];
    record_key(job, key, sizeof(key));
    wk_job_flush(job);
    const char *argv[] = {"GET", key};
    wh_redis_reply *rep = NULL;
    wh_err err;
    int n = 0;
    if(wh_redis_cmdv(wk_job_redis(job), &rep, &err, 2, argv) == WH_OK && wh_redis_reply_kind(rep) == WH_REDIS_STRING) {
        size_t len;
        const char *s = wh_redis_reply_str(rep, &len);
        char buf[16];
        snprintf(buf, sizeof(buf), "%.*s", (int)(len < 15 ? len : 15), s);
        n = (int)strtol(buf, NULL, 10);
    }
    wh_redis_reply_free(rep);
    return n;
}

/* Store `done` (or delete the record when done < 0). */
static wh_code record_set(wk_job *job, int done, wh_err *err)
{
    char key[320], val[16], ttl[24];
    record_key(job, key, sizeof(key));
    snprintf(val, sizeof(val), "%d", done);
    int64_t t = wk_job_cfg(job)->job_ttl_s;
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(t > 0 ? t : 604800));
    wk_job_flush(job);
    const char *set[] = {"SET", key, val, "EX", ttl}, *del[] = {"DEL", key};
    return done < 0 ? wh_redis_cmdv(wk_job_redis(job), NULL, err, 2, del)
                    : wh_redis_cmdv(wk_job_redis(job), NULL, err, 5, set);
}

/* True when this attempt is the job's last (read from its hash). */
static bool last_attempt(wk_job *job)
{
    char key[320];
    snprintf(key, sizeof(key), "%sjob:%s", wk_job_prefix(job), wk_job_env(job)->id);
    const char *argv[] = {"HMGET", key, "attempt", "max_attempts"};
    wh_redis_reply *rep = NULL;
    wh_err err;
    long v[2] = {1, 1};
    if(wh_redis_cmdv(wk_job_redis(job), &rep, &err, 4, argv) == WH_OK && wh_redis_reply_len(rep) == 2)
        for(size_t i = 0; i < 2; i++) {
            size_t n;
            const char *s = wh_redis_reply_str(wh_redis_reply_at(rep, i), &n);
            char buf[16];
            snprintf(buf, sizeof(buf), "%.*s", s ? (int)(n < 15 ? n : 15) : 0, s ? s : "");
            v[i] = strtol(buf, NULL, 10);
        }
    wh_redis_reply_free(rep);
    return v[0] >= v[1];
}

static wh_code run_one(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    return pv_step_run(rc, st, err);
}

/* Undo steps [0, done) newest first, then run the recipe's rollback list
 * in its order (docs/families/provision.md, Recipes): position k of the
 * done + n rollback steps is step done-1-k while k < done, then list item
 * k-done. The step that failed did not complete: its rollback does not
 * run. Failures are logged; every rollback step is tried. */
static void roll_back(wk_job *job, const pv_recipe *rp, int done)
{
    const wh_mp_obj *steps = rp->steps, *extra = rp->rollback;
    pv_step_ctx rc = {job, rp->vars, "", true};
    int n = extra ? (int)wh_mp_size(extra) : 0, total = done + n;
    wk_job_logf(job, WK_SYS, "rolling back %d completed step(s)", done);
    for(int k = 0; k < total && !pv_stop(job, true); k++) {
        int i = k < done ? done - 1 - k : k - done; /* the step, or the list item */
        const wh_mp_obj *st = k < done ? wh_mp_map_get(wh_mp_arr_at(steps, (uint32_t)i), "rollback")
                                       : wh_mp_arr_at(extra, (uint32_t)i);
        if(!st)
            continue;
        if(k < done)
            snprintf(rc.field, sizeof(rc.field), "%s[%d].rollback", rp->field, i);
        else
            snprintf(rc.field, sizeof(rc.field), "args.rollback[%d]", i);
        wk_job_progress(job, 100 * (total - 1 - k) / total, rc.field); /* counts down */
        wh_err err;
        if(run_one(&rc, st, &err))
            wk_job_logf(job, WK_SYS, "rollback %s failed: %s: %s", rc.field, wh_err_name(&err), err.msg);
    }
}

static void set_step(wk_job *job, int i, int n, const wh_mp_obj *st)
{
    size_t nn;
    const char *name = wh_args_str(st, "name", NULL, &nn);
    char text[200];
    if(name)
        snprintf(text, sizeof(text), "%d/%d %.*s", i + 1, n, (int)nn, name);
    else
        snprintf(text, sizeof(text), "%d/%d", i + 1, n);
    wk_job_progress(job, 100 * i / n, text);
}

wk_run pv_recipe_run(wk_job *job, const pv_recipe *rp, bool *ended)
{
    const wh_mp_obj *steps = rp->steps;
    int n = (int)wh_mp_size(steps), done = record_get(job);
    *ended = true;
    if(done > 0)
        wk_job_logf(job, WK_SYS, "resuming after %d completed step(s)", done);
    pv_step_ctx rc = {job, rp->vars, "", false};
    wh_err err;
    wh_code r = WH_OK;
    if(rp->rerun >= 0 && rp->rerun < done) {
        const wh_mp_obj *st = wh_mp_arr_at(steps, (uint32_t)rp->rerun);
        snprintf(rc.field, sizeof(rc.field), "%s[%d]", rp->field, rp->rerun);
        wk_job_logf(job, WK_SYS, "running %s again", rc.field);
        r = run_one(&rc, st, &err);
    }
    for(int i = done; i < n && !r; i++) {
        const wh_mp_obj *st = wh_mp_arr_at(steps, (uint32_t)i);
        snprintf(rc.field, sizeof(rc.field), "%s[%d]", rp->field, i);
        set_step(job, i, n, st);
        r = run_one(&rc, st, &err);
        if(!r && !(r = record_set(job, i + 1, &err)))
            done = i + 1;
    }
    if(!r) {
        record_set(job, -1, &err);
        return WK_RUN_OK;
    }
    wk_stop why = wk_job_stop_reason(job);
    if(why == WK_STOP_SHUTDOWN) {
        *ended = false;
        return WK_RUN_INTERRUPTED; /* requeued: the next run resumes */
    }
    /* The class decides as for every job (wh_code_transient); the recipe's
     * own twist: its last attempt rolls back and ends `failed`, not `dead`. */
    bool retry = wh_code_transient(r) && why == WK_STOP_NONE && !last_attempt(job);
    if(retry) {
        *ended = false;
    } else {
        roll_back(job, rp, done);
        record_set(job, -1, &err);
    }
    if(why != WK_STOP_NONE)
        return WK_RUN_INTERRUPTED; /* the pipe records cancelled or timeout */
    return wk_job_fail(job, r, err.custom[0] ? err.custom : NULL, retry, "%s", err.msg);
}

