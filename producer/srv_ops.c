/* srv_ops: GET /healthz (open) and GET /metrics (Prometheus text format).
 *
 * /metrics reads the same rollups as /v1/stats over a sliding window of the
 * last METRICS_WINDOW_MIN minutes, so its job series are gauges of that
 * window (they can go down), not lifetime counters. Queue depths come from
 * passive declares on a fresh AMQP connection, workers from the registry. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "srv.h"
#include "wh_topo.h"

#define METRICS_WINDOW_MIN 60 /* minutes of rollups the job series cover */

/* Histogram upper bounds, seconds, in wh_status_hist_name() order. */
static const char *const hist_le[WH_STATS_HIST] = {"0.001", "0.01", "0.1", "1", "10", "60", "+Inf"};

void srv_healthz(srv_call *c)
{
    wh_json *o = wh_json_object(), *rj = wh_json_object(), *aj = wh_json_object();
    bool ok = true;
    wh_err err;
    wh_redis *r = wh_redis_new(c->s->cfg->redis_url, 2000, &err);
    const char *ping[] = {"PING"};
    bool rok = r && wh_redis_connect(r, &err) == WH_OK && wh_redis_cmdv(r, NULL, &err, 1, ping) == WH_OK;
    wh_redis_free(r);
    wh_json_setc(rj, "ok", wh_json_bool(rok));
    if(!rok)
        wh_json_setc(rj, "error", wh_json_str(err.msg));
    ok = ok && rok;
    wh_amqp_opts ao = {c->s->cfg->amqp_url, 0, 2000, "wharf serve healthz", 4096};
    wh_amqp *a = wh_amqp_connect(&ao, &err);
    wh_json_setc(aj, "ok", wh_json_bool(a != NULL));
    if(!a)
        wh_json_setc(aj, "error", wh_json_str(err.msg));
    ok = ok && a;
    wh_amqp_free(a);
    wh_json_setc(o, "status", wh_json_str(ok ? "ok" : "unavailable"));
    wh_json_setc(o, "redis", rj);
    wh_json_setc(o, "amqp", aj);
    srv_reply_json(c, ok ? 200 : 503, o);
}

/* A growing text buffer; `failed` sticks after ENOMEM. */
typedef struct text {
    char *buf;
    size_t len, cap;
    bool failed;
} text;

static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(text *t, const char *fmt, ...)
{
    for(int tries = 0; tries < 2 && !t->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if(n < 0) {
            t->failed = true;
        } else if(t->buf && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = (t->cap ? t->cap : 4096);
            while(cap < t->len + (size_t)n + 1)
                cap *= 2;
            char *b = realloc(t->buf, cap);
            t->failed = !b;
            if(b) {
                t->buf = b;
                t->cap = cap;
            }
        }
    }
}

/* Job types come from a fixed charset ([a-z0-9_.]), safe as label values. */
static bool job_metrics(srv_call *c, wh_redis *r, text *t)
{
    wh_err err;
    wh_json *types = adm_stats_types(r, c->s->cfg->redis_prefix, &err);
    if(!types)
        return false;
    tprintf(t, "# HELP wharf_jobs Attempts that ended, by type and outcome, over the last %d minutes.\n"
               "# TYPE wharf_jobs gauge\n", METRICS_WINDOW_MIN);
    text h = {0};
    tprintf(&h, "# HELP wharf_job_run_seconds Handler run time over the last %d minutes.\n"
                "# TYPE wharf_job_run_seconds histogram\n", METRICS_WINDOW_MIN);
    bool ok = true;
    for(size_t i = 0; ok && i < wh_json_size(types); i++) {
        const char *type = wh_json_strv(wh_json_at(types, i), NULL);
        adm_totals a;
        if(adm_type_totals(r, c->s->cfg->redis_prefix, type, METRICS_WINDOW_MIN, &a, &err) != WH_OK) {
            ok = false;
            break;
        }
        tprintf(t, "wharf_jobs{type=\"%s\",state=\"succeeded\"} %lld\n", type, a.ok);
        tprintf(t, "wharf_jobs{type=\"%s\",state=\"failed\"} %lld\n", type, a.failed);
        tprintf(t, "wharf_jobs{type=\"%s\",state=\"retrying\"} %lld\n", type, a.retried);
        tprintf(t, "wharf_jobs{type=\"%s\",state=\"dead\"} %lld\n", type, a.dead);
        tprintf(t, "wharf_jobs{type=\"%s\",state=\"cancelled\"} %lld\n", type, a.cancelled);
        long long cum = 0;
        for(int b = 0; b < WH_STATS_HIST; b++) {
            cum += a.hist[b];
            tprintf(&h, "wharf_job_run_seconds_bucket{type=\"%s\",le=\"%s\"} %lld\n", type, hist_le[b], cum);
        }
        tprintf(&h, "wharf_job_run_seconds_sum{type=\"%s\"} %.6f\n", type, (double)a.dur_sum / 1e6);
        tprintf(&h, "wharf_job_run_seconds_count{type=\"%s\"} %lld\n", type, cum);
    }
    wh_json_free(types);
    if(h.buf)
        tprintf(t, "%s", h.buf);
    free(h.buf);
    return ok && !h.failed;
}

/* Depths of every wharf queue, each metric family printed as one group. */
static void queue_metrics(srv_call *c, text *t)
{
    wh_err err;
    wh_amqp *a = adm_connect(c->s->cfg, 5000, &err);
    tprintf(t, "# HELP wharf_up_amqp 1 when RabbitMQ answered this scrape.\n# TYPE wharf_up_amqp gauge\n"
               "wharf_up_amqp %d\n", a ? 1 : 0);
    if(!a)
        return;
    char names[WH_FAM__COUNT + 1 + WH_CFG_MAX_TIERS][128];
    uint32_t msgs[WH_FAM__COUNT + 1 + WH_CFG_MAX_TIERS], cons[WH_FAM__COUNT + 1 + WH_CFG_MAX_TIERS];
    int n = 0;
    for(int f = 0; f < WH_FAM__COUNT; f++)
        wh_topo_queue(names[n++], sizeof(names[0]), (wh_family)f);
    snprintf(names[n++], sizeof(names[0]), "%s", WH_QUEUE_DEAD);
    for(int i = 0; i < c->s->cfg->ntiers && i < WH_CFG_MAX_TIERS; i++)
        snprintf(names[n++], sizeof(names[0]), "wharf.retry.%d", c->s->cfg->tiers[i]);
    bool got[WH_FAM__COUNT + 1 + WH_CFG_MAX_TIERS];
    for(int i = 0; i < n; i++)
        got[i] = wh_amqp_alive(a) && wh_amqp_queue_count(a, 1, names[i], &msgs[i], &cons[i], &err) == WH_OK;
    tprintf(t, "# HELP wharf_queue_messages Ready messages per queue.\n# TYPE wharf_queue_messages gauge\n");
    for(int i = 0; i < n; i++)
        if(got[i])
            tprintf(t, "wharf_queue_messages{queue=\"%s\"} %u\n", names[i], msgs[i]);
    tprintf(t, "# HELP wharf_queue_consumers Consumers per queue.\n# TYPE wharf_queue_consumers gauge\n");
    for(int i = 0; i < n; i++)
        if(got[i])
            tprintf(t, "wharf_queue_consumers{queue=\"%s\"} %u\n", names[i], cons[i]);
    wh_amqp_free(a);
}

void srv_metrics(srv_call *c)
{
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    text t = {0};
    wh_err err;
    wh_json *workers = adm_workers_json(r, c->s->cfg->redis_prefix, &err);
    if(!workers || !job_metrics(c, r, &t)) {
        wh_json_free(workers);
        free(t.buf);
        return srv_error(c, 503, wh_code_name(WH_E_REDIS), "", "cannot read the stats from Redis");
    }
    long long running = 0;
    for(size_t i = 0; i < wh_json_size(workers); i++) {
        const wh_json *v = wh_json_get(wh_json_at(workers, i), "jobs_running");
        running += v ? (long long)wh_json_intv(v) : 0;
    }
    tprintf(&t, "# HELP wharf_workers Live workers in the registry.\n# TYPE wharf_workers gauge\nwharf_workers %zu\n"
                "# HELP wharf_jobs_running Jobs running on live workers.\n# TYPE wharf_jobs_running gauge\n"
                "wharf_jobs_running %lld\n", wh_json_size(workers), running);
    wh_json_free(workers);
    queue_metrics(c, &t);
    if(t.failed || !t.buf) {
        free(t.buf);
        return srv_error(c, 500, "nomem", "", "out of memory");
    }
    wh_mhd_reply(c->req, 200, "text/plain; version=0.0.4; charset=utf-8", t.buf, t.len, NULL, 0);
    free(t.buf);
}
