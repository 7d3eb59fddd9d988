/* fleet: reads of the fleet's data in Redis. See fleet.h. */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_keys.h"

/* HGETALL after an HLEN that bounds it; *rep is NULL for a missing key. */
static wh_code hgetall_bounded(wh_redis *r, const char *key, wh_redis_reply **rep, wh_err *err)
{
    const char *hlen[] = {"HLEN", key};
    wh_redis_reply *n = NULL;
    *rep = NULL;
    if(wh_redis_cmdv(r, &n, err, 2, hlen) != WH_OK)
        return err->code;
    long long len = wh_redis_reply_int(n);
    wh_redis_reply_free(n);
    if(len > FLEET_HASH_MAX)
        return wh_err_set(err, WH_E_TOO_LARGE, key, "%s holds %lld entries, more than the %d read at most", key, len,
                          FLEET_HASH_MAX);
    if(len == 0)
        return WH_OK;
    const char *all[] = {"HGETALL", key};
    return wh_redis_cmdv(r, rep, err, 2, all);
}

/* A hash value: parsed as JSON when `json`, else a number when it is one;
 * a string otherwise. NULL only on ENOMEM or invalid UTF-8. */
static wh_json *value_of(const char *v, size_t n, bool json)
{
    wh_json *j = json ? wh_json_parse(v, n, NULL) : NULL;
    if(j)
        return j;
    char buf[24], *end;
    if(!json && n && n < sizeof(buf)) {
        memcpy(buf, v, n);
        buf[n] = '\0';
        long long x = strtoll(buf, &end, 10);
        if(!*end)
            return wh_json_int(x);
    }
    return wh_json_strn(v, n);
}

/* An HGETALL reply as an object of values (value_of). */
static wh_json *reply_obj(const wh_redis_reply *rep, bool json)
{
    wh_json *o = wh_json_object();
    for(size_t i = 0; i + 1 < wh_redis_reply_len(rep); i += 2) {
        size_t kn = 0, vn = 0;
        const char *k = wh_redis_reply_str(wh_redis_reply_at(rep, i), &kn);
        const char *v = wh_redis_reply_str(wh_redis_reply_at(rep, i + 1), &vn);
        wh_json *e = k && v ? value_of(v, vn, json) : NULL;
        if(e)
            wh_json_set(o, k, kn, e);
    }
    return o;
}

wh_json *fleet_reply_ints(const wh_redis_reply *rep)
{
    return rep && wh_redis_reply_len(rep) ? reply_obj(rep, false) : wh_json_null();
}

static wh_json *hash_read(wh_redis *r, const char *key, bool json, wh_err *err)
{
    wh_redis_reply *rep;
    if(hgetall_bounded(r, key, &rep, err) != WH_OK)
        return NULL;
    if(!rep)
        return json ? wh_json_object() : wh_json_null();
    wh_json *o = reply_obj(rep, json);
    wh_redis_reply_free(rep);
    return o;
}

wh_json *fleet_hash_json(wh_redis *r, const char *key, wh_err *err)
{
    return hash_read(r, key, true, err);
}

wh_json *fleet_hash_ints(wh_redis *r, const char *key, wh_err *err)
{
    return hash_read(r, key, false, err);
}

/* Field i of an HMGET reply as a number (0 when absent). */
static double hnum(const wh_redis_reply *rep, size_t i)
{
    size_t n = 0;
    const char *s = wh_redis_reply_str(wh_redis_reply_at(rep, i), &n);
    char buf[40];
    if(!s || n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static void bucket_of(const wh_redis_reply *rep, int64_t t, fleet_bucket *b)
{
    *b = (fleet_bucket){t,           hnum(rep, 0), hnum(rep, 1), hnum(rep, 2), hnum(rep, 3),  hnum(rep, 4),
                        hnum(rep, 5), hnum(rep, 6), hnum(rep, 7), hnum(rep, 8), hnum(rep, 9), hnum(rep, 10)};
}

wh_code fleet_stats_read(wh_redis *r, const char *prefix, const char *host, const char *name, int step_s, int count,
                         int64_t now_s, fleet_bucket **out, int *nout, wh_err *err)
{
    if(count < 1 || count > FLEET_BUCKETS_MAX || (step_s != 60 && step_s != 3600))
        return wh_err_set(err, WH_E_USAGE, "", "a series is 1..%d buckets of 60 or 3600 s", FLEET_BUCKETS_MAX);
    fleet_bucket *all = malloc((size_t)count * sizeof(*all));
    if(!all)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    int64_t start = now_s - now_s % step_s - (int64_t)(count - 1) * step_s;
    int queued = 0;
    wh_code rc = WH_OK;
    for(int i = 0; !rc && i < count; i++) {
        char what[300], key[WH_KEY_MAX];
        snprintf(what, sizeof(what), "stats:%s:%s:%lld", name, step_s == 60 ? "1m" : "1h",
                 (long long)(start + (int64_t)i * step_s));
        wh_key_host(key, prefix, host, what);
        const char *argv[] = {"HMGET", key, "n", "cpu_n", "cpu_sum", "cpu_max", "mem_sum", "mem_max",
                              "mem_limit", "rx", "tx", "blk_r", "blk_w"};
        size_t lens[13];
        for(int k = 0; k < 13; k++)
            lens[k] = strlen(argv[k]);
        if(!(rc = wh_redis_append(r, 13, argv, lens, err)))
            queued++;
    }
    int n = 0;
    for(int i = 0; i < queued; i++) {
        wh_redis_reply *rep = NULL;
        wh_err e2;
        /* Read every reply even after a failure, so the connection stays in step. */
        wh_code rc2 = wh_redis_read(r, &rep, rc ? &e2 : err);
        rc = rc ? rc : rc2;
        if(!rc2)
            bucket_of(rep, start + (int64_t)i * step_s, &all[n]);
        if(!rc2 && all[n].n > 0)
            n++;
        wh_redis_reply_free(rep);
    }
    if(rc) {
        free(all);
        return rc;
    }
    *out = all;
    *nout = n;
    return WH_OK;
}

const char *fleet_health_of(const char *status)
{
    if(!status)
        return NULL;
    if(strstr(status, "(unhealthy)"))
        return "unhealthy";
    if(strstr(status, "(healthy)"))
        return "healthy";
    if(strstr(status, "(health: starting)"))
        return "starting";
    return NULL;
}
