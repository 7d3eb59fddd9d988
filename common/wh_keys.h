/* wh_keys: the Redis key layout (documented in schemas/README.md).
 *
 * Every key starts with the configured prefix. Writers: wh_status (job hash,
 * log, events, stats), the worker heartbeat (worker hash and index). */
#ifndef WH_KEYS_H
#define WH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define WH_KEY_MAX 320 /* longest key we build, bytes (prefix + type + id) */

/* Each writes a NUL-terminated key into out[WH_KEY_MAX]. */
void wh_key_job(char *out, const char *prefix, const char *id);          /* <p>job:<id> */
void wh_key_log(char *out, const char *prefix, const char *id);          /* <p>job:<id>:log */
void wh_key_events(char *out, const char *prefix);                       /* <p>events */
void wh_key_worker(char *out, const char *prefix, const char *worker);   /* <p>worker:<id> */
void wh_key_workers(char *out, const char *prefix);                      /* <p>workers */
void wh_key_stats_types(char *out, const char *prefix);                  /* <p>stats:types */
/* <p>stats:<type>:<span>:<bucket_start_s>, span "1m" or "1h". */
void wh_key_stats(char *out, const char *prefix, const char *type, const char *span, int64_t bucket_s);

#endif
