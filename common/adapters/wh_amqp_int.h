/* wh_amqp_int: private to the AMQP adapter, which is two files: wh_amqp.c
 * (connection, RPCs, publishing, acks) and wh_amqp_read.c (incoming frames
 * turned into events). Nothing else includes this header. */
#ifndef WH_AMQP_INT_H
#define WH_AMQP_INT_H

#include <amqp.h>

#include "wh_amqp.h"

#define WH_AMQP_CHANNELS 8  /* channels we track confirm sequences for */
#define WH_AMQP_CONSUMERS 8 /* consumers per connection */

struct wh_amqp {
    amqp_connection_state_t conn;
    bool alive;
    int timeout_ms;                          /* connect, RPC and frame read timeout */
    size_t body_cap;                         /* larger deliveries are too_large, bytes */
    uint64_t seq[WH_AMQP_CHANNELS];          /* last publish sequence per channel */
    bool confirming[WH_AMQP_CHANNELS];
    char consumers[WH_AMQP_CONSUMERS][128];  /* our consumer tags */
    uint16_t consumer_ch[WH_AMQP_CONSUMERS];
    int nconsumers;
};

/* A C string as amqp bytes; NULL reads as "". */
amqp_bytes_t wh_amqp__bytes(const char *s);
#define B(s) wh_amqp__bytes(s)

/* Interpret an RPC reply: WH_OK, or the connection is dead and err says
 * why (WH_E_CONFLICT for 406 PRECONDITION_FAILED, WH_E_NOT_FOUND for 404). */
wh_code wh_amqp__rpc_check(wh_amqp *c, amqp_rpc_reply_t r, uint16_t ch, const char *what, wh_err *err);

/* Copy amqp bytes into a C string buffer, cut to fit between UTF-8
 * characters. */
void wh_amqp__copy(char *dst, size_t cap, amqp_bytes_t b);

/* A timeval of `ms` milliseconds. */
struct timeval wh_amqp__tv(int ms);

/* Mark the connection unusable; returns WH_E_BROKER "amqp <what>: <why>". */
wh_code wh_amqp__broken(wh_amqp *c, wh_err *err, const char *what, const char *why);

#endif
