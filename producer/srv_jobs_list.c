/* srv_jobs_list: GET /v1/jobs, the recent-jobs index newest first.
 *
 * <prefix>recent is a zset of job ids scored by created_at (ms), trimmed to
 * its cap by the scheduler's leader. A listing reads it in pages of 100
 * (ZREVRANGE by rank, WITHSCORES), reads each job's hash, filters by state
 * and type, and stops at `limit` matches or after SRV_LIST_SCAN entries, so
 * every request is bounded whatever the filter.
 *
 * Paging: the answer's `next_cursor` ("<created_at>:<id>" of the last entry
 * looked at) is present while entries remain; passing it back as `cursor`
 * continues right after that entry. The cursor's id is found by ZREVRANK, so
 * jobs created meanwhile do not shift the next page. When that job has left
 * the index (trimmed or expired), the page starts after every entry newer
 * than its created_at instead, which may repeat jobs of that millisecond. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "wh_id.h"
#include "wh_keys.h"
#include "wh_status.h"

#define PAGE 100 /* index entries per ZREVRANGE */

/* Filters and progress of one listing. */
typedef struct list_q {
    const char *state, *type;
    long limit;
    long start;     /* rank of the first entry looked at */
    long scanned;   /* entries looked at */
    char last[96];  /* cursor of the last entry looked at */
    wh_json *jobs;
} list_q;

/* Look at one page of (id, score) pairs (newest first); false on a Redis
 * error (answered). */
static bool list_page(srv_call *c, wh_redis *r, const wh_redis_reply *ids, list_q *q)
{
    const char *prefix = c->s->cfg->redis_prefix;
    for(size_t i = 0; i + 1 < wh_redis_reply_len(ids) && (long)wh_json_size(q->jobs) < q->limit; i += 2) {
        size_t n, sn;
        const char *s = wh_redis_reply_str(wh_redis_reply_at(ids, i), &n);
        const char *score = wh_redis_reply_str(wh_redis_reply_at(ids, i + 1), &sn);
        char id[80];
        q->scanned++;
        if(!s || n >= sizeof(id))
            continue;
        snprintf(id, sizeof(id), "%.*s", (int)n, s);
        snprintf(q->last, sizeof(q->last), "%lld:%s", score ? strtoll(score, NULL, 10) : 0LL, id);
        wh_err err;
        wh_json *j = wh_status_json(r, prefix, id, &err);
        if(!j && err.code != WH_E_NOT_FOUND)
            return srv_error_wh(c, &err), false;
        if(!j) /* expired: the index outlives some hashes */
            continue;
        const char *st = wh_json_strv(wh_json_get(j, "state"), NULL), *ty = wh_json_strv(wh_json_get(j, "type"), NULL);
        if((q->state && (!st || strcmp(st, q->state) != 0)) || (q->type && (!ty || strcmp(ty, q->type) != 0)))
            wh_json_free(j);
        else
            wh_json_push(q->jobs, j);
    }
    return true;
}

/* The rank to start at for `cursor` ("<ms>:<id>") into q->start; false
 * after answering 400 (malformed) or 503. */
static bool cursor_start(srv_call *c, wh_redis *r, const char *key, const char *cursor, list_q *q)
{
    char *end;
    long long ms = strtoll(cursor, &end, 10);
    const char *id = end + 1;
    if(end == cursor || *end != ':' || ms < 0 || !wh_id_valid(id, strlen(id))) {
        srv_error(c, 400, "usage", "cursor", "cursor: pass back the next_cursor of a previous answer");
        return false;
    }
    char excl[32];
    snprintf(excl, sizeof(excl), "(%lld", ms);
    const char *rank[] = {"ZREVRANK", key, id};
    const char *count[] = {"ZCOUNT", key, excl, "+inf"};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(r, &rep, &err, 3, rank) != WH_OK)
        return srv_error_wh(c, &err), false;
    bool found = wh_redis_reply_kind(rep) == WH_REDIS_INTEGER;
    q->start = found ? wh_redis_reply_int(rep) + 1 : 0;
    wh_redis_reply_free(rep);
    if(found)
        return true;
    if(wh_redis_cmdv(r, &rep, &err, 4, count) != WH_OK)
        return srv_error_wh(c, &err), false;
    q->start = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    return true;
}

/* Scan from q->start; *more says whether entries remain after the last one
 * looked at. False on a Redis error (answered). */
static bool scan(srv_call *c, wh_redis *r, const char *key, list_q *q, bool *more)
{
    *more = true;
    while(*more && q->scanned < SRV_LIST_SCAN && (long)wh_json_size(q->jobs) < q->limit) {
        char from[24], to[24];
        snprintf(from, sizeof(from), "%ld", q->start + q->scanned);
        snprintf(to, sizeof(to), "%ld", q->start + q->scanned + PAGE - 1);
        const char *argv[] = {"ZREVRANGE", key, from, to, "WITHSCORES"};
        wh_redis_reply *ids;
        wh_err err;
        if(wh_redis_cmdv(r, &ids, &err, 5, argv) != WH_OK)
            return srv_error_wh(c, &err), false;
        long before = q->scanned;
        size_t got = wh_redis_reply_len(ids) / 2;
        bool ok = list_page(c, r, ids, q);
        /* a page cut short by `limit` leaves entries behind it */
        *more = got == PAGE || q->scanned - before < (long)got;
        wh_redis_reply_free(ids);
        if(!ok)
            return false;
    }
    return true;
}

void srv_jobs_list(srv_call *c)
{
    list_q q = {wh_mhd_query(c->req, "state"), wh_mhd_query(c->req, "type"), 0, 0, 0, "", NULL};
    const char *cursor = wh_mhd_query(c->req, "cursor");
    if(!srv_query_int(c, "limit", 1, SRV_LIST_MAX, 50, &q.limit))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    char key[WH_KEY_MAX];
    snprintf(key, sizeof(key), "%srecent", c->s->cfg->redis_prefix);
    if(cursor && *cursor && !cursor_start(c, r, key, cursor, &q))
        return;
    q.jobs = wh_json_array();
    bool more;
    if(!scan(c, r, key, &q, &more))
        return wh_json_free(q.jobs);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "jobs", q.jobs);
    wh_json_setc(o, "scanned", wh_json_int(q.scanned));
    wh_json_setc(o, "truncated", wh_json_bool(more && (long)wh_json_size(q.jobs) < q.limit));
    if(more && q.last[0])
        wh_json_setc(o, "next_cursor", wh_json_str(q.last));
    srv_reply_json(c, 200, o);
}
