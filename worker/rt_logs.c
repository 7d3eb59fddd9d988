/* rt_logs: container.logs, Docker's log stream into a capped Redis stream.
 *
 *   key  <prefix>host:<host>:ctr:<name>:log   (XADD MAXLEN ~ jobs.log_max_lines,
 *                                              expires after jobs.ttl_s)
 *   entry  s = out | err, l = the line, t = the engine's timestamp (timestamps=true)
 *
 * Lines are pipelined to Redis in batches of RT_LOG_BATCH. With follow_s the
 * stream is followed for that long (or until cancel, or the job's timeout);
 * the end of the follow window is a normal end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_demux.h"
#include "rt_fam.h"

#define RT_LOG_BATCH 256 /* XADDs pipelined before reading their replies */

const wh_arg_spec rt_logs_args[RT_LOGS_NARGS] = {
    {"name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"},
    {"tail", WH_ARG_INT, false, 0, 10000000, NULL, NULL},
    {"since", WH_ARG_INT, false, 0, INT64_C(1) << 40, NULL, NULL},
    {"follow_s", WH_ARG_INT, false, 0, 86400, NULL, NULL},
    {"timestamps", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
};

typedef struct logctx {
    wh_redis *r;
    char key[WH_INV_NAME_MAX + 3 * RT_NAME_MAX + 256];
    char maxlen[24];
    bool ts;
    int pending;        /* XADDs sent, replies not read */
    long long lines;
    wh_code err;        /* first Redis failure */
    wh_err e;
    rt_demux dm;
    rt_lines ln;
} logctx;

static wh_code drain(logctx *x)
{
    if(x->pending && !x->err) {
        x->err = wh_redis_drain(x->r, x->pending, &x->e);
        x->pending = 0;
    }
    return x->err;
}

static wh_code on_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)cut;
    logctx *x = ud;
    const char *argv[12] = {"XADD", x->key, "MAXLEN", "~", x->maxlen, "*", "s", s == RT_STDERR ? "err" : "out"};
    size_t lens[12];
    int argc = 8;
    for(int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if(x->ts) {
        /* "2026-11-23T18:10:05.540286748Z line": split at the first space. */
        const char *sp = memchr(line, ' ', len);
        size_t tn = sp ? (size_t)(sp - line) : len;
        argv[argc] = "t";
        lens[argc] = 1;
        argv[argc + 1] = line;
        lens[argc + 1] = tn;
        argc += 2;
        line = sp ? sp + 1 : line + len;
        len = sp ? len - tn - 1 : 0;
    }
    argv[argc] = "l";
    lens[argc] = 1;
    argv[argc + 1] = line;
    lens[argc + 1] = len;
    argc += 2;
    wh_code rc = wh_redis_append(x->r, argc, argv, lens, &x->e);
    if(rc)
        return x->err = rc;
    x->lines++;
    if(++x->pending >= RT_LOG_BATCH)
        return drain(x);
    return WH_OK;
}

static wh_code on_body(void *ud, const char *data, size_t len)
{
    logctx *x = ud;
    wh_code rc = rt_demux_feed(&x->dm, data, len, &x->e);
    return rc ? rc : x->err;
}

/* TTY containers send a raw stream: ask the engine which it is. */
static wh_code tty_of(rt_conn *c, const char *name, bool *tty, wh_err *err)
{
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/containers/%s/json", name);
    wh_json *v = NULL;
    wh_code rc = rt_call(c, "GET", path, NULL, name, &v, err);
    if(rc)
        return rc;
    wh_json *t = wh_json_get(wh_json_get(v, "Config"), "Tty");
    *tty = t && wh_json_kind_of(t) == WH_JSON_BOOL && wh_json_boolv(t);
    wh_json_free(v);
    return WH_OK;
}

wk_run rt_logs_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    static logctx zero;
    logctx *x = malloc(sizeof(*x)); /* two 8 KiB line buffers: not on the stack */
    if(!x)
        return wk_job_fail(job, WH_E_NOMEM, NULL, true, "out of memory");
    *x = zero;
    size_t nn;
    const char *name = wh_args_str(a, "name", "", &nn);
    char esc[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    wh_curl_escape(name, nn, esc, sizeof(esc));
    snprintf(x->key, sizeof(x->key), "%shost:%s:ctr:%.*s:log", wk_job_prefix(job), wk_job_host(job)->name, (int)nn,
             name);
    snprintf(x->maxlen, sizeof(x->maxlen), "%d", wk_job_cfg(job)->log_max_lines);
    x->ts = wh_args_bool(a, "timestamps", false);
    int64_t follow = wh_args_int(a, "follow_s", 0);
    int n = snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1&timestamps=%d&follow=%d", esc, x->ts,
                     follow > 0);
    if(wh_mp_map_get(a, "tail"))
        n += snprintf(path + n, sizeof(path) - (size_t)n, "&tail=%lld", (long long)wh_args_int(a, "tail", 0));
    if(wh_mp_map_get(a, "since"))
        snprintf(path + n, sizeof(path) - (size_t)n, "&since=%lld", (long long)wh_args_int(a, "since", 0));
    rt_conn c;
    wh_err err;
    bool tty = false;
    long st = 0;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = tty_of(&c, esc, &tty, &err);
    wk_job_flush(job);
    x->r = wk_job_redis(job);
    rt_demux_init(&x->dm, tty, rt_lines_feed, &x->ln);
    rt_lines_init(&x->ln, on_line, x);
    if(!rc)
        rc = rt_request_stream(&c, "GET", path, NULL, follow > 0 ? (long)follow * 1000 : 0, on_body, x, &st, &err);
    if(rc == WH_E_TIMEOUT && follow > 0) {
        rc = WH_OK; /* the follow window ended; the inspect above proved the container exists */
        st = 200;
    }
    if(!rc && st != 200)
        rc = rt_engine_status(st, NULL, esc, &err);
    if(!rc || rc == WH_E_INTERRUPTED)
        rt_lines_flush(&x->ln);
    drain(x);
    if(!rc && x->err) {
        rc = x->err;
        err = x->e;
    }
    if(!rc) {
        const char *argv[] = {"EXPIRE", x->key, NULL};
        char ttl[24];
        snprintf(ttl, sizeof(ttl), "%lld", (long long)wk_job_cfg(job)->job_ttl_s);
        argv[2] = ttl;
        wh_redis_reply *rep = NULL;
        if(wh_redis_cmdv(x->r, &rep, &err, 3, argv) == WH_OK)
            wh_redis_reply_free(rep);
    }
    long long lines = x->lines;
    wh_json *r = wh_json_object();
    wh_json_setc(r, "key", wh_json_str(x->key));
    wh_json_setc(r, "lines", wh_json_int(lines));
    free(x);
    if(rc) {
        wh_json_free(r);
        return rt_fail(job, rc, &err);
    }
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
