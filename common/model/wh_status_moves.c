/* wh_status_moves: many job threads' moves in one script call (moves.lua),
 * the worker's group commit. See wh_status.h. */
#include "wh_status_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wh_redis_script s_moves = {"moves", wh_lua_moves, {0}};

/* Each move of a batch: up to a finish and the start after it. */
struct wh_move {
    bool has_finish, has_start;
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
    if(f)
        wh_status__finish_fill(&m->fa, prefix, f);
    if(env)
        wh_status__start_fill(&m->sa, prefix, env, o);
}

/* The strings of a batch, keys first (as EVALSHA wants them). */
typedef struct batch {
    const char **argv;
    size_t *lens;
    int nkeys, nargs, cap_keys;
    char counts[2][2][8]; /* [start, finish][keys, args] as text */
} batch;

/* Append one script's move: its keys to the keys part, its name, counts
 * and arguments to the arguments part (which starts at cap_keys). */
static void batch_add(batch *b, int script, const char *const *argv, const size_t *lens, int nkeys, int argc)
{
    static const char *const names[2] = {"start", "finish"};
    for(int i = 0; i < nkeys; i++) {
        b->argv[b->nkeys] = argv[i];
        b->lens[b->nkeys++] = lens ? lens[i] : strlen(argv[i]);
    }
    const char **av = b->argv + b->cap_keys;
    size_t *al = b->lens + b->cap_keys;
    const char *head[3] = {names[script], b->counts[script][0], b->counts[script][1]};
    for(int i = 0; i < 3; i++) {
        av[b->nargs] = head[i];
        al[b->nargs++] = strlen(head[i]);
    }
    for(int i = nkeys; i < argc; i++) {
        av[b->nargs] = argv[i];
        al[b->nargs++] = lens ? lens[i] : strlen(argv[i]);
    }
}

/* Move i's reply: an error for a move that raised one, else WH_OK. */
static wh_code move_error(const wh_redis_reply *rep, wh_err *err)
{
    char kind[8];
    wh_status__reply_field(rep, 0, kind, sizeof(kind));
    if(wh_redis_reply_kind(rep) != WH_REDIS_ARRAY || strcmp(kind, "err") != 0)
        return WH_OK;
    size_t n = 0;
    const char *msg = wh_redis_reply_str(wh_redis_reply_at(rep, 1), &n);
    return wh_err_set(err, WH_E_REDIS, "", "redis: %.*s", (int)n, msg ? msg : "");
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
            if(!(m->frc = move_error(r, &m->ferr)))
                wh_status__finish_result(r, &m->skipped);
        }
        if(m->has_start) {
            const wh_redis_reply *r = wh_redis_reply_at(rep, k++);
            if(!(m->src = move_error(r, &m->serr)))
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
    batch b = {0};
    int nreplies = 0;
    for(int i = 0; i < n; i++) {
        b.cap_keys += (moves[i]->has_finish ? WH_FINISH_NKEYS : 0) + (moves[i]->has_start ? WH_START_NKEYS : 0);
        nreplies += moves[i]->has_finish + moves[i]->has_start;
    }
    size_t cap = (size_t)b.cap_keys + (size_t)nreplies * (3 + WH_START_ARGC + WH_FINISH_ARGC);
    b.argv = malloc(cap * sizeof(*b.argv));
    b.lens = malloc(cap * sizeof(*b.lens));
    if(!b.argv || !b.lens) {
        free(b.argv);
        free(b.lens);
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    }
    snprintf(b.counts[0][0], 8, "%d", WH_START_NKEYS);
    snprintf(b.counts[0][1], 8, "%d", WH_START_ARGC - WH_START_NKEYS);
    snprintf(b.counts[1][0], 8, "%d", WH_FINISH_NKEYS);
    snprintf(b.counts[1][1], 8, "%d", WH_FINISH_ARGC - WH_FINISH_NKEYS);
    for(int i = 0; i < n; i++) {
        if(moves[i]->has_finish)
            batch_add(&b, 1, moves[i]->fa.argv, NULL, WH_FINISH_NKEYS, WH_FINISH_ARGC);
        if(moves[i]->has_start)
            batch_add(&b, 0, moves[i]->sa.argv, moves[i]->sa.lens, WH_START_NKEYS, WH_START_ARGC);
    }
    /* Close the gap between the keys and the arguments. */
    memmove(b.argv + b.nkeys, b.argv + b.cap_keys, (size_t)b.nargs * sizeof(*b.argv));
    memmove(b.lens + b.nkeys, b.lens + b.cap_keys, (size_t)b.nargs * sizeof(*b.lens));
    wh_redis_reply *rep;
    wh_code rc = wh_redis_eval(r, &s_moves, &rep, b.nkeys, b.nkeys + b.nargs, b.argv, b.lens, err);
    free(b.argv);
    free(b.lens);
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
