/* wk_delivery: one AMQP delivery on its way through the pipe.
 *
 * The loop (wk_loop) makes it from a basic.deliver and hands it to the pool;
 * a job thread runs it (wk_exec) and leaves the verdict on it; the loop then
 * carries the verdict out and frees it. One owner at a time: the loop until
 * wk_pool_submit, the pool until wk_pool_take_done returns it. */
#ifndef WK_DELIVERY_H
#define WK_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_env.h"

typedef enum wk_verdict {
    WK_ACK,     /* done (or nothing to do): ack */
    WK_REQUEUE, /* not run or interrupted: nack with requeue */
    WK_RETRY,   /* republish to wharf.retry with retry_ms, then ack */
    WK_DEAD     /* copy to wharf.dead with the reason, then ack */
} wk_verdict;

typedef struct wk_delivery {
    struct wk_delivery *next;
    /* Set by the loop. */
    uint64_t tag;              /* AMQP delivery tag */
    uint32_t gen;              /* connection generation it arrived on */
    char *body;                /* owned; NULL when too_large */
    size_t len;
    bool too_large;
    uint64_t body_size;        /* declared size, bytes */
    char message_id[128];      /* AMQP message_id property */
    bool redelivered;          /* the broker delivered it before (it was not
                                * acked: its consumer died, or it was nacked),
                                * or it is the wait copy of such a delivery */
    /* Set by the job thread. */
    wk_verdict verdict;
    int retry_ms;              /* WK_RETRY: delay tier */
    bool waiting;              /* WK_RETRY: a wait (lock, live run), no attempt */
    int family;                /* routing key for a retry; -1 unknown */
    int attempts;              /* attempts made so far */
    bool ran;                  /* its handler ran, for run_us µs */
    int64_t run_us;
    bool failed;               /* ended failed or dead (for counters) */
    char id[WH_ID_MAX + 1];    /* "" when the id did not parse */
    char type[WH_TYPE_MAX + 1];
    wh_err err;                /* WK_DEAD: reason code and message */
    char error_code[72];       /* WK_DEAD: the job's own last error code */
    int priority;              /* envelope priority, kept on copies */
    bool early_acked;          /* acked at start (the job lives under a Redis
                                * lease): verdicts publish copies, never ack */
} wk_delivery;

/* Free one delivery and its body. NULL is a no-op. */
void wk_delivery_free(wk_delivery *d);

#endif
