/* connection: one job's connection to one inventory registry, with the v2
 * auth dance and the retry rules.
 *
 * A request goes out with what is known to work: the entry's static token,
 * a cached bearer token for the scope, or Basic credentials once the
 * registry asked for Basic. On 401 the WWW-Authenticate challenge decides:
 * Bearer -> fetch a token from the realm (with Basic credentials when the
 * entry has them; realm over https unless loopback or `insecure`), cache
 * it per registry and scope, retry once; Basic -> retry once with the
 * credentials. A 401 or 403 after that is WH_E_AUTH_FAILED (permanent) and
 * drops the registry's cached tokens. 429 and 5xx honour Retry-After: up to
 * RG_RETRY_WAIT_MAX_MS in total is waited here (interruptibly), then the
 * request fails WH_E_RATE_LIMITED or WH_E_UNREACHABLE (both transient).
 *
 * Secrets (passwords, tokens, Authorization values) exist only in memory
 * during a request and are wiped after it; messages name the registry and
 * the status, never a header value or body. */
#ifndef RG_HTTP_H
#define RG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_curl.h"
#include "wh_err.h"
#include "wh_inv.h"

#define RG_URL_MAX 2048
#define RG_RETRY_WAIT_MAX_MS 10000  /* Retry-After waited in-job; longer: fail transient */
#define RG_TOKEN_BODY_MAX (64u << 10)
#define RG_REQUEST_TIMEOUT_MS 60000

/* Hooks into the job: stop requests (true = stop) and sleep interruptibly
 * (returns true when interrupted). Both may be NULL in tools and tests. */
typedef struct rg_ops {
    bool (*abort)(void *ud);
    bool (*sleep)(void *ud, int64_t ms);
    void *ud;
} rg_ops;

typedef struct rg_conn {
    const wh_inv_registry *reg;
    char base[RG_URL_MAX];   /* API origin, "https://registry-1.docker.io" */
    wh_curl *curl;           /* the thread's client (not owned) */
    rg_ops ops;
    bool use_basic;          /* the registry asked for Basic */
    int token_fetches;       /* tokens fetched by this connection */
    char auth_seen[8];       /* "none", "basic" or "bearer": what the registry asked */
    char *token;             /* the last bearer token fetched (wiped on close) */
    char token_scope[1024];  /* the scope it was fetched for */
    char *basic_b64;         /* ecr: base64 "AWS:password" from GetAuthorizationToken */
} rg_conn;

/* True when plain http to this URL's host is allowed: loopback, or the
 * entry says insecure. */
bool rg_http_plain_ok(const char *url, bool insecure);

/* Prepare *c for `reg` on this thread. Fails WH_E_BAD_CONFIG when the entry
 * has no usable URL or asks for plain http where it is not allowed. */
wh_code rg_conn_open(rg_conn *c, const wh_inv_registry *reg, const rg_ops *ops, wh_err *err);

/* Wipe and free what the connection holds (tokens). *c may be reused
 * after another rg_conn_open. NULL is a no-op. */
void rg_conn_close(rg_conn *c);

/* Perform method on `path` (starting "/v2/") or an absolute URL on the
 * same origin, authorised for `scope` (may be NULL for /v2/). `accept`
 * may be NULL. On WH_OK *resp holds the final status (any, including 404)
 * for the caller to map; free it with wh_curl_resp_clear. Fails with the
 * codes listed at the top, or wh_curl's. */
wh_code rg_conn_do(rg_conn *c, const char *method, const char *path, const char *accept, const char *scope,
                   size_t max_body, wh_curl_resp *resp, wh_err *err);

/* Map an HTTP status that is not a success to a code and message about
 * `what` ("tags of team/app"): 404 WH_E_NOT_FOUND, 401/403
 * WH_E_AUTH_FAILED, 429 WH_E_RATE_LIMITED, 5xx WH_E_UNREACHABLE, the rest
 * WH_E_REGISTRY. */
wh_code rg_http_status_err(const rg_conn *c, long status, const char *what, wh_err *err);

/* The code of a failed request to a registry: a request that ran out of
 * time (no answer within RG_REQUEST_TIMEOUT_MS) is `unreachable`, retried
 * like any connection failure; `timeout` is the job's own limit. */
wh_code rg_http_code(wh_code rc);

/* Seconds to wait from a Retry-After value at wall-clock time now_s
 * (seconds since the epoch): delta-seconds, or an IMF-fixdate HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"; a date past gives 0). Junk, and waits
 * of a day or more, give -1. */
long rg_http_retry_after(const char *v, int64_t now_s);

/* Standard base64 of n bytes into out (cap bytes incl. NUL); false when it
 * does not fit. */
bool rg_http_base64(const unsigned char *in, size_t n, char *out, size_t cap);

#endif
