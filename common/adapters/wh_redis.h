/* wh_redis: the Redis adapter (hiredis). No other file includes <hiredis.h>.
 *
 * A wh_redis is one synchronous connection, used by one thread at a time. It
 * remembers its URL: after any I/O error the connection is dropped and the
 * failed command is reported, never resent (it may have run before its reply
 * was lost); the next call reconnects. Callers own the retry policy (how long,
 * how often, and whether a repeat is safe), never the reconnect mechanics.
 *
 * URLs: redis://[[user]:password@]host[:port][/db], unix:///path[?db=N] and
 * redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db].
 * The password is sent with AUTH and never appears in errors or logs.
 *
 * Sentinel (hiredis 0.14 has none; see wh_redis_sent.c): each (re)connect
 * asks the Sentinels in order for the master's address, connects, and
 * checks with ROLE that it is a master. A READONLY, LOADING or MASTERDOWN
 * reply (a demoted or restarting server; the command did not run) drops the
 * connection like an I/O error, so every caller's existing retry of a lost
 * connection also follows a failover.
 *
 * Replies are owned by the caller and freed with wh_redis_reply_free(). */
#ifndef WH_REDIS_H
#define WH_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"

typedef struct wh_redis wh_redis;
typedef struct wh_redis_reply wh_redis_reply;

typedef enum wh_redis_kind {
    WH_REDIS_STRING,
    WH_REDIS_ARRAY,
    WH_REDIS_INTEGER,
    WH_REDIS_NIL,
    WH_REDIS_STATUS,
    WH_REDIS_ERROR
} wh_redis_kind;

/* A Lua script and its cached SHA1 (filled on first use). One per script,
 * shared read-mostly between threads: the SHA is written once, identically. */
typedef struct wh_redis_script {
    const char *name; /* for messages */
    const char *src;
    char sha[41];
} wh_redis_script;

/* Parse `url` and connect with `timeout_ms` for connect and each command.
 * Returns NULL with err set when the URL is invalid or memory runs out; a
 * connection failure still returns a handle (the next command retries the
 * connection), with err set so the caller may log it. */
wh_redis *wh_redis_new(const char *url, int timeout_ms, wh_err *err);

/* Close and free. NULL is a no-op. */
void wh_redis_free(wh_redis *r);

/* (Re)connect now if not connected. WH_OK when connected. */
wh_code wh_redis_connect(wh_redis *r, wh_err *err);

/* True while the last operation left the connection usable. */
bool wh_redis_connected(const wh_redis *r);

/* Replication before acknowledging: wh_redis_wait() then waits (Redis WAIT)
 * until `replicas` replicas hold the connection's writes, for at most
 * `timeout_ms`. 0 replicas (the default) turns it off. */
void wh_redis_set_wait(wh_redis *r, int replicas, int timeout_ms);

/* WAIT as set by wh_redis_set_wait(); WH_OK at once when it is off. When
 * fewer replicas acknowledged in time, the last writes could vanish in a
 * failover: the connection is dropped (so the caller treats it as a lost
 * connection, repeats its idempotent write and, with Sentinel, finds the
 * master anew) and WH_E_REDIS is returned. */
wh_code wh_redis_wait(wh_redis *r, wh_err *err);

/* Run one command given as argv with lengths. On WH_OK, *out (if not NULL)
 * receives the reply; a Redis error reply is returned as WH_E_REDIS with its
 * text in err and no reply. */
wh_code wh_redis_cmd(wh_redis *r, wh_redis_reply **out, int argc, const char **argv, const size_t *lens,
                     wh_err *err);

/* Convenience: argv of NUL-terminated strings. */
wh_code wh_redis_cmdv(wh_redis *r, wh_redis_reply **out, wh_err *err, int argc, const char **argv);

/* Pipelining: queue commands with wh_redis_append(), then read every reply
 * with wh_redis_drain(). Returns the first failure, having read all replies. */
wh_code wh_redis_append(wh_redis *r, int argc, const char **argv, const size_t *lens, wh_err *err);
wh_code wh_redis_drain(wh_redis *r, int n, wh_err *err);

/* Read the next pipelined reply into *out (caller frees). An error reply is
 * WH_E_REDIS with no reply. */
wh_code wh_redis_read(wh_redis *r, wh_redis_reply **out, wh_err *err);

/* Wait up to `ms` for a reply to read: *ready is true when one is buffered
 * or the socket has bytes (or an error) to read; then wh_redis_read takes
 * it. For connections that receive pushed messages (SUBSCRIBE), so a reader
 * waits with its own timeout and the connection stays usable when nothing
 * came. WH_E_REDIS when not connected. */
wh_code wh_redis_poll(wh_redis *r, int ms, bool *ready, wh_err *err);

/* EVALSHA `s` with `nkeys` keys then args (all in argv). Falls back to EVAL on
 * NOSCRIPT, which also loads it. Same reply rules as wh_redis_cmd. */
wh_code wh_redis_eval(wh_redis *r, wh_redis_script *s, wh_redis_reply **out, int nkeys, int argc,
                      const char **argv, const size_t *lens, wh_err *err);

/* Fill s->sha with SCRIPT LOAD (one round trip; nothing may be pending). */
wh_code wh_redis_script_load(wh_redis *r, wh_redis_script *s, wh_err *err);

/* Queue an EVALSHA of `s` on the pipeline (loading the script first if its
 * SHA is not known yet). Read its reply with wh_redis_read(); a reply for
 * which wh_redis_noscript() is true means the server lost its script cache:
 * load it again (wh_redis_eval does) and resend. */
wh_code wh_redis_eval_append(wh_redis *r, wh_redis_script *s, int nkeys, int argc, const char **argv,
                             const size_t *lens, wh_err *err);

/* True when err is a NOSCRIPT error reply. */
bool wh_redis_noscript(const wh_err *err);

/* True when err is an error reply about the server's state rather than the
 * command (READONLY, LOADING, MASTERDOWN, NOREPLICAS, OOM, BUSY): the write
 * did not happen and will once the state passes, so callers retry it as
 * they would after a lost connection. Also true for such an error inside a
 * script's reply (one move of a batch), which leaves the connection up. */
bool wh_redis_state_error(const wh_err *err);

/* Reply access. Strings are not NUL-terminated beyond what Redis sent; use
 * the length. Array elements are borrowed from their parent. */
void wh_redis_reply_free(wh_redis_reply *rep);
wh_redis_kind wh_redis_reply_kind(const wh_redis_reply *rep);
long long wh_redis_reply_int(const wh_redis_reply *rep);
const char *wh_redis_reply_str(const wh_redis_reply *rep, size_t *len);
size_t wh_redis_reply_len(const wh_redis_reply *rep);
const wh_redis_reply *wh_redis_reply_at(const wh_redis_reply *rep, size_t i);

#endif
