/* srv_http: authentication of a request and the route table of `wharf
 * serve` (the replies are srv_reply's). See srv.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "srv.h"
#include "wh_id.h"
#include "wh_log.h"
#include "wh_time.h"

/* One route. A pattern segment "{}" matches one path segment, which is
 * copied to call->param, then param2, then param3 (handlers validate them). */
typedef struct srv_route {
    const char *method;
    const char *pattern;
    void (*fn)(srv_call *c);
    bool open; /* served without a token */
} srv_route;

static const srv_route routes[] = {
    {"POST", "/v1/jobs", srv_jobs_post, false},
    {"GET", "/v1/jobs", srv_jobs_list, false},
    {"GET", "/v1/jobs/{}", srv_jobs_get, false},
    {"POST", "/v1/jobs/{}/cancel", srv_jobs_cancel, false},
    {"GET", "/v1/jobs/{}/logs", srv_logs_get, false},
    {"GET", "/v1/workers", srv_workers_get, false},
    {"POST", "/v1/workers/{}/{}", srv_workers_control, false},
    {"GET", "/v1/stats", srv_stats_get, false},
    {"GET", "/v1/stats/series", srv_stats_series, false},
    {"GET", "/v1/schedules", srv_schedules_get, false},
    {"POST", "/v1/schedules", srv_schedules_post, false},
    {"DELETE", "/v1/schedules/{}", srv_schedules_delete, false},
    {"GET", "/v1/dead", srv_dead_get, false},
    {"POST", "/v1/dead/retry", srv_dead_retry, false},
    {"POST", "/v1/dead/purge", srv_dead_purge, false},
    {"GET", "/v1/hosts", srv_hosts_list, false},
    {"GET", "/v1/hosts/{}/containers", srv_hosts_containers, false},
    {"GET", "/v1/hosts/{}/containers/{}", srv_hosts_container, false},
    {"GET", "/v1/hosts/{}/containers/{}/logs", srv_fleet_logs, false},
    {"POST", "/v1/hosts/{}/containers/{}/{}", srv_fleet_action, false},
    {"GET", "/v1/hosts/{}/stats", srv_hosts_stats, false},
    {"GET", "/v1/hosts/{}/updates", srv_hosts_updates, false},
    {"GET", "/healthz", srv_healthz, true},
    {"GET", "/metrics", srv_metrics, false},
    /* The dashboard: its assets and sign-in are open; the pages call the
     * routes above with a session cookie (srv_session.c). */
    {"GET", "/ui/session", srv_ui_session, true}, /* before /ui/{}: first match wins */
    {"GET", "/", srv_ui_asset, true},
    {"GET", "/ui/{}", srv_ui_asset, true},
    {"POST", "/ui/login", srv_ui_login, true},
    {"POST", "/ui/logout", srv_ui_logout, true},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Match `path` against `pattern`; the {} segments go to the call's params. */
static bool match(const char *pattern, const char *path, srv_call *c)
{
    char *slot[] = {c->param, c->param2, c->param3};
    size_t cap[] = {sizeof(c->param), sizeof(c->param2), sizeof(c->param3)};
    int k = 0;
    while(*pattern && *path) {
        if(pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if(k == 3 || n == 0 || n >= cap[k])
                return false;
            memcpy(slot[k], path, n);
            slot[k++][n] = '\0';
            path += n;
            pattern += 2;
            continue;
        }
        if(*pattern++ != *path++)
            return false;
    }
    return !*pattern && !*path;
}

/* The role of the request's bearer token; *present says whether it had one
 * (a wrong bearer token is not rescued by a session cookie). */
static srv_role bearer_role(srv_call *c, bool *present)
{
    const char *h = wh_mhd_header(c->req, "Authorization");
    *present = h && strncasecmp(h, "Bearer ", 7) == 0;
    if(!*present)
        return SRV_ROLE_NONE;
    h += 7;
    while(*h == ' ')
        h++;
    return strlen(h) <= SRV_TOKEN_MAX ? srv_token_role(c->s, h) : SRV_ROLE_NONE;
}

/* Set c->role from a bearer token or a session cookie, or answer 401 (no
 * valid credential) or 403 (a read-only token or session on a write, or a
 * cross-site browser write) and return false. A read-only credential comes
 * from serve.read_token_file, or is a session signed in with such a token. */
static bool authorized(srv_call *c)
{
    bool bearer = false, answered = false;
    if(c->s->no_auth) {
        /* No token, so only the browser's own origin checks stop another
         * site's page from posting to a loopback server. */
        if(srv_method_writes(c) && !srv_same_origin(c, true))
            return false;
        c->role = SRV_ROLE_ADMIN;
        return true;
    }
    srv_role role = bearer_role(c, &bearer);
    if(!bearer)
        role = srv_session_role(c, &answered);
    if(answered)
        return false;
    if(role == SRV_ROLE_READ && srv_method_writes(c)) {
        srv_error(c, 403, "unauthorized", bearer ? "Authorization" : "Cookie",
                  "this %s is read-only: %s %s needs a read-write token", bearer ? "token" : "session",
                  wh_mhd_method(c->req), wh_mhd_path(c->req));
        return false;
    }
    if(role != SRV_ROLE_NONE) {
        c->role = role;
        return true;
    }
    static const wh_mhd_hdr www[] = {{"WWW-Authenticate", "Bearer realm=\"wharf\""}};
    static const char body[] =
        "{\"error\":{\"code\":\"unauthorized\",\"message\":\"a valid bearer token is required\",\"field\":"
        "\"Authorization\"}}";
    wh_mhd_reply(c->req, 401, "application/json", body, sizeof(body) - 1, www, 1);
    return false;
}

static void release(srv_call *c)
{
    if(!c->conn)
        return;
    pthread_mutex_lock(&c->s->mu);
    c->conn->busy = false;
    pthread_cond_signal(&c->s->cv);
    pthread_mutex_unlock(&c->s->mu);
    c->conn = NULL;
}

/* One access-log line per request: method, path (escaped by wh_log), status
 * and time. Never headers or bodies: they may hold tokens or secrets. */
static void access_log(const wh_mhd_req *req, int64_t t0)
{
    char status[8], ms[24];
    unsigned st = wh_mhd_status(req);
    snprintf(status, sizeof(status), "%u", st);
    snprintf(ms, sizeof(ms), "%lld", (long long)(wh_now_ms() - t0));
    wh_log(st >= 500 ? WH_LOG_WARN : WH_LOG_INFO, NULL, "request", "method", wh_mhd_method(req), "path",
           wh_mhd_path(req), "status", status, "ms", ms);
}

static void route(srv_call *c);

void srv_handle(void *ud, wh_mhd_req *req)
{
    srv_call c = {.s = ud, .req = req};
    int64_t t0 = wh_now_ms();
    route(&c);
    access_log(req, t0);
}

/* Find the route, authenticate, run the handler, give the connection back. */
static void route(srv_call *c)
{
    wh_mhd_req *req = c->req;
    const char *path = wh_mhd_path(req), *method = wh_mhd_method(req);
    bool path_known = false;
    for(size_t i = 0; i < NROUTES; i++) {
        if(!match(routes[i].pattern, path, c))
            continue;
        path_known = true;
        if(strcmp(routes[i].method, method) != 0)
            continue;
        if(routes[i].open || authorized(c))
            routes[i].fn(c);
        release(c);
        return;
    }
    /* Unknown routes need a token too, so probing reveals nothing. */
    if(!authorized(c))
        return;
    if(path_known)
        srv_error(c, 405, "usage", "", "method %s not allowed on %s", method, path);
    else
        srv_error(c, 404, "not_found", "", "no such route");
}

/* Borrow a pooled connection set (blocking while all are busy). */
static srv_conn *borrow(srv_call *c)
{
    if(c->conn)
        return c->conn;
    srv *s = c->s;
    pthread_mutex_lock(&s->mu);
    for(;;) {
        for(int i = 0; i < SRV_POOL; i++)
            if(!s->pool[i].busy) {
                s->pool[i].busy = true;
                c->conn = &s->pool[i];
                pthread_mutex_unlock(&s->mu);
                return c->conn;
            }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

wharf_client *srv_client(srv_call *c)
{
    srv_conn *k = borrow(c);
    if(k->client)
        return k->client;
    const wh_cfg *cfg = c->s->cfg;
    wharf_client_opts o = {cfg->amqp_url, cfg->redis_url, cfg->redis_prefix, cfg->queue_type, 10000,
                           cfg->max_attempts, cfg->max_priority};
    wharf_error err;
    if(!(k->client = wharf_client_new(&o, &err)))
        srv_error_client(c, &err);
    return k->client;
}

wh_redis *srv_redis(srv_call *c)
{
    srv_conn *k = borrow(c);
    wh_err err;
    if(!k->redis && !(k->redis = wh_redis_new(c->s->cfg->redis_url, 10000, &err))) {
        srv_error_wh(c, &err);
        return NULL;
    }
    if(wh_redis_connect(k->redis, &err) != WH_OK) {
        srv_error_wh(c, &err);
        return NULL;
    }
    return k->redis;
}
