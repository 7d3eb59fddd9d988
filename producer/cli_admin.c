/* cli_admin: `wharf workers`, `wharf stats` and `wharf dead`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "wh_amqp.h"
#include "wh_json.h"
#include "wh_keys.h"
#include "wh_status.h"
#include "wh_time.h"
#include "wh_topo.h"

#define DEAD_LIST_MAX 10000 /* messages `dead list` and `dead retry` look at */

/* Options shared by the admin commands: --json, --limit N, --minutes N. */
typedef struct admin_opts {
    bool json;
    int limit;
    int minutes;
} admin_opts;

static int parse_admin(const cli_cmd *self, int argc, char **argv, admin_opts *a)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"limit", required_argument, NULL, 'l'},
                                         {"minutes", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o;
    while((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if(o == 'j')
            a->json = true;
        else if(o == 'l' && !cli_int("--limit", optarg, 1, DEAD_LIST_MAX, &a->limit))
            return CLI_USAGE;
        else if(o == 'm' && !cli_int("--minutes", optarg, 1, 2880, &a->minutes))
            return CLI_USAGE;
        else if(o == 'h')
            return cli_usage(self, stdout), -1;
        else if(o != 'l' && o != 'm')
            return cli_usage(self, stderr);
    }
    return CLI_OK;
}

/* The worker hash, with its counters as numbers; NULL when expired. */
static wh_json *worker_json(wh_redis *r, const char *key)
{
    static const char *const numeric[] = {"pid", "concurrency", "started_at", "heartbeat_at", "jobs_running",
                                          "jobs_done", "jobs_failed", "rss", NULL};
    wh_err err;
    return wh_status_hash_json(r, key, numeric, NULL, &err);
}

/* A string field, "" when absent. */
static const char *sget(const wh_json *o, const char *k)
{
    const wh_json *v = wh_json_get(o, k);
    const char *s = v ? wh_json_strv(v, NULL) : NULL;
    return s ? s : "";
}

/* An integer field, 0 when absent. */
static long long iget(const wh_json *o, const char *k)
{
    const wh_json *v = wh_json_get(o, k);
    return v ? (long long)wh_json_intv(v) : 0;
}

int cli_workers(cli *c, int argc, char **argv)
{
    admin_opts a = {0};
    int rc = parse_admin(cli_find("workers"), argc, argv, &a);
    if(rc)
        return rc < 0 ? CLI_OK : rc;
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    char index[WH_KEY_MAX];
    wh_key_workers(index, c->cfg.redis_prefix);
    const char *zr[] = {"ZRANGE", index, "0", "-1"};
    wh_redis_reply *ids;
    wh_err err;
    if(wh_redis_cmdv(r, &ids, &err, 4, zr) != WH_OK)
        return cli_error(CLI_FAIL, "%s", err.msg);
    wh_json *all = wh_json_array();
    if(!a.json)
        printf("%-28s %-16s %7s %-30s %4s %7s %9s %7s %8s %6s\n", "WORKER", "HOST", "PID", "QUEUES", "CONC",
               "RUNNING", "DONE", "FAILED", "RSS_MB", "BEAT_S");
    for(size_t i = 0; i < wh_redis_reply_len(ids); i++) {
        size_t n;
        const char *id = wh_redis_reply_str(wh_redis_reply_at(ids, i), &n);
        char key[WH_KEY_MAX], wid[200];
        snprintf(wid, sizeof(wid), "%.*s", (int)n, id);
        wh_key_worker(key, c->cfg.redis_prefix, wid);
        wh_json *w = worker_json(r, key);
        if(!w) /* expired: the worker stopped beating */
            continue;
        if(a.json) {
            wh_json_push(all, w);
            continue;
        }
        double age = (double)(wh_now_ms() - iget(w, "heartbeat_at")) / 1000.0;
        printf("%-28s %-16s %7lld %-30s %4lld %7lld %9lld %7lld %8.1f %6.1f\n", wid, sget(w, "host"),
               iget(w, "pid"), sget(w, "queues"), iget(w, "concurrency"), iget(w, "jobs_running"),
               iget(w, "jobs_done"), iget(w, "jobs_failed"), (double)iget(w, "rss") / 1048576.0, age);
        wh_json_free(w);
    }
    if(a.json)
        cli_print_json(all, "[]");
    wh_json_free(all);
    wh_redis_reply_free(ids);
    return CLI_OK;
}

/* Sum of one type's minute buckets over the window. */
typedef struct totals {
    long long ok, failed, retried, dead, dur_sum, dur_max;
} totals;

static void add_bucket(totals *t, const wh_redis_reply *h)
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
        else if(IS("dur_us_sum")) t->dur_sum += v;
        else if(IS("dur_us_max") && v > t->dur_max) t->dur_max = v;
#undef IS
    }
}

static bool type_totals(cli *c, wh_redis *r, const char *type, int minutes, totals *t)
{
    int64_t now_s = wh_now_ms() / 1000, first = now_s - now_s % 60 - (int64_t)(minutes - 1) * 60;
    wh_err err;
    memset(t, 0, sizeof(*t));
    for(int m = 0; m < minutes; m++) {
        char key[WH_KEY_MAX];
        wh_key_stats(key, c->cfg.redis_prefix, type, "1m", first + (int64_t)m * 60);
        const char *argv[] = {"HGETALL", key};
        if(wh_redis_append(r, 2, argv, NULL, &err) != WH_OK)
            return false;
    }
    bool ok = true;
    for(int m = 0; m < minutes; m++) {
        wh_redis_reply *rep;
        if(wh_redis_read(r, &rep, &err) != WH_OK) {
            ok = false;
            if(!wh_redis_connected(r))
                break;
            continue;
        }
        add_bucket(t, rep);
        wh_redis_reply_free(rep);
    }
    if(!ok)
        cli_error(CLI_FAIL, "%s", err.msg);
    return ok;
}

int cli_stats(cli *c, int argc, char **argv)
{
    admin_opts a = {.minutes = 60};
    int rc = parse_admin(cli_find("stats"), argc, argv, &a);
    if(rc)
        return rc < 0 ? CLI_OK : rc;
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    char key[WH_KEY_MAX];
    wh_key_stats_types(key, c->cfg.redis_prefix);
    const char *argv2[] = {"SORT", key, "ALPHA"};
    wh_redis_reply *types;
    wh_err err;
    if(wh_redis_cmdv(r, &types, &err, 3, argv2) != WH_OK)
        return cli_error(CLI_FAIL, "%s", err.msg);
    wh_json *all = wh_json_object();
    if(!a.json)
        printf("last %d min\n%-32s %9s %8s %8s %6s %10s %10s\n", a.minutes, "TYPE", "OK", "FAILED", "RETRIED",
               "DEAD", "AVG_MS", "MAX_MS");
    int status = CLI_OK;
    for(size_t i = 0; i < wh_redis_reply_len(types) && status == CLI_OK; i++) {
        size_t n;
        const char *s = wh_redis_reply_str(wh_redis_reply_at(types, i), &n);
        char type[WH_KEY_MAX];
        snprintf(type, sizeof(type), "%.*s", (int)n, s);
        totals t;
        if(!type_totals(c, r, type, a.minutes, &t)) {
            status = CLI_FAIL;
            break;
        }
        long long runs = t.ok + t.failed + t.retried + t.dead;
        double avg = runs ? (double)t.dur_sum / (double)runs / 1000.0 : 0.0;
        if(a.json) {
            wh_json *o = wh_json_object();
            wh_json_setc(o, "ok", wh_json_int(t.ok));
            wh_json_setc(o, "failed", wh_json_int(t.failed));
            wh_json_setc(o, "retried", wh_json_int(t.retried));
            wh_json_setc(o, "dead", wh_json_int(t.dead));
            wh_json_setc(o, "avg_ms", wh_json_real(avg));
            wh_json_setc(o, "max_ms", wh_json_real((double)t.dur_max / 1000.0));
            wh_json_setc(all, type, o);
        } else if(runs) {
            printf("%-32s %9lld %8lld %8lld %6lld %10.2f %10.2f\n", type, t.ok, t.failed, t.retried, t.dead, avg,
                   (double)t.dur_max / 1000.0);
        }
    }
    if(a.json && status == CLI_OK)
        cli_print_json(all, "{}");
    wh_json_free(all);
    wh_redis_reply_free(types);
    return status;
}

/* ---- dead letters ---- */

static wh_amqp *dead_connect(cli *c)
{
    wh_amqp_opts o = {c->cfg.amqp_url, 0, 10000, "wharf cli", (size_t)c->cfg.max_body};
    wh_err err;
    wh_amqp *a = wh_amqp_connect(&o, &err);
    if(!a || wh_topo_declare(a, 1, &c->cfg, &err) != WH_OK) {
        wh_amqp_free(a);
        cli_error(CLI_FAIL, "%s", err.msg);
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

static void dead_print(const wh_amqp_event *ev, wh_json *arr)
{
    if(arr) {
        wh_json *o = wh_json_object();
        wh_json_setc(o, "id", wh_json_str(dead_id(ev)));
        for(int i = 0; i < ev->nheaders; i++)
            if(strncmp(ev->headers[i].key, "wharf-", 6) == 0)
                wh_json_setc(o, ev->headers[i].key + 6, ev->headers[i].is_num ? wh_json_int(ev->headers[i].num)
                                                                               : wh_json_str(ev->headers[i].str));
        wh_json_push(arr, o);
        return;
    }
    char when[40];
    cli_time(strtoll(hdr(ev, "wharf-dead-at"), NULL, 10), when, sizeof(when));
    printf("%-24s %-20s %3s %-24s %s\n", dead_id(ev), hdr(ev, "wharf-reason"), hdr(ev, "wharf-attempts"), when,
           hdr(ev, "wharf-error"));
}

static int dead_list(cli *c, const admin_opts *a)
{
    wh_amqp *amqp = dead_connect(c);
    if(!amqp)
        return CLI_FAIL;
    wh_json *arr = a->json ? wh_json_array() : NULL;
    if(!a->json)
        printf("%-24s %-20s %3s %-24s %s\n", "ID", "REASON", "ATT", "DEAD_AT", "ERROR");
    int status = CLI_OK;
    /* basic.get without ack; closing the connection puts them all back. */
    for(int i = 0; i < (a->limit ? a->limit : 100); i++) {
        wh_amqp_event ev;
        bool empty;
        wh_err err;
        if(wh_amqp_get(amqp, 1, WH_QUEUE_DEAD, &ev, &empty, &err) != WH_OK) {
            status = cli_error(CLI_FAIL, "%s", err.msg);
            break;
        }
        if(empty)
            break;
        dead_print(&ev, arr);
        wh_amqp_event_clear(&ev);
    }
    if(arr) {
        cli_print_json(arr, "[]");
        wh_json_free(arr);
    }
    wh_amqp_free(amqp);
    return status;
}

/* Republish the dead message `ev` to wharf.jobs and wait for the confirm. */
static wh_code requeue_dead(cli *c, wh_amqp *amqp, const wh_amqp_event *ev, wh_err *err)
{
    const char *family = hdr(ev, "wharf-family");
    if(!*family)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "", "message has no family (it never decoded); cannot retry");
    wh_redis *r = cli_redis(c);
    if(!r)
        return wh_err_set(err, WH_E_REDIS, "", "no Redis connection");
    wh_code rc = wh_status_revive(r, c->cfg.redis_prefix, dead_id(ev), err);
    if(rc)
        return rc;
    wh_amqp_field h[1] = {{WH_HDR_SCHEMA, NULL, 1}};
    wh_amqp_msg m = {ev->body, ev->len, WH_CONTENT_TYPE, ev->message_id[0] ? ev->message_id : NULL,
                     ev->type[0] ? ev->type : NULL, h, 1};
    uint64_t seq;
    if((rc = wh_amqp_publish(amqp, 2, WH_EXCHANGE_JOBS, family, &m, true, &seq, err)))
        return rc;
    for(;;) {
        wh_amqp_event got;
        if((rc = wh_amqp_next(amqp, 10000, &got, err)))
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

static int dead_retry(cli *c, const char *id)
{
    wh_amqp *amqp = dead_connect(c);
    wh_err err;
    if(!amqp)
        return CLI_FAIL;
    if(wh_amqp_channel_open(amqp, 2, &err) || wh_amqp_confirm_select(amqp, 2, &err)) {
        wh_amqp_free(amqp);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    int status = -1; /* not found yet */
    for(int i = 0; i < DEAD_LIST_MAX; i++) {
        wh_amqp_event ev;
        bool empty;
        if(wh_amqp_get(amqp, 1, WH_QUEUE_DEAD, &ev, &empty, &err) != WH_OK) {
            status = cli_error(CLI_FAIL, "%s", err.msg);
            break;
        }
        if(empty)
            break;
        bool match = strcmp(dead_id(&ev), id) == 0;
        if(match) {
            if(requeue_dead(c, amqp, &ev, &err) != WH_OK || wh_amqp_ack(amqp, 1, ev.tag, false, &err) != WH_OK)
                status = cli_error(CLI_FAIL, "%s", err.msg);
            else
                status = (printf("%s requeued\n", id), CLI_OK);
        }
        wh_amqp_event_clear(&ev);
        if(match)
            break;
    }
    wh_amqp_free(amqp);
    return status >= 0 ? status : cli_error(CLI_FAIL, "no dead message for job %s", id);
}

int cli_dead(cli *c, int argc, char **argv)
{
    const cli_cmd *self = cli_find("dead");
    if(argc < 2)
        return cli_usage(self, stderr);
    const char *sub = argv[1];
    if(strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cli_usage(self, stdout);
    admin_opts a = {0};
    int rc = parse_admin(self, argc - 1, argv + 1, &a);
    if(rc)
        return rc < 0 ? CLI_OK : rc;
    int rest = argc - 1 - optind;
    if(strcmp(sub, "list") == 0 && rest == 0)
        return dead_list(c, &a);
    if(strcmp(sub, "retry") == 0 && rest == 1)
        return dead_retry(c, argv[1 + optind]);
    if(strcmp(sub, "purge") == 0 && rest == 0) {
        wh_amqp *amqp = dead_connect(c);
        uint32_t n = 0;
        wh_err err;
        if(!amqp)
            return CLI_FAIL;
        rc = wh_amqp_purge(amqp, 1, WH_QUEUE_DEAD, &n, &err) ? cli_error(CLI_FAIL, "%s", err.msg) : CLI_OK;
        if(!rc)
            printf("purged %u dead messages\n", n);
        wh_amqp_free(amqp);
        return rc;
    }
    return cli_usage(self, stderr);
}
