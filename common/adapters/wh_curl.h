/* wh_curl: the HTTP client adapter (libcurl). No file outside the adapter
 * (wh_curl.c, wh_curl_tls.c, wh_curl_lib.c) includes <curl/curl.h>.
 *
 * libcurl is loaded when the first client is made (or by wh_curl_load),
 * not when the process starts: a worker that makes no HTTP request never
 * maps it. When it cannot be loaded, wh_curl_new and wh_curl_load fail
 * with WH_E_IO, field "library", and a message naming the library.
 *
 * One wh_curl is one reusable client: an easy handle driven by its own multi
 * handle, whose connection cache keeps connections alive between requests
 * (keep-alive to a Docker socket or a registry). A wh_curl is used by one
 * thread at a time; wh_curl_thread() hands each thread its own.
 *
 * A request is a plain struct (wh_curl_req): method, URL, headers, a body
 * (bytes or a pull callback), where to connect (TCP from the URL, a unix
 * socket, or an fd the caller already connected, e.g. one end of a
 * socketpair pumped to an SSH channel), TLS files, timeouts, and where the
 * response body goes (a capped buffer or a push callback). The transfer is
 * driven in steps of at most WH_CURL_POLL_MS, and the abort hook is called
 * between steps, so a cancel or a job timeout stops even an idle stream
 * (docker logs --follow) within about that long.
 *
 * Errors (the return value and err->code):
 *   WH_E_UNREACHABLE  could not connect, resolve, or the connection broke
 *   WH_E_TIMEOUT      connect_timeout_ms or timeout_ms passed
 *   WH_E_INTERRUPTED  the abort hook said stop
 *   WH_E_TOO_LARGE    the buffered body or the headers passed their cap
 *   WH_E_BAD_ARGS     the request itself is malformed (no URL, bad option)
 *   WH_E_TLS          a TLS failure: our files unusable, the server's
 *                     certificate not trusted, our client certificate
 *                     refused, or the handshake failed (wh_curl_tls.c)
 *   WH_E_IO           any other local failure
 *   a sink's or source's own code, when it returned one to stop
 * An HTTP error status is NOT an error here: it is returned in resp->status
 * for the caller to map. Messages never include header values or bodies
 * (they may hold credentials). */
#ifndef WH_CURL_H
#define WH_CURL_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"

#define WH_CURL_POLL_MS 100                  /* longest wait between abort checks */
#define WH_CURL_BODY_MAX_DEFAULT (8u << 20)  /* buffered response cap when max_body is 0 */
#define WH_CURL_HEADERS_MAX (64u << 10)      /* bytes of response headers kept */
#define WH_CURL_CONNECT_TIMEOUT_MS 10000     /* when connect_timeout_ms is 0 */

typedef struct wh_curl wh_curl;

/* Response body consumer: gets each piece as it arrives. Return WH_OK to go
 * on, or a code to stop the transfer (wh_curl_do then returns that code). */
typedef wh_code (*wh_curl_sink_fn)(void *ud, const char *data, size_t len);

/* Request body producer: fill up to `cap` bytes of `buf`, set *n (0 at the
 * end). Return WH_OK, or a code to stop the transfer. */
typedef wh_code (*wh_curl_source_fn)(void *ud, char *buf, size_t cap, size_t *n);

/* Abort hook, called at least every WH_CURL_POLL_MS: true stops the
 * transfer with WH_E_INTERRUPTED. */
typedef bool (*wh_curl_abort_fn)(void *ud);

/* Connection hook: return a socket already connected to the server (the
 * transfer takes ownership and closes it), or -1 with `err` set (its code
 * is returned, WH_E_UNREACHABLE when the hook left it unset). Called once
 * per request: a request with this hook never reuses a connection. */
typedef int (*wh_curl_open_fn)(void *ud, wh_err *err);

typedef struct wh_curl_req {
    const char *method;             /* "GET" when NULL; "HEAD" sends no body back */
    const char *url;                /* required; with a unix socket or fd hook
                                     * the host part is only the Host header */
    const char *const *headers;     /* "Name: value" strings, NULL-terminated; NULL for none */
    const void *body;               /* request body bytes, or NULL */
    size_t body_len;
    wh_curl_source_fn source;       /* instead of `body`: streamed, chunked */
    void *source_ud;
    const char *unix_socket;        /* connect to this unix socket path */
    wh_curl_open_fn open_fd;        /* or to the fd this returns */
    void *open_ud;
    const char *ca_file;            /* TLS: trust these CAs (PEM); NULL: system store */
    const char *cert_file;          /* TLS client certificate (PEM) and its key */
    const char *key_file;
    const char *peer;               /* what the server is called in TLS errors ("engine"); NULL: "server" */
    long connect_timeout_ms;        /* 0: WH_CURL_CONNECT_TIMEOUT_MS */
    long timeout_ms;                /* whole transfer; 0: none */
    wh_curl_sink_fn sink;           /* stream the body here instead of buffering */
    void *sink_ud;
    size_t max_body;                /* buffered body cap; 0: WH_CURL_BODY_MAX_DEFAULT */
    wh_curl_abort_fn abort;         /* optional */
    void *abort_ud;
    const char *aws_sigv4;          /* sign the request with AWS SigV4, e.g. "aws:amz:eu-west-1:ecr"
                                     * (CURLOPT_AWS_SIGV4); NULL: no signing */
    const char *userpwd;            /* "user:password" for libcurl's own auth; with aws_sigv4 it is
                                     * "access key id:secret key". A secret: never logged */
} wh_curl_req;

typedef struct wh_curl_resp {
    long status;                    /* HTTP status of the final response */
    char *body;                     /* buffered body, NUL-terminated; NULL with a sink */
    size_t body_len;
    char *headers;                  /* raw header block of the final response */
    size_t headers_len;
} wh_curl_resp;

/* Load libcurl and resolve the functions the adapter calls, once per
 * process (thread-safe; a failure is tried again on the next call). WH_OK
 * when it is loaded; WH_E_IO, field "library", with a message naming the
 * library when it cannot be loaded or lacks one of those functions. A
 * worker calls it at start to fail early. Its global init waits for the
 * first client (wh_curl_new), which fails the same way when the library
 * cannot be loaded and with WH_E_IO when the init fails. */
wh_code wh_curl_load(wh_err *err);

/* The library wh_curl_load opens (libcurl's SONAME, from the build).
 * Replaced by tests to simulate a missing library. */
extern const char *wh_curl_soname;

/* A new client. NULL with err set (WH_E_NOMEM, or WH_E_IO as for
 * wh_curl_load) on failure. */
wh_curl *wh_curl_new(wh_err *err);

/* Free a client and close its kept-alive connections. NULL is a no-op. */
void wh_curl_free(wh_curl *c);

/* The calling thread's own client, created on first use and freed when the
 * thread exits. NULL with err set on failure. Never free it yourself. */
wh_curl *wh_curl_thread(wh_err *err);

/* Perform `req`. On WH_OK *resp holds the status, headers and (without a
 * sink) the body; the caller frees it with wh_curl_resp_clear. On failure
 * *resp is cleared and err says why (see the list above). */
wh_code wh_curl_do(wh_curl *c, const wh_curl_req *req, wh_curl_resp *resp, wh_err *err);

/* Free what a response holds and zero it. NULL is a no-op. */
void wh_curl_resp_clear(wh_curl_resp *resp);

/* Value of the first response header called `name` (case-insensitive),
 * without surrounding blanks, copied into out[cap] (cut to fit). Returns
 * its full length, or -1 when absent. */
long wh_curl_header(const wh_curl_resp *resp, const char *name, char *out, size_t cap);

/* Percent-encode `n` bytes of `s` for a URL path segment or query value
 * (RFC 3986 unreserved bytes stay). Writes at most cap-1 bytes and a NUL;
 * returns false when it did not fit. */
bool wh_curl_escape(const char *s, size_t n, char *out, size_t cap);

#endif
