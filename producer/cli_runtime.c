/* cli_runtime: commands for the runtime family's data in Redis.
 *   wharf ctr-logs HOST NAME [-f] [-t]   the stream runtime.container.logs fills
 *   wharf host-stats HOST [CONTAINER]    the rollups runtime.host.stats writes (read by fleet.c) */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fleet.h"
#include "wh_env.h"


static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, as the worker accepts container names
 * (the alphabet of an envelope target). */
static bool ctr_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n <= 128 && wh_env_target_valid(s, n);
}

/* Field `name` of a stream entry's field array, or NULL. */
static const char *field(const wh_redis_reply *fields, const char *name, size_t *len)
{
    for(size_t i = 0; i + 1 < wh_redis_reply_len(fields); i += 2) {
        size_t n;
        const char *k = wh_redis_reply_str(wh_redis_reply_at(fields, i), &n);
        if(k && n == strlen(name) && memcmp(k, name, n) == 0)
            return wh_redis_reply_str(wh_redis_reply_at(fields, i + 1), len);
    }
    return NULL;
}

/* Print entries (s=out to stdout, s=err to stderr); remember the last id. */
static long print_entries(const wh_redis_reply *arr, bool ts, char *last, size_t cap)
{
    long n = 0;
    for(size_t i = 0; arr && i < wh_redis_reply_len(arr); i++) {
        const wh_redis_reply *e = wh_redis_reply_at(arr, i);
        size_t idn, sn = 0, ln = 0, tn = 0;
        const char *id = wh_redis_reply_str(wh_redis_reply_at(e, 0), &idn);
        const wh_redis_reply *f = wh_redis_reply_at(e, 1);
        const char *s = field(f, "s", &sn), *l = field(f, "l", &ln), *t = field(f, "t", &tn);
        FILE *out = s && sn == 3 && memcmp(s, "err", 3) == 0 ? stderr : stdout;
        if(ts && t)
            fprintf(out, "%.*s ", (int)tn, t);
        fprintf(out, "%.*s\n", (int)ln, l ? l : "");
        if(id && idn < cap)
            snprintf(last, cap, "%.*s", (int)idn, id);
        n++;
    }
    fflush(stdout);
    fflush(stderr);
    return n;
}

static long print_ctr_entries(const wh_redis_reply *entries, void *ud, char *last, size_t cap)
{
    return print_entries(entries, *(const bool *)ud, last, cap);
}

static long read_page(wh_redis *r, cli_stream *st, bool ts, bool block)
{
    return cli_stream_page(r, st, block, 500, print_ctr_entries, &ts);
}

int cli_ctr_logs(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"timestamps", no_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool follow = false, ts = false;
    int o;
    while((o = getopt_long(argc, argv, "fth", opts, NULL)) != -1) {
        if(o == 'f')
            follow = true;
        else if(o == 't')
            ts = true;
        else
            return cli_usage(cli_find("ctr-logs"), o == 'h' ? stdout : stderr);
    }
    if(optind != argc - 2)
        return cli_error(CLI_USAGE, "ctr-logs: expected HOST and NAME");
    const char *host = argv[optind], *name = argv[optind + 1];
    if(!wh_env_target_valid(host, strlen(host)))
        return cli_error(CLI_USAGE, "ctr-logs: HOST is not a valid inventory host name");
    if(!ctr_name_ok(name))
        return cli_error(CLI_USAGE, "ctr-logs: NAME must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    char key[1024];
    snprintf(key, sizeof(key), "%shost:%s:ctr:%s:log", c->cfg.redis_prefix, host, name);
    cli_stream st = {.key = key};
    wh_xpage_init(&st.x, NULL);
    long n;
    while((n = read_page(r, &st, ts, false)) > 0)
        ;
    if(follow) {
        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
    }
    /* Follow until interrupted: new lines come from the next container.logs job. */
    while(n >= 0 && follow && !g_stop)
        n = read_page(r, &st, ts, true);
    return n < 0 ? CLI_FAIL : CLI_OK;
}

/* One `wharf host-stats` row: a bucket's time (to the second), samples,
 * CPU percentages and memory bytes. */
static void bucket_row(cli_table *tab, const char *ts, const fleet_bucket *b, double cpu, double mem)
{
    cli_table_cell(tab, "%.19s", ts);
    cli_table_cell(tab, "%.0f", b->n);
    cli_table_cell(tab, "%.1f%%", cpu);
    cli_table_cell(tab, "%.1f%%", b->cpu_max);
    cli_table_cell(tab, "%.0f", mem);
    cli_table_cell(tab, "%.0f", b->mem_max);
}

int cli_host_stats(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"minutes", required_argument, NULL, 'm'},
                                         {"hours", required_argument, NULL, 'H'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int count = 10, step = 60, o;
    bool json = false;
    while((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if(o == 'm' && !cli_int("--minutes", optarg, 1, 2880, &count))
            return CLI_USAGE;
        else if(o == 'H' && !cli_int("--hours", optarg, 1, 720, &count))
            return CLI_USAGE;
        else if(o == 'H')
            step = 3600;
        else if(o == 'j')
            json = true;
        else if(o == 'h' || o == '?')
            return cli_usage(cli_find("host-stats"), o == 'h' ? stdout : stderr);
    }
    if(optind != argc - 1 && optind != argc - 2)
        return cli_error(CLI_USAGE, "host-stats: expected HOST [CONTAINER]");
    const char *host = argv[optind], *name = optind == argc - 2 ? argv[optind + 1] : "_host";
    if(!wh_env_target_valid(host, strlen(host)))
        return cli_error(CLI_USAGE, "host-stats: HOST is not a valid inventory host name");
    if(strcmp(name, "_host") != 0 && !ctr_name_ok(name))
        return cli_error(CLI_USAGE, "host-stats: CONTAINER must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    fleet_bucket *all = NULL;
    int nb = 0;
    wh_err err;
    if(fleet_stats_read(r, c->cfg.redis_prefix, host, name, step, count, (int64_t)time(NULL), &all, &nb, &err))
        return cli_error(CLI_FAIL, "%s", err.msg);
    wh_json *rows = wh_json_array();
    static const char *const head[] = {"bucket (UTC)", "n", "cpu avg", "cpu max", "mem avg", "mem max"};
    cli_table *tab = json ? NULL : cli_table_new(6, head);
    for(int i = 0; i < nb; i++) {
        const fleet_bucket *b = &all[i];
        double cpu = b->cpu_n > 0 ? b->cpu_sum / b->cpu_n : 0, mem = b->mem_sum / b->n;
        char ts[40];
        cli_time((long long)b->t * 1000, ts, sizeof(ts));
        if(json) {
            wh_json *row = wh_json_object();
            wh_json_setc(row, "t", wh_json_int(b->t));
            wh_json_setc(row, "n", wh_json_int((int64_t)b->n));
            wh_json_setc(row, "cpu_avg", wh_json_real(cpu));
            wh_json_setc(row, "cpu_max", wh_json_real(b->cpu_max));
            wh_json_setc(row, "mem_avg", wh_json_int((int64_t)mem));
            wh_json_setc(row, "mem_max", wh_json_int((int64_t)b->mem_max));
            wh_json_push(rows, row);
        } else {
            bucket_row(tab, ts, b, cpu, mem);
        }
    }
    free(all);
    int status = CLI_OK;
    if(json)
        cli_print_json(rows, "[]");
    else
        status = cli_table_print(tab, stdout);
    cli_table_free(tab);
    wh_json_free(rows);
    return status;
}
