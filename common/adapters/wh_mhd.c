/* wh_mhd: libmicrohttpd adapter. See wh_mhd.h. This is the only file that
 * includes <microhttpd.h>.
 *
 * Design: we bind the listening socket ourselves (so a failed bind reports
 * errno) and hand it to MHD in thread-per-connection mode. Each connection
 * carries a conn_state that collects the body under the cap; the user's
 * handler runs once, on MHD's final call for the request.
 *
 * Slow request heads: MHD's connection timeout is an idle timeout, so a
 * client that sends one header byte every few seconds (slowloris) would hold
 * a thread for ever. Each connection is tracked from accept (MHD's connection
 * notifications) with a deadline for its next request head; a watchdog thread
 * answers 408 and shuts down the socket of any connection past it. The
 * deadline is cleared while a request runs (SSE streams may last) and set
 * again when it completes, which also bounds idle keep-alive connections. */
#include "wh_mhd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEF_MAX_BODY (1u << 20)
#define DEF_HEADER_CAP (32u * 1024u)
#define DEF_TIMEOUT_S 30u
#define DEF_MAX_CONN 64u
#define DEF_HEAD_TIMEOUT_S 10u
#define WATCHDOG_MS 100
#define STREAM_BLOCK 4096 /* bytes asked of a stream callback at a time */

struct wh_mhd {
    struct MHD_Daemon *d;
    int fd;                /* our listening socket; MHD closes it on stop */
    uint16_t port;         /* bound port */
    size_t max_body;       /* bytes */
    wh_mhd_handler handler;
    void *ud;
    atomic_bool stopping;  /* set by wh_mhd_stop: streams end */
    int64_t head_ms;       /* a request head must arrive within this */
    pthread_mutex_t mu;    /* guards tracks */
    struct track *tracks;  /* every open connection */
    pthread_t watchdog;
    bool watchdog_on;
};

/* One open connection, MHD's socket context. deadline: when its next request
 * head must be complete (monotonic ms), 0 while a request runs. */
typedef struct track {
    struct track *next, *prev;
    int fd;
    int64_t deadline;
    bool timed_out;
} track;

/* Per connection/request state, MHD's *con_cls. */
struct wh_mhd_req {
    wh_mhd *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    char *body;            /* malloc'd, NUL-terminated; NULL when empty */
    size_t len, cap;       /* bytes held / allocated */
    bool too_large;        /* the body passed max_body: 413 at the end */
    bool answered;
    unsigned status;       /* of the queued answer; 0 before */
};

/* A streaming response in flight. */
typedef struct stream {
    wh_mhd *srv;
    wh_mhd_stream_fn fn;
    void *ud;
    void (*done)(void *ud);
} stream;

bool wh_mhd_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if(!host)
        return false;
    if(inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if(inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* socket + bind + listen, with errno in the message on failure. */
static int listen_on(const char *host, uint16_t port, bool *v6, uint16_t *bound, wh_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if(inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        sl = sizeof(*s4);
        *v6 = false;
    } else if(inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        sl = sizeof(*s6);
        *v6 = true;
    } else {
        return wh_err_set(err, WH_E_BAD_CONFIG, "listen", "\"%s\" is not a numeric IPv4 or IPv6 address", host),
               -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if(fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
       bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        if(fd >= 0)
            close(fd);
        return wh_err_set(err, WH_E_IO, "listen", "cannot listen on %s port %u: %s", host, port, strerror(e)), -1;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
    return fd;
}

static enum MHD_Result send_fixed(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if(!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_too_large(wh_mhd_req *q)
{
    char body[200];
    snprintf(body, sizeof(body),
             "{\"error\":{\"code\":\"too_large\",\"message\":\"request body over %zu bytes\",\"field\":\"body\"}}",
             q->srv->max_body);
    q->answered = true;
    return send_fixed(q->conn, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", body);
}

/* Append an upload chunk, or drop it once the body passed the cap. */
static void take_chunk(wh_mhd_req *q, const char *data, size_t n)
{
    if(q->too_large)
        return;
    if(n > q->srv->max_body - q->len) {
        q->too_large = true;
        free(q->body);
        q->body = NULL;
        q->len = q->cap = 0;
        return;
    }
    if(q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 1024;
        while(cap < q->len + n + 1)
            cap *= 2;
        char *b = realloc(q->body, cap);
        if(!b) { /* treat like oversize: the client gets a clear 413 */
            q->too_large = true;
            return;
        }
        q->body = b;
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
    q->body[q->len] = '\0';
}

/* First call: refuse a declared oversize body before reading it. */
static enum MHD_Result on_first(wh_mhd *srv, struct MHD_Connection *conn, wh_mhd_req *q)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if(cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if(errno || *end || v > srv->max_body)
            return send_too_large(q);
    }
    return MHD_YES;
}

static int hex_val(char c)
{
    if(c >= '0' && c <= '9')
        return c - '0';
    if(c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if(c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* MHD: percent-decode the path and query values in place, as MHD would,
 * except that %00 stays as it is: a decoded NUL would cut the C string the
 * handler sees ("/v1/jobs/a%00b" would look up job "a"); kept, the '%' makes
 * such a value invalid wherever it is checked. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    char *w = s;
    for(const char *r = s; *r; r++) {
        int hi, lo;
        if(r[0] == '%' && (hi = hex_val(r[1])) >= 0 && (lo = hex_val(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static track *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* deadline = 0: a request is running; else now + the head timeout. */
static void track_arm(wh_mhd *srv, struct MHD_Connection *conn, bool arm)
{
    track *t = track_of(conn);
    if(!t)
        return;
    pthread_mutex_lock(&srv->mu);
    t->deadline = arm ? mono_ms() + srv->head_ms : 0;
    pthread_mutex_unlock(&srv->mu);
}

/* MHD: a connection was accepted or is about to be closed. MHD calls the
 * CLOSED notification before it closes the socket, so a tracked fd is never
 * a reused one. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    wh_mhd *srv = cls;
    if(code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        track *t = calloc(1, sizeof(*t));
        if(!t || !ci) {
            free(t);
            *socket_context = NULL;
            return;
        }
        t->fd = ci->connect_fd;
        pthread_mutex_lock(&srv->mu);
        t->deadline = mono_ms() + srv->head_ms;
        t->next = srv->tracks;
        if(t->next)
            t->next->prev = t;
        srv->tracks = t;
        pthread_mutex_unlock(&srv->mu);
        *socket_context = t;
        return;
    }
    track *t = *socket_context;
    if(!t)
        return;
    pthread_mutex_lock(&srv->mu);
    if(t->prev)
        t->prev->next = t->next;
    else
        srv->tracks = t->next;
    if(t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&srv->mu);
    free(t);
    *socket_context = NULL;
}

#define LATE_BODY "{\"error\":{\"code\":\"request_timeout\",\"message\":\"request head too slow\",\"field\":\"\"}}"
#define LATE_LEN "81"
_Static_assert(sizeof(LATE_BODY) - 1 == 81, "LATE_LEN must be the length of LATE_BODY");

/* Answer 408 to every connection whose request head is late, and shut its
 * socket down so that MHD's thread for it wakes up and closes it. */
static void *watchdog_main(void *arg)
{
    static const char late[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: "
                               "application/json\r\nContent-Length: " LATE_LEN "\r\n\r\n" LATE_BODY;
    wh_mhd *srv = arg;
    while(!atomic_load(&srv->stopping)) {
        struct timespec nap = {0, WATCHDOG_MS * 1000000L};
        nanosleep(&nap, NULL);
        int64_t now = mono_ms();
        pthread_mutex_lock(&srv->mu);
        for(track *t = srv->tracks; t; t = t->next)
            if(t->deadline && now >= t->deadline && !t->timed_out) {
                t->timed_out = true;
                ssize_t n = send(t->fd, late, sizeof(late) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)n; /* best effort: the client may be gone or its window full */
                shutdown(t->fd, SHUT_RDWR);
            }
        pthread_mutex_unlock(&srv->mu);
    }
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    wh_mhd *srv = cls;
    wh_mhd_req *q = *con_cls;
    if(!q) {
        if(!(q = calloc(1, sizeof(*q))))
            return MHD_NO;
        q->srv = srv;
        q->conn = conn;
        *con_cls = q;
        track_arm(srv, conn, false); /* the head is in: no deadline while the request runs */
        return on_first(srv, conn, q);
    }
    if(q->answered) { /* 413 already queued: discard the rest */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if(*upload_data_size) {
        take_chunk(q, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if(q->too_large)
        return send_too_large(q);
    q->method = method;
    q->path = url;
    srv->handler(srv->ud, q);
    if(!q->answered) {
        q->answered = true;
        return send_fixed(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                          "{\"error\":{\"code\":\"internal\",\"message\":\"no response\",\"field\":\"\"}}");
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    track_arm(cls, conn, true); /* the next request head, or idle keep-alive */
    wh_mhd_req *q = *con_cls;
    if(q) {
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

wh_mhd *wh_mhd_start(const wh_mhd_opts *o, wh_err *err)
{
    if(!o->handler || !o->host)
        return wh_err_set(err, WH_E_INTERNAL, "", "wh_mhd_start: handler and host are required"), NULL;
    wh_mhd *srv = calloc(1, sizeof(*srv));
    if(!srv)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory"), NULL;
    srv->max_body = o->max_body ? o->max_body : DEF_MAX_BODY;
    srv->handler = o->handler;
    srv->ud = o->ud;
    srv->head_ms = 1000 * (int64_t)(o->head_timeout_s ? o->head_timeout_s : DEF_HEAD_TIMEOUT_S);
    pthread_mutex_init(&srv->mu, NULL);
    atomic_init(&srv->stopping, false);
    bool v6 = false;
    srv->fd = listen_on(o->host, o->port, &v6, &srv->port, err);
    if(srv->fd < 0) {
        free(srv);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if(v6)
        flags |= MHD_USE_IPv6;
    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, srv->fd, MHD_OPTION_CONNECTION_TIMEOUT,
        o->timeout_s ? o->timeout_s : DEF_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        o->max_connections ? o->max_connections : DEF_MAX_CONN, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        o->per_ip_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(o->header_cap ? o->header_cap : DEF_HEADER_CAP),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if(!srv->d) {
        close(srv->fd);
        pthread_mutex_destroy(&srv->mu);
        free(srv);
        return wh_err_set(err, WH_E_IO, "listen", "libmicrohttpd refused to start on %s", o->host), NULL;
    }
    srv->watchdog_on = pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0;
    if(!srv->watchdog_on) {
        wh_mhd_stop(srv);
        return wh_err_set(err, WH_E_NOMEM, "", "cannot start the HTTP watchdog thread"), NULL;
    }
    return srv;
}

void wh_mhd_stop(wh_mhd *d)
{
    if(!d)
        return;
    atomic_store(&d->stopping, true);
    if(d->watchdog_on)
        pthread_join(d->watchdog, NULL);
    MHD_stop_daemon(d->d);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

uint16_t wh_mhd_port(const wh_mhd *d)
{
    return d->port;
}

const char *wh_mhd_method(const wh_mhd_req *req)
{
    return req->method;
}

const char *wh_mhd_path(const wh_mhd_req *req)
{
    return req->path;
}

const char *wh_mhd_query(const wh_mhd_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *wh_mhd_header(const wh_mhd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

unsigned wh_mhd_status(const wh_mhd_req *req)
{
    return req->status;
}

const char *wh_mhd_body(const wh_mhd_req *req, size_t *len)
{
    if(len)
        *len = req->len;
    return req->body ? req->body : "";
}

static int queue(wh_mhd_req *req, unsigned status, const char *ctype, struct MHD_Response *r, const wh_mhd_hdr *hdrs,
                 size_t n)
{
    req->answered = true;
    req->status = status;
    if(!r)
        return -1;
    if(ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for(size_t i = 0; i < n; i++)
        MHD_add_response_header(r, hdrs[i].name, hdrs[i].value);
    enum MHD_Result ret = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    return ret == MHD_YES ? 0 : -1;
}

int wh_mhd_reply(wh_mhd_req *req, unsigned status, const char *content_type, const char *body, size_t len,
                 const wh_mhd_hdr *hdrs, size_t n)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    return queue(req, status, content_type, r, hdrs, n);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    if(atomic_load(&s->srv->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    ssize_t n = s->fn(s->ud, buf, max);
    if(n == WH_MHD_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if(n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    if(s->done)
        s->done(s->ud);
    free(s);
}

int wh_mhd_reply_stream(wh_mhd_req *req, unsigned status, const char *content_type, wh_mhd_stream_fn fn,
                        void *ud, void (*done)(void *ud), const wh_mhd_hdr *hdrs, size_t n)
{
    stream *s = calloc(1, sizeof(*s));
    if(!s) {
        if(done)
            done(ud);
        req->answered = true;
        return -1;
    }
    *s = (stream){req->srv, fn, ud, done};
    /* On failure MHD does not call stream_free; do it ourselves. */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
                                                               stream_free);
    if(!r)
        stream_free(s);
    return queue(req, status, content_type, r, hdrs, n);
}
