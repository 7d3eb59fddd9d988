/* client_int: the client library's private parts, shared by client.c
 * (connect, submit, status, cancel, schedules) and client_read.c (wait,
 * result, logs, events). Not installed. */
#ifndef CLIENT_INT_H
#define CLIENT_INT_H

#include <stdbool.h>

#include "wh_amqp.h"
#include "wh_cfg.h"
#include "wh_json.h"
#include "wh_mp.h"
#include "wh_redis.h"
#include "wharf.h"

struct wharf_client {
    wh_cfg cfg;
    wh_amqp *amqp;          /* NULL until (re)connected */
    wh_redis *redis;
    int timeout_ms;
    wh_mp_pack *args;       /* scratch: args converted from JSON */
    wh_mp_pack *env;        /* scratch: the envelope */
    wh_mp_pack *meta;       /* scratch: meta converted from JSON */
    bool blocked;           /* connection.blocked seen, no unblocked since */
    char blocked_why[64];   /* its reason, e.g. "low on memory" */
};

/* Copy `e` into `out` (if not NULL) and return its code as an int (never 0).
 * Internal names do not start with wharf_: wharf.map exports those. */
int client_fail(wharf_error *out, const wh_err *e);

/* Hand `j` (NULL: failed with `e`) to the caller as malloc'd JSON text in
 * *json; frees j. Returns 0 or the code, as the wharf_* functions do. */
int client_json_out(wh_json *j, wh_err *e, char **json, wharf_error *err);

#endif
