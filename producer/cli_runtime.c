/* cli_runtime: commands for the runtime family's data in Redis.
 *   wharf ctr-logs HOST NAME [-f] [-t]   the stream runtime.container.logs fills */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "wh_env.h"

#define CTR_PAGE "1000" /* entries fetched per round trip */

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, as the worker accepts container names. */
static bool ctr_name_ok(const char *s)
{
    size_t n = strlen(s);
    if(n < 1 || n > 128)
        return false;
    for(size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if(!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return false;
    }
    return true;
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

static long read_page(wh_redis *r, const char *key, bool ts, char *last, size_t cap, bool block)
{
    char from[80];
    snprintf(from, sizeof(from), "(%s", last);
    const char *range[] = {"XRANGE", key, from, "+", "COUNT", CTR_PAGE};
    const char *xread[] = {"XREAD", "COUNT", CTR_PAGE, "BLOCK", "500", "STREAMS", key, last};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(r, &rep, &err, block ? 8 : 6, block ? xread : range) != WH_OK) {
        cli_error(CLI_FAIL, "%s", err.msg);
        return -1;
    }
    long n = 0;
    if(!block)
        n = print_entries(rep, ts, last, cap);
    else if(wh_redis_reply_kind(rep) == WH_REDIS_ARRAY && wh_redis_reply_len(rep) > 0)
        n = print_entries(wh_redis_reply_at(wh_redis_reply_at(rep, 0), 1), ts, last, cap);
    wh_redis_reply_free(rep);
    return n;
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
    char key[1024], last[64] = "0-0";
    snprintf(key, sizeof(key), "%shost:%s:ctr:%s:log", c->cfg.redis_prefix, host, name);
    long n;
    while((n = read_page(r, key, ts, last, sizeof(last), false)) > 0)
        ;
    if(follow) {
        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
    }
    /* Follow until interrupted: new lines come from the next container.logs job. */
    while(n >= 0 && follow && !g_stop)
        n = read_page(r, key, ts, last, sizeof(last), true);
    return n < 0 ? CLI_FAIL : CLI_OK;
}
