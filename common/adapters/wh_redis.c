/* wh_redis: hiredis adapter. See wh_redis.h for the contract. */
#include "wh_redis_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const redisReply *R(const wh_redis_reply *r) { return (const redisReply *)r; }

static void drop(wh_redis *r)
{
    if(r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

/* Run a command during connection setup; the reply must not be an error. */
static wh_code setup_cmd(wh_redis *r, const char *what, int argc, const char **argv, wh_err *err)
{
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
    if(!rep || rep->type == REDIS_REPLY_ERROR) {
        /* The server's text for AUTH failures never echoes the password. */
        wh_err_set(err, WH_E_REDIS, "", "redis %s failed: %s", what,
                   rep ? rep->str : r->ctx->errstr);
        if(rep)
            freeReplyObject(rep);
        drop(r);
        return WH_E_REDIS;
    }
    freeReplyObject(rep);
    return WH_OK;
}

/* Sentinel mode: the server we reached must say it is the master. Right
 * after a failover a Sentinel may still name the old master, now a replica;
 * the caller's next attempt asks the Sentinels again. */
static wh_code check_master(wh_redis *r, wh_err *err)
{
    redisReply *rep = redisCommand(r->ctx, "ROLE");
    bool master = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
                  rep->element[0]->type == REDIS_REPLY_STRING && strcmp(rep->element[0]->str, "master") == 0;
    if(rep)
        freeReplyObject(rep);
    if(master)
        return WH_OK;
    wh_err_set(err, WH_E_REDIS, "", "redis %s:%d, named master \"%s\" by a Sentinel, is not a master (yet)", r->host,
               r->port, r->master);
    drop(r);
    return WH_E_REDIS;
}

wh_code wh_redis_connect(wh_redis *r, wh_err *err)
{
    if(r->ctx)
        return WH_OK;
    wh_code rc = r->nsent ? wh_redis__discover(r, err) : WH_OK;
    if(rc)
        return rc;
    struct timeval tv = {r->timeout_ms / 1000, (suseconds_t)(r->timeout_ms % 1000) * 1000};
    r->ctx = r->path[0] ? redisConnectUnixWithTimeout(r->path, tv) : redisConnectWithTimeout(r->host, r->port, tv);
    if(!r->ctx || r->ctx->err) {
        wh_err_set(err, WH_E_REDIS, "", "redis connect to %s:%d failed: %s", r->path[0] ? r->path : r->host,
                   r->path[0] ? 0 : r->port, r->ctx ? r->ctx->errstr : "out of memory");
        drop(r);
        return WH_E_REDIS;
    }
    redisSetTimeout(r->ctx, tv);
    if(r->pass[0]) {
        const char *auth_user[] = {"AUTH", r->user, r->pass};
        const char *auth_pass[] = {"AUTH", r->pass};
        rc = r->user[0] ? setup_cmd(r, "AUTH", 3, auth_user, err) : setup_cmd(r, "AUTH", 2, auth_pass, err);
        if(rc)
            return rc;
    }
    if(r->nsent && (rc = check_master(r, err)))
        return rc;
    if(r->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        const char *sel[] = {"SELECT", db};
        return setup_cmd(r, "SELECT", 2, sel, err);
    }
    return WH_OK;
}

wh_redis *wh_redis_new(const char *url, int timeout_ms, wh_err *err)
{
    wh_redis *r = calloc(1, sizeof(*r));
    if(!r) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    if(wh_redis__parse_url(r, url, err) != WH_OK) {
        wh_redis_free(r);
        return NULL;
    }
    wh_redis_connect(r, err);
    return r;
}

void wh_redis_free(wh_redis *r)
{
    if(!r)
        return;
    drop(r);
    memset(r->pass, 0, sizeof(r->pass));
    free(r);
}

bool wh_redis_connected(const wh_redis *r)
{
    return r->ctx != NULL;
}

/* An error reply about the server's state, not the command: a master
 * demoted by a failover answers writes with READONLY (a script's write,
 * too), a restarted one LOADING, one without its replicas MASTERDOWN or
 * NOREPLICAS, one at maxmemory OOM, one running a long script BUSY. The
 * command did not run, and it will once the state passes: the connection
 * is dropped, so the caller sees a lost connection and retries (the next
 * call finds the master anew), rather than a refusal it gives up on. */
static bool server_state_error(const char *msg)
{
    static const char *const prefixes[] = {"READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS", "OOM", "BUSY "};
    for(size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if(strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return strstr(msg, "-READONLY ") || strstr(msg, "READONLY You can't write") || strstr(msg, "-OOM ");
}

/* Turn a raw hiredis result into our contract: I/O failures drop the
 * connection; error replies become WH_E_REDIS with their text. */
static wh_code take_reply(wh_redis *r, redisReply *rep, wh_redis_reply **out, wh_err *err)
{
    if(!rep) {
        wh_err_set(err, WH_E_REDIS, "", "redis I/O error: %s", r->ctx ? r->ctx->errstr : "not connected");
        drop(r);
        return WH_E_REDIS;
    }
    if(rep->type == REDIS_REPLY_ERROR) {
        wh_err_set(err, WH_E_REDIS, "", "redis: %.200s", rep->str);
        if(server_state_error(rep->str))
            drop(r);
        freeReplyObject(rep);
        return WH_E_REDIS;
    }
    if(out)
        *out = (wh_redis_reply *)rep;
    else
        freeReplyObject(rep);
    return WH_OK;
}

wh_code wh_redis_cmd(wh_redis *r, wh_redis_reply **out, int argc, const char **argv, const size_t *lens,
                     wh_err *err)
{
    if(out)
        *out = NULL;
    wh_code rc = wh_redis_connect(r, err);
    if(rc)
        return rc;
    /* No silent resend on an I/O error: the server may have run the command
     * before the reply was lost, and not every command is idempotent (stats
     * increments, XADD). take_reply drops the connection; the caller's retry
     * policy decides, and its next call reconnects. */
    return take_reply(r, redisCommandArgv(r->ctx, argc, argv, lens), out, err);
}

void wh_redis_set_wait(wh_redis *r, int replicas, int timeout_ms)
{
    r->wait_replicas = replicas > 0 ? replicas : 0;
    r->wait_ms = timeout_ms > 0 ? timeout_ms : 1000;
}

wh_code wh_redis_wait(wh_redis *r, wh_err *err)
{
    if(!r->wait_replicas)
        return WH_OK;
    char n[16], ms[16];
    snprintf(n, sizeof(n), "%d", r->wait_replicas);
    snprintf(ms, sizeof(ms), "%d", r->wait_ms);
    const char *argv[] = {"WAIT", n, ms};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_cmdv(r, &rep, err, 3, argv);
    if(rc)
        return rc;
    long long got = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    if(got >= r->wait_replicas)
        return WH_OK;
    drop(r);
    return wh_err_set(err, WH_E_REDIS, "", "redis: write reached %lld of %d replica(s) in %d ms", got,
                      r->wait_replicas, r->wait_ms);
}

wh_code wh_redis_cmdv(wh_redis *r, wh_redis_reply **out, wh_err *err, int argc, const char **argv)
{
    return wh_redis_cmd(r, out, argc, argv, NULL, err);
}

wh_code wh_redis_append(wh_redis *r, int argc, const char **argv, const size_t *lens, wh_err *err)
{
    wh_code rc = wh_redis_connect(r, err);
    if(rc)
        return rc;
    if(redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK)
        return wh_err_set(err, WH_E_NOMEM, "", "redis: cannot queue command");
    return WH_OK;
}

wh_code wh_redis_drain(wh_redis *r, int n, wh_err *err)
{
    wh_code first = WH_OK;
    for(int i = 0; i < n; i++) {
        wh_redis_reply *rep;
        wh_code rc = wh_redis_read(r, &rep, first ? NULL : err);
        wh_redis_reply_free(rep);
        if(rc && !first)
            first = rc;
        if(!r->ctx)
            break;
    }
    return first;
}

wh_code wh_redis_read(wh_redis *r, wh_redis_reply **out, wh_err *err)
{
    *out = NULL;
    if(!r->ctx)
        return wh_err_set(err, WH_E_REDIS, "", "redis connection lost in pipeline");
    void *rep = NULL;
    if(redisGetReply(r->ctx, &rep) != REDIS_OK)
        rep = NULL;
    return take_reply(r, rep, out, err);
}

wh_code wh_redis_poll(wh_redis *r, int ms, bool *ready, wh_err *err)
{
    *ready = false;
    if(!r->ctx)
        return wh_err_set(err, WH_E_REDIS, "", "redis: not connected");
    /* Bytes hiredis already read but did not parse: a reply may be there. */
    if(r->ctx->reader && r->ctx->reader->pos < r->ctx->reader->len) {
        *ready = true;
        return WH_OK;
    }
    struct pollfd p = {.fd = r->ctx->fd, .events = POLLIN};
    int n = poll(&p, 1, ms < 0 ? -1 : ms);
    if(n < 0 && errno != EINTR)
        return wh_err_set(err, WH_E_REDIS, "", "redis: poll: %s", strerror(errno));
    *ready = n > 0;
    return WH_OK;
}

/* SHA1 of a script as Redis computes it, via SCRIPT LOAD (cached). */
wh_code wh_redis_script_load(wh_redis *r, wh_redis_script *s, wh_err *err)
{
    const char *argv[] = {"SCRIPT", "LOAD", s->src};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_cmdv(r, &rep, err, 3, argv);
    if(rc)
        return rc;
    size_t n;
    const char *sha = wh_redis_reply_str(rep, &n);
    if(sha && n == 40) {
        memcpy(s->sha, sha, 40);
        s->sha[40] = '\0';
    }
    wh_redis_reply_free(rep);
    return WH_OK;
}

enum { EVAL_MAXARGS = 48 }; /* on the stack; longer calls (a batch of moves) allocate */

/* EVALSHA argv for `s`: av/al point at EVAL_MAXARGS slots on the caller's
 * stack, or at heap arrays for a longer call (the caller frees *heap). */
typedef struct eval_argv {
    const char *st_av[EVAL_MAXARGS];
    size_t st_al[EVAL_MAXARGS];
    const char **av;
    size_t *al;
    void *heap;
    char nk[16];
} eval_argv;

static wh_code eval_build(wh_redis *r, wh_redis_script *s, int nkeys, int argc, const char **argv,
                          const size_t *lens, eval_argv *e, wh_err *err)
{
    e->heap = NULL;
    e->av = e->st_av;
    e->al = e->st_al;
    if(argc + 3 > EVAL_MAXARGS) {
        size_t n = (size_t)argc + 3;
        if(!(e->heap = malloc(n * (sizeof(char *) + sizeof(size_t)))))
            return wh_err_set(err, WH_E_NOMEM, "", "script %s: out of memory", s->name);
        e->av = e->heap;
        e->al = (size_t *)(e->av + n);
    }
    wh_code rc;
    if(!s->sha[0] && (rc = wh_redis_script_load(r, s, err)))
        return rc;
    snprintf(e->nk, sizeof(e->nk), "%d", nkeys);
    e->av[0] = "EVALSHA";
    e->av[1] = s->sha;
    e->av[2] = e->nk;
    for(int i = 0; i < 3; i++)
        e->al[i] = strlen(e->av[i]);
    for(int i = 0; i < argc; i++) {
        e->av[i + 3] = argv[i];
        e->al[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    return WH_OK;
}

bool wh_redis_state_error(const wh_err *err)
{
    return err && err->code == WH_E_REDIS && strncmp(err->msg, "redis: ", 7) == 0 && server_state_error(err->msg + 7);
}

bool wh_redis_noscript(const wh_err *err)
{
    return err && err->code == WH_E_REDIS && strncmp(err->msg, "redis: NOSCRIPT", 15) == 0;
}

wh_code wh_redis_eval_append(wh_redis *r, wh_redis_script *s, int nkeys, int argc, const char **argv,
                             const size_t *lens, wh_err *err)
{
    eval_argv e;
    wh_code rc = eval_build(r, s, nkeys, argc, argv, lens, &e, err);
    if(!rc)
        rc = wh_redis_append(r, argc + 3, e.av, e.al, err);
    free(e.heap);
    return rc;
}

wh_code wh_redis_eval(wh_redis *r, wh_redis_script *s, wh_redis_reply **out, int nkeys, int argc,
                      const char **argv, const size_t *lens, wh_err *err)
{
    eval_argv e;
    wh_code rc = eval_build(r, s, nkeys, argc, argv, lens, &e, err);
    if(!rc)
        rc = wh_redis_cmd(r, out, argc + 3, e.av, e.al, err);
    if(rc == WH_E_REDIS && wh_redis_noscript(err)) {
        /* The server lost its script cache (restart, SCRIPT FLUSH). */
        e.av[0] = "EVAL";
        e.av[1] = s->src;
        e.al[0] = 4;
        e.al[1] = strlen(s->src);
        rc = wh_redis_cmd(r, out, argc + 3, e.av, e.al, err);
    }
    free(e.heap);
    return rc;
}

void wh_redis_reply_free(wh_redis_reply *rep)
{
    if(rep)
        freeReplyObject(rep);
}

wh_redis_kind wh_redis_reply_kind(const wh_redis_reply *rep)
{
    switch(R(rep)->type) {
    case REDIS_REPLY_STRING: return WH_REDIS_STRING;
    case REDIS_REPLY_ARRAY: return WH_REDIS_ARRAY;
    case REDIS_REPLY_INTEGER: return WH_REDIS_INTEGER;
    case REDIS_REPLY_STATUS: return WH_REDIS_STATUS;
    case REDIS_REPLY_ERROR: return WH_REDIS_ERROR;
    default: return WH_REDIS_NIL;
    }
}

long long wh_redis_reply_int(const wh_redis_reply *rep)
{
    if(R(rep)->type == REDIS_REPLY_INTEGER)
        return R(rep)->integer;
    if(R(rep)->type == REDIS_REPLY_STRING)
        return strtoll(R(rep)->str, NULL, 10);
    return 0;
}

const char *wh_redis_reply_str(const wh_redis_reply *rep, size_t *len)
{
    int t = R(rep)->type;
    if(t != REDIS_REPLY_STRING && t != REDIS_REPLY_STATUS && t != REDIS_REPLY_ERROR)
        return NULL;
    if(len)
        *len = R(rep)->len;
    return R(rep)->str;
}

size_t wh_redis_reply_len(const wh_redis_reply *rep)
{
    return R(rep)->type == REDIS_REPLY_ARRAY ? R(rep)->elements : 0;
}

const wh_redis_reply *wh_redis_reply_at(const wh_redis_reply *rep, size_t i)
{
    return (const wh_redis_reply *)R(rep)->element[i];
}
