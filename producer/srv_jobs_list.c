/* srv_jobs_list: GET /v1/jobs, the job list: newest first, filtered by
 * state, type, target, creation time and text in args, or one job by id,
 * paged by cursor.
 *
 * The indexes (written by enqueue.lua and start.lua, trimmed together by the
 * scheduler's leader to jobs.recent_max ids; schemas/README.md section 15):
 *
 *   <p>recent                 zset  id -> created_at (ms), every job
 *   <p>recent:type:<type>     zset  the same, jobs of that type
 *   <p>recent:target:<host>   zset  the same, jobs on that target
 *
 * A request walks the narrowest index that fits (target, else type, else
 * all) with ZREVRANGEBYSCORE between `until` and `since`, so the time
 * window and those two filters cost nothing; the state (and type, when the
 * target index is walked) is checked on the job hashes, read in pipelined
 * batches of LIST_BATCH. At most SRV_LIST_SCAN index entries are looked at
 * per request: a sparse match answers with fewer jobs, `truncated`, and a
 * cursor to go on from. The cursor is "<created_at>:<n>": continue at the
 * n-th entry whose created_at is that one (ids created in the same
 * millisecond share a score), so a page boundary never repeats or skips a
 * job that was already there.
 *
 * `q` searches the args kept in the job hashes (enqueue.lua, at most 8 KiB
 * each) for a text, ignoring ASCII case, as one more filter on the same
 * bounded walk: a search looks at no more than SRV_LIST_SCAN entries per
 * request, whatever the size of Redis, and goes on by cursor. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "wh_env.h"
#include "wh_id.h"
#include "wh_keys.h"
#include "wh_state.h"
#include "wh_status.h"

#define LIST_BATCH 200   /* index entries read and checked per round trip */
#define LIST_STATES 8    /* states in one `state` filter (a comma list) */
#define LIST_TEXT_MAX 200 /* bytes of the `q` search text, at most */
#define LIST_ARGS_MAX 8192 /* bytes of args enqueue.lua keeps (ARGS_CAP) */

typedef struct list_q {
    bool state_on[WH_STATE_LAST]; /* the `state` filter; all false: any */
    bool any_state;
    const char *type, *target;
    const char *text;             /* `q`: searched in args; NULL: none */
    char text_lower[LIST_TEXT_MAX + 1]; /* `q` lower-cased (ASCII) */
    size_t text_len;
    long long since, until;       /* created_at window, ms (inclusive) */
    long limit;
    long long score;              /* where the walk stands: this created_at, */
    long long skip;               /* having passed this many ids with it */
    long scanned;
    bool done;                    /* the index has nothing more in range */
    char ids[SRV_LIST_MAX][WH_ID_MAX + 1];
    long nids;
} list_q;

/* `state`: one state or a comma list; false after answering 400. */
static bool parse_states(srv_call *c, list_q *q)
{
    const char *v = wh_mhd_query(c->req, "state");
    q->any_state = !v;
    for(int k = 0; v && k < LIST_STATES; k++) {
        char name[16];
        size_t n = strcspn(v, ",");
        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : 0), v);
        wh_state s = wh_state_parse(name);
        if(s == WH_STATE_UNKNOWN)
            return srv_error(c, 400, "usage", "state", "state: expected a job state or a comma list of them"), false;
        q->state_on[s] = true;
        v = v[n] ? v + n + 1 : NULL;
    }
    if(v)
        return srv_error(c, 400, "usage", "state", "state: at most %d states", LIST_STATES), false;
    return true;
}

/* A signed integer query parameter, `def` when absent; false after 400. */
static bool query_ll(srv_call *c, const char *key, long long def, long long *out)
{
    const char *v = wh_mhd_query(c->req, key);
    char *end;
    *out = v ? strtoll(v, &end, 10) : def;
    if(v && (!*v || *end || *out < 0))
        return srv_error(c, 400, "usage", key, "%s: expected ms since the epoch", key), false;
    return true;
}

static bool parse_query(srv_call *c, list_q *q)
{
    q->type = wh_mhd_query(c->req, "type");
    q->target = wh_mhd_query(c->req, "target");
    if(q->type && !wh_env_type_valid(q->type, strlen(q->type)))
        return srv_error(c, 400, "usage", "type", "type: expected \"family.action\""), false;
    if(q->target && !wh_env_target_valid(q->target, strlen(q->target)))
        return srv_error(c, 400, "usage", "target", "target: not a host name"), false;
    q->text = wh_mhd_query(c->req, "q");
    q->text_len = q->text ? strlen(q->text) : 0;
    if(q->text && (q->text_len == 0 || q->text_len > LIST_TEXT_MAX))
        return srv_error(c, 400, "usage", "q", "q: 1 to %d bytes of text to find in the args", LIST_TEXT_MAX), false;
    for(size_t i = 0; i < q->text_len; i++)
        q->text_lower[i] = (char)tolower((unsigned char)q->text[i]);
    if(!parse_states(c, q) || !srv_query_int(c, "limit", 1, SRV_LIST_MAX, 50, &q->limit) ||
       !query_ll(c, "since", 0, &q->since) || !query_ll(c, "until", -1, &q->until))
        return false;
    const char *cur = wh_mhd_query(c->req, "cursor");
    q->score = q->until;
    if(cur) {
        char *end;
        q->score = strtoll(cur, &end, 10);
        q->skip = *end == ':' ? strtoll(end + 1, &end, 10) : -1;
        if(*end || q->score < 0 || q->skip < 0)
            return srv_error(c, 400, "usage", "cursor", "cursor: pass next_cursor of the previous page"), false;
    }
    return true;
}

/* Whether the args text [hay, hay + hn) holds the lower-cased search text,
 * ignoring ASCII case. Both are lower-cased copies searched with memmem
 * (linear time), so a pathological text cannot make a page slow; args
 * longer than the 8 KiB enqueue.lua keeps are not searched. */
static bool has_text(const char *hay, size_t hn, const char *lower, size_t nn)
{
    char low[LIST_ARGS_MAX];
    if(!hay || hn > sizeof(low))
        return false;
    for(size_t i = 0; i < hn; i++)
        low[i] = (char)tolower((unsigned char)hay[i]);
    return memmem(low, hn, lower, nn) != NULL;
}

/* The filters the index walked does not apply, on [state, type, target]
 * and, with `q`, [args]. */
static bool wanted(const list_q *q, const wh_redis_reply *f)
{
    size_t n[4] = {0, 0, 0, 0}, have = wh_redis_reply_len(f);
    const char *v[4] = {NULL, NULL, NULL, NULL};
    for(size_t i = 0; i < 4 && i < have; i++) /* args only when searched */
        v[i] = wh_redis_reply_str(wh_redis_reply_at(f, i), &n[i]);
    if(!v[0]) /* expired: the index outlives some hashes */
        return false;
    char st[16];
    snprintf(st, sizeof(st), "%.*s", (int)(n[0] < sizeof(st) ? n[0] : 0), v[0]);
    if(!q->any_state && !q->state_on[wh_state_parse(st)])
        return false;
    if(q->type && (!v[1] || n[1] != strlen(q->type) || memcmp(v[1], q->type, n[1]) != 0))
        return false;
    if(q->text && !has_text(v[3], n[3], q->text_lower, q->text_len))
        return false;
    return !q->target || (v[2] && n[2] == strlen(q->target) && memcmp(v[2], q->target, n[2]) == 0);
}

/* Check one batch of [id, score, ...] against the filters (one pipelined
 * HMGET per id), moving the walk's place past each entry looked at. */
static wh_code check_batch(srv_call *c, wh_redis *r, const wh_redis_reply *page, list_q *q, wh_err *err)
{
    size_t n = wh_redis_reply_len(page) / 2;
    for(size_t i = 0; i < n; i++) {
        char key[WH_KEY_MAX], id[WH_ID_MAX + 1];
        size_t len;
        const char *s = wh_redis_reply_str(wh_redis_reply_at(page, 2 * i), &len);
        snprintf(id, sizeof(id), "%.*s", (int)(s && len <= WH_ID_MAX ? len : 0), s ? s : "");
        wh_key_job(key, c->s->cfg->redis_prefix, id);
        /* args only when searched: they are the bulk of a hash */
        const char *argv[] = {"HMGET", key, "state", "type", "target", "args"};
        size_t lens[] = {5, strlen(key), 5, 4, 6, 4};
        if(wh_redis_append(r, q->text ? 6 : 5, argv, lens, err) != WH_OK) {
            wh_redis_drain(r, (int)i, NULL);
            return err->code;
        }
    }
    wh_code first = WH_OK;
    for(size_t i = 0; i < n; i++) {
        wh_redis_reply *f = NULL;
        wh_code rc = wh_redis_read(r, &f, first ? NULL : err);
        first = first ? first : rc;
        bool keep = !first && (long)q->nids < q->limit;
        size_t len, sl;
        const char *id = wh_redis_reply_str(wh_redis_reply_at(page, 2 * i), &len);
        const char *sc = wh_redis_reply_str(wh_redis_reply_at(page, 2 * i + 1), &sl);
        if(keep) { /* move past this entry */
            long long score = sc ? strtoll(sc, NULL, 10) : 0;
            q->skip = score == q->score ? q->skip + 1 : 1;
            q->score = score;
            q->scanned++;
        }
        if(keep && id && len <= WH_ID_MAX && wanted(q, f))
            snprintf(q->ids[q->nids++], WH_ID_MAX + 1, "%.*s", (int)len, id);
        wh_redis_reply_free(f);
    }
    return first;
}

/* Walk the index until `limit` matches, the scan cap or its end. */
static wh_code walk(srv_call *c, wh_redis *r, const char *index, list_q *q, wh_err *err)
{
    while(!q->done && q->nids < q->limit && q->scanned < SRV_LIST_SCAN) {
        char max[24] = "+inf", min[24] = "-inf", off[24];
        if(q->score >= 0)
            snprintf(max, sizeof(max), "%lld", q->score);
        if(q->since > 0)
            snprintf(min, sizeof(min), "%lld", q->since);
        snprintf(off, sizeof(off), "%lld", q->score >= 0 ? q->skip : 0);
        const char *argv[] = {"ZREVRANGEBYSCORE", index, max, min, "WITHSCORES", "LIMIT", off, "200"};
        wh_redis_reply *page;
        if(wh_redis_cmdv(r, &page, err, 8, argv) != WH_OK)
            return err->code;
        size_t n = wh_redis_reply_len(page) / 2;
        wh_code rc = n ? check_batch(c, r, page, q, err) : WH_OK;
        /* The index is done when this page was its last and all of it was looked at. */
        q->done = n < LIST_BATCH && q->nids < q->limit;
        wh_redis_reply_free(page);
        if(rc)
            return rc;
    }
    return WH_OK;
}

/* The matched jobs' hashes, in one pipelined round trip; expired ones
 * (between the check and now) are left out. NULL with err. */
static wh_json *read_jobs(srv_call *c, wh_redis *r, const list_q *q, wh_err *err)
{
    long queued = 0;
    wh_code rc = WH_OK;
    for(long i = 0; !rc && i < q->nids; i++) {
        char key[WH_KEY_MAX];
        wh_key_job(key, c->s->cfg->redis_prefix, q->ids[i]);
        const char *argv[] = {"HGETALL", key};
        size_t lens[] = {7, strlen(key)};
        if(!(rc = wh_redis_append(r, 2, argv, lens, err)))
            queued++;
    }
    wh_json *jobs = wh_json_array();
    for(long i = 0; i < queued; i++) {
        wh_redis_reply *rep = NULL;
        wh_code rc2 = wh_redis_read(r, &rep, rc ? NULL : err);
        rc = rc ? rc : rc2;
        wh_json *j = rc2 ? NULL : wh_status_job_reply_json(rep);
        if(j)
            wh_json_push(jobs, j);
        wh_redis_reply_free(rep);
    }
    if(rc) {
        wh_json_free(jobs);
        return NULL;
    }
    return jobs;
}

/* {jobs, scanned, truncated, next_cursor} from the matched ids. */
static void reply_list(srv_call *c, wh_redis *r, const list_q *q)
{
    wh_err err;
    wh_json *jobs = read_jobs(c, r, q, &err);
    if(!jobs)
        return srv_error_wh(c, &err);
    wh_json *o = wh_json_object();
    char cursor[48];
    snprintf(cursor, sizeof(cursor), "%lld:%lld", q->score, q->skip);
    wh_json_setc(o, "jobs", jobs);
    wh_json_setc(o, "scanned", wh_json_int(q->scanned));
    wh_json_setc(o, "truncated", wh_json_bool(!q->done && q->nids < q->limit));
    wh_json_setc(o, "next_cursor", q->done || q->score < 0 ? wh_json_null() : wh_json_str(cursor));
    srv_reply_json(c, 200, o);
}

/* ?id=: that one job, if it passes the other filters. */
static void list_one(srv_call *c, wh_redis *r, list_q *q, const char *id)
{
    if(!wh_id_valid(id, strlen(id)))
        return srv_error(c, 400, "usage", "id", "id: a job id is 1-64 characters of A-Z a-z 0-9 _ -");
    char key[WH_KEY_MAX];
    wh_key_job(key, c->s->cfg->redis_prefix, id);
    const char *argv[] = {"HMGET", key, "state", "type", "target", "args", "created_at"};
    wh_redis_reply *f;
    wh_err err;
    if(wh_redis_cmdv(r, &f, &err, 7, argv) != WH_OK)
        return srv_error_wh(c, &err);
    size_t n;
    const char *at = wh_redis_reply_str(wh_redis_reply_at(f, 4), &n);
    long long created = at ? strtoll(at, NULL, 10) : 0;
    bool in_window = created >= q->since && (q->until < 0 || created <= q->until);
    if(wanted(q, f) && in_window)
        snprintf(q->ids[q->nids++], WH_ID_MAX + 1, "%s", id);
    wh_redis_reply_free(f);
    q->done = true;
    q->scanned = 1;
    reply_list(c, r, q);
}

void srv_jobs_list(srv_call *c)
{
    list_q *q = calloc(1, sizeof(*q));
    if(!q)
        return srv_error(c, 500, "nomem", "", "out of memory");
    wh_redis *r = parse_query(c, q) ? srv_redis(c) : NULL;
    const char *id = wh_mhd_query(c->req, "id");
    if(r && id) {
        list_one(c, r, q, id);
    } else if(r) {
        char index[WH_KEY_MAX];
        wh_key_recent(index, c->s->cfg->redis_prefix);
        size_t n = strlen(index);
        if(q->target)
            snprintf(index + n, sizeof(index) - n, ":target:%s", q->target);
        else if(q->type)
            snprintf(index + n, sizeof(index) - n, ":type:%s", q->type);
        wh_err err;
        if(walk(c, r, index, q, &err) != WH_OK)
            srv_error_wh(c, &err);
        else
            reply_list(c, r, q);
    }
    free(q);
}
