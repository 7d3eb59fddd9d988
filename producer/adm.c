/* adm: admin reads shared by the CLI and `wharf serve`. See adm.h. */
#include "adm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_keys.h"
#include "wh_time.h"
#include "wh_topo.h"

wh_json *adm_workers_json(wh_redis *r, const char *prefix, wh_err *err)
{
    static const char *const numeric[] = {"pid", "concurrency", "started_at", "heartbeat_at", "jobs_running",
                                          "jobs_done", "jobs_failed", "rss", NULL};
    char index[WH_KEY_MAX];
    wh_key_workers(index, prefix);
    const char *zr[] = {"ZRANGE", index, "0", "-1"};
    wh_redis_reply *ids;
    if(wh_redis_cmdv(r, &ids, err, 4, zr) != WH_OK)
        return NULL;
    wh_json *all = wh_json_array();
    for(size_t i = 0; all && i < wh_redis_reply_len(ids); i++) {
        size_t n;
        const char *id = wh_redis_reply_str(wh_redis_reply_at(ids, i), &n);
        char key[WH_KEY_MAX], wid[200];
        snprintf(wid, sizeof(wid), "%.*s", (int)n, id ? id : "");
        wh_key_worker(key, prefix, wid);
        wh_err e;
        wh_json *w = wh_status_hash_json(r, key, numeric, NULL, &e);
        if(w) /* NULL: expired, the worker stopped beating */
            wh_json_push(all, w);
        else if(e.code != WH_E_NOT_FOUND) {
            wh_json_free(all);
            all = NULL;
            if(err)
                *err = e;
        }
    }
    wh_redis_reply_free(ids);
    return all;
}

static void add_bucket(adm_totals *t, const wh_redis_reply *h)
{
    for(size_t i = 0; i + 1 < wh_redis_reply_len(h); i += 2) {
        size_t kn;
        const char *k = wh_redis_reply_str(wh_redis_reply_at(h, i), &kn);
        long long v = wh_redis_reply_int(wh_redis_reply_at(h, i + 1));
        if(!k)
            continue;
#define IS(name) (kn == strlen(name) && memcmp(k, name, kn) == 0)
        if(IS("ok")) t->ok += v;
        else if(IS("failed")) t->failed += v;
        else if(IS("retried")) t->retried += v;
        else if(IS("dead")) t->dead += v;
        else if(IS("cancelled")) t->cancelled += v;
        else if(IS("dur_us_sum")) t->dur_sum += v;
        else if(IS("dur_us_max") && v > t->dur_max) t->dur_max = v;
        for(int b = 0; b < WH_STATS_HIST; b++)
            if(IS(wh_status_hist_name(b)))
                t->hist[b] += v;
#undef IS
    }
}

wh_code adm_worker_control(wh_redis *r, const char *prefix, const char *id, const char *command, wh_err *err)
{
    if(strcmp(command, "quiet") != 0 && strcmp(command, "drain") != 0)
        return wh_err_set(err, WH_E_USAGE, "command", "a worker command is quiet or drain, not \"%s\"", command);
    size_t n = strlen(id);
    if(n == 0 || n > 200 || strcspn(id, " \t\r\n/") != n)
        return wh_err_set(err, WH_E_USAGE, "id", "a worker id is 1-200 characters without spaces or '/'");
    char key[WH_KEY_MAX], ttl[16];
    wh_key_worker(key, prefix, id);
    const char *exists[] = {"EXISTS", key};
    wh_redis_reply *rep;
    if(wh_redis_cmdv(r, &rep, err, 2, exists) != WH_OK)
        return err->code;
    long long live = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    if(!live)
        return wh_err_set(err, WH_E_NOT_FOUND, "id", "no live worker \"%s\"", id);
    wh_key_worker_control(key, prefix, id);
    snprintf(ttl, sizeof(ttl), "%d", ADM_CONTROL_TTL_S);
    const char *set[] = {"SET", key, command, "EX", ttl};
    return wh_redis_cmdv(r, NULL, err, 5, set);
}

/* Read n pipelined HGETALL answers of stats buckets into out[i] (each=true)
 * or all into out[0]; the first error is returned after reading them all. */
static wh_code read_buckets(wh_redis *r, int n, adm_totals *out, bool each, wh_err *err)
{
    wh_code first_rc = WH_OK;
    for(int i = 0; i < n; i++) {
        wh_redis_reply *rep;
        wh_err e;
        wh_code rc = wh_redis_read(r, &rep, &e);
        if(rc) {
            if(!first_rc && err)
                *err = e;
            first_rc = first_rc ? first_rc : rc;
            if(!wh_redis_connected(r))
                break;
            continue;
        }
        add_bucket(&out[each ? i : 0], rep);
        wh_redis_reply_free(rep);
    }
    return first_rc;
}

/* Send HGETALL for n buckets of `span` seconds from first_s. */
static wh_code ask_buckets(wh_redis *r, const char *prefix, const char *type, int span, int64_t first_s, int n,
                           wh_err *err)
{
    for(int i = 0; i < n; i++) {
        char key[WH_KEY_MAX];
        wh_key_stats(key, prefix, type, span == 3600 ? "1h" : "1m", first_s + (int64_t)i * span);
        const char *argv[] = {"HGETALL", key};
        wh_code rc = wh_redis_append(r, 2, argv, NULL, err);
        if(rc)
            return rc;
    }
    return WH_OK;
}

wh_code adm_type_totals(wh_redis *r, const char *prefix, const char *type, int minutes, adm_totals *t, wh_err *err)
{
    int64_t now_s = wh_now_ms() / 1000, first = now_s - now_s % 60 - (int64_t)(minutes - 1) * 60;
    memset(t, 0, sizeof(*t));
    wh_code rc = ask_buckets(r, prefix, type, 60, first, minutes, err);
    return rc ? rc : read_buckets(r, minutes, t, false, err);
}

wh_code adm_type_series(wh_redis *r, const char *prefix, const char *type, bool hours, int64_t first_s, int n,
                        adm_totals *out, wh_err *err)
{
    memset(out, 0, sizeof(*out) * (size_t)n);
    wh_code rc = ask_buckets(r, prefix, type, hours ? 3600 : 60, first_s, n, err);
    return rc ? rc : read_buckets(r, n, out, true, err);
}

wh_json *adm_stats_types(wh_redis *r, const char *prefix, wh_err *err)
{
    char key[WH_KEY_MAX];
    wh_key_stats_types(key, prefix);
    const char *argv[] = {"SORT", key, "ALPHA"};
    wh_redis_reply *types;
    if(wh_redis_cmdv(r, &types, err, 3, argv) != WH_OK)
        return NULL;
    wh_json *arr = wh_json_array();
    for(size_t i = 0; arr && i < wh_redis_reply_len(types); i++) {
        size_t n;
        const char *s = wh_redis_reply_str(wh_redis_reply_at(types, i), &n);
        if(s)
            wh_json_push(arr, wh_json_strn(s, n));
    }
    wh_redis_reply_free(types);
    return arr;
}

long long adm_totals_runs(const adm_totals *t)
{
    return t->ok + t->failed + t->retried + t->dead + t->cancelled;
}

wh_json *adm_totals_json(const adm_totals *t)
{
    long long runs = adm_totals_runs(t);
    double avg = runs ? (double)t->dur_sum / (double)runs / 1000.0 : 0.0;
    wh_json *o = wh_json_object();
    wh_json_setc(o, "ok", wh_json_int(t->ok));
    wh_json_setc(o, "failed", wh_json_int(t->failed));
    wh_json_setc(o, "retried", wh_json_int(t->retried));
    wh_json_setc(o, "dead", wh_json_int(t->dead));
    wh_json_setc(o, "cancelled", wh_json_int(t->cancelled));
    wh_json_setc(o, "avg_ms", wh_json_real(avg));
    wh_json_setc(o, "max_ms", wh_json_real((double)t->dur_max / 1000.0));
    return o;
}

wh_amqp *adm_connect(const wh_cfg *cfg, int timeout_ms, wh_err *err)
{
    wh_amqp_opts o = {cfg->amqp_url, 0, timeout_ms, "wharf admin", (size_t)cfg->max_body};
    wh_amqp *a = wh_amqp_connect(&o, err);
    if(a && wh_topo_declare(a, 1, cfg, err) != WH_OK) {
        wh_amqp_free(a);
        return NULL;
    }
    return a;
}

static const char *hdr(const wh_amqp_event *ev, const char *k)
{
    const wh_amqp_header *h = wh_amqp_event_header(ev, k);
    return h ? h->str : "";
}

static const char *dead_id(const wh_amqp_event *ev)
{
    const char *id = hdr(ev, "wharf-job-id");
    return *id ? id : ev->message_id;
}

wh_code adm_dead_list(wh_amqp *a, int limit, wh_json *arr, wh_err *err)
{
    /* basic.get without ack; closing the connection puts them all back. */
    for(int i = 0; i < limit; i++) {
        wh_amqp_event ev;
        bool empty;
        wh_code rc = wh_amqp_get(a, 1, WH_QUEUE_DEAD, &ev, &empty, err);
        if(rc)
            return rc;
        if(empty)
            break;
        wh_json *o = wh_json_object();
        wh_json_setc(o, "id", wh_json_str(dead_id(&ev)));
        for(int h = 0; h < ev.nheaders; h++)
            if(strncmp(ev.headers[h].key, "wharf-", 6) == 0)
                wh_json_setc(o, ev.headers[h].key + 6,
                             ev.headers[h].is_num ? wh_json_int(ev.headers[h].num) : wh_json_str(ev.headers[h].str));
        wh_json_push(arr, o);
        wh_amqp_event_clear(&ev);
    }
    return WH_OK;
}

/* Republish the dead message `ev` to wharf.jobs and wait for the confirm. */
static wh_code requeue_dead(wh_amqp *a, wh_redis *r, const char *prefix, const wh_amqp_event *ev, wh_err *err)
{
    const char *family = hdr(ev, "wharf-family");
    if(!*family)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "", "message has no family (it never decoded); cannot retry");
    wh_code rc = wh_status_revive(r, prefix, dead_id(ev), err);
    if(rc)
        return rc;
    wh_amqp_field h[1] = {{WH_HDR_SCHEMA, NULL, 1}};
    wh_amqp_msg m = {.body = ev->body, .len = ev->len, .content_type = WH_CONTENT_TYPE,
                     .message_id = ev->message_id[0] ? ev->message_id : NULL, .type = ev->type[0] ? ev->type : NULL,
                     .headers = h, .nheaders = 1};
    uint64_t seq;
    if((rc = wh_amqp_publish(a, 2, WH_EXCHANGE_JOBS, family, &m, true, &seq, err)))
        return rc;
    for(;;) {
        wh_amqp_event got;
        if((rc = wh_amqp_next(a, 10000, &got, err)))
            return rc;
        wh_amqp_event_clear(&got);
        if(got.kind == WH_AMQP_EV_NONE)
            return wh_err_set(err, WH_E_TIMEOUT, "", "no confirm from the broker");
        if(got.kind == WH_AMQP_EV_RETURN)
            return wh_err_set(err, WH_E_UNROUTABLE, "", "no queue bound for family %s", family);
        if(got.kind == WH_AMQP_EV_CONFIRM && got.tag >= seq)
            return got.nack ? wh_err_set(err, WH_E_BROKER, "", "the broker refused the message") : WH_OK;
    }
}

/* Look through the dead queue for job `id`'s message; requeue it (r set)
 * or drop it (r NULL), then ack it. The others go back when the
 * connection closes (basic.get without ack). */
static wh_code dead_take(wh_amqp *a, wh_redis *r, const char *prefix, const char *id, wh_err *err)
{
    wh_code rc = WH_OK;
    if(r && !(rc = wh_amqp_channel_open(a, 2, err)))
        rc = wh_amqp_confirm_select(a, 2, err);
    for(int i = 0; !rc && i < ADM_DEAD_MAX; i++) {
        wh_amqp_event ev;
        bool empty;
        if((rc = wh_amqp_get(a, 1, WH_QUEUE_DEAD, &ev, &empty, err)))
            break;
        if(empty)
            break;
        bool match = strcmp(dead_id(&ev), id) == 0;
        if(match && !(rc = r ? requeue_dead(a, r, prefix, &ev, err) : WH_OK))
            rc = wh_amqp_ack(a, 1, ev.tag, false, err);
        wh_amqp_event_clear(&ev);
        if(match)
            return rc;
    }
    return rc ? rc : wh_err_set(err, WH_E_NOT_FOUND, "id", "no dead message for job %s", id);
}

wh_code adm_dead_retry(wh_amqp *a, wh_redis *r, const char *prefix, const char *id, wh_err *err)
{
    return dead_take(a, r, prefix, id, err);
}

wh_code adm_dead_drop(wh_amqp *a, const char *id, wh_err *err)
{
    return dead_take(a, NULL, NULL, id, err);
}

wh_code adm_dead_purge(wh_amqp *a, uint32_t *n, wh_err *err)
{
    return wh_amqp_purge(a, 1, WH_QUEUE_DEAD, n, err);
}
