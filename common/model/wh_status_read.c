/* wh_status_read: reading a job's record back (its hash as JSON, its
 * state and progress) for the CLI, the HTTP API and the client library.
 * See wh_status.h. */
#include "wh_status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_keys.h"

bool wh_status_terminal(const char *s)
{
    return wh_state_terminal(wh_state_parse(s));
}

static bool listed(const char *k, const char *const *names)
{
    for(int i = 0; names && names[i]; i++)
        if(strcmp(k, names[i]) == 0)
            return true;
    return false;
}

static wh_json *field_value(const char *k, const char *v, size_t n, const char *const *numeric,
                            const char *const *json)
{
    if(listed(k, numeric)) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if(end != v && *end == '\0')
            return wh_json_int(x);
    }
    if(listed(k, json)) {
        wh_json *j = wh_json_parse(v, n, NULL);
        if(j)
            return j;
    }
    return wh_json_strn(v, n);
}

/* The fields of an HGETALL reply as JSON; NULL when it is empty. */
static wh_json *reply_json(const wh_redis_reply *rep, const char *const *numeric, const char *const *json)
{
    size_t n = wh_redis_reply_len(rep);
    if(n == 0)
        return NULL;
    wh_json *obj = wh_json_object();
    for(size_t i = 0; obj && i + 1 < n; i += 2) {
        size_t kn, vn;
        const char *k = wh_redis_reply_str(wh_redis_reply_at(rep, i), &kn);
        const char *v = wh_redis_reply_str(wh_redis_reply_at(rep, i + 1), &vn);
        char kb[64];
        if(!k || !v || kn >= sizeof(kb))
            continue;
        memcpy(kb, k, kn);
        kb[kn] = '\0';
        wh_json *jv = field_value(kb, v, vn, numeric, json);
        if(jv)
            wh_json_setc(obj, kb, jv);
    }
    return obj;
}

wh_json *wh_status_hash_json(wh_redis *r, const char *key, const char *const *numeric, const char *const *json,
                             wh_err *err)
{
    const char *argv[] = {"HGETALL", key};
    wh_redis_reply *rep;
    if(wh_redis_cmdv(r, &rep, err, 2, argv))
        return NULL;
    bool empty = wh_redis_reply_len(rep) == 0;
    wh_json *obj = reply_json(rep, numeric, json);
    wh_redis_reply_free(rep);
    if(empty)
        wh_err_set(err, WH_E_NOT_FOUND, "", "%s does not exist", key);
    else if(!obj)
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    return obj;
}

static const char *const job_numeric[] = {"attempt", "max_attempts", "progress", "redeliveries", "created_at",
                                          "queued_at", "started_at", "finished_at", "run_at", "priority",
                                          "args_truncated", NULL};
/* Fields that hold JSON text: shown as the JSON they hold. */
static const char *const job_json[] = {"result", "args", NULL};

wh_json *wh_status_job_reply_json(const wh_redis_reply *rep)
{
    return reply_json(rep, job_numeric, job_json);
}

wh_json *wh_status_json(wh_redis *r, const char *prefix, const char *id, wh_err *err)
{
    char key[WH_KEY_MAX];
    wh_key_job(key, prefix, id);
    wh_json *j = wh_status_hash_json(r, key, job_numeric, job_json, err);
    if(!j && err && err->code == WH_E_NOT_FOUND)
        wh_err_set(err, WH_E_NOT_FOUND, "id", "no job with id \"%s\"", id);
    return j;
}

wh_code wh_status_state(wh_redis *r, const char *prefix, const char *id, char *state, int *progress, char *step,
                        size_t cap, wh_err *err)
{
    char key[WH_KEY_MAX];
    wh_key_job(key, prefix, id);
    const char *argv[] = {"HMGET", key, "state", "progress", "step"};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_cmdv(r, &rep, err, 5, argv);
    if(rc)
        return rc;
    wh_status__reply_field(rep, 0, state, 16);
    char pct[8];
    wh_status__reply_field(rep, 1, pct, sizeof(pct));
    if(progress)
        *progress = (int)strtol(pct, NULL, 10);
    if(step)
        wh_status__reply_field(rep, 2, step, cap);
    wh_redis_reply_free(rep);
    if(!state[0])
        return wh_err_set(err, WH_E_NOT_FOUND, "id", "no job with id \"%s\"", id);
    return WH_OK;
}

/* Copy element i of an array reply into out (cap bytes); "" if absent. */
void wh_status__reply_field(const wh_redis_reply *rep, size_t i, char *out, size_t cap)
{
    out[0] = '\0';
    if(wh_redis_reply_kind(rep) != WH_REDIS_ARRAY || i >= wh_redis_reply_len(rep))
        return;
    size_t n;
    const char *s = wh_redis_reply_str(wh_redis_reply_at(rep, i), &n);
    if(!s)
        return;
    snprintf(out, cap, "%.*s", (int)n, s);
}

/* Element i of an array reply as an int, whether Redis sent an integer or
 * a numeric string; 0 if absent. */
int wh_status__reply_int(const wh_redis_reply *rep, size_t i)
{
    if(wh_redis_reply_kind(rep) != WH_REDIS_ARRAY || i >= wh_redis_reply_len(rep))
        return 0;
    return (int)wh_redis_reply_int(wh_redis_reply_at(rep, i));
}
