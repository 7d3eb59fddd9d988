/* wk_loop: the worker's main thread. It owns the AMQP connection: consumes
 * the configured families' queues, hands deliveries to the pool, and carries
 * out the verdicts that come back (ack; nack-requeue; publish to wharf.retry
 * or wharf.dead with confirms, then ack). It reconnects with backoff after
 * any broker failure, and also when the broker refuses a retry or dead copy
 * (the original stays unacked, returns to the queue, and the reconnect
 * declares the topology again). It drains on SIGTERM/SIGINT:
 *
 *   1. cancel the consumers and requeue deliveries not yet started;
 *   2. let running jobs finish for worker.grace_s seconds;
 *   3. then interrupt them (handlers requeue their jobs) and wait 5 s more;
 *   4. close the connection: anything still unacked is requeued by the broker.
 *
 * A second signal skips straight to step 3.
 *
 * SIGTSTP quiets the worker (as Sidekiq's TSTP does): step 1 only. It takes
 * no new jobs, finishes the running ones and stays up (also across
 * reconnects) until SIGTERM or SIGINT drains it. The heartbeat turns the
 * Redis commands of `wharf workers quiet|drain` into these signals. */
#ifndef WK_LOOP_H
#define WK_LOOP_H

#include "wh_cfg.h"
#include "wk_pool.h"

typedef struct wk_loop wk_loop;

/* Called each time consuming (re)starts, e.g. to register the worker. */
typedef void (*wk_loop_ready_fn)(void *ud);

/* `sigfd` is a signalfd for SIGTERM/SIGINT/SIGTSTP. All pointers must outlive it.
 * `on_ready` may be NULL. */
wk_loop *wk_loop_new(const wh_cfg *cfg, const char *worker_id, wk_pool *pool, int sigfd, wk_loop_ready_fn on_ready,
                     void *ud);
void wk_loop_free(wk_loop *L);

/* Run until drained after a signal. Returns the process exit status: 0 after
 * a clean drain, 78 (EX_CONFIG) when the broker refuses our topology. */
int wk_loop_run(wk_loop *L);

#endif
