/* wh_topo: the AMQP topology of wire contract v1 and the retry schedule.
 *
 *   wharf.jobs  (topic)   --<family>-->  wharf.<family>     (queue_type)
 *   wharf.retry (headers) --wharf-retry-ms=<ms>--> wharf.retry.<ms>
 *                         (TTL <ms>, dead-letters back to wharf.jobs with the
 *                          original routing key, i.e. the family)
 *   default exchange      --wharf.dead--> wharf.dead        (queue_type)
 *
 * Declaring is idempotent, so every producer and worker declares on start. A
 * queue that already exists with other arguments (say classic instead of
 * quorum) is refused by the broker: WH_E_CONFLICT, reported at start. */
#ifndef WH_TOPO_H
#define WH_TOPO_H

#include <stdint.h>

#include "wh_amqp.h"
#include "wh_cfg.h"

#define WH_EXCHANGE_JOBS "wharf.jobs"
#define WH_EXCHANGE_RETRY "wharf.retry"
#define WH_QUEUE_DEAD "wharf.dead"
#define WH_HDR_SCHEMA "wharf-schema"
#define WH_HDR_RETRY_MS "wharf-retry-ms"
#define WH_HDR_REDELIVERED "wharf-redelivered" /* on a wait copy of a redelivered message */
#define WH_CONTENT_TYPE "application/msgpack"

/* Declare exchanges, queues and bindings on channel `ch`. */
wh_code wh_topo_declare(wh_amqp *c, uint16_t ch, const wh_cfg *cfg, wh_err *err);

/* "wharf.<family>" into out. */
void wh_topo_queue(char *out, size_t cap, wh_family f);

/* Retry delay for the attempt that just failed (1-based): exponential from
 * retry.base_ms, capped at retry.cap_ms, with "equal jitter" (half fixed,
 * half random from `rnd`), then rounded up to the nearest tier (or the
 * largest tier). Returns the tier in ms. */
int wh_topo_retry_tier(const wh_cfg *cfg, int attempt, uint64_t rnd);

#endif
