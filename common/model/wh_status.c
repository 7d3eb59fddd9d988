/* wh_status: the worker's job state moves through the Lua scripts: the
 * arguments and replies of start and finish (sent in batches by
 * wh_status_moves.c), requeue, revive, stats. The producer's moves are in
 * wh_status_enqueue.c, the readers in wh_status_read.c. See wh_status.h. */
#include "wh_status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_conv.h"
#include "wh_keys.h"
#include "wh_lua.h"
#include "wh_text.h"
#include "wh_time.h"

/* Scripts are shared by all threads; each SHA is filled once, identically. */
static wh_redis_script s_requeue = {"requeue", wh_lua_requeue, {0}};
static wh_redis_script s_revive = {"revive", wh_lua_revive, {0}};
static wh_redis_script s_stats = {"stats", wh_lua_stats, {0}};

void wh_status__start_fill(start_args *a, const wh_env *env, const wh_start_opts *o)
{
    wh_text_i64(a->created_at, env->created_at);
    wh_text_i64(a->maxa, o->max_attempts);
    wh_text_i64(a->now, o->now_ms ? o->now_ms : wh_now_ms());
    wh_text_i64(a->maxr, o->max_redeliveries);
    wh_text_i64(a->lock_ms, o->lock_ms);
    wh_text_i64(a->run_at, env->run_at);
    wh_text_i64(a->lease, o->lease_until);
    wh_text_i64(a->ttl, o->ttl_s);
    wh_text_i64(a->run_ms, o->run_ms);
    const char *argv[WH_START_ARGC] = {
        [WH_START_KEY_JOB] = "", [WH_START_KEY_RECENT] = "", [WH_START_KEY_SCHEDULED] = "",
        [WH_START_KEY_LEASES] = "", [WH_START_KEY_LOCK_KEY] = "", [WH_START_KEY_WORKERS] = "",
        [WH_START_ARG_ID] = env->id,
        [WH_START_ARG_JOB_TYPE] = env->type, [WH_START_ARG_TARGET] = env->target,
        [WH_START_ARG_CREATED_AT] = a->created_at, [WH_START_ARG_MAX_ATTEMPTS] = a->maxa, [WH_START_ARG_NOW] = a->now,
        [WH_START_ARG_WORKER] = o->worker, [WH_START_ARG_EVENTS] = "", [WH_START_ARG_MAX_REDELIVERIES] = a->maxr,
        [WH_START_ARG_MODE] = o->park ? "park" : "run", [WH_START_ARG_LOCK] = o->lock ? o->lock : "",
        [WH_START_ARG_LOCK_MS] = a->lock_ms, [WH_START_ARG_RUN_AT] = a->run_at,
        [WH_START_ARG_BODY] = o->body ? o->body : "", [WH_START_ARG_LEASE_UNTIL] = a->lease,
        [WH_START_ARG_TTL] = a->ttl, [WH_START_ARG_RUN_MS] = a->run_ms};
    memcpy(a->argv, argv, sizeof(argv));
    for(int i = 0; i < WH_START_ARGC; i++)
        a->lens[i] = strlen(argv[i]);
    a->lens[WH_START_ARG_BODY] = o->body ? o->body_len : 0;
}

/* One positive int of at most 9 digits at *s, then `end`; moves *s past
 * it. */
static bool parse_count(const char **s, char end, int *out)
{
    int v = 0, digits = 0;
    for(; **s >= '0' && **s <= '9' && digits < 9; (*s)++, digits++)
        v = v * 10 + (**s - '0');
    if(!digits || **s != end)
        return false;
    *out = v;
    return true;
}

/* "run <attempt> <max_attempts>": start.lua's common answer. */
static bool parse_run(const char *text, int *attempt, int *max_attempts)
{
    if(strncmp(text, "run ", 4) != 0)
        return false;
    text += 4;
    if(!parse_count(&text, ' ', attempt))
        return false;
    text++;
    return parse_count(&text, '\0', max_attempts);
}

wh_code wh_status__start_result(const wh_redis_reply *rep, wh_start *out, wh_err *err)
{
    char kind[8];
    memset(out, 0, sizeof(*out));
    if(wh_redis_reply_kind(rep) == WH_REDIS_STRING) { /* "run <attempt> <max_attempts>" */
        size_t n;
        const char *s = wh_redis_reply_str(rep, &n);
        char text[64];
        size_t k = s ? (n < sizeof(text) ? n : sizeof(text) - 1) : 0;
        if(k)
            memcpy(text, s, k);
        text[k] = '\0';
        if(!parse_run(text, &out->attempt, &out->max_attempts))
            return wh_err_set(err, WH_E_INTERNAL, "", "start script returned \"%s\"", text);
        out->kind = WH_START_RUN;
        out->state = WH_STATE_RUNNING;
        return WH_OK;
    }
    wh_status__reply_field(rep, 0, kind, sizeof(kind));
    if(strcmp(kind, "run") == 0) {
        out->kind = WH_START_RUN;
        out->attempt = wh_status__reply_int(rep, 1);
        out->max_attempts = wh_status__reply_int(rep, 2);
        out->state = WH_STATE_RUNNING;
    } else if(strcmp(kind, "skip") == 0) {
        char state[16];
        out->kind = WH_START_SKIP;
        wh_status__reply_field(rep, 1, state, sizeof(state));
        out->state = wh_state_parse(state);
        wh_status__reply_field(rep, 2, out->error, sizeof(out->error));
        out->attempt = wh_status__reply_int(rep, 3);
    } else if(strcmp(kind, "dead") == 0) {
        out->kind = WH_START_DEAD;
        wh_status__reply_field(rep, 1, out->error, sizeof(out->error));
        out->attempt = wh_status__reply_int(rep, 2);
    } else if(strcmp(kind, "parked") == 0) {
        out->kind = WH_START_PARKED;
        out->state = WH_STATE_SCHEDULED;
    } else if(strcmp(kind, "locked") == 0 || strcmp(kind, "busy") == 0) {
        out->kind = kind[0] == 'l' ? WH_START_LOCKED : WH_START_BUSY;
        out->state = WH_STATE_RUNNING;
        wh_status__reply_field(rep, 1, out->error, sizeof(out->error));
    } else {
        return wh_err_set(err, WH_E_INTERNAL, "", "start script returned \"%s\"", kind);
    }
    return WH_OK;
}

static const int64_t hist_le_us[WH_STATS_HIST - 1] = {1000, 10000, 100000, 1000000, 10000000, 60000000};
static const char *const hist_names[WH_STATS_HIST] = {"h_1ms", "h_10ms", "h_100ms", "h_1s", "h_10s", "h_60s",
                                                      "h_inf"};

int wh_status_hist_index(int64_t us)
{
    for(int i = 0; i < WH_STATS_HIST - 1; i++)
        if(us <= hist_le_us[i])
            return i;
    return WH_STATS_HIST - 1;
}

const char *wh_status_hist_name(int i)
{
    return hist_names[i];
}

void wh_status__finish_fill(finish_args *a, const wh_finish *f)
{
    bool count = f->count && f->type && f->type[0];
    wh_text_i64(a->lease, f->lease_until);
    wh_text_i64(a->now, wh_now_ms());
    wh_text_i64(a->ttl, f->ttl_s);
    wh_text_i64(a->created, f->created_at);
    const char *argv[WH_FINISH_ARGC] = {
        [WH_FINISH_KEY_JOB] = "", [WH_FINISH_KEY_LOG] = "", [WH_FINISH_KEY_LEASES] = "",
        [WH_FINISH_KEY_STATS_MINUTE] = "", [WH_FINISH_KEY_STATS_HOUR] = "", [WH_FINISH_KEY_STATS_TYPES] = "",
        [WH_FINISH_ARG_ID] = f->id, [WH_FINISH_ARG_STATE] = wh_state_name(f->state),
        [WH_FINISH_ARG_RESULT] = f->result ? f->result : "", [WH_FINISH_ARG_ERROR_CODE] = f->error ? f->error : "",
        [WH_FINISH_ARG_ERROR_MESSAGE] = f->error_message ? f->error_message : "", [WH_FINISH_ARG_NOW] = a->now,
        [WH_FINISH_ARG_TTL] = a->ttl, [WH_FINISH_ARG_EVENTS] = "", [WH_FINISH_ARG_JOB_TYPE] = f->type ? f->type : "",
        [WH_FINISH_ARG_CREATED_AT] = f->created_at ? a->created : "", [WH_FINISH_ARG_LEASE_UNTIL] = a->lease,
        [WH_FINISH_ARG_COUNT] = count ? "1" : "", [WH_FINISH_ARG_TTL_MINUTE] = "", [WH_FINISH_ARG_TTL_HOUR] = ""};
    memcpy(a->argv, argv, sizeof(argv));
}

void wh_status__finish_result(const wh_redis_reply *rep, bool *skipped)
{
    char kind[8];
    wh_status__reply_field(rep, 0, kind, sizeof(kind)); /* "" for the plain "ok" */
    if(skipped)
        *skipped = strcmp(kind, "skip") == 0;
}

wh_code wh_status_stats_add(wh_redis *r, const char *prefix, const char *type, int64_t minute_s,
                            const wh_stats_counts *c, wh_err *err)
{
    char m1[WH_KEY_MAX], h1[WH_KEY_MAX], types[WH_KEY_MAX], ttl_m[16], ttl_h[16], max[24];
    char nums[6 + WH_STATS_HIST][24];
    const char *argv[WH_STATS_ARG_FIELDS + 2 * (6 + WH_STATS_HIST)];
    wh_key_stats(m1, prefix, type, "1m", minute_s);
    wh_key_stats(h1, prefix, type, "1h", minute_s - minute_s % 3600);
    wh_key_stats_types(types, prefix);
    snprintf(ttl_m, sizeof(ttl_m), "%d", WH_STATS_TTL_1M);
    snprintf(ttl_h, sizeof(ttl_h), "%d", WH_STATS_TTL_1H);
    snprintf(max, sizeof(max), "%lld", c->dur_us_max);
    argv[WH_STATS_KEY_MINUTE] = m1;
    argv[WH_STATS_KEY_HOUR] = h1;
    argv[WH_STATS_KEY_TYPES] = types;
    argv[WH_STATS_ARG_JOB_TYPE] = type;
    argv[WH_STATS_ARG_TTL_MINUTE] = ttl_m;
    argv[WH_STATS_ARG_TTL_HOUR] = ttl_h;
    argv[WH_STATS_ARG_DUR_US_MAX] = max;
    int n = WH_STATS_ARG_FIELDS; /* then field, increment pairs */
    const struct { const char *name; long long v; } fields[] = {
        {"ok", c->ok}, {"failed", c->failed}, {"retried", c->retried}, {"dead", c->dead},
        {"cancelled", c->cancelled}, {"dur_us_sum", c->dur_us_sum}};
    int k = 0;
    for(size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if(fields[i].v) {
            snprintf(nums[k], sizeof(nums[k]), "%lld", fields[i].v);
            argv[n++] = fields[i].name;
            argv[n++] = nums[k++];
        }
    for(int i = 0; i < WH_STATS_HIST; i++)
        if(c->hist[i]) {
            snprintf(nums[k], sizeof(nums[k]), "%lld", c->hist[i]);
            argv[n++] = hist_names[i];
            argv[n++] = nums[k++];
        }
    return wh_redis_eval(r, &s_stats, NULL, WH_STATS_NKEYS, n, argv, NULL, err);
}

wh_code wh_status_requeue(wh_redis *r, const char *prefix, const char *id, const char *worker, const char *step,
                          int64_t lease_until, wh_err *err)
{
    char key[WH_KEY_MAX], leases[WH_KEY_MAX], chan[WH_KEY_MAX], lease[24];
    wh_key_job(key, prefix, id);
    wh_key_leases(leases, prefix);
    wh_key_events(chan, prefix);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_until);
    const char *argv[WH_REQUEUE_ARGC] = {[WH_REQUEUE_KEY_JOB] = key, [WH_REQUEUE_KEY_LEASES] = leases,
                                         [WH_REQUEUE_ARG_ID] = id, [WH_REQUEUE_ARG_WORKER] = worker,
                                         [WH_REQUEUE_ARG_EVENTS] = chan, [WH_REQUEUE_ARG_STEP] = step,
                                         [WH_REQUEUE_ARG_LEASE_UNTIL] = lease};
    return wh_redis_eval(r, &s_requeue, NULL, WH_REQUEUE_NKEYS, WH_REQUEUE_ARGC, argv, NULL, err);
}

wh_code wh_status_revive(wh_redis *r, const char *prefix, const char *id, wh_err *err)
{
    char key[WH_KEY_MAX], chan[WH_KEY_MAX], now[24];
    wh_key_job(key, prefix, id);
    wh_key_events(chan, prefix);
    snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
    const char *argv[WH_REVIVE_ARGC] = {[WH_REVIVE_KEY_JOB] = key, [WH_REVIVE_ARG_ID] = id, [WH_REVIVE_ARG_NOW] = now,
                                        [WH_REVIVE_ARG_EVENTS] = chan};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_revive, &rep, WH_REVIVE_NKEYS, WH_REVIVE_ARGC, argv, NULL, err);
    if(rc)
        return rc;
    long long ok = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    return ok ? WH_OK : wh_err_set(err, WH_E_BUSY, "id", "job %s is running", id);
}

wh_code wh_status__item_error(const wh_redis_reply *rep, wh_err *err)
{
    char kind[8];
    wh_status__reply_field(rep, 0, kind, sizeof(kind));
    if(wh_redis_reply_kind(rep) != WH_REDIS_ARRAY || strcmp(kind, "err") != 0)
        return WH_OK;
    size_t n = 0;
    const char *msg = wh_redis_reply_str(wh_redis_reply_at(rep, 1), &n);
    return wh_err_set(err, WH_E_REDIS, "", "redis: %.*s", (int)n, msg ? msg : "");
}

wh_code wh_status__eval_packed(wh_redis *r, wh_redis_script *s, wh_mp_pack *p, wh_redis_reply **rep, wh_err *err)
{
    if(!p)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    size_t len;
    const char *blob = wh_mp_pack_data(p, &len);
    wh_code rc = wh_redis_eval(r, s, rep, 0, 1, &blob, &len, err);
    wh_mp_pack_free(p);
    return rc;
}
