/* wh_amqp: the AMQP 0-9-1 adapter (librabbitmq-c). No other file includes
 * <amqp.h>.
 *
 * One wh_amqp is one connection used by one thread. Incoming traffic is read
 * frame by frame by wh_amqp_next(), which turns it into events: deliveries,
 * publisher confirms, returns of unroutable messages, and consumer cancels.
 * Reading frames ourselves (rather than amqp_consume_message) lets the body
 * cap be checked from the content header *before* the body is allocated: an
 * oversize delivery arrives as an event with too_large set and no body.
 *
 * Any connection- or channel-level failure marks the connection dead
 * (wh_amqp_alive() == false) and returns WH_E_BROKER; the owner then frees it
 * and connects anew. Unacknowledged deliveries are requeued by the broker. */
#ifndef WH_AMQP_H
#define WH_AMQP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"

#define WH_AMQP_MAX_HEADERS 16 /* headers kept per received message */

typedef struct wh_amqp wh_amqp;

#define WH_AMQP_URL_MAX 1024          /* bytes of one broker URL */
#define WH_AMQP_URL_SEPS ", \t\r\n"    /* separators of a broker URL list */

typedef struct wh_amqp_opts {
    const char *url;      /* amqp[s]://user:pass@host:port/vhost (secret inside), or
                           * several separated by commas or white space: the
                           * nodes of one cluster, tried in order */
    int heartbeat_s;      /* 0 disables heartbeats */
    int timeout_ms;       /* connect, handshake and RPC timeout */
    const char *name;     /* connection_name shown in the management UI */
    size_t body_cap;      /* deliveries larger than this arrive as too_large */
} wh_amqp_opts;

/* A header or queue argument: a string or an integer. */
typedef struct wh_amqp_field {
    const char *key;
    const char *str; /* used when not NULL */
    int64_t num;     /* used when str is NULL */
} wh_amqp_field;

/* An outgoing message. All publishes are persistent (delivery_mode 2). */
typedef struct wh_amqp_msg {
    const void *body;
    size_t len;
    const char *content_type; /* may be NULL */
    const char *message_id;   /* may be NULL */
    const char *type;         /* may be NULL */
    const wh_amqp_field *headers;
    int nheaders;
    int priority;             /* 1..9 sets the priority property; 0: none */
} wh_amqp_msg;

typedef enum wh_amqp_ev_kind {
    WH_AMQP_EV_NONE,     /* nothing arrived before the timeout */
    WH_AMQP_EV_DELIVERY, /* basic.deliver or basic.get-ok */
    WH_AMQP_EV_CONFIRM,  /* publisher confirm: ack, or nack when `nack` */
    WH_AMQP_EV_RETURN,   /* an unroutable mandatory message came back */
    WH_AMQP_EV_CANCEL,   /* the broker cancelled our consumer */
    WH_AMQP_EV_BLOCKED,  /* the broker blocked publishers (resource alarm) */
    WH_AMQP_EV_UNBLOCKED
} wh_amqp_ev_kind;

typedef struct wh_amqp_header {
    char key[64];
    char str[WH_ERR_MSG_MAX + 1]; /* string value (a dead letter's wharf-error may fill
                                   * it), cut between UTF-8 characters; or the
                                   * integer rendered as text */
    int64_t num;
    bool is_num;
} wh_amqp_header;

/* A received event. The body is owned by the event: release it with
 * wh_amqp_event_clear() or take it (set body to NULL) and free() it. */
typedef struct wh_amqp_event {
    wh_amqp_ev_kind kind;
    uint16_t channel;
    uint64_t tag;       /* delivery tag, or the confirmed publish sequence */
    bool multiple;      /* confirm covers every sequence <= tag */
    bool nack;          /* confirm is a negative acknowledgement */
    bool redelivered;
    bool too_large;     /* body_size > body_cap: body is NULL */
    char *body;
    size_t len;
    uint64_t body_size; /* size declared by the content header, bytes */
    char message_id[128];
    char type[128];
    char routing_key[256];
    int reply_code;     /* returns and cancels */
    char reply_text[256];
    int nheaders;
    wh_amqp_header headers[WH_AMQP_MAX_HEADERS];
} wh_amqp_event;

/* Connect, log in and open channel 1. With a list of URLs, each is tried in
 * the order given and the first that logs in wins; a malformed URL stops the
 * search (a configuration error). Returns NULL with err set on failure (the
 * last broker's error, saying how many were tried); the message names the
 * host and the reason, never the password. Reconnection after a loss is the
 * owner's: it calls this again (with its own backoff), which starts over
 * from the first URL. */
wh_amqp *wh_amqp_connect(const wh_amqp_opts *o, wh_err *err);

/* Close politely if still alive, then free. NULL is a no-op. */
void wh_amqp_free(wh_amqp *c);

bool wh_amqp_alive(const wh_amqp *c);

/* Socket to poll for readability, and whether frames are already buffered
 * (then wh_amqp_next() returns without reading the socket). */
int wh_amqp_fd(const wh_amqp *c);
bool wh_amqp_buffered(const wh_amqp *c);

wh_code wh_amqp_channel_open(wh_amqp *c, uint16_t ch, wh_err *err);
/* Put `ch` in confirm mode; publishes on it then get sequence numbers. */
wh_code wh_amqp_confirm_select(wh_amqp *c, uint16_t ch, wh_err *err);
wh_code wh_amqp_qos(wh_amqp *c, uint16_t ch, uint16_t prefetch, wh_err *err);

wh_code wh_amqp_declare_exchange(wh_amqp *c, uint16_t ch, const char *name, const char *type, wh_err *err);
/* Declare a durable queue with arguments. A queue that exists with other
 * arguments is WH_E_CONFLICT (and the connection is dead). `messages` may be
 * NULL; else it receives the ready message count. */
wh_code wh_amqp_declare_queue(wh_amqp *c, uint16_t ch, const char *name, const wh_amqp_field *args, int nargs,
                              uint32_t *messages, wh_err *err);
/* Passive declare: WH_E_NOT_FOUND if the queue does not exist. */
wh_code wh_amqp_queue_count(wh_amqp *c, uint16_t ch, const char *name, uint32_t *messages, uint32_t *consumers,
                            wh_err *err);
wh_code wh_amqp_bind(wh_amqp *c, uint16_t ch, const char *queue, const char *exchange, const char *key,
                     const wh_amqp_field *args, int nargs, wh_err *err);
wh_code wh_amqp_purge(wh_amqp *c, uint16_t ch, const char *queue, uint32_t *purged, wh_err *err);

/* Start consuming `queue` with manual acks. */
wh_code wh_amqp_consume(wh_amqp *c, uint16_t ch, const char *queue, wh_err *err);
/* Cancel every consumer on `ch` started by wh_amqp_consume(). */
wh_code wh_amqp_cancel_all(wh_amqp *c, uint16_t ch, wh_err *err);

/* Publish. On a confirm channel, *seq (if not NULL) receives the sequence
 * number the confirm will carry. */
wh_code wh_amqp_publish(wh_amqp *c, uint16_t ch, const char *exchange, const char *key, const wh_amqp_msg *m,
                        bool mandatory, uint64_t *seq, wh_err *err);

wh_code wh_amqp_ack(wh_amqp *c, uint16_t ch, uint64_t tag, bool multiple, wh_err *err);
wh_code wh_amqp_nack(wh_amqp *c, uint16_t ch, uint64_t tag, bool multiple, bool requeue, wh_err *err);

/* Wait up to `timeout_ms` (0: do not block) for the next event. Heartbeats
 * are sent and checked in here, so a consumer must call it at least every
 * heartbeat_s / 2. WH_OK with kind NONE on timeout. */
wh_code wh_amqp_next(wh_amqp *c, int timeout_ms, wh_amqp_event *ev, wh_err *err);

/* basic.get one message with manual ack. *empty is set when none. */
wh_code wh_amqp_get(wh_amqp *c, uint16_t ch, const char *queue, wh_amqp_event *ev, bool *empty, wh_err *err);

/* Free an event's body and reset it. */
void wh_amqp_event_clear(wh_amqp_event *ev);

/* A header of a received event by key, or NULL. */
const wh_amqp_header *wh_amqp_event_header(const wh_amqp_event *ev, const char *key);

#endif
