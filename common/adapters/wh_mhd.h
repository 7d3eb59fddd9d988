/* wh_mhd: the HTTP server adapter (libmicrohttpd). No other file includes
 * <microhttpd.h>.
 *
 * One wh_mhd is one listening daemon. Each connection gets its own thread
 * (MHD's thread-per-connection mode), so a handler or a stream callback may
 * block briefly (a Redis round trip, a 1 s wait for new log lines) without
 * stalling other clients; the connection limit bounds the thread count.
 *
 * The request body is collected before the handler runs, up to `max_body`
 * bytes: a Content-Length over the cap is answered 413 before any of the body
 * is read, and a chunked body that grows past it is dropped as it arrives and
 * answered 413 at its end. Headers are bounded by MHD's per-connection memory
 * pool (`header_cap`): larger request heads get MHD's own 431/413. A head
 * that trickles in slower than `head_timeout_s` gets 408 and is closed.
 *
 *   wh_mhd_opts o = {.host = "127.0.0.1", .port = 8080, .handler = fn, .ud = app};
 *   wh_mhd *d = wh_mhd_start(&o, &err);
 *   ... fn(app, req) calls wh_mhd_reply(req, ...) or wh_mhd_reply_stream(req, ...)
 *   wh_mhd_stop(d);
 */
#ifndef WH_MHD_H
#define WH_MHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wh_err.h"

typedef struct wh_mhd wh_mhd;
typedef struct wh_mhd_req wh_mhd_req;

/* Handles one request. It must answer exactly once, with wh_mhd_reply() or
 * wh_mhd_reply_stream(); a handler that answers nothing gets a 500. */
typedef void (*wh_mhd_handler)(void *ud, wh_mhd_req *req);

typedef struct wh_mhd_opts {
    const char *host;        /* numeric IPv4 or IPv6 address to bind */
    uint16_t port;           /* 0: the kernel picks one (see wh_mhd_port) */
    size_t max_body;         /* request body cap, bytes; 0: 1 MiB */
    size_t header_cap;       /* per-connection memory for the request head, bytes; 0: 32 KiB */
    unsigned timeout_s;      /* idle connection timeout, s; 0: 30 */
    unsigned max_connections; /* at once, in all; 0: 64 */
    unsigned per_ip_limit;   /* at once, per client address; 0: no limit */
    unsigned head_timeout_s; /* a request head must be complete within this many
                              * seconds of accept (or of the previous request's
                              * end), else 408 and close; 0: 10 */
    wh_mhd_handler handler;
    void *ud;                /* passed to handler */
} wh_mhd_opts;

/* Bind, listen and start serving. NULL with err (WH_E_BAD_CONFIG for a bad
 * address, WH_E_IO when the bind fails) on failure. */
wh_mhd *wh_mhd_start(const wh_mhd_opts *o, wh_err *err);

/* Stop accepting, close every connection (waiting for their threads) and
 * free. NULL is a no-op. Stream callbacks still running are ended first. */
void wh_mhd_stop(wh_mhd *d);

/* The port actually bound (useful with port 0). */
uint16_t wh_mhd_port(const wh_mhd *d);

/* True when the literal address `host` is loopback (127.0.0.0/8 or ::1).
 * False for anything else, names included. */
bool wh_mhd_host_is_loopback(const char *host);

/* Request accessors, valid during the handler call only. The path is the
 * URL path, percent-decoded by MHD, without the query string. Query and
 * header lookups return NULL when absent (header names are case-blind). */
const char *wh_mhd_method(const wh_mhd_req *req);
const char *wh_mhd_path(const wh_mhd_req *req);
const char *wh_mhd_query(const wh_mhd_req *req, const char *key);
const char *wh_mhd_header(const wh_mhd_req *req, const char *name);
/* The body (NUL-terminated for convenience; may contain NULs) and length. */
const char *wh_mhd_body(const wh_mhd_req *req, size_t *len);
/* The status of the answer queued so far, 0 before one (for access logs). */
unsigned wh_mhd_status(const wh_mhd_req *req);

/* One extra response header. */
typedef struct wh_mhd_hdr {
    const char *name;
    const char *value;
} wh_mhd_hdr;

/* Answer with a complete body (copied). `hdrs` (n of them) may be NULL.
 * Returns 0, or -1 when MHD refused the response (the connection closes). */
int wh_mhd_reply(wh_mhd_req *req, unsigned status, const char *content_type, const char *body, size_t len,
                 const wh_mhd_hdr *hdrs, size_t n);

/* Stream producer: write up to `cap` bytes into buf and return how many.
 * Return 0 when nothing is ready yet (the callback may block up to about a
 * second before doing so; it is called again), WH_MHD_STREAM_END when the
 * stream is complete, WH_MHD_STREAM_ERROR to abort the connection. */
typedef ssize_t (*wh_mhd_stream_fn)(void *ud, char *buf, size_t cap);
#define WH_MHD_STREAM_END ((ssize_t)-1)
#define WH_MHD_STREAM_ERROR ((ssize_t)-2)

/* Answer with a body produced by `fn` (chunked), e.g. Server-Sent Events.
 * `done` is called once with `ud` when the response is finished or the
 * client went away (also when this call fails). */
int wh_mhd_reply_stream(wh_mhd_req *req, unsigned status, const char *content_type, wh_mhd_stream_fn fn,
                        void *ud, void (*done)(void *ud), const wh_mhd_hdr *hdrs, size_t n);

#endif
