/* wh_redis_sent: finding the master through Redis Sentinel, for hiredis
 * 0.14, which has no Sentinel support of its own. Follows the Sentinel
 * client guidelines: ask each Sentinel in turn with
 * SENTINEL get-master-addr-by-name, move the first that answers to the front
 * of the list, and (in wh_redis.c) check with ROLE that the server named is
 * a master before using it. See wh_redis.h for when this runs. */
#include "wh_redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASK_TIMEOUT_MS 1000 /* connect and reply timeout per Sentinel */

/* Run one command on a Sentinel; NULL (with `why` filled) on failure. */
static redisReply *sentinel_cmd(redisContext *s, int argc, const char **argv, char *why, size_t cap)
{
    redisReply *rep = redisCommandArgv(s, argc, argv, NULL);
    if(!rep)
        snprintf(why, cap, "%s", s->errstr);
    else if(rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, cap, "%.120s", rep->str);
        freeReplyObject(rep);
        rep = NULL;
    }
    return rep;
}

/* Ask Sentinel `nd` for the master's address. A Sentinel with requirepass
 * is answered with the data nodes' credentials (it must share them). */
static wh_code ask(wh_redis *r, const wh_redis_node *nd, char *why, size_t cap)
{
    int ms = r->timeout_ms < ASK_TIMEOUT_MS ? r->timeout_ms : ASK_TIMEOUT_MS;
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    redisContext *s = redisConnectWithTimeout(nd->host, nd->port, tv);
    if(!s || s->err) {
        snprintf(why, cap, "%s:%d: %s", nd->host, nd->port, s ? s->errstr : "out of memory");
        redisFree(s);
        return WH_E_REDIS;
    }
    redisSetTimeout(s, tv);
    const char *q[] = {"SENTINEL", "get-master-addr-by-name", r->master};
    char e[160] = "";
    redisReply *rep = sentinel_cmd(s, 3, q, e, sizeof(e));
    if(!rep && r->pass[0] && strncmp(e, "NOAUTH", 6) == 0) {
        const char *auth_user[] = {"AUTH", r->user, r->pass};
        const char *auth_pass[] = {"AUTH", r->pass};
        redisReply *ok = r->user[0] ? sentinel_cmd(s, 3, auth_user, e, sizeof(e)) : sentinel_cmd(s, 2, auth_pass, e, sizeof(e));
        if(ok) {
            freeReplyObject(ok);
            rep = sentinel_cmd(s, 3, q, e, sizeof(e));
        }
    }
    wh_code rc = WH_E_REDIS;
    if(!rep)
        snprintf(why, cap, "%s:%d: %s", nd->host, nd->port, e);
    else if(rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len >= sizeof(r->host))
        snprintf(why, cap, "%s:%d does not know master \"%s\"", nd->host, nd->port, r->master);
    else {
        long port = strtol(rep->element[1]->str, NULL, 10);
        if(port >= 1 && port <= 65535) {
            memcpy(r->host, rep->element[0]->str, rep->element[0]->len + 1);
            r->port = (int)port;
            rc = WH_OK;
        } else
            snprintf(why, cap, "%s:%d named a bad port", nd->host, nd->port);
    }
    if(rep)
        freeReplyObject(rep);
    redisFree(s);
    return rc;
}

wh_code wh_redis__discover(wh_redis *r, wh_err *err)
{
    char why[200] = "";
    for(int i = 0; i < r->nsent; i++) {
        if(ask(r, &r->sent[i], why, sizeof(why)) != WH_OK)
            continue;
        if(i) { /* the guidelines: the Sentinel that answered is asked first next time */
            wh_redis_node first = r->sent[0];
            r->sent[0] = r->sent[i];
            r->sent[i] = first;
        }
        return WH_OK;
    }
    return wh_err_set(err, WH_E_REDIS, "", "redis: no Sentinel named the master \"%s\" (%d asked; last: %s)", r->master,
                      r->nsent, why);
}
