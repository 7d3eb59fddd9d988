/* wh_curl: libcurl behind a small request/response API (see wh_curl.h).
 *
 * Why a multi handle for one transfer at a time: curl_easy_perform waits up
 * to a second between progress callbacks when the peer is quiet, which is
 * too slow for cancel; driving the easy handle ourselves with
 * curl_multi_poll(WH_CURL_POLL_MS) bounds the wait. The multi handle also
 * owns the connection cache, so keep-alive survives between requests. */
#include "wh_curl_int.h"

#include "wh_fdpump.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wh_curl {
    CURLM *multi;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
};

/* State of one transfer, shared by the callbacks. */
typedef struct xfer {
    const wh_curl_req *req;
    wh_curl_resp *resp;
    size_t body_cap;      /* allocated bytes of resp->body */
    size_t max_body;
    size_t hdr_cap;
    wh_fdpump *pump;      /* open_fd requests: the bridge to the caller's fd */
    wh_code stop;         /* why a callback stopped the transfer */
    wh_err cb_err;        /* detail for `stop` */
} xfer;

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

wh_curl *wh_curl_new(wh_err *err)
{
    if(wh_curl__ready(err))
        return NULL;
    wh_curl *c = calloc(1, sizeof(*c));
    if(!c) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    c->multi = curl_multi_init();
    c->easy = curl_easy_init();
    if(!c->multi || !c->easy) {
        wh_curl_free(c);
        wh_err_set(err, WH_E_NOMEM, "", "libcurl handle allocation failed");
        return NULL;
    }
    return c;
}

void wh_curl_free(wh_curl *c)
{
    if(!c)
        return;
    if(c->easy)
        curl_easy_cleanup(c->easy);
    if(c->multi)
        curl_multi_cleanup(c->multi);
    free(c);
}

static void thread_free(void *p)
{
    wh_curl_free(p);
}

static void key_init(void)
{
    pthread_key_create(&g_key, thread_free);
}

wh_curl *wh_curl_thread(wh_err *err)
{
    pthread_once(&g_key_once, key_init);
    wh_curl *c = pthread_getspecific(g_key);
    if(c)
        return c;
    c = wh_curl_new(err);
    if(c && pthread_setspecific(g_key, c) != 0) {
        wh_curl_free(c);
        wh_err_set(err, WH_E_NOMEM, "", "cannot keep a per-thread HTTP client");
        return NULL;
    }
    return c;
}

void wh_curl_resp_clear(wh_curl_resp *resp)
{
    if(!resp)
        return;
    free(resp->body);
    free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}

/* Append n bytes to a NUL-terminated growable buffer capped at `max`. */
static bool buf_add(char **buf, size_t *len, size_t *cap, size_t max, const char *p, size_t n)
{
    if(n > max - *len)
        return false;
    if(*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while(nc < *len + n + 1)
            nc = nc > SIZE_MAX / 2 ? SIZE_MAX : nc * 2;
        if(nc > max + 1)
            nc = max + 1;
        char *nb = realloc(*buf, nc);
        if(!nb)
            return false;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if(x->req->sink) {
        wh_code rc = x->req->sink(x->req->sink_ud, p, n);
        if(rc) {
            x->stop = rc;
            wh_err_set(&x->cb_err, rc, "", "the response consumer stopped the transfer");
            return CURL_WRITEFUNC_ERROR;
        }
        return n;
    }
    if(!buf_add(&x->resp->body, &x->resp->body_len, &x->body_cap, x->max_body, p, n)) {
        x->stop = WH_E_TOO_LARGE;
        wh_err_set(&x->cb_err, WH_E_TOO_LARGE, "", "response body over %zu bytes", x->max_body);
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    /* A new status line (after a 100 Continue) starts a new header block. */
    if(n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        x->resp->headers_len = 0;
    if(!buf_add(&x->resp->headers, &x->resp->headers_len, &x->hdr_cap, WH_CURL_HEADERS_MAX, p, n)) {
        x->stop = WH_E_TOO_LARGE;
        wh_err_set(&x->cb_err, WH_E_TOO_LARGE, "", "response headers over %u bytes", WH_CURL_HEADERS_MAX);
        return 0;
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = 0;
    wh_code rc = x->req->source(x->req->source_ud, buf, size * nmemb, &n);
    if(rc) {
        x->stop = rc;
        wh_err_set(&x->cb_err, rc, "", "the request body producer stopped the transfer");
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    xfer *x = ud;
    if(x->req->abort && x->req->abort(x->req->abort_ud)) {
        x->stop = WH_E_INTERRUPTED;
        wh_err_set(&x->cb_err, WH_E_INTERRUPTED, "", "interrupted");
        return 1;
    }
    return 0;
}

/* Method and body options. */
static CURLcode set_method(CURL *e, const wh_curl_req *r)
{
    const char *m = r->method ? r->method : "GET";
    CURLcode rc = CURLE_OK;
    if(strcmp(m, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if(r->source) {
        rc = curl_easy_setopt(e, CURLOPT_POST, 1L);
        if(!rc)
            rc = curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    } else if(r->body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if(!rc)
            rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
    }
    if(!rc && strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return rc;
}

/* Where and how to connect. */
static CURLcode set_transport(CURL *e, const wh_curl_req *r, xfer *x)
{
    CURLcode rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                                   r->connect_timeout_ms > 0 ? r->connect_timeout_ms : WH_CURL_CONNECT_TIMEOUT_MS);
    if(!rc && r->timeout_ms > 0)
        rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if(!rc && r->unix_socket)
        rc = curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, r->unix_socket);
    if(!rc && r->open_fd) {
        /* The fd is good for one request: never pool it. curl connects to
         * the bridge's private listener; the bridge moves the bytes. */
        wh_err he;
        wh_err_clear(&he);
        int fd = r->open_fd(r->open_ud, &he);
        char name[WH_FDPUMP_NAME_MAX];
        if(fd < 0) {
            x->stop = he.code ? he.code : WH_E_UNREACHABLE;
            x->cb_err = he;
            if(!he.code)
                wh_err_set(&x->cb_err, WH_E_UNREACHABLE, "", "the connection hook could not connect");
            return CURLE_COULDNT_CONNECT;
        }
        x->pump = wh_fdpump_new(fd, name, sizeof(name), &x->cb_err);
        if(!x->pump) {
            x->stop = x->cb_err.code;
            return CURLE_COULDNT_CONNECT;
        }
        rc = curl_easy_setopt(e, CURLOPT_ABSTRACT_UNIX_SOCKET, name);
        if(!rc)
            rc = curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        if(!rc)
            rc = curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    }
    if(!rc && r->ca_file)
        rc = curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    if(!rc && r->cert_file)
        rc = curl_easy_setopt(e, CURLOPT_SSLCERT, r->cert_file);
    if(!rc && r->key_file)
        rc = curl_easy_setopt(e, CURLOPT_SSLKEY, r->key_file);
    /* Request signing (ECR's GetAuthorizationToken): libcurl computes the
     * SigV4 Authorization header from userpwd = key id:secret. */
    if(!rc && r->aws_sigv4)
        rc = curl_easy_setopt(e, CURLOPT_AWS_SIGV4, r->aws_sigv4);
    if(!rc && r->userpwd)
        rc = curl_easy_setopt(e, CURLOPT_USERPWD, r->userpwd);
    return rc;
}

static CURLcode set_callbacks(CURL *e, xfer *x)
{
    CURLcode rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_READDATA, x);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    return rc;
}

static wh_code map_curl(CURLcode cc, const char *detail, wh_err *err)
{
    const char *why = detail && *detail ? detail : curl_easy_strerror(cc);
    switch(cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return wh_err_set(err, WH_E_UNREACHABLE, "", "%s", why);
    case CURLE_OPERATION_TIMEDOUT:
        return wh_err_set(err, WH_E_TIMEOUT, "", "%s", why);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return wh_err_set(err, WH_E_BAD_ARGS, "url", "%s", why);
    default:
        return wh_err_set(err, WH_E_IO, "", "%s", why);
    }
}

static CURLcode prepare(wh_curl *c, const wh_curl_req *req, xfer *x, struct curl_slist **hl)
{
    CURL *e = c->easy;
    curl_easy_reset(e);
    c->errbuf[0] = '\0';
    CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, req->url);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if(!rc)
        rc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if(!rc)
        rc = set_method(e, req);
    if(!rc)
        rc = set_transport(e, req, x);
    if(!rc)
        rc = set_callbacks(e, x);
    for(const char *const *h = req->headers; !rc && h && *h; h++) {
        struct curl_slist *n = curl_slist_append(*hl, *h);
        if(!n)
            return CURLE_OUT_OF_MEMORY;
        *hl = n;
    }
    if(!rc) {
        /* No "Expect: 100-continue" round trip before large bodies. */
        struct curl_slist *n = curl_slist_append(*hl, "Expect:");
        if(!n)
            return CURLE_OUT_OF_MEMORY;
        *hl = n;
        rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hl);
    }
    return rc;
}

/* Move the bridge's bytes, then say what it waits for; -1 on its I/O error. */
static int pump_fds(wh_fdpump *p, struct curl_waitfd *wf)
{
    if(wh_fdpump_step(p) < 0)
        return -1;
    struct pollfd pf[2];
    int n = wh_fdpump_fds(p, pf, 2);
    for(int i = 0; i < n; i++) {
        wf[i].fd = pf[i].fd;
        wf[i].events = (short)(((pf[i].events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
                               ((pf[i].events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
        wf[i].revents = 0;
    }
    return n;
}

/* Drive the transfer, checking the abort hook at least every
 * WH_CURL_POLL_MS. Returns the transfer's CURLcode. */
static CURLcode drive(wh_curl *c, xfer *x)
{
    if(curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode result = CURLE_OK;
    int running = 1;
    while(running) {
        if(curl_multi_perform(c->multi, &running) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
        if(!running)
            break;
        if(x->req->abort && x->req->abort(x->req->abort_ud)) {
            x->stop = WH_E_INTERRUPTED;
            wh_err_set(&x->cb_err, WH_E_INTERRUPTED, "", "interrupted");
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        struct curl_waitfd wf[2];
        int nwf = x->pump ? pump_fds(x->pump, wf) : 0;
        if(x->pump && nwf < 0) {
            result = CURLE_RECV_ERROR;
            break;
        }
        if(curl_multi_poll(c->multi, wf, (unsigned)nwf, WH_CURL_POLL_MS, NULL) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
    }
    int left = 0;
    CURLMsg *m;
    while(running == 0 && (m = curl_multi_info_read(c->multi, &left)) != NULL)
        if(m->msg == CURLMSG_DONE && m->easy_handle == c->easy)
            result = m->data.result;
    /* Removing a handle mid-transfer closes that connection, never reuses it. */
    curl_multi_remove_handle(c->multi, c->easy);
    return result;
}

wh_code wh_curl_do(wh_curl *c, const wh_curl_req *req, wh_curl_resp *resp, wh_err *err)
{
    memset(resp, 0, sizeof(*resp));
    if(!c || !req || !req->url || !*req->url)
        return wh_err_set(err, WH_E_BAD_ARGS, "url", "request has no URL");
    xfer x = {.req = req, .resp = resp, .max_body = req->max_body ? req->max_body : WH_CURL_BODY_MAX_DEFAULT};
    struct curl_slist *hl = NULL;
    CURLcode cc = prepare(c, req, &x, &hl);
    if(!cc)
        cc = drive(c, &x);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    wh_fdpump_free(x.pump);
    if(cc == CURLE_OK) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
        return WH_OK;
    }
    wh_curl_resp_clear(resp);
    if(x.stop) {
        if(err)
            *err = x.cb_err;
        return x.stop;
    }
    wh_code tls = wh_curl__tls(c->easy, cc, c->errbuf, req, err);
    return tls ? tls : map_curl(cc, c->errbuf, err);
}

long wh_curl_header(const wh_curl_resp *resp, const char *name, char *out, size_t cap)
{
    if(!resp || !resp->headers)
        return -1;
    size_t nl = strlen(name);
    const char *p = resp->headers, *end = resp->headers + resp->headers_len;
    while(p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if((size_t)(le - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while(v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while(ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t vn = (size_t)(ve - v);
            if(cap) {
                size_t k = vn < cap - 1 ? vn : cap - 1;
                memcpy(out, v, k);
                out[k] = '\0';
            }
            return (long)vn;
        }
        p = le + 1;
    }
    return -1;
}

bool wh_curl_escape(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if(!cap)
        return false;
    for(size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '.' || ch == '_' || ch == '~';
        size_t need = keep ? 1 : 3;
        if(o + need >= cap) {
            out[o] = '\0';
            return false;
        }
        if(keep) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return true;
}
