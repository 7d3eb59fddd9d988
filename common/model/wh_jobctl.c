/* wh_jobctl: cancel, leadership, due jobs, renewals and the reaper. See
 * wh_jobctl.h. */
#include "wh_jobctl.h"

#include <stdio.h>
#include <string.h>

#include "wh_keys.h"
#include "wh_lua.h"
#include "wh_state.h"
#include "wh_time.h"

static wh_redis_script s_cancel = {"cancel", wh_lua_cancel, {0}};
static wh_redis_script s_due = {"due", wh_lua_due, {0}};
static wh_redis_script s_renew = {"renew", wh_lua_renew, {0}};
static wh_redis_script s_unsent = {"unsent", wh_lua_unsent, {0}};
static wh_redis_script s_reap = {"reap", wh_lua_reap, {0}};
static wh_redis_script s_lead = {"lead", wh_lua_lead, {0}};

/* String element i of an array reply (length in *n); NULL if absent. */
static const char *elem(const wh_redis_reply *rep, size_t i, size_t *n)
{
    *n = 0;
    if(wh_redis_reply_kind(rep) != WH_REDIS_ARRAY || i >= wh_redis_reply_len(rep))
        return NULL;
    return wh_redis_reply_str(wh_redis_reply_at(rep, i), n);
}

static void elem_copy(const wh_redis_reply *rep, size_t i, char *out, size_t cap)
{
    size_t n;
    const char *s = elem(rep, i, &n);
    snprintf(out, cap, "%.*s", s ? (int)n : 0, s ? s : "");
}

wh_code wh_jobctl_cancel(wh_redis *r, const char *prefix, const char *id, int64_t ttl_s, char *state, wh_err *err)
{
    char job[WH_KEY_MAX], log[WH_KEY_MAX], sched[WH_KEY_MAX], leases[WH_KEY_MAX], chan[WH_KEY_MAX], now[24],
        ttl[24];
    state[0] = '\0';
    if(!wh_id_valid(id, strlen(id)))
        return wh_err_set(err, WH_E_NOT_FOUND, "id", "\"%.64s\" is not a job id", id);
    wh_key_job(job, prefix, id);
    wh_key_log(log, prefix, id);
    wh_key_scheduled(sched, prefix);
    wh_key_leases(leases, prefix);
    wh_key_events(chan, prefix);
    snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
    const char *argv[WH_CANCEL_ARGC] = {[WH_CANCEL_KEY_JOB] = job, [WH_CANCEL_KEY_LOG] = log,
                                        [WH_CANCEL_KEY_SCHEDULED] = sched, [WH_CANCEL_KEY_LEASES] = leases,
                                        [WH_CANCEL_ARG_ID] = id, [WH_CANCEL_ARG_NOW] = now,
                                        [WH_CANCEL_ARG_TTL] = ttl, [WH_CANCEL_ARG_EVENTS] = chan};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_cancel, &rep, WH_CANCEL_NKEYS, WH_CANCEL_ARGC, argv, NULL, err);
    if(rc)
        return rc;
    char kind[16];
    elem_copy(rep, 0, kind, sizeof(kind));
    elem_copy(rep, 1, state, 16);
    wh_redis_reply_free(rep);
    if(strcmp(kind, "missing") == 0)
        return wh_err_set(err, WH_E_NOT_FOUND, "id", "no job with id \"%s\"", id);
    if(strcmp(kind, "finished") == 0)
        return wh_err_set(err, WH_E_CONFLICT, "id", "job %s already finished: it is %s", id, state);
    if(strcmp(kind, "cancelled") == 0) /* the reply then names the state it had */
        snprintf(state, 16, "%s", wh_state_name(WH_STATE_CANCELLED));
    return WH_OK;
}

wh_code wh_jobctl_lead(wh_redis *r, const char *prefix, const char *me, int64_t ttl_ms, bool *leader, wh_err *err)
{
    char key[WH_KEY_MAX], ttl[24];
    wh_key_leader(key, prefix);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    const char *argv[WH_LEAD_ARGC] = {[WH_LEAD_KEY_LEADER] = key, [WH_LEAD_ARG_CANDIDATE] = me,
                                      [WH_LEAD_ARG_LEASE_MS] = ttl};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_lead, &rep, WH_LEAD_NKEYS, WH_LEAD_ARGC, argv, NULL, err);
    if(rc)
        return rc;
    *leader = wh_redis_reply_int(rep) == 1;
    wh_redis_reply_free(rep);
    return WH_OK;
}

/* Walk a flat reply of `stride` strings per job: id, [action,] body, [type]. */
static void each_msg(const wh_redis_reply *rep, bool reaped, wh_jobctl_msg_fn fn, void *ud, int *count)
{
    size_t stride = reaped ? 4 : 2, n = wh_redis_reply_len(rep);
    *count = 0;
    for(size_t i = 0; i + stride <= n; i += stride) {
        char id[WH_ID_MAX + 1], action[16] = "publish", type[128] = "";
        size_t blen;
        elem_copy(rep, i, id, sizeof(id));
        if(reaped) {
            elem_copy(rep, i + 1, action, sizeof(action));
            elem_copy(rep, i + 3, type, sizeof(type));
            if(strcmp(action, "requeue") == 0)
                snprintf(action, sizeof(action), "publish");
        }
        const char *body = elem(rep, i + (reaped ? 2 : 1), &blen);
        if(body) {
            fn(ud, id, type, action, body, blen);
            (*count)++;
        }
    }
}

/* Run due.lua or reap.lua: both take the key of their zset(s), then now,
 * a batch size, the job key prefix, the events channel and a lease; reap
 * adds the ttl of a job it buries. */
static wh_code sweep(wh_redis *r, const char *prefix, wh_redis_script *script, int max, int64_t lease_until,
                     int64_t ttl_s, wh_jobctl_msg_fn fn, void *ud, int *n, wh_err *err)
{
    bool reap = script == &s_reap;
    char sched[WH_KEY_MAX], leases[WH_KEY_MAX], jobp[WH_KEY_MAX], chan[WH_KEY_MAX], now[24], maxs[16], lease[24],
        ttl[24];
    wh_key_scheduled(sched, prefix);
    wh_key_leases(leases, prefix);
    snprintf(jobp, sizeof(jobp), "%sjob:", prefix);
    wh_key_events(chan, prefix);
    snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
    snprintf(maxs, sizeof(maxs), "%d", max);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_until);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
    const char *due_argv[WH_DUE_ARGC] = {[WH_DUE_KEY_SCHEDULED] = sched, [WH_DUE_KEY_LEASES] = leases,
                                         [WH_DUE_ARG_NOW] = now, [WH_DUE_ARG_BATCH] = maxs,
                                         [WH_DUE_ARG_JOB_PREFIX] = jobp, [WH_DUE_ARG_EVENTS] = chan,
                                         [WH_DUE_ARG_LEASE_UNTIL] = lease};
    const char *reap_argv[WH_REAP_ARGC] = {[WH_REAP_KEY_LEASES] = leases, [WH_REAP_ARG_NOW] = now,
                                           [WH_REAP_ARG_BATCH] = maxs, [WH_REAP_ARG_JOB_PREFIX] = jobp,
                                           [WH_REAP_ARG_EVENTS] = chan, [WH_REAP_ARG_LEASE_UNTIL] = lease,
                                           [WH_REAP_ARG_TTL] = ttl};
    wh_redis_reply *rep;
    wh_code rc = reap ? wh_redis_eval(r, script, &rep, WH_REAP_NKEYS, WH_REAP_ARGC, reap_argv, NULL, err)
                      : wh_redis_eval(r, script, &rep, WH_DUE_NKEYS, WH_DUE_ARGC, due_argv, NULL, err);
    if(rc)
        return rc;
    each_msg(rep, reap, fn, ud, n);
    wh_redis_reply_free(rep);
    return WH_OK;
}

wh_code wh_jobctl_due(wh_redis *r, const char *prefix, int max, int64_t lease_until, wh_jobctl_msg_fn fn, void *ud,
                      int *n, wh_err *err)
{
    return sweep(r, prefix, &s_due, max, lease_until, 0, fn, ud, n, err);
}

wh_code wh_jobctl_reap(wh_redis *r, const char *prefix, int max, int64_t lease_until, int64_t ttl_s,
                       wh_jobctl_msg_fn fn, void *ud, int *n, wh_err *err)
{
    return sweep(r, prefix, &s_reap, max, lease_until, ttl_s, fn, ud, n, err);
}

/* Trim every index of <p>recent:indexes to scores >= `min` (pipelined). */
static wh_code trim_indexes(wh_redis *r, const char *recent, const char *min, wh_err *err)
{
    char set[WH_KEY_MAX], lt[32];
    int sn = snprintf(set, sizeof(set), "%s:indexes", recent);
    int ln = snprintf(lt, sizeof(lt), "(%s", min);
    if(sn < 0 || (size_t)sn >= sizeof(set) || ln < 0 || (size_t)ln >= sizeof(lt))
        return wh_err_set(err, WH_E_INTERNAL, "", "recent index key too long");
    const char *smembers[] = {"SMEMBERS", set};
    wh_redis_reply *names;
    if(wh_redis_cmdv(r, &names, err, 2, smembers) != WH_OK)
        return err->code;
    int queued = 0;
    wh_code rc = WH_OK;
    for(size_t i = 0; !rc && i < wh_redis_reply_len(names); i++) {
        size_t n;
        const char *name = wh_redis_reply_str(wh_redis_reply_at(names, i), &n);
        char key[WH_KEY_MAX];
        int kn = snprintf(key, sizeof(key), "%s:%.*s", recent, (int)n, name ? name : "");
        if(kn < 0 || (size_t)kn >= sizeof(key))
            continue; /* no index of ours has such a name */
        const char *argv[] = {"ZREMRANGEBYSCORE", key, "-inf", lt};
        size_t lens[] = {16, strlen(key), 4, strlen(lt)};
        if(!(rc = wh_redis_append(r, 4, argv, lens, err)))
            queued++;
    }
    wh_redis_reply_free(names);
    wh_code rc2 = wh_redis_drain(r, queued, rc ? NULL : err);
    return rc ? rc : rc2;
}

wh_code wh_jobctl_trim_recent(wh_redis *r, const char *prefix, int cap, wh_err *err)
{
    char key[WH_KEY_MAX], stop[24];
    wh_key_recent(key, prefix);
    snprintf(stop, sizeof(stop), "%d", -(cap + 1));
    const char *argv[] = {"ZREMRANGEBYRANK", key, "0", stop};
    wh_redis_reply *rep;
    if(wh_redis_cmdv(r, &rep, err, 4, argv) != WH_OK)
        return err->code;
    long long removed = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    if(removed <= 0)
        return WH_OK;
    const char *oldest[] = {"ZRANGE", key, "0", "0", "WITHSCORES"};
    if(wh_redis_cmdv(r, &rep, err, 5, oldest) != WH_OK)
        return err->code;
    size_t n = 0;
    const char *min = wh_redis_reply_len(rep) == 2 ? wh_redis_reply_str(wh_redis_reply_at(rep, 1), &n) : NULL;
    char minv[32];
    snprintf(minv, sizeof(minv), "%.*s", (int)(n < sizeof(minv) ? n : 0), min ? min : "");
    wh_redis_reply_free(rep);
    return minv[0] ? trim_indexes(r, key, minv, err) : WH_OK;
}

wh_code wh_jobctl_renew(wh_redis *r, const char *prefix, char (*ids)[WH_ID_MAX + 1], int n, int64_t lease_until,
                        int64_t lock_ms, void (*cancel)(void *ud, const char *id), void *ud, wh_err *err)
{
    enum { MAX = 1024 };
    char leases[WH_KEY_MAX], jobp[WH_KEY_MAX], lease[24], lms[24];
    const char *argv[WH_RENEW_ARG_IDS + MAX];
    if(n <= 0)
        return WH_OK;
    if(n > MAX)
        n = MAX;
    wh_key_leases(leases, prefix);
    snprintf(jobp, sizeof(jobp), "%sjob:", prefix);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_until);
    snprintf(lms, sizeof(lms), "%lld", (long long)lock_ms);
    argv[WH_RENEW_KEY_LEASES] = leases;
    argv[WH_RENEW_ARG_LEASE_UNTIL] = lease;
    argv[WH_RENEW_ARG_LOCK_MS] = lms;
    argv[WH_RENEW_ARG_JOB_PREFIX] = jobp;
    for(int i = 0; i < n; i++)
        argv[WH_RENEW_ARG_IDS + i] = ids[i];
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_renew, &rep, WH_RENEW_NKEYS, WH_RENEW_ARG_IDS + n, argv, NULL, err);
    if(rc)
        return rc;
    for(size_t i = 0; i < wh_redis_reply_len(rep); i++) {
        char id[WH_ID_MAX + 1];
        elem_copy(rep, i, id, sizeof(id));
        cancel(ud, id);
    }
    wh_redis_reply_free(rep);
    return WH_OK;
}

wh_code wh_jobctl_unsent(wh_redis *r, const char *prefix, const char *const *ids, int n, int64_t lease_until,
                         int64_t retry_at, wh_err *err)
{
    enum { MAX = 1024 };
    char leases[WH_KEY_MAX], lease[24], retry[24];
    const char *argv[WH_UNSENT_ARG_IDS + MAX];
    if(n <= 0)
        return WH_OK;
    if(n > MAX)
        n = MAX;
    wh_key_leases(leases, prefix);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_until);
    snprintf(retry, sizeof(retry), "%lld", (long long)retry_at);
    argv[WH_UNSENT_KEY_LEASES] = leases;
    argv[WH_UNSENT_ARG_LEASE_UNTIL] = lease;
    argv[WH_UNSENT_ARG_RETRY_AT] = retry;
    for(int i = 0; i < n; i++)
        argv[WH_UNSENT_ARG_IDS + i] = ids[i];
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_unsent, &rep, WH_UNSENT_NKEYS, WH_UNSENT_ARG_IDS + n, argv, NULL, err);
    if(rc == WH_OK)
        wh_redis_reply_free(rep);
    return rc;
}
