/* wh_status_enqueue: the producer's moves, enqueue.lua (one job, or many
 * pipelined in one round trip) and unenqueue.lua (taking back a job whose
 * publish failed). See wh_status.h. */
#include "wh_status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_conv.h"
#include "wh_keys.h"
#include "wh_mp.h"
#include "wh_lua.h"
#include "wh_time.h"

/* Shared by all threads; each SHA is filled once, identically. */
static wh_redis_script s_enqueue = {"enqueue", wh_lua_enqueue, {0}};
static wh_redis_script s_unenqueue = {"unenqueue", wh_lua_unenqueue, {0}};
static wh_redis_script s_enqueue_many = {"enqueue_many", wh_lua_enqueue_many, {0}};

/* enqueue.lua arguments for one request; buffers are the caller's. */
typedef struct enq_args {
    char key[WH_KEY_MAX], recent[WH_KEY_MAX], sched[WH_KEY_MAX], chan[WH_KEY_MAX];
    char created_at[24], maxa[16], now[24], run_at[24], uniq_s[16], prio[8];
    const char *argv[WH_ENQUEUE_ARGC];
    size_t lens[WH_ENQUEUE_ARGC];
} enq_args;

static void enq_fill(enq_args *a, const char *prefix, const wh_enqueue *q, int64_t now)
{
    const wh_env_spec *s = q->spec;
    wh_key_job(a->key, prefix, s->id);
    wh_key_recent(a->recent, prefix);
    wh_key_scheduled(a->sched, prefix);
    wh_key_events(a->chan, prefix);
    snprintf(a->created_at, sizeof(a->created_at), "%lld", (long long)s->created_at);
    snprintf(a->maxa, sizeof(a->maxa), "%d", q->max_attempts);
    snprintf(a->now, sizeof(a->now), "%lld", (long long)now);
    snprintf(a->run_at, sizeof(a->run_at), "%lld", (long long)s->run_at);
    snprintf(a->uniq_s, sizeof(a->uniq_s), "%d", q->unique ? s->unique_for_s : 0);
    snprintf(a->prio, sizeof(a->prio), "%d", s->priority);
    const char *argv[WH_ENQUEUE_ARGC] = {
        [WH_ENQUEUE_KEY_JOB] = a->key, [WH_ENQUEUE_KEY_RECENT] = a->recent, [WH_ENQUEUE_KEY_SCHEDULED] = a->sched,
        [WH_ENQUEUE_ARG_ID] = s->id, [WH_ENQUEUE_ARG_JOB_TYPE] = s->type,
        [WH_ENQUEUE_ARG_TARGET] = s->target ? s->target : "", [WH_ENQUEUE_ARG_CREATED_AT] = a->created_at,
        [WH_ENQUEUE_ARG_MAX_ATTEMPTS] = a->maxa, [WH_ENQUEUE_ARG_NOW] = a->now, [WH_ENQUEUE_ARG_EVENTS] = a->chan,
        [WH_ENQUEUE_ARG_RUN_AT] = a->run_at, [WH_ENQUEUE_ARG_BODY] = q->body ? q->body : "",
        [WH_ENQUEUE_ARG_UNIQUE_FOR] = a->uniq_s, [WH_ENQUEUE_ARG_LOCK] = s->lock ? s->lock : "",
        [WH_ENQUEUE_ARG_PRIORITY] = a->prio, [WH_ENQUEUE_ARG_PREFIX] = prefix,
        [WH_ENQUEUE_ARG_UNIQUE] = q->unique ? q->unique : "", [WH_ENQUEUE_ARG_PARK] = q->park ? "1" : "0",
        [WH_ENQUEUE_ARG_ARGS] = q->args ? q->args : ""};
    memcpy(a->argv, argv, sizeof(argv));
    for(int i = 0; i < WH_ENQUEUE_ARGC; i++)
        a->lens[i] = strlen(argv[i]);
    a->lens[WH_ENQUEUE_ARG_BODY] = q->body ? q->body_len : 0;
    a->lens[WH_ENQUEUE_ARG_UNIQUE] = q->unique ? q->unique_len : 0;
    a->lens[WH_ENQUEUE_ARG_ARGS] = q->args ? q->args_len : 0;
}

static void enq_result(const wh_redis_reply *rep, wh_enqueue *q)
{
    q->created = wh_status__reply_int(rep, 0) == 1;
    wh_status__reply_field(rep, 1, q->state, sizeof(q->state));
    wh_status__reply_field(rep, 2, q->id, sizeof(q->id));
}

wh_code wh_status_enqueue(wh_redis *r, const char *prefix, wh_enqueue *q, wh_err *err)
{
    enq_args a;
    enq_fill(&a, prefix, q, wh_now_ms());
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_enqueue, &rep, WH_ENQUEUE_NKEYS, WH_ENQUEUE_ARGC, a.argv, a.lens, err);
    if(rc)
        return rc;
    enq_result(rep, q);
    wh_redis_reply_free(rep);
    return WH_OK;
}

/* How enqueue_many.lua takes a batch (ARGV[1], one flat msgpack array; see
 * there): prefix, now, then each job with only its own values, the tail
 * left off for a job due now with no uniqueness, lock or priority. */
enum { ENQ_SHORT = 7, ENQ_LONG = 14, ENQ_BATCH = 256 /* jobs per call: a script blocks Redis while it runs */ };

static bool enq_is_short(const wh_enqueue *q)
{
    const wh_env_spec *s = q->spec;
    return s->run_at == 0 && (!q->unique || s->unique_for_s == 0) && !(s->lock && s->lock[0]) &&
           s->priority == 0 && !q->park;
}

static void enq_pack(wh_mp_pack *p, const enq_args *a, bool is_short)
{
    static const int head[] = {WH_ENQUEUE_ARG_ID,         WH_ENQUEUE_ARG_JOB_TYPE,     WH_ENQUEUE_ARG_TARGET,
                               WH_ENQUEUE_ARG_CREATED_AT, WH_ENQUEUE_ARG_MAX_ATTEMPTS, WH_ENQUEUE_ARG_ARGS};
    static const int tail[] = {WH_ENQUEUE_ARG_RUN_AT, WH_ENQUEUE_ARG_BODY,     WH_ENQUEUE_ARG_UNIQUE_FOR,
                               WH_ENQUEUE_ARG_LOCK,   WH_ENQUEUE_ARG_PRIORITY, WH_ENQUEUE_ARG_UNIQUE,
                               WH_ENQUEUE_ARG_PARK};
    wh_mp_pack_cstr(p, is_short ? "e" : "E");
    for(size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        wh_mp_pack_str(p, a->argv[head[i]], a->lens[head[i]]);
    for(size_t i = 0; !is_short && i < sizeof(tail) / sizeof(tail[0]); i++)
        wh_mp_pack_str(p, a->argv[tail[i]], a->lens[tail[i]]);
}

/* Requests [from, to) that have a spec, packed; NULL when out of memory. */
static wh_mp_pack *enq_pack_batch(const char *prefix, const wh_enqueue *reqs, size_t from, size_t to, int64_t now)
{
    size_t cap = 64 + strlen(prefix);
    uint32_t len = 2;
    for(size_t i = from; i < to; i++) {
        const wh_enqueue *q = &reqs[i];
        if(!q->spec)
            continue;
        const wh_env_spec *s = q->spec;
        /* its strings, with 5 bytes of header each, and 24 per number */
        cap += strlen(s->id) + strlen(s->type) + (s->target ? strlen(s->target) : 0) + (s->lock ? strlen(s->lock) : 0) +
               (q->body ? q->body_len : 0) + (q->unique ? q->unique_len : 0) + (q->args ? q->args_len : 0) +
               ENQ_LONG * (5 + 24);
        len += enq_is_short(q) ? ENQ_SHORT : ENQ_LONG;
    }
    wh_mp_pack *p = wh_mp_pack_new(cap);
    if(!p)
        return NULL;
    char nows[24];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    wh_mp_pack_array(p, len);
    wh_mp_pack_cstr(p, prefix);
    wh_mp_pack_cstr(p, nows);
    enq_args a;
    for(size_t i = from; i < to; i++)
        if(reqs[i].spec) {
            enq_fill(&a, prefix, &reqs[i], now);
            enq_pack(p, &a, enq_is_short(&reqs[i]));
        }
    if(wh_mp_pack_failed(p)) {
        wh_mp_pack_free(p);
        return NULL;
    }
    return p;
}

/* Spread one batch's reply over its requests; a job that raised an error
 * fails the call (as a failed pipelined call did). */
static wh_code enq_deal(const wh_redis_reply *rep, wh_enqueue *reqs, size_t from, size_t to, wh_err *err)
{
    size_t k = 0;
    for(size_t i = from; i < to; i++) {
        if(!reqs[i].spec)
            continue;
        const wh_redis_reply *r = wh_redis_reply_at(rep, k++);
        if(!r)
            return wh_err_set(err, WH_E_INTERNAL, "", "enqueue_many returned %zu replies", k - 1);
        wh_code rc = wh_status__item_error(r, err);
        if(rc)
            return rc;
        enq_result(r, &reqs[i]);
    }
    return WH_OK;
}

/* One batch, one call (which loads the script when Redis lost it). */
static wh_code enq_batch(wh_redis *r, const char *prefix, wh_enqueue *reqs, size_t from, size_t to, int64_t now,
                         wh_err *err)
{
    wh_redis_reply *rep;
    wh_code rc = wh_status__eval_packed(r, &s_enqueue_many, enq_pack_batch(prefix, reqs, from, to, now), &rep, err);
    if(rc)
        return rc;
    rc = enq_deal(rep, reqs, from, to, err);
    wh_redis_reply_free(rep);
    return rc;
}

wh_code wh_status_enqueue_many(wh_redis *r, const char *prefix, wh_enqueue *reqs, size_t n, wh_err *err)
{
    int64_t now = wh_now_ms();
    for(size_t i = 0; i < n; i++)
        reqs[i].state[0] = '\0'; /* "" marks a request not made */
    wh_code rc = WH_OK;
    for(size_t from = 0; from < n && !rc; from += ENQ_BATCH)
        rc = enq_batch(r, prefix, reqs, from, from + ENQ_BATCH < n ? from + ENQ_BATCH : n, now, err);
    return rc;
}

char *wh_status_args_json(const wh_env_spec *s, size_t *len)
{
    wh_mp_doc *doc = s->args ? wh_mp_parse(s->args, s->args_len, WH_MP_MAX_DEPTH, NULL) : NULL;
    wh_json *j = doc ? wh_conv_to_json(wh_mp_root(doc), "args", NULL) : wh_json_object();
    char *args = j ? wh_json_dump_sorted(j) : NULL;
    wh_json_free(j);
    wh_mp_doc_free(doc);
    if(args)
        *len = strlen(args);
    return args;
}

char *wh_status_unique_material(const wh_env_spec *s, size_t *len)
{
    size_t alen;
    char *args = wh_status_args_json(s, &alen);
    if(!args)
        return NULL;
    const char *target = s->target ? s->target : "";
    size_t n = strlen(s->type) + 1 + strlen(target) + 1 + strlen(args);
    char *out = malloc(n + 1);
    if(out) {
        int w = snprintf(out, n + 1, "%s%c%s%c%s", s->type, 0, target, 0, args);
        *len = w > 0 ? (size_t)w : 0;
    }
    free(args);
    return out;
}

wh_code wh_status_unenqueue(wh_redis *r, const char *prefix, const char *id, wh_err *err)
{
    char key[WH_KEY_MAX], recent[WH_KEY_MAX], sched[WH_KEY_MAX];
    wh_key_job(key, prefix, id);
    wh_key_recent(recent, prefix);
    wh_key_scheduled(sched, prefix);
    const char *argv[WH_UNENQUEUE_ARGC] = {[WH_UNENQUEUE_KEY_JOB] = key, [WH_UNENQUEUE_KEY_RECENT] = recent,
                                           [WH_UNENQUEUE_KEY_SCHEDULED] = sched, [WH_UNENQUEUE_ARG_ID] = id};
    return wh_redis_eval(r, &s_unenqueue, NULL, WH_UNENQUEUE_NKEYS, WH_UNENQUEUE_ARGC, argv, NULL, err);
}

wh_code wh_status__enqueue_load(wh_redis *r, wh_err *err)
{
    return wh_redis_script_load(r, &s_enqueue, err);
}
