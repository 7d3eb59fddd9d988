/* wh_status_moves: many job threads' moves in one script call (moves.lua),
 * the worker's group commit. See wh_status.h. */
#include "wh_status_int.h"
#include "wh_text.h"

#include "wh_mp.h"
#include "wh_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wh_redis_script s_moves = {"moves", wh_lua_moves, {0}};

/* Each move of a batch: up to a finish and the start after it. */
struct wh_move {
    bool has_finish, has_start;
    const char *prefix;
    finish_args fa;
    start_args sa;
    /* The outcome, filled by wh_moves_commit. */
    wh_code frc, src;
    wh_err ferr, serr;
    bool skipped;
    wh_start st;
};

wh_move *wh_move_new(void)
{
    return calloc(1, sizeof(wh_move));
}

void wh_move_free(wh_move *m)
{
    free(m);
}

void wh_move_set(wh_move *m, const char *prefix, const wh_finish *f, const wh_env *env, const wh_start_opts *o)
{
    m->has_finish = f != NULL;
    m->has_start = env != NULL;
    m->prefix = prefix;
    if(f)
        wh_status__finish_fill(&m->fa, f);
    if(env)
        wh_status__start_fill(&m->sa, env, o);
}

/* How moves.lua takes a batch (ARGV[1], one flat msgpack array; see
 * there): a header of what every move shares, then each move with only its
 * own values, the tail left off where it holds the defaults. Every string
 * that crosses costs Redis an object and Lua a string to intern, so the
 * keys are made in the script from the prefix and the id. */
enum { MOVE_SIZE_MAX = 64 + 16 * 24 }; /* a move's bytes, besides its strings */

static void pack_slot(wh_mp_pack *p, const char *const *argv, const size_t *lens, int slot)
{
    wh_mp_pack_str(p, argv[slot], lens ? lens[slot] : strlen(argv[slot]));
}

static void pack_slots(wh_mp_pack *p, const char *const *argv, const size_t *lens, const int *slots, int n)
{
    for(int i = 0; i < n; i++)
        pack_slot(p, argv, lens, slots[i]);
}

/* The moves' lengths in the array: short (the defaults left off), long;
 * the header's. */
enum { START_SHORT = 8, START_LONG = 15, FINISH_SHORT = 8, FINISH_LONG = 12, HEADER = 8 };

/* A run (not a park) with no lock, the message not held in Redis and the
 * header's run_ms (`run_ms`). */
static bool start_is_short(const start_args *a, const char *run_ms)
{
    return strcmp(a->argv[WH_START_ARG_MODE], "run") == 0 && a->lens[WH_START_ARG_LOCK] == 0 &&
           a->lens[WH_START_ARG_BODY] == 0 && strcmp(a->argv[WH_START_ARG_RUN_MS], run_ms) == 0;
}

/* No result, no error, no lease. */
static bool finish_is_short(const finish_args *a)
{
    return !a->argv[WH_FINISH_ARG_RESULT][0] && !a->argv[WH_FINISH_ARG_ERROR_CODE][0] &&
           strcmp(a->argv[WH_FINISH_ARG_LEASE_UNTIL], "0") == 0;
}

/* "s", id, type, target, created_at, max_attempts, now, ttl; or "S", the
 * same, then mode, lock, lock_ms, run_at, body, lease_until, run_ms. */
static void pack_start(wh_mp_pack *p, const start_args *a, const char *run_ms)
{
    static const int head[] = {WH_START_ARG_ID,         WH_START_ARG_JOB_TYPE,    WH_START_ARG_TARGET,
                               WH_START_ARG_CREATED_AT, WH_START_ARG_MAX_ATTEMPTS, WH_START_ARG_NOW,
                               WH_START_ARG_TTL};
    static const int tail[] = {WH_START_ARG_MODE, WH_START_ARG_LOCK, WH_START_ARG_LOCK_MS,
                               WH_START_ARG_RUN_AT, WH_START_ARG_BODY, WH_START_ARG_LEASE_UNTIL,
                               WH_START_ARG_RUN_MS};
    bool is_short = start_is_short(a, run_ms);
    wh_mp_pack_cstr(p, is_short ? "s" : "S");
    pack_slots(p, a->argv, a->lens, head, 7);
    if(!is_short)
        pack_slots(p, a->argv, a->lens, tail, 7);
}

/* "f", id, state, now, type, created_at, count, ttl; or "F", the same,
 * then result, error_code, error_message, lease_until. */
static void pack_finish(wh_mp_pack *p, const finish_args *a)
{
    static const int head[] = {WH_FINISH_ARG_ID,         WH_FINISH_ARG_STATE, WH_FINISH_ARG_NOW,
                               WH_FINISH_ARG_JOB_TYPE,   WH_FINISH_ARG_CREATED_AT, WH_FINISH_ARG_COUNT,
                               WH_FINISH_ARG_TTL};
    static const int tail[] = {WH_FINISH_ARG_RESULT, WH_FINISH_ARG_ERROR_CODE, WH_FINISH_ARG_ERROR_MESSAGE,
                               WH_FINISH_ARG_LEASE_UNTIL};
    bool is_short = finish_is_short(a);
    wh_mp_pack_cstr(p, is_short ? "f" : "F");
    pack_slots(p, a->argv, NULL, head, 7);
    if(!is_short)
        pack_slots(p, a->argv, NULL, tail, 4);
}

/* The first start of the batch, whose worker, max_redeliveries and run_ms
 * the header carries; NULL: none. */
static const start_args *first_start(wh_move *const *moves, int n)
{
    for(int i = 0; i < n; i++)
        if(moves[i]->has_start)
            return &moves[i]->sa;
    return NULL;
}

/* prefix, worker, max_redeliveries, minute, hour, ttl_minute, ttl_hour,
 * run_ms: the outcomes are counted in the buckets of the batch's own
 * time. */
static void pack_header(wh_mp_pack *p, wh_move *const *moves, const start_args *first, const char *run_ms)
{
    const char *worker = first ? first->argv[WH_START_ARG_WORKER] : "";
    const char *maxr = first ? first->argv[WH_START_ARG_MAX_REDELIVERIES] : "0";
    int64_t s = wh_now_ms() / 1000;
    char minute[24], hour[24], ttl_m[24], ttl_h[24];
    wh_text_i64(minute, s - s % 60);
    wh_text_i64(hour, s - s % 3600);
    wh_text_i64(ttl_m, WH_STATS_TTL_1M);
    wh_text_i64(ttl_h, WH_STATS_TTL_1H);
    const char *h[HEADER] = {moves[0]->prefix, worker, maxr, minute, hour, ttl_m, ttl_h, run_ms};
    for(int i = 0; i < HEADER; i++)
        wh_mp_pack_cstr(p, h[i]);
}

/* The batch, packed; NULL when out of memory. */
static wh_mp_pack *pack_batch(wh_move *const *moves, int n, int *nreplies)
{
    size_t cap = 256 + strlen(moves[0]->prefix);
    uint32_t len = HEADER;
    const start_args *first = first_start(moves, n);
    const char *run_ms = first ? first->argv[WH_START_ARG_RUN_MS] : "0";
    *nreplies = 0;
    for(int i = 0; i < n; i++) {
        const wh_move *m = moves[i];
        for(int k = 0; m->has_finish && k < WH_FINISH_ARGC; k++)
            cap += strlen(m->fa.argv[k]);
        for(int k = 0; m->has_start && k < WH_START_ARGC; k++)
            cap += m->sa.lens[k];
        cap += 2 * MOVE_SIZE_MAX;
        if(m->has_finish)
            len += finish_is_short(&m->fa) ? FINISH_SHORT : FINISH_LONG;
        if(m->has_start)
            len += start_is_short(&m->sa, run_ms) ? START_SHORT : START_LONG;
        *nreplies += m->has_finish + m->has_start;
    }
    wh_mp_pack *p = wh_mp_pack_new(cap);
    if(!p)
        return NULL;
    wh_mp_pack_array(p, len);
    pack_header(p, moves, first, run_ms);
    for(int i = 0; i < n; i++) {
        if(moves[i]->has_finish)
            pack_finish(p, &moves[i]->fa);
        if(moves[i]->has_start)
            pack_start(p, &moves[i]->sa, run_ms);
    }
    if(wh_mp_pack_failed(p)) {
        wh_mp_pack_free(p);
        return NULL;
    }
    return p;
}

/* Spread the batch's reply over its moves. */
static wh_code deal_replies(const wh_redis_reply *rep, wh_move *const *moves, int n, int nreplies, wh_err *err)
{
    if(wh_redis_reply_kind(rep) != WH_REDIS_ARRAY || (int)wh_redis_reply_len(rep) != nreplies)
        return wh_err_set(err, WH_E_INTERNAL, "", "moves script returned %d replies for %d moves",
                          (int)wh_redis_reply_len(rep), nreplies);
    size_t k = 0;
    for(int i = 0; i < n; i++) {
        wh_move *m = moves[i];
        if(m->has_finish) {
            const wh_redis_reply *r = wh_redis_reply_at(rep, k++);
            if(!(m->frc = wh_status__item_error(r, &m->ferr)))
                wh_status__finish_result(r, &m->skipped);
        }
        if(m->has_start) {
            const wh_redis_reply *r = wh_redis_reply_at(rep, k++);
            if(!(m->src = wh_status__item_error(r, &m->serr)))
                m->src = wh_status__start_result(r, &m->st, &m->serr);
        }
    }
    return WH_OK;
}

/* The batch failed as a whole: so did each of its moves. */
static wh_code fail_all(wh_move *const *moves, int n, wh_code rc, const wh_err *err)
{
    for(int i = 0; i < n; i++) {
        moves[i]->frc = moves[i]->src = rc;
        moves[i]->ferr = moves[i]->serr = *err;
    }
    return rc;
}

static wh_code send_batch(wh_redis *r, wh_move *const *moves, int n, wh_err *err)
{
    int nreplies;
    wh_redis_reply *rep;
    wh_code rc = wh_status__eval_packed(r, &s_moves, pack_batch(moves, n, &nreplies), &rep, err);
    if(rc)
        return rc;
    /* The acks follow this write: it must survive a failover. */
    if(!(rc = wh_redis_wait(r, err)))
        rc = deal_replies(rep, moves, n, nreplies, err);
    wh_redis_reply_free(rep);
    return rc;
}

wh_code wh_moves_commit(wh_redis *r, wh_move *const *moves, int n, wh_err *err)
{
    wh_code rc = send_batch(r, moves, n, err);
    return rc ? fail_all(moves, n, rc, err) : WH_OK;
}

wh_code wh_move_result(const wh_move *m, bool *skipped, wh_start *st, bool *started, wh_err *err)
{
    *started = m->has_start && m->src == WH_OK;
    if(*started)
        *st = m->st;
    if(!m->has_finish) {
        if(m->src)
            *err = m->serr;
        return m->src;
    }
    if(skipped)
        *skipped = m->skipped;
    if(m->frc)
        *err = m->ferr;
    return m->frc;
}

wh_code wh_status_load(wh_redis *r, wh_err *err)
{
    wh_code rc = wh_redis_script_load(r, &s_moves, err);
    return rc ? rc : wh_status__enqueue_load(r, err);
}
