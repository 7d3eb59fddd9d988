/* wh_status_enqueue: the producer's moves, enqueue.lua (one job, or many
 * pipelined in one round trip) and unenqueue.lua (taking back a job whose
 * publish failed). See wh_status.h. */
#include "wh_status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_conv.h"
#include "wh_keys.h"
#include "wh_lua.h"
#include "wh_time.h"

/* Shared by all threads; each SHA is filled once, identically. */
static wh_redis_script s_enqueue = {"enqueue", wh_lua_enqueue, {0}};
static wh_redis_script s_unenqueue = {"unenqueue", wh_lua_unenqueue, {0}};

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

wh_code wh_status_enqueue_many(wh_redis *r, const char *prefix, wh_enqueue *reqs, size_t n, wh_err *err)
{
    enq_args a;
    int64_t now = wh_now_ms();
    wh_code rc = WH_OK;
    size_t sent = 0;
    for(size_t i = 0; i < n; i++)
        reqs[i].state[0] = '\0'; /* "" marks a request whose reply was not read */
    for(; sent < n && !rc; sent++)
        if(reqs[sent].spec) {
            enq_fill(&a, prefix, &reqs[sent], now);
            rc = wh_redis_eval_append(r, &s_enqueue, WH_ENQUEUE_NKEYS, WH_ENQUEUE_ARGC, a.argv, a.lens, err);
        }
    bool reload = false;
    for(size_t i = 0; i < sent; i++) {
        if(!reqs[i].spec)
            continue;
        wh_redis_reply *rep;
        wh_err e;
        wh_code rrc = wh_redis_read(r, &rep, &e);
        if(rrc == WH_OK) {
            enq_result(rep, &reqs[i]);
            wh_redis_reply_free(rep);
            continue;
        }
        reload |= wh_redis_noscript(&e);
        if(!reload && !rc) {
            rc = rrc;
            if(err)
                *err = e;
        }
        if(!wh_redis_connected(r))
            break;
    }
    /* The server lost its script cache (a restart): redo the ones refused. */
    for(size_t i = 0; !rc && reload && i < n; i++)
        if(reqs[i].spec && !reqs[i].state[0])
            rc = wh_status_enqueue(r, prefix, &reqs[i], err);
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
