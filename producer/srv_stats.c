/* srv_stats: GET /v1/stats/series, the stats rollups as time series.
 *
 * Workers add each job type's counts to a minute bucket (kept 48 h) and an
 * hour bucket (kept 30 days) in Redis. /v1/stats sums minute buckets; this
 * route returns them one by one, for charts: `minutes=N` (1..SERIES_MINUTES)
 * gives N minute buckets, `hours=N` (1..SERIES_HOURS) N hour buckets, both
 * ending with the current one. Per type: ok, failed, retried, dead and
 * cancelled per bucket, and over the whole window the run-time histogram
 * (runs per bucket of `le_s`) and the run-time sum, from which a client
 * takes quantiles.
 *
 * Cost: one pipelined HGETALL per bucket and type, so the caps bound a
 * request to SERIES_HOURS x (job types) small reads; `type=` narrows it to
 * one type. */
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "srv.h"
#include "wh_time.h"

#define SERIES_MINUTES 180 /* minute buckets per request, at most */
#define SERIES_HOURS 720   /* hour buckets per request, at most (30 days) */

/* Upper bounds of the run-time histogram, s (null: +Inf), in
 * wh_status_hist_name() order. */
static const double hist_le_s[WH_STATS_HIST - 1] = {0.001, 0.01, 0.1, 1, 10, 60};

/* {ok:[..], failed:[..], retried:[..], dead:[..], cancelled:[..], hist:[..],
 * dur_us_sum} of n buckets. */
static wh_json *type_json(const adm_totals *b, int n)
{
    wh_json *o = wh_json_object();
    const char *names[] = {"ok", "failed", "retried", "dead", "cancelled"};
    adm_totals sum = {0};
    for(int k = 0; k < 5; k++) {
        wh_json *a = wh_json_array();
        for(int i = 0; i < n; i++) {
            const long long v[] = {b[i].ok, b[i].failed, b[i].retried, b[i].dead, b[i].cancelled};
            wh_json_push(a, wh_json_int(v[k]));
        }
        wh_json_setc(o, names[k], a);
    }
    for(int i = 0; i < n; i++) {
        sum.dur_sum += b[i].dur_sum;
        for(int h = 0; h < WH_STATS_HIST; h++)
            sum.hist[h] += b[i].hist[h];
    }
    wh_json *hist = wh_json_array();
    for(int h = 0; h < WH_STATS_HIST; h++)
        wh_json_push(hist, wh_json_int(sum.hist[h]));
    wh_json_setc(o, "hist", hist);
    wh_json_setc(o, "dur_us_sum", wh_json_int(sum.dur_sum));
    return o;
}

/* The window from the query into *hours, *n; false after answering 400. */
static bool window(srv_call *c, bool *hours, long *n)
{
    long m, h;
    if(!srv_query_int(c, "minutes", 1, SERIES_MINUTES, 0, &m) || !srv_query_int(c, "hours", 1, SERIES_HOURS, 0, &h))
        return false;
    if((m != 0) == (h != 0)) {
        srv_error(c, 400, "usage", "minutes", "give one of minutes=1..%d or hours=1..%d", SERIES_MINUTES,
                  SERIES_HOURS);
        return false;
    }
    *hours = h != 0;
    *n = h ? h : m;
    return true;
}

/* The series of every type in `types` into out; false after answering. */
static bool all_types(srv_call *c, wh_redis *r, const wh_json *types, bool hours, int64_t first_s, long n,
                      wh_json *out)
{
    adm_totals *b = calloc((size_t)n, sizeof(*b));
    if(!b)
        return srv_error(c, 500, "nomem", "", "out of memory"), false;
    bool ok = true;
    for(size_t i = 0; ok && i < wh_json_size(types); i++) {
        const char *type = wh_json_strv(wh_json_at(types, i), NULL);
        wh_err err;
        if(adm_type_series(r, c->s->cfg->redis_prefix, type, hours, first_s, (int)n, b, &err) != WH_OK)
            ok = (srv_error_wh(c, &err), false);
        else
            wh_json_setc(out, type, type_json(b, (int)n));
    }
    free(b);
    return ok;
}

void srv_stats_series(srv_call *c)
{
    bool hours;
    long n;
    if(!window(c, &hours, &n))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    wh_err err;
    const char *only = wh_mhd_query(c->req, "type");
    wh_json *types = adm_stats_types(r, c->s->cfg->redis_prefix, &err);
    if(!types)
        return srv_error_wh(c, &err);
    int step = hours ? 3600 : 60;
    int64_t now_s = wh_now_ms() / 1000, first_s = now_s - now_s % step - (int64_t)(n - 1) * step;
    wh_json *filtered = wh_json_array();
    for(size_t i = 0; i < wh_json_size(types); i++) {
        const char *t = wh_json_strv(wh_json_at(types, i), NULL);
        if(t && (!only || strcmp(t, only) == 0))
            wh_json_push(filtered, wh_json_str(t));
    }
    wh_json_free(types);
    wh_json *all = wh_json_object();
    bool ok = all_types(c, r, filtered, hours, first_s, n, all);
    wh_json_free(filtered);
    if(!ok)
        return wh_json_free(all);
    wh_json *le = wh_json_array();
    for(int h = 0; h < WH_STATS_HIST - 1; h++)
        wh_json_push(le, wh_json_real(hist_le_s[h]));
    wh_json_push(le, wh_json_null());
    wh_json *o = wh_json_object();
    wh_json_setc(o, "step_s", wh_json_int(step));
    wh_json_setc(o, "from_ms", wh_json_int(first_s * 1000));
    wh_json_setc(o, "points", wh_json_int(n));
    wh_json_setc(o, "le_s", le);
    wh_json_setc(o, "types", all);
    srv_reply_json(c, 200, o);
}
