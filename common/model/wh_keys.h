/* wh_keys: the Redis key layout (documented in schemas/README.md).
 *
 * Every key starts with the configured prefix. Writers: wh_status (job hash,
 * log, events, stats), the worker heartbeat (worker hash and index). */
#ifndef WH_KEYS_H
#define WH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define WH_KEY_MAX 640 /* longest key we build, bytes (prefix + "lock:" + target + lock) */

/* Each writes a NUL-terminated key into out[WH_KEY_MAX]. */
void wh_key_job(char *out, const char *prefix, const char *id);          /* <p>job:<id> */
void wh_key_log(char *out, const char *prefix, const char *id);          /* <p>job:<id>:log */
void wh_key_events(char *out, const char *prefix);                       /* <p>events */
void wh_key_worker(char *out, const char *prefix, const char *worker);   /* <p>worker:<id> */
void wh_key_workers(char *out, const char *prefix);                      /* <p>workers */
void wh_key_stats_types(char *out, const char *prefix);                  /* <p>stats:types */
/* <p>stats:<type>:<span>:<bucket_start_s>, span "1m" or "1h". */
void wh_key_stats(char *out, const char *prefix, const char *type, const char *span, int64_t bucket_s);

/* <p>worker:<id>:control: a command for a live worker ("quiet" or "drain"),
 * written by `wharf workers quiet|drain` and serve, taken by the worker's
 * heartbeat (worker/wk_heartbeat.c). */
void wh_key_worker_control(char *out, const char *prefix, const char *worker);

/* The fleet, as the runtime and registry families leave it (docs/operations.md):
 * <p>host:<h>:<what> (what = "containers", "sync", "reach", "ctr:<name>:log",
 * "stats:<name>:1m:<minute start>", ...) and <p>updates:<h>. */
void wh_key_host(char *out, const char *prefix, const char *host, const char *what);
void wh_key_updates(char *out, const char *prefix, const char *host);

/* Job control (schemas/README.md section 15). */
void wh_key_scheduled(char *out, const char *prefix);                    /* <p>scheduled (zset) */
void wh_key_recent(char *out, const char *prefix);                       /* <p>recent (zset) */
void wh_key_leases(char *out, const char *prefix);                       /* <p>leases (zset) */
void wh_key_lock(char *out, const char *prefix, const char *lock);       /* <p>lock:<lock> */
void wh_key_schedules(char *out, const char *prefix);                    /* <p>schedules (hash) */
void wh_key_schedules_next(char *out, const char *prefix);               /* <p>schedules:next (zset) */
void wh_key_leader(char *out, const char *prefix);                       /* <p>leader */

#endif
