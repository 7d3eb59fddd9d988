/* container_logs: container.logs, Docker's log stream into a capped Redis stream.
 *
 *   key  <prefix>host:<host>:ctr:<name>:log   (XADD MAXLEN ~ jobs.log_max_lines,
 *                                              expires after jobs.ttl_s)
 *   entry  s = out | err, l = the line, t = the engine's timestamp (timestamps=true)
 *
 * Lines are copied into a batch (at most RT_LOG_BATCH lines or
 * RT_LOG_BATCH_BYTES bytes) that one EVAL of LOG_LUA adds to the stream, one
 * XADD per line on the server: one command and one reply per batch instead
 * of per line. One batch stays in flight while the next one fills (its
 * reply is read only when the next is sent), so the engine's stream is read
 * while Redis works. With follow_s the stream is followed for that long (or
 * until cancel, or the job's timeout); the end of the follow window is a
 * normal end, and a batch is also sent when the stream goes quiet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_demux.h"
#include "runtime.h"
#include "wh_time.h"

#define RT_LOG_BATCH 512                 /* lines per EVAL */
#define RT_LOG_BATCH_BYTES (1u << 20)    /* bytes of lines per EVAL (a line is <= 8 KiB) */
#define RT_LOG_ARGV (6 + 3 * RT_LOG_BATCH)
#define RT_LOG_HOLD_MS 200               /* longest a line waits in a batch */

/* KEYS[1] the stream; ARGV: maxlen, timestamps (0|1), then per line
 * s, [t,] l. Returns the number of entries added. */
static const char LOG_LUA[] =
    "local k,m=KEYS[1],ARGV[1] local ts=ARGV[2]=='1' local n=0 "
    "local step=ts and 3 or 2 "
    "for i=3,#ARGV,step do "
    "if ts then redis.call('XADD',k,'MAXLEN','~',m,'*','s',ARGV[i],'t',ARGV[i+1],'l',ARGV[i+2]) "
    "else redis.call('XADD',k,'MAXLEN','~',m,'*','s',ARGV[i],'l',ARGV[i+1]) end n=n+1 end return n";

typedef struct logctx {
    wk_job *job;
    int64_t batch_t0;   /* wh_mono_us when the batch got its first line */
    wh_redis *r;
    char key[WH_INV_NAME_MAX + 3 * RT_NAME_MAX + 256];
    char maxlen[24];
    bool ts;
    int inflight;       /* EVALs sent, replies not read (0 or 1) */
    long long lines;
    wh_code err;        /* first Redis failure */
    wh_err e;
    rt_demux dm;
    rt_lines ln;
    int nargv;          /* argv entries of the batch being filled */
    size_t used;        /* bytes of buf in use */
    const char *argv[RT_LOG_ARGV];
    size_t lens[RT_LOG_ARGV];
    size_t offs[RT_LOG_ARGV]; /* argv entries that point into buf: their offset, else SIZE_MAX */
    char *buf;          /* RT_LOG_BATCH_BYTES: the batch's lines and timestamps */
} logctx;

/* Read the reply of the batch in flight. */
static wh_code settle(logctx *x)
{
    if(x->inflight && !x->err)
        x->err = wh_redis_drain(x->r, x->inflight, &x->e);
    x->inflight = 0;
    return x->err;
}

static void batch_reset(logctx *x)
{
    static const char *const head[] = {"EVAL", LOG_LUA, "1", NULL, NULL, NULL};
    for(int i = 0; i < 6; i++) {
        x->argv[i] = head[i];
        x->offs[i] = SIZE_MAX;
    }
    x->argv[3] = x->key;
    x->argv[4] = x->maxlen;
    x->argv[5] = x->ts ? "1" : "0";
    for(int i = 0; i < 6; i++)
        x->lens[i] = strlen(x->argv[i]);
    x->nargv = 6;
    x->used = 0;
}

/* Send the batch (if any) and read the reply of the previous one. */
static wh_code send_batch(logctx *x)
{
    if(x->nargv <= 6 || x->err)
        return x->err;
    for(int i = 0; i < x->nargv; i++)
        if(x->offs[i] != SIZE_MAX)
            x->argv[i] = x->buf + x->offs[i];
    wh_code rc = wh_redis_append(x->r, x->nargv, x->argv, x->lens, &x->e);
    batch_reset(x);
    if(rc)
        return x->err = rc;
    rc = settle(x); /* the previous batch: Redis now has this one queued behind it */
    x->inflight = 1;
    return rc;
}

/* Copy n bytes into the batch as one argument. */
static void add_arg(logctx *x, const char *p, size_t n, bool copy)
{
    if(copy) {
        memcpy(x->buf + x->used, p, n);
        x->offs[x->nargv] = x->used;
        x->used += n;
    } else {
        x->argv[x->nargv] = p;
        x->offs[x->nargv] = SIZE_MAX;
    }
    x->lens[x->nargv++] = n;
}

static wh_code on_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)cut;
    logctx *x = ud;
    if(x->err)
        return x->err;
    if(x->nargv + 3 > RT_LOG_ARGV || x->used + len + 64 > RT_LOG_BATCH_BYTES) {
        wh_code rc = send_batch(x);
        if(rc)
            return rc;
    }
    if(x->nargv == 6)
        x->batch_t0 = wh_mono_us();
    add_arg(x, s == RT_STDERR ? "err" : "out", 3, false);
    if(x->ts) {
        /* "2026-11-23T18:10:05.540286748Z line": split at the first space. */
        const char *sp = memchr(line, ' ', len);
        size_t tn = sp ? (size_t)(sp - line) : len;
        add_arg(x, line, tn > 63 ? 63 : tn, true);
        line = sp ? sp + 1 : line + len;
        len = sp ? len - tn - 1 : 0;
    }
    add_arg(x, line, len, true);
    x->lines++;
    return WH_OK;
}

static wh_code on_body(void *ud, const char *data, size_t len)
{
    logctx *x = ud;
    wh_code rc = rt_demux_feed(&x->dm, data, len, &x->e);
    return rc ? rc : x->err;
}

/* The transfer's abort hook (every WH_CURL_POLL_MS): besides the job's
 * interruption, a quiet stream (follow) must not hold lines back, so a
 * batch older than RT_LOG_HOLD_MS is sent and settled, as is one in flight. */
static bool on_poll(void *ud)
{
    logctx *x = ud;
    if(x->inflight || (x->nargv > 6 && wh_mono_us() - x->batch_t0 > RT_LOG_HOLD_MS * 1000)) {
        send_batch(x);
        settle(x);
    }
    return wk_job_interrupted(x->job);
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
    logctx *x = malloc(sizeof(*x)); /* line buffers and the batch: not on the stack */
    char *buf = malloc(RT_LOG_BATCH_BYTES);
    if(!x || !buf) {
        free(x);
        free(buf);
        return wk_job_fail(job, WH_E_NOMEM, NULL, true, "out of memory");
    }
    *x = zero;
    x->buf = buf;
    size_t nn;
    const char *name = wh_args_str(a, "name", "", &nn);
    char esc[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    wh_curl_escape(name, nn, esc, sizeof(esc));
    snprintf(x->key, sizeof(x->key), "%shost:%s:ctr:%.*s:log", wk_job_prefix(job), wk_job_host(job)->name, (int)nn,
             name);
    snprintf(x->maxlen, sizeof(x->maxlen), "%d", wk_job_cfg(job)->log_max_lines);
    x->ts = wh_args_bool(a, "timestamps", false);
    batch_reset(x);
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
    x->job = job;
    c.abort = on_poll; /* the job's interruption, and quiet streams' batches */
    c.abort_ud = x;
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
    send_batch(x);
    settle(x);
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
    free(x->buf);
    free(x);
    if(rc) {
        wh_json_free(r);
        return wk_job_fail_err(job, rc, &err);
    }
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
