/* wk_acks: coalesced acknowledgements for the consume channel.
 *
 * Jobs finish out of order, and one basic.ack per job costs the broker a
 * wakeup per job. The loop instead tells this module which deliveries are
 * open and which it wants acked; wk_acks_flush then acks every wanted tag
 * below the oldest still-open delivery with one `multiple` ack, once that
 * covers a batch (wk_acks_set_batch). Wanted tags
 * behind an open one (a long job) are held at most WK_ACKS_HOLD_MS, then
 * acked one by one, so a slow job never holds up prefetch credit or runs
 * into the broker's consumer_timeout.
 *
 * Delivery tags grow by one per delivery on a channel, so the open set is a
 * sorted array. One instance per connection: wk_acks_reset() on a new one. */
#ifndef WK_ACKS_H
#define WK_ACKS_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_err.h"

#define WK_ACKS_HOLD_MS 50 /* longest a wanted ack waits behind an open delivery */
#define WK_ACKS_WAIT_MS 5  /* longest a multiple ack waits to fill its batch */

typedef struct wk_acks wk_acks;

wk_acks *wk_acks_new(void);
void wk_acks_free(wk_acks *a); /* NULL is a no-op */

/* A multiple ack waits until it covers `batch` tags (at least 1, the
 * default), nothing is open any more, or WK_ACKS_WAIT_MS passed: each ack
 * costs the broker a wakeup, and a quarter of the prefetch returns credit
 * long before the consumer runs dry. */
void wk_acks_set_batch(wk_acks *a, int batch);

/* Forget every tag (the connection is gone; the broker requeued them all). */
void wk_acks_reset(wk_acks *a);

/* A delivery was handed to the pool. Tags must come in increasing order.
 * False when out of memory (the caller then acks that tag alone later). */
bool wk_acks_open(wk_acks *a, uint64_t tag);

/* The delivery's verdict is ack: send it with the next flush. Unknown tags
 * (not opened, or settled already) are acked alone at the next flush. */
void wk_acks_want(wk_acks *a, uint64_t tag, int64_t now_ms);

/* The delivery was settled another way (nack, or acked alone after a
 * confirm): stop tracking it. */
void wk_acks_settled(wk_acks *a, uint64_t tag);

/* Sends one basic.ack (the loop's is wh_amqp_ack on the consume channel). */
typedef wh_code (*wk_acks_send_fn)(void *ud, uint64_t tag, bool multiple, wh_err *err);

/* Send what is due through `send`: one multiple ack for the wanted tags
 * below the oldest open delivery, once it covers a batch (or nothing is
 * open, or it waited WK_ACKS_WAIT_MS); with `all`, or once the oldest held tag
 * waited WK_ACKS_HOLD_MS, every other wanted tag alone. Stops at the first
 * failed send and returns its code. */
wh_code wk_acks_flush(wk_acks *a, int64_t now_ms, bool all, wk_acks_send_fn send, void *ud, wh_err *err);

/* Milliseconds until held acks are due (-1: none held), for poll(). */
int64_t wk_acks_due_in(const wk_acks *a, int64_t now_ms);

/* Wanted acks not sent yet (held, or waiting in a multiple ack). */
int wk_acks_waiting(const wk_acks *a);

/* Entries in the tracking array: bounded by about twice the open and
 * wanted tags, however long the oldest open delivery stays open. */
size_t wk_acks_tracked(const wk_acks *a);

#endif
