/* engine: see engine.h. */
#include "engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Negotiated versions and engine kinds, per host name, for the life of the
 * process. */
#define RT_VCACHE 256
static struct {
    char host[WH_INV_NAME_MAX + 1];
    char endpoint[64];
    int minor;
    rt_engine_kind engine;
} g_vcache[RT_VCACHE];
static int g_nv;
static pthread_mutex_t g_vlock = PTHREAD_MUTEX_INITIALIZER;

/* The cached API minor of `c`'s host (0 when not negotiated yet), and its
 * engine kind into c->engine. */
static int vcache_get(rt_conn *c)
{
    const wh_inv_host *h = c->host;
    int v = 0;
    pthread_mutex_lock(&g_vlock);
    for(int i = 0; i < g_nv && !v; i++)
        if(strcmp(g_vcache[i].host, h->name) == 0 && strncmp(g_vcache[i].endpoint, h->docker, 63) == 0) {
            v = g_vcache[i].minor;
            c->engine = g_vcache[i].engine;
        }
    pthread_mutex_unlock(&g_vlock);
    return v;
}

static void vcache_put(const rt_conn *c)
{
    pthread_mutex_lock(&g_vlock);
    if(g_nv < RT_VCACHE) {
        snprintf(g_vcache[g_nv].host, sizeof(g_vcache[g_nv].host), "%s", c->host->name);
        snprintf(g_vcache[g_nv].endpoint, sizeof(g_vcache[g_nv].endpoint), "%.63s", c->host->docker);
        g_vcache[g_nv].engine = c->engine;
        g_vcache[g_nv++].minor = c->api_minor;
    }
    pthread_mutex_unlock(&g_vlock);
}

const char *rt_engine_name(rt_engine_kind k)
{
    return k == RT_ENGINE_PODMAN ? "podman" : "docker";
}

/* Which engine answered /version: Podman lists a component named "Podman
 * Engine" (its Version is Podman's own, e.g. 4.3.1); Docker does not. */
static rt_engine_kind engine_of(const wh_json *version)
{
    const wh_json *comps = wh_json_get(version, "Components");
    for(size_t i = 0; i < wh_json_size(comps); i++) {
        size_t n = 0;
        const char *s = wh_json_strv(wh_json_get(wh_json_at(comps, i), "Name"), &n);
        if(s && n == 13 && memcmp(s, "Podman Engine", 13) == 0)
            return RT_ENGINE_PODMAN;
    }
    return RT_ENGINE_DOCKER;
}

static void fill_req(rt_conn *c, wh_curl_req *r)
{
    if(c->host->docker_kind == WH_DOCKER_UNIX)
        r->unix_socket = c->host->docker_path;
    if(c->host->docker_kind == WH_DOCKER_SSH) {
        r->open_fd = rt_ssh_open;
        r->open_ud = c;
    }
    if(c->host->docker_kind == WH_DOCKER_TCP && c->host->tls_ca[0]) {
        r->peer = "engine";
        r->ca_file = c->host->tls_ca;
        r->cert_file = c->host->tls_cert[0] ? c->host->tls_cert : NULL;
        r->key_file = c->host->tls_key[0] ? c->host->tls_key : NULL;
    }
    r->connect_timeout_ms = c->host->connect_timeout_s > 0 ? c->host->connect_timeout_s * 1000L : 10000;
    r->abort = c->abort;
    r->abort_ud = c->abort_ud;
}

/* Say which host a failure to reach its engine concerns: unreachable, and
 * TLS failures with the files the inventory names (none is a secret). */
static wh_code name_host(const rt_conn *c, wh_code rc, wh_err *err)
{
    if((rc != WH_E_UNREACHABLE && rc != WH_E_TLS) || !err)
        return rc;
    char m[sizeof(err->msg)];
    snprintf(m, sizeof(m), "%s", err->msg);
    const wh_inv_host *h = c->host;
    if(rc == WH_E_TLS)
        return wh_err_set(err, rc, "target", "docker on host %s: %s; tls_ca %s, tls_cert %s", h->name, m, h->tls_ca,
                          h->tls_cert);
    return wh_err_set(err, rc, "target", "docker on host %s: %s", h->name, m);
}

/* "1.41" -> 41; 0 when not 1.N. */
static int parse_minor(const char *s, size_t n)
{
    if(n < 3 || n > 6 || s[0] != '1' || s[1] != '.')
        return 0;
    int v = 0;
    for(size_t i = 2; i < n; i++) {
        if(s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static wh_code negotiate(rt_conn *c, wh_err *err)
{
    char url[400];
    snprintf(url, sizeof(url), "%s/version", c->base);
    wh_curl_req r = {.url = url, .timeout_ms = 30000, .max_body = 65536};
    fill_req(c, &r);
    wh_curl_resp resp;
    wh_code rc = name_host(c, wh_curl_do(c->curl, &r, &resp, err), err);
    if(rc) /* also interrupted, timeout, or the SSH hook's own code (auth_failed, host_key_mismatch) */
        return rc;
    wh_json *v = resp.status == 200 ? wh_json_parse(resp.body, resp.body_len, NULL) : NULL;
    size_t n = 0;
    const char *s = v ? wh_json_strv(wh_json_get(v, "ApiVersion"), &n) : NULL;
    int minor = s ? parse_minor(s, n) : 0;
    c->engine = engine_of(v);
    wh_json_free(v);
    long st = resp.status;
    wh_curl_resp_clear(&resp);
    if(!minor)
        return wh_err_set(err, WH_E_ENGINE, "target", "docker on host %s: /version answered %ld without an ApiVersion",
                          c->host->name, st);
    if(minor < RT_API_MIN_MINOR)
        return wh_err_set(err, WH_E_ENGINE, "target", "docker on host %s speaks API 1.%d; at least 1.%d is needed",
                          c->host->name, minor, RT_API_MIN_MINOR);
    c->api_minor = minor < RT_API_MAX_MINOR ? minor : RT_API_MAX_MINOR;
    vcache_put(c);
    return WH_OK;
}

wh_code rt_conn_open(rt_conn *c, const wh_inv_host *h, wh_curl_abort_fn abort, void *abort_ud, wh_err *err)
{
    memset(c, 0, sizeof(*c));
    c->host = h;
    c->abort = abort;
    c->abort_ud = abort_ud;
    switch(h->docker_kind) {
    case WH_DOCKER_UNIX:
        snprintf(c->base, sizeof(c->base), "http://docker");
        break;
    case WH_DOCKER_TCP:
        snprintf(c->base, sizeof(c->base), "%s://%s:%d", h->tls_ca[0] ? "https" : "http", h->docker_host,
                 h->docker_port);
        break;
    case WH_DOCKER_SSH:
        snprintf(c->base, sizeof(c->base), "http://docker");
        break;
    default:
        return wh_err_set(err, WH_E_ENGINE, "target", "host %s has no docker endpoint in the inventory", h->name);
    }
    c->curl = wh_curl_thread(err);
    if(!c->curl)
        return err ? err->code : WH_E_NOMEM;
    c->api_minor = vcache_get(c);
    return c->api_minor ? WH_OK : negotiate(c, err);
}

static wh_code send_req(rt_conn *c, wh_curl_req *r, const char *method, const char *path, const wh_json *body,
                        wh_curl_resp *resp, wh_err *err)
{
    char url[RT_PATH_MAX + 400];
    int n = snprintf(url, sizeof(url), "%s/v1.%d%s", c->base, c->api_minor, path);
    if(n < 0 || (size_t)n >= sizeof(url))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "request path too long");
    char *js = body ? wh_json_dump(body) : NULL;
    if(body && !js)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    static const char *const json_hdr[] = {"Content-Type: application/json", NULL};
    r->method = method;
    r->url = url;
    if(js) {
        r->body = js;
        r->body_len = strlen(js);
        r->headers = json_hdr;
    }
    fill_req(c, r);
    wh_code rc = name_host(c, wh_curl_do(c->curl, r, resp, err), err);
    free(js);
    return rc;
}

/* Podman answers some refusals with 500 where Docker answers 409 (its
 * message ends with libpod's error text): those are given Docker's status,
 * so every caller's guards hold on both engines. */
static const char *const podman_409[] = {
    "container state improper", /* exec in a stopped container, remove of a running one */
    "network already exists",
    "volume already exists",
    "network is being used",
    "volume is being used",
};

static long docker_status(const rt_conn *c, long status, const wh_json *answer)
{
    size_t n = 0;
    const char *m = wh_json_strv(wh_json_get(answer, "message"), &n);
    if(c->engine != RT_ENGINE_PODMAN || status != 500 || !m)
        return status;
    for(size_t i = 0; i < sizeof(podman_409) / sizeof(podman_409[0]); i++)
        if(memmem(m, n, podman_409[i], strlen(podman_409[i])))
            return 409;
    return status;
}

wh_code rt_request(rt_conn *c, const char *method, const char *path, const wh_json *body, long *status,
                   wh_json **out, wh_err *err)
{
    wh_curl_req r = {.max_body = RT_BODY_MAX, .timeout_ms = 0};
    wh_curl_resp resp;
    if(out)
        *out = NULL;
    wh_code rc = send_req(c, &r, method, path, body, &resp, err);
    if(rc)
        return rc;
    wh_json *ans = resp.body_len ? wh_json_parse(resp.body, resp.body_len, NULL) : NULL;
    *status = docker_status(c, resp.status, ans);
    if(out)
        *out = ans;
    else
        wh_json_free(ans);
    wh_curl_resp_clear(&resp);
    return WH_OK;
}

wh_code rt_request_stream(rt_conn *c, const char *method, const char *path, const wh_json *body, long timeout_ms,
                  wh_curl_sink_fn sink, void *sink_ud, long *status, wh_err *err)
{
    wh_curl_req r = {.sink = sink, .sink_ud = sink_ud, .timeout_ms = timeout_ms};
    wh_curl_resp resp;
    wh_code rc = send_req(c, &r, method, path, body, &resp, err);
    if(rc)
        return rc;
    *status = resp.status;
    wh_curl_resp_clear(&resp);
    return WH_OK;
}

wh_code rt_request_stream_h(rt_conn *c, const char *method, const char *path, const char *header, long timeout_ms,
                            wh_curl_sink_fn sink, void *sink_ud, long *status, wh_err *err)
{
    const char *hdrs[] = {header, NULL};
    wh_curl_req r = {.sink = sink, .sink_ud = sink_ud, .timeout_ms = timeout_ms, .headers = header ? hdrs : NULL};
    wh_curl_resp resp;
    wh_code rc = send_req(c, &r, method, path, NULL, &resp, err);
    if(rc)
        return rc;
    *status = resp.status;
    wh_curl_resp_clear(&resp);
    return WH_OK;
}

wh_code rt_request_upload(rt_conn *c, const char *method, const char *path, const char *content_type,
                          wh_curl_source_fn source, void *source_ud, long *status, wh_err *err)
{
    char ct[96];
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    const char *hdrs[] = {ct, NULL};
    wh_curl_req r = {.source = source, .source_ud = source_ud, .headers = hdrs, .max_body = 1u << 20};
    wh_curl_resp resp;
    wh_code rc = send_req(c, &r, method, path, NULL, &resp, err);
    if(rc)
        return rc;
    *status = resp.status;
    wh_curl_resp_clear(&resp);
    return WH_OK;
}

wh_code rt_engine_status(long status, const wh_json *answer, const char *what, wh_err *err)
{
    if(status >= 200 && status < 300)
        return WH_OK;
    size_t n = 0;
    const char *m = answer ? wh_json_strv(wh_json_get(answer, "message"), &n) : NULL;
    if(!m) {
        m = "";
        n = 0;
    }
    wh_code code = status == 404 ? WH_E_NOT_FOUND : status == 409 || status == 304 ? WH_E_CONFLICT : WH_E_ENGINE;
    if(status == 304)
        return wh_err_set(err, code, "", "%s: nothing to do (engine answered 304)", what);
    return wh_err_set(err, code, "", "%s: %.*s%s", what, (int)(n > 180 ? 180 : n), m,
                      n ? "" : status == 404 ? "not found" : "engine error");
}

wh_code rt_call(rt_conn *c, const char *method, const char *path, const wh_json *body, const char *what,
                wh_json **out, wh_err *err)
{
    long st = 0;
    wh_json *ans = NULL;
    wh_code rc = rt_request(c, method, path, body, &st, &ans, err);
    if(rc)
        return rc;
    rc = rt_engine_status(st, ans, what, err);
    if(rc || !out)
        wh_json_free(ans);
    else
        *out = ans;
    return rc;
}
