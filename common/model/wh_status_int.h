/* wh_status_int: private to the status module, which is three files:
 * wh_status.c (the worker's moves), wh_status_enqueue.c (the producer's)
 * and wh_status_read.c (reading a record back). */
#ifndef WH_STATUS_INT_H
#define WH_STATUS_INT_H

#include "wh_status.h"

/* Copy element i of an array reply into out (cap bytes); "" if absent. */
void wh_status__reply_field(const wh_redis_reply *rep, size_t i, char *out, size_t cap);

/* Element i of an array reply as an int, whether Redis sent an integer or
 * a numeric string; 0 if absent. */
int wh_status__reply_int(const wh_redis_reply *rep, size_t i);

/* Load enqueue.lua into the server's script cache (wh_status_load). */
wh_code wh_status__enqueue_load(wh_redis *r, wh_err *err);

#endif
