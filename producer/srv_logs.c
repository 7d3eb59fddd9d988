/* srv_logs: GET /v1/jobs/{id}/logs[?tail=N][&follow=1], and the same for a
 * container's log stream (srv_logs_stream, used by srv_fleet.c).
 *
 * Without follow: {"lines":[{"id","s","l"}...]} from the stream
 * <prefix>job:<id>:log (all of it, or the last `tail` entries; at most
 * SRV_LOG_MAX). With follow=1: Server-Sent Events, one `line` event per
 * entry (data = {"s","l"}, id = the stream entry id, so a reconnecting
 * client resumes with Last-Event-ID), until the job is terminal and the
 * stream is drained; then one `end` event {"state"} and the stream closes.
 * Lines the stream's cap (jobs.log_max_lines) removed before they were sent
 * come as one `gap` event {"missing": N} where they would have been.
 * Each follower has its own Redis connection (XREAD BLOCK 1 s), so a slow
 * reader holds no pooled connection; `: keepalive` comments flow every
 * ~10 s of silence so idle timeouts do not cut a quiet job. A container's
 * stream has no job: its follower never ends by itself (the client closes
 * it), and its lines carry the engine's timestamp `t` when recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "wh_keys.h"
#include "wh_status.h"
#include "wh_xpage.h"

#define FOLLOW_PAGE 100      /* entries per page */
#define KEEPALIVE_MS 10000   /* silence before a keepalive comment, ms */

/* Non-follow: the whole log or its tail. */
static void logs_plain(srv_call *c, wh_redis *r, const char *key, long tail)
{
    char count[24], last[64] = "0-0";
    snprintf(count, sizeof(count), "%ld", tail ? tail : SRV_LOG_MAX);
    const char *rev[] = {"XREVRANGE", key, "+", "-", "COUNT", count};
    const char *fwd[] = {"XRANGE", key, "-", "+", "COUNT", count};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(r, &rep, &err, 6, tail ? rev : fwd) != WH_OK)
        return srv_error_wh(c, &err);
    wh_json *lines = wh_json_array();
    size_t n = wh_redis_reply_len(rep);
    for(size_t i = 0; i < n; i++) {
        wh_json *e = wh_xpage_entry_json(wh_redis_reply_at(rep, tail ? n - 1 - i : i), last);
        if(e)
            wh_json_push(lines, e);
    }
    wh_redis_reply_free(rep);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "lines", lines);
    srv_reply_json(c, 200, o);
}

/* ---- follow (SSE) ---- */

typedef struct follower {
    wh_redis *r;              /* own connection */
    char prefix[64];
    char id[128];             /* the job, "" for a container's stream */
    char key[WH_KEY_MAX];
    wh_xpage x;               /* place in the stream: last id sent, next number */
    char *buf;                /* formatted events not yet sent */
    size_t len, off, cap;
    bool terminal;            /* the job finished: drain then end */
    bool ended;               /* the end event is queued */
    int quiet_ms;             /* since the last byte queued, ms */
} follower;

static bool put(follower *f, const char *s, size_t n)
{
    if(f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 8192;
        while(cap < f->len + n)
            cap *= 2;
        char *b = realloc(f->buf, cap);
        if(!b)
            return false;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->quiet_ms = 0;
    return true;
}

/* Queue "id: ..\nevent: line\ndata: {...}\n\n" for each entry. */
static bool put_entries(follower *f, const wh_redis_reply *entries)
{
    for(size_t i = 0; i < wh_redis_reply_len(entries); i++) {
        wh_json *o = wh_xpage_entry_json(wh_redis_reply_at(entries, i), f->x.last);
        if(!o)
            continue;
        wh_json *data = wh_json_object();
        static const char *const keep[] = {"s", "l", "t"};
        for(int k = 0; k < 3; k++) {
            const char *v = wh_json_strv(wh_json_get(o, keep[k]), NULL);
            if(v)
                wh_json_setc(data, keep[k], wh_json_str(v));
        }
        wh_json_free(o);
        char *text = wh_json_dump(data);
        wh_json_free(data);
        char head[128];
        int hn = snprintf(head, sizeof(head), "id: %s\nevent: line\ndata: ", f->x.last);
        bool ok = text && put(f, head, (size_t)hn) && put(f, text, strlen(text)) && put(f, "\n\n", 2);
        free(text);
        if(!ok)
            return false;
    }
    return true;
}

/* One fetch: while the job runs, wait up to 1 s for a line first; then one
 * page. Lines the stream's cap removed before they were sent are announced
 * with a `gap` event, {"missing": N} (null: some, number unknown).
 * Returns entries queued, or -1 on a Redis error. */
static long fetch(follower *f, bool block)
{
    wh_redis_reply *rep;
    const wh_redis_reply *entries;
    long long missing;
    wh_err err;
    if((block && wh_xpage_wait(f->r, f->key, &f->x, 1000, &err) != WH_OK) ||
       wh_xpage_fetch(f->r, f->key, &f->x, FOLLOW_PAGE, &rep, &entries, &missing, &err) != WH_OK)
        return -1;
    bool ok = true;
    if(missing) {
        char gap[96];
        int gn = missing > 0 ? snprintf(gap, sizeof(gap), "event: gap\ndata: {\"missing\":%lld}\n\n", missing)
                             : snprintf(gap, sizeof(gap), "event: gap\ndata: {\"missing\":null}\n\n");
        ok = put(f, gap, (size_t)gn);
    }
    long n = entries ? (long)wh_redis_reply_len(entries) : 0;
    ok = ok && (!entries || put_entries(f, entries));
    wh_xpage_done(&f->x, n);
    wh_redis_reply_free(rep);
    return ok ? n : -1;
}

/* Produce more events into f->buf. false on a fatal error. */
static bool advance(follower *f)
{
    if(f->terminal) {
        long n = fetch(f, false);
        if(n < 0)
            return false;
        if(n == 0) {
            char state[16], end[96];
            wh_err err;
            if(wh_status_state(f->r, f->prefix, f->id, state, NULL, NULL, 0, &err) != WH_OK)
                snprintf(state, sizeof(state), "unknown");
            int en = snprintf(end, sizeof(end), "event: end\ndata: {\"state\":\"%s\"}\n\n", state);
            f->ended = true;
            return put(f, end, (size_t)en);
        }
        return true;
    }
    /* Read the state before the lines: a line written before the job turned
     * terminal is then always fetched by the drain that follows. */
    char state[16] = "running";
    wh_err err;
    wh_code rc = f->id[0] ? wh_status_state(f->r, f->prefix, f->id, state, NULL, NULL, 0, &err) : WH_OK;
    if(rc == WH_E_NOT_FOUND || (rc == WH_OK && wh_status_terminal(state)))
        f->terminal = true;
    else if(rc)
        return false;
    if(f->terminal)
        return true;
    long n = fetch(f, true);
    if(n < 0)
        return false;
    if(n == 0 && (f->quiet_ms += 1000) >= KEEPALIVE_MS)
        return put(f, ": keepalive\n\n", 13);
    return true;
}

static ssize_t follow_read(void *ud, char *out, size_t cap)
{
    follower *f = ud;
    if(f->off == f->len) {
        f->off = f->len = 0;
        if(f->ended)
            return WH_MHD_STREAM_END;
        if(!advance(f))
            return WH_MHD_STREAM_ERROR;
    }
    size_t n = f->len - f->off < cap ? f->len - f->off : cap;
    if(n == 0) /* nothing yet: MHD calls again (we blocked up to 1 s in XREAD) */
        return 0;
    memcpy(out, f->buf + f->off, n);
    f->off += n;
    return (ssize_t)n;
}

static void follow_done(void *ud)
{
    follower *f = ud;
    wh_redis_free(f->r);
    free(f->buf);
    free(f);
}

/* A stream id as Redis writes it: digits '-' digits. */
static bool stream_id_ok(const char *s)
{
    size_t a = strspn(s, "0123456789");
    return a > 0 && a < 21 && s[a] == '-' && strspn(s + a + 1, "0123456789") == strlen(s + a + 1) &&
           strlen(s + a + 1) > 0 && strlen(s + a + 1) < 21;
}

static void logs_follow(srv_call *c, const char *key, const char *job, const char *start)
{
    follower *f = calloc(1, sizeof(*f));
    wh_err err;
    if(!f)
        return srv_error(c, 500, "nomem", "", "out of memory");
    snprintf(f->prefix, sizeof(f->prefix), "%s", c->s->cfg->redis_prefix);
    snprintf(f->id, sizeof(f->id), "%s", job ? job : "");
    snprintf(f->key, sizeof(f->key), "%s", key);
    const char *resume = wh_mhd_header(c->req, "Last-Event-ID");
    wh_xpage_init(&f->x, resume && stream_id_ok(resume) ? resume : start);
    if(!(f->r = wh_redis_new(c->s->cfg->redis_url, 5000, &err)) || wh_redis_connect(f->r, &err) != WH_OK) {
        follow_done(f);
        return srv_error_wh(c, &err);
    }
    static const wh_mhd_hdr h[] = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    wh_mhd_reply_stream(c->req, 200, "text/event-stream", follow_read, f, follow_done, h, 2);
}

void srv_logs_stream(srv_call *c, wh_redis *r, const char *key, const char *job, long tail, long follow)
{
    if(!follow)
        return logs_plain(c, r, key, tail);
    if(!tail)
        return logs_follow(c, key, job, "0-0");
    /* Start after the entry before the last `tail` ones. */
    char count[24];
    snprintf(count, sizeof(count), "%ld", tail + 1);
    const char *rev[] = {"XREVRANGE", key, "+", "-", "COUNT", count};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(r, &rep, &err, 6, rev) != WH_OK)
        return srv_error_wh(c, &err);
    size_t n = wh_redis_reply_len(rep);
    char first[64] = "0-0";
    if(n == (size_t)tail + 1)
        wh_json_free(wh_xpage_entry_json(wh_redis_reply_at(rep, n - 1), first));
    wh_redis_reply_free(rep);
    logs_follow(c, key, job, first);
}

void srv_logs_get(srv_call *c)
{
    if(srv_bad_id(c))
        return;
    long tail, follow;
    if(!srv_query_int(c, "tail", 1, SRV_LOG_MAX, 0, &tail) || !srv_query_int(c, "follow", 0, 1, 0, &follow))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    char state[16], key[WH_KEY_MAX];
    wh_err err;
    if(wh_status_state(r, c->s->cfg->redis_prefix, c->param, state, NULL, NULL, 0, &err) != WH_OK)
        return srv_error_wh(c, &err);
    wh_key_log(key, c->s->cfg->redis_prefix, c->param);
    srv_logs_stream(c, r, key, c->param, tail, follow);
}
