/* wh_xpage: read a capped Redis stream (a job's log, a container's log)
 * page by page, and notice the entries that the cap (XADD MAXLEN) removed
 * before the reader got to them, so readers can say so instead of skipping
 * lines silently.
 *
 * Each page is one MULTI with XINFO STREAM, whose entries-added and length
 * number every entry ever added: the oldest kept is entries-added - length
 * + 1. A reader that knows the number of the next entry it expects sees
 * exactly how many it missed. Needs Redis 7 (entries-added). */
#ifndef WH_XPAGE_H
#define WH_XPAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_json.h"
#include "wh_redis.h"

typedef struct wh_xpage {
    char last[64];  /* id of the last entry consumed; "0-0" before any */
    long long next; /* number of the next entry expected; 0 before the first page */
} wh_xpage;

/* Start reading after entry id `after` ("0-0": from the beginning). */
void wh_xpage_init(wh_xpage *x, const char *after);

/* Fetch up to `count` entries of `key` after x->last. On WH_OK, *rep holds
 * the reply (the caller frees it with wh_redis_reply_free), *entries its
 * entry list ([id, [field, value, ...]] each; NULL while the stream does not
 * exist), and *missing how many entries the cap removed that this reader
 * never saw: between x->last and this page, or, on a first page read from
 * the beginning, before the oldest kept (-1: some, number unknown, for a
 * reader that resumed after an id). The caller consumes the entries,
 * copying the id of the last into x->last, then calls wh_xpage_done. */
wh_code wh_xpage_fetch(wh_redis *r, const char *key, wh_xpage *x, int count, wh_redis_reply **rep,
                       const wh_redis_reply **entries, long long *missing, wh_err *err);

/* `n` entries of the page were consumed. */
void wh_xpage_done(wh_xpage *x, long n);

/* Wait up to `ms` for an entry after x->last (XREAD BLOCK; nothing is
 * consumed: fetch the page next). */
wh_code wh_xpage_wait(wh_redis *r, const char *key, const wh_xpage *x, int ms, wh_err *err);

/* The fields of one log stream entry ([id, [field, value, ...]]), pointing
 * into the reply: its id, `s` (the stream; "out" when absent), `l` (the
 * line; "" when absent) and `t` (the engine's timestamp of a container log
 * line; NULL when absent, as in job logs), with their lengths. */
typedef struct wh_xpage_entry {
    const char *id, *s, *l, *t;
    size_t idn, sn, ln, tn;
} wh_xpage_entry;

/* Fill *out from entry `e`; false for a malformed entry. */
bool wh_xpage_entry_parse(const wh_redis_reply *e, wh_xpage_entry *out);

/* One stream entry ([id, [field, value, ...]]) as {"id", "s", "l"} (and
 * "t" when the entry has one), as
 * the HTTP API and the client library give log lines; bytes of s or l that
 * are not UTF-8 become '?'. Copies the entry id to last[64] (if not NULL).
 * NULL for a malformed entry. Caller frees with wh_json_free(). */
wh_json *wh_xpage_entry_json(const wh_redis_reply *e, char *last);

#endif
