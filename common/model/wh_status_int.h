/* wh_status_int: private to the status module, which is four files:
 * wh_status.c (the worker's moves), wh_status_moves.c (many of them in one
 * call), wh_status_enqueue.c (the producer's) and wh_status_read.c (reading
 * a record back). */
#ifndef WH_STATUS_INT_H
#define WH_STATUS_INT_H

#include "wh_status.h"

#include "wh_keys.h"
#include "wh_lua.h"
#include "wh_mp.h"

/* start.lua's arguments by slot; buffers live here. Only the values a move
 * carries are filled: moves.lua makes the keys and the batch's shared
 * values (the other slots are ""). */
typedef struct start_args {
    char created_at[24], maxa[24], now[24], maxr[24], lock_ms[24], run_at[24], lease[24], ttl[24], run_ms[24];
    const char *argv[WH_START_ARGC];
    size_t lens[WH_START_ARGC];
} start_args;

/* Fill `a` for start.lua from the job and the worker's options. */
void wh_status__start_fill(start_args *a, const wh_env *env, const wh_start_opts *o);

/* start.lua's reply into *out. */
wh_code wh_status__start_result(const wh_redis_reply *rep, wh_start *out, wh_err *err);

/* finish.lua's arguments by slot, filled as start_args are. */
typedef struct finish_args {
    char now[24], ttl[24], created[24], lease[24];
    const char *argv[WH_FINISH_ARGC];
} finish_args;

/* Fill `a` for finish.lua (the clock is read now). */
void wh_status__finish_fill(finish_args *a, const wh_finish *f);

/* finish.lua's reply: *skipped (if not NULL) when the job was terminal. */
void wh_status__finish_result(const wh_redis_reply *rep, bool *skipped);

/* One element of a batch script's reply (moves.lua, enqueue_many.lua): an
 * error for {'err', message} (a move that raised one), else WH_OK. */
wh_code wh_status__item_error(const wh_redis_reply *rep, wh_err *err);

/* EVALSHA `s` with the packed batch `p` as its one argument; frees p (NULL:
 * out of memory). */
wh_code wh_status__eval_packed(wh_redis *r, wh_redis_script *s, wh_mp_pack *p, wh_redis_reply **rep, wh_err *err);

/* Copy element i of an array reply into out (cap bytes); "" if absent. */
void wh_status__reply_field(const wh_redis_reply *rep, size_t i, char *out, size_t cap);

/* Element i of an array reply as an int, whether Redis sent an integer or
 * a numeric string; 0 if absent. */
int wh_status__reply_int(const wh_redis_reply *rep, size_t i);

/* Load enqueue.lua into the server's script cache (wh_status_load). */
wh_code wh_status__enqueue_load(wh_redis *r, wh_err *err);

#endif
