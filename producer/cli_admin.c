/* cli_admin: `wharf workers [quiet|drain ID]`, `wharf stats` and `wharf dead`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "cli.h"
#include "wh_amqp.h"
#include "wh_json.h"
#include "wh_keys.h"
#include "wh_status.h"
#include "wh_time.h"
#include "wh_topo.h"


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
        else if(o == 'l' && !cli_int("--limit", optarg, 1, ADM_DEAD_MAX, &a->limit))
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

/* `wharf workers quiet|drain ID`: leave the command for the worker's
 * heartbeat (adm_worker_control). */
static int workers_control(cli *c, const char *command, const char *id)
{
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    wh_err err;
    if(adm_worker_control(r, c->cfg.redis_prefix, id, command, &err) != WH_OK)
        return cli_error(err.code == WH_E_USAGE ? CLI_USAGE : CLI_FAIL, "%s", err.msg);
    printf("%s %s requested\n", id, command);
    return CLI_OK;
}

int cli_workers(cli *c, int argc, char **argv)
{
    admin_opts a = {0};
    int rc = parse_admin(cli_find("workers"), argc, argv, &a);
    if(rc)
        return rc < 0 ? CLI_OK : rc;
    if(optind == argc - 2)
        return workers_control(c, argv[optind], argv[optind + 1]);
    if(optind != argc)
        return cli_usage(cli_find("workers"), stderr);
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    wh_err err;
    wh_json *all = adm_workers_json(r, c->cfg.redis_prefix, &err);
    if(!all)
        return cli_error(CLI_FAIL, "%s", err.msg);
    if(a.json) {
        cli_print_json(all, "[]");
        wh_json_free(all);
        return CLI_OK;
    }
    static const char *const head[] = {"WORKER", "HOST", "PID", "QUEUES", "CONC", "RUNNING", "DONE", "FAILED",
                                       "RSS_MB", "BEAT_S"};
    cli_table *t = cli_table_new(10, head);
    for(size_t i = 0; i < wh_json_size(all); i++) {
        const wh_json *w = wh_json_at(all, i);
        cli_table_cell(t, "%s", sget(w, "id"));
        cli_table_cell(t, "%s", sget(w, "host"));
        cli_table_cell(t, "%lld", iget(w, "pid"));
        cli_table_cell(t, "%s", sget(w, "queues"));
        cli_table_cell(t, "%lld", iget(w, "concurrency"));
        cli_table_cell(t, "%lld", iget(w, "jobs_running"));
        cli_table_cell(t, "%lld", iget(w, "jobs_done"));
        cli_table_cell(t, "%lld", iget(w, "jobs_failed"));
        cli_table_cell(t, "%.1f", (double)iget(w, "rss") / 1048576.0);
        cli_table_cell(t, "%.1f", (double)(wh_now_ms() - iget(w, "heartbeat_at")) / 1000.0);
    }
    int status = cli_table_print(t, stdout);
    cli_table_free(t);
    wh_json_free(all);
    return status;
}

/* One `wharf stats` row: a type's counts and run times (ms). */
static void stats_row(cli_table *tab, const char *type, const adm_totals *t, long long runs)
{
    cli_table_cell(tab, "%s", type);
    cli_table_cell(tab, "%lld", t->ok);
    cli_table_cell(tab, "%lld", t->failed);
    cli_table_cell(tab, "%lld", t->retried);
    cli_table_cell(tab, "%lld", t->dead);
    cli_table_cell(tab, "%lld", t->cancelled);
    cli_table_cell(tab, "%.2f", (double)t->dur_sum / (double)runs / 1000.0);
    cli_table_cell(tab, "%.2f", (double)t->dur_max / 1000.0);
}

int cli_stats(cli *c, int argc, char **argv)
{
    /* `wharf stats HOST [CONTAINER] ...`: a host's container rollups */
    if(argc > 1 && argv[1][0] != '-')
        return cli_host_stats(c, argc, argv);
    admin_opts a = {.minutes = 60};
    int rc = parse_admin(cli_find("stats"), argc, argv, &a);
    if(rc)
        return rc < 0 ? CLI_OK : rc;
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    wh_err err;
    wh_json *types = adm_stats_types(r, c->cfg.redis_prefix, &err);
    if(!types)
        return cli_error(CLI_FAIL, "%s", err.msg);
    wh_json *all = wh_json_object();
    static const char *const head[] = {"TYPE", "OK", "FAILED", "RETRIED", "DEAD", "CANCELLED", "AVG_MS", "MAX_MS"};
    cli_table *tab = a.json ? NULL : cli_table_new(8, head);
    int status = CLI_OK;
    for(size_t i = 0; i < wh_json_size(types); i++) {
        const char *type = wh_json_strv(wh_json_at(types, i), NULL);
        adm_totals t;
        if(adm_type_totals(r, c->cfg.redis_prefix, type, a.minutes, &t, &err) != WH_OK) {
            status = cli_error(CLI_FAIL, "%s", err.msg);
            break;
        }
        long long runs = adm_totals_runs(&t);
        if(a.json)
            wh_json_setc(all, type, adm_totals_json(&t));
        else if(runs)
            stats_row(tab, type, &t, runs);
    }
    if(a.json && status == CLI_OK)
        cli_print_json(all, "{}");
    if(!a.json) { /* what was read before an error too */
        printf("last %d min\n", a.minutes);
        int ps = cli_table_print(tab, stdout);
        status = status ? status : ps;
    }
    cli_table_free(tab);
    wh_json_free(all);
    wh_json_free(types);
    return status;
}

/* ---- dead letters ---- */

static wh_amqp *dead_connect(cli *c)
{
    wh_err err;
    wh_amqp *a = adm_connect(&c->cfg, 10000, &err);
    if(!a)
        cli_error(CLI_FAIL, "%s", err.msg);
    return a;
}

/* A header-derived field of a dead-letter object, as text. */
static void field_text(const wh_json *o, const char *k, char *out, size_t cap)
{
    const wh_json *v = wh_json_get(o, k);
    if(v && wh_json_kind_of(v) == WH_JSON_INT)
        snprintf(out, cap, "%lld", (long long)wh_json_intv(v));
    else
        snprintf(out, cap, "%s", sget(o, k));
}

static int dead_list(cli *c, const admin_opts *a)
{
    wh_amqp *amqp = dead_connect(c);
    if(!amqp)
        return CLI_FAIL;
    wh_json *arr = wh_json_array();
    wh_err err;
    int status = CLI_OK;
    if(adm_dead_list(amqp, a->limit ? a->limit : 100, arr, &err) != WH_OK)
        status = cli_error(CLI_FAIL, "%s", err.msg);
    if(a->json && status == CLI_OK)
        cli_print_json(arr, "[]");
    static const char *const head[] = {"ID", "REASON", "ATT", "DEAD_AT", "ERROR"};
    cli_table *t = !a->json && status == CLI_OK ? cli_table_new(5, head) : NULL;
    for(size_t i = 0; t && i < wh_json_size(arr); i++) {
        const wh_json *o = wh_json_at(arr, i);
        char when[40], att[24], at[24];
        field_text(o, "dead-at", at, sizeof(at));
        field_text(o, "attempts", att, sizeof(att));
        cli_time(strtoll(at, NULL, 10), when, sizeof(when));
        cli_table_cell(t, "%s", sget(o, "id"));
        cli_table_cell(t, "%s", sget(o, "reason"));
        cli_table_cell(t, "%s", att);
        cli_table_cell(t, "%s", when);
        cli_table_cell(t, "%s", sget(o, "error"));
    }
    if(!a->json && status == CLI_OK)
        status = cli_table_print(t, stdout);
    cli_table_free(t);
    wh_json_free(arr);
    wh_amqp_free(amqp);
    return status;
}

static int dead_retry(cli *c, const char *id)
{
    wh_redis *r = cli_redis(c);
    wh_amqp *amqp = r ? dead_connect(c) : NULL;
    wh_err err;
    if(!amqp)
        return CLI_FAIL;
    int status = CLI_OK;
    if(adm_dead_retry(amqp, r, c->cfg.redis_prefix, id, &err) != WH_OK)
        status = cli_error(CLI_FAIL, "%s", err.msg);
    else
        printf("%s requeued\n", id);
    wh_amqp_free(amqp);
    return status;
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
    if(strcmp(sub, "purge") == 0 && rest <= 1) {
        /* wharf dead purge [ID]: every dead letter, or job ID's */
        const char *id = rest ? argv[1 + optind] : NULL;
        wh_amqp *amqp = dead_connect(c);
        uint32_t n = 1;
        wh_err err;
        if(!amqp)
            return CLI_FAIL;
        wh_code wrc = id ? adm_dead_drop(amqp, id, &err) : adm_dead_purge(amqp, &n, &err);
        rc = wrc ? cli_error(CLI_FAIL, "%s", err.msg) : CLI_OK;
        if(!rc)
            printf("purged %u dead messages\n", n);
        wh_amqp_free(amqp);
        return rc;
    }
    return cli_usage(self, stderr);
}
