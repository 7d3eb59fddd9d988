/* cli_jobs: `wharf status` and `wharf logs`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "wh_json.h"
#include "wh_keys.h"
#include "wh_status.h"

#define LOG_PAGE_N 1000 /* stream entries fetched per request */

/* Parse the common "[--json] ID" shape; returns the id or NULL. */
static const char *one_id(const cli_cmd *self, int argc, char **argv, const char *flag, bool *flag_set, int *status)
{
    struct option opts[] = {{flag, no_argument, NULL, 'x'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    char shortopts[4] = "hf";
    if(strcmp(flag, "json") == 0)
        shortopts[1] = '\0';
    int o;
    while((o = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if(o == 'x' || o == 'f') {
            *flag_set = true;
        } else {
            *status = cli_usage(self, o == 'h' ? stdout : stderr);
            return NULL;
        }
    }
    if(optind != argc - 1) {
        *status = cli_error(CLI_USAGE, "%s: expected exactly one job id", self->name);
        return NULL;
    }
    return argv[optind];
}

static void print_value(const char *key, const wh_json *v)
{
    static const char *const times[] = {"created_at", "queued_at", "started_at", "finished_at", NULL};
    for(int i = 0; times[i]; i++)
        if(strcmp(key, times[i]) == 0 && wh_json_kind_of(v) == WH_JSON_INT) {
            char t[40];
            cli_time(wh_json_intv(v), t, sizeof(t));
            printf("%-14s %s\n", key, t);
            return;
        }
    const char *s = wh_json_strv(v, NULL);
    if(s) {
        printf("%-14s %s\n", key, s);
        return;
    }
    char *text = wh_json_dump(v);
    printf("%-14s %s\n", key, text ? text : "?");
    free(text);
}

int cli_status(cli *c, int argc, char **argv)
{
    bool json = false;
    int status = CLI_OK;
    const char *id = one_id(cli_find("status"), argc, argv, "json", &json, &status);
    if(!id)
        return status;
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    wh_err err;
    wh_json *j = wh_status_json(r, c->cfg.redis_prefix, id, &err);
    if(!j)
        return cli_error(CLI_FAIL, "%s", err.msg);
    if(json) {
        cli_print_json(j, "{}");
    } else {
        /* Familiar fields first, in a fixed order; any others after. */
        static const char *const order[] = {"id", "type", "target", "state", "attempt", "max_attempts",
                                            "progress", "step", "worker", "created_at", "queued_at",
                                            "started_at", "finished_at", "error", "error_message", "result", NULL};
        for(int i = 0; order[i]; i++) {
            wh_json *v = wh_json_get(j, order[i]);
            if(v && !(wh_json_strv(v, NULL) && !*wh_json_strv(v, NULL)))
                print_value(order[i], v);
        }
        for(wh_json_iter *it = wh_json_iter_first(j); it; it = wh_json_iter_next(j, it)) {
            const char *k = wh_json_iter_key(it, NULL);
            bool known = false;
            for(int i = 0; order[i] && !known; i++)
                known = strcmp(order[i], k) == 0;
            if(!known)
                print_value(k, wh_json_iter_val(it));
        }
    }
    wh_json_free(j);
    return CLI_OK;
}

/* Print the entries of an XRANGE/XREAD entry list; remember the last id. */
static size_t print_entries(const wh_redis_reply *entries, char *last, size_t cap)
{
    size_t n = wh_redis_reply_len(entries);
    for(size_t i = 0; i < n; i++) {
        const wh_redis_reply *e = wh_redis_reply_at(entries, i);
        if(wh_redis_reply_len(e) < 2)
            continue;
        size_t idn;
        const char *eid = wh_redis_reply_str(wh_redis_reply_at(e, 0), &idn);
        snprintf(last, cap, "%.*s", (int)idn, eid ? eid : "0");
        const wh_redis_reply *f = wh_redis_reply_at(e, 1);
        const char *s = "out", *l = "";
        size_t sn = 3, ln = 0;
        for(size_t k = 0; k + 1 < wh_redis_reply_len(f); k += 2) {
            size_t kn;
            const char *key = wh_redis_reply_str(wh_redis_reply_at(f, k), &kn);
            if(key && kn == 1 && key[0] == 's')
                s = wh_redis_reply_str(wh_redis_reply_at(f, k + 1), &sn);
            else if(key && kn == 1 && key[0] == 'l')
                l = wh_redis_reply_str(wh_redis_reply_at(f, k + 1), &ln);
        }
        FILE *out = sn == 3 && memcmp(s, "out", 3) == 0 ? stdout : stderr;
        fprintf(out, "%s%.*s\n", out == stderr && sn == 3 && memcmp(s, "sys", 3) == 0 ? "[sys] " : "", (int)ln, l);
    }
    fflush(stdout);
    return n;
}

long cli_stream_page(wh_redis *r, cli_stream *st, bool block, int block_ms, cli_page_fn print, void *ud)
{
    wh_err err;
    wh_redis_reply *rep;
    const wh_redis_reply *entries;
    long long missing;
    if((block && wh_xpage_wait(r, st->key, &st->x, block_ms, &err) != WH_OK) ||
       wh_xpage_fetch(r, st->key, &st->x, LOG_PAGE_N, &rep, &entries, &missing, &err) != WH_OK) {
        cli_error(CLI_FAIL, "%s", err.msg);
        return -1;
    }
    if(missing) {
        const char *where = st->x.next && strcmp(st->x.last, "0-0") == 0 ? "before the first shown" : "here";
        if(missing > 0)
            fprintf(stderr, "[wharf] %lld %s trimmed %s (the stream keeps the newest jobs.log_max_lines)\n",
                    missing, missing == 1 ? "line was" : "lines were", where);
        else
            fprintf(stderr, "[wharf] lines were trimmed here (the stream keeps the newest jobs.log_max_lines)\n");
    }
    long n = entries ? print(entries, ud, st->x.last, sizeof(st->x.last)) : 0;
    wh_xpage_done(&st->x, n);
    wh_redis_reply_free(rep);
    return n;
}

static long print_job_entries(const wh_redis_reply *entries, void *ud, char *last, size_t cap)
{
    (void)ud;
    return (long)print_entries(entries, last, cap);
}

/* Fetch a page after st->last; returns entries printed or -1. */
static long read_page(wh_redis *r, cli_stream *st, bool block)
{
    return cli_stream_page(r, st, block, 1000, print_job_entries, NULL);
}

int cli_logs(cli *c, int argc, char **argv)
{
    bool follow = false;
    int status = CLI_OK;
    const char *id = one_id(cli_find("logs"), argc, argv, "follow", &follow, &status);
    if(!id)
        return status;
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    char key[WH_KEY_MAX], state[16];
    wh_key_log(key, c->cfg.redis_prefix, id);
    cli_stream st = {.key = key};
    wh_xpage_init(&st.x, NULL);
    wh_err err;
    if(wh_status_state(r, c->cfg.redis_prefix, id, state, NULL, NULL, 0, &err) != WH_OK)
        return cli_error(CLI_FAIL, "%s", err.msg);
    long n;
    while((n = read_page(r, &st, false)) > 0)
        ;
    if(n < 0)
        return CLI_FAIL;
    /* Follow until the job is finished and the stream has nothing newer. */
    while(follow && !wh_status_terminal(state)) {
        if(read_page(r, &st, true) < 0)
            return CLI_FAIL;
        if(wh_status_state(r, c->cfg.redis_prefix, id, state, NULL, NULL, 0, &err) != WH_OK)
            return cli_error(CLI_FAIL, "%s", err.msg);
    }
    while(follow && (n = read_page(r, &st, false)) > 0)
        ;
    return n < 0 ? CLI_FAIL : CLI_OK;
}
