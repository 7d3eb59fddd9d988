/* wh_redis_int: private to the Redis adapter, which is three files:
 * wh_redis.c (connection, commands, replies), wh_redis_url.c (URL parsing)
 * and wh_redis_sent.c (master discovery through Sentinel). Nothing else
 * includes this header. */
#ifndef WH_REDIS_INT_H
#define WH_REDIS_INT_H

#include <hiredis/hiredis.h>

#include "wh_redis.h"

#define WH_REDIS_SENTINELS 8 /* Sentinels one URL may list */

typedef struct wh_redis_node {
    char host[256];
    int port;
} wh_redis_node;

struct wh_redis {
    redisContext *ctx; /* NULL while disconnected */
    char host[256]; /* the server, or (Sentinel mode) the master last discovered */
    int port;
    char path[256]; /* unix socket path, or empty */
    char user[128];
    char pass[256]; /* secret: never copied into an error */
    int db;
    int timeout_ms;
    int wait_replicas;   /* wh_redis_wait: replicas to wait for; 0 off */
    int wait_ms;         /* wh_redis_wait: longest wait, ms */
    /* Sentinel mode (redis-sentinel:// URL): nsent > 0. */
    char master[128];                        /* master name the Sentinels watch */
    wh_redis_node sent[WH_REDIS_SENTINELS];  /* asked in this order; one that
                                              * answers moves to the front */
    int nsent;
};

/* Fill r's address, credentials and database from `url` (see wh_redis.h). */
wh_code wh_redis__parse_url(wh_redis *r, const char *url, wh_err *err);

/* Sentinel mode: ask the Sentinels in order for the master's address and
 * store it in r->host and r->port. WH_E_REDIS when none knows it. */
wh_code wh_redis__discover(wh_redis *r, wh_err *err);

#endif
