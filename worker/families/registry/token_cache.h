/* token_cache: the worker's cache of registry bearer tokens.
 *
 * Tokens are keyed by registry entry name and scope ("repository:a/b:pull")
 * and kept until RG_TOKC_MARGIN_MS before their expiry (expires_in, default
 * 60 s per the token spec). The cache is process-wide and guarded by a
 * mutex because job threads share it; it is the one piece of mutable
 * global state in the registry family, and it lives only in memory: tokens
 * never go to Redis, logs, results or error text. Entries are wiped when
 * replaced or evicted. */
#ifndef RG_TOKC_H
#define RG_TOKC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_TOKC_SLOTS 256          /* tokens kept; the soonest to expire is evicted */
#define RG_TOKC_TOKEN_MAX 16384    /* bytes of one token */
#define RG_TOKC_KEY_MAX 1200       /* registry name + scope */
#define RG_TOKC_MARGIN_MS 10000    /* drop a token this long before it expires */

/* Copy the cached token for (registry, scope) into out (cap bytes) and
 * return true, or return false when there is none that is still fresh at
 * `now_ms` (monotonic). */
bool rg_tokc_get(const char *registry, const char *scope, int64_t now_ms, char *out, size_t cap);

/* Cache `token` for (registry, scope) until now_ms + ttl_ms - margin.
 * Tokens too long, keys too long or lifetimes shorter than the margin are
 * not cached. */
void rg_tokc_put(const char *registry, const char *scope, const char *token, int64_t now_ms, int64_t ttl_ms);

/* Forget every token of `registry` (after the registry refused one). */
void rg_tokc_drop(const char *registry);

/* Forget everything (tests). */
void rg_tokc_clear(void);

#endif
