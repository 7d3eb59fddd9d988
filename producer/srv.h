/* srv: `wharf serve`, the HTTP API over the client library.
 *
 * srv_main.c starts the server (flags, tokens, listen address, the connection
 * pool), srv_http.c authenticates and routes every request through one table
 * and holds the JSON reply helpers, and the route handlers live by topic in
 * srv_jobs.c, srv_logs.c, srv_admin.c, srv_ops.c, srv_hosts.c (the fleet's
 * reads) and srv_fleet.c (its actions, container logs and worker control).
 * schemas/openapi.yaml
 * documents every route; tests/integration/test_serve.py walks it.
 *
 * Threads: libmicrohttpd runs each connection on its own thread. The client
 * library is one-thread-at-a-time, so handlers borrow a srv_conn (a
 * wharf_client and a wh_redis, both connected lazily) from a small pool
 * guarded by a mutex and give it back before answering. Log followers open
 * their own Redis connection for the life of the stream instead.
 *
 * The dashboard (docs/dashboard.md): srv_ui.c serves its assets, built into
 * the binary from producer/ui/ (srv_assets.c is generated at build time), and
 * srv_session.c signs browsers in with a cookie; srv_http.c accepts either a
 * bearer token or a session on every API route, with a role each. */
#ifndef SRV_H
#define SRV_H

#include <pthread.h>
#include <stdbool.h>

#include "wh_cfg.h"
#include "wh_json.h"
#include "wh_mhd.h"
#include "wh_redis.h"
#include "wharf.h"

#define SRV_POOL 4          /* pooled client connections */
#define SRV_MAX_TOKENS 64   /* bearer tokens accepted at once */
#define SRV_TOKEN_MIN 16    /* shortest token accepted, bytes */
#define SRV_TOKEN_MAX 256   /* longest token accepted, bytes */
#define SRV_LIST_SCAN 5000  /* recent-index entries GET /v1/jobs looks at, at most */
#define SRV_LIST_MAX 1000   /* largest `limit` of GET /v1/jobs */
#define SRV_LOG_MAX 10000   /* log lines one GET .../logs returns, at most */
#define SRV_SESSIONS 256    /* signed-in browser sessions held at once */

/* What a request may do. A read token (serve.read_token_file) or a session
 * signed in with one sees everything and changes nothing. */
typedef enum srv_role { SRV_ROLE_NONE = 0, SRV_ROLE_READ, SRV_ROLE_ADMIN } srv_role;

typedef struct srv_sessions srv_sessions; /* srv_session.c */

/* One pooled set of connections. */
typedef struct srv_conn {
    wharf_client *client; /* NULL until first needed */
    wh_redis *redis;      /* NULL until first needed */
    bool busy;
} srv_conn;

typedef struct srv {
    const wh_cfg *cfg;
    bool no_auth;                      /* --insecure-no-auth (loopback only) */
    char *tokens[SRV_MAX_TOKENS];      /* malloc'd; compared in constant time */
    bool read_only[SRV_MAX_TOKENS];    /* tokens[i] came from serve.read_token_file */
    int ntokens;
    srv_sessions *sessions;            /* browser sessions (srv_session.c) */
    pthread_mutex_t mu;                /* guards pool[].busy */
    pthread_cond_t cv;                 /* signalled when a conn is returned */
    srv_conn pool[SRV_POOL];
} srv;

/* One request being handled. */
typedef struct srv_call {
    srv *s;
    wh_mhd_req *req;
    char param[128];  /* the first {} path segment of the route, "" if none */
    char param2[256]; /* the second {} segment (a container name), "" if none */
    char param3[16];  /* the third {}: a container action word (start, ...), "" if none */
    srv_conn *conn;   /* borrowed from the pool on first use */
    srv_role role;    /* set by authentication before the handler runs */
} srv_call;

/* One asset of the dashboard, built into the binary (srv_assets.c, made by
 * producer/ui/build.cjs at build time). */
typedef struct srv_asset {
    const char *path;          /* URL path, "/" or "/ui/NAME" */
    const char *type;          /* Content-Type */
    const char *etag;          /* quoted hash of data */
    const unsigned char *data; /* len bytes (NUL after them) */
    size_t len;
} srv_asset;
extern const srv_asset srv_assets[];
extern const size_t srv_nassets;

/* The role of a presented token: ADMIN, READ (a serve.read_token_file
 * token) or NONE; compared in constant time (srv_http.c). */
srv_role srv_token_role(const srv *s, const char *got);

/* The MHD handler: authenticate, route, answer (srv_http.c). */
void srv_handle(void *ud, wh_mhd_req *req);

/* Connections for this call (borrowed from the pool on first use; returned
 * by srv_handle after the handler). NULL after answering 503 with why. */
wharf_client *srv_client(srv_call *c);
wh_redis *srv_redis(srv_call *c);

/* Answer with JSON `j` (stolen; NULL answers 500). */
void srv_reply_json(srv_call *c, unsigned status, wh_json *j);
/* The same with n extra headers. */
void srv_reply_json_h(srv_call *c, unsigned status, wh_json *j, const wh_mhd_hdr *hdrs, size_t n);
/* Answer {"error":{"code","message","field"}}. */
void srv_error(srv_call *c, unsigned status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answer an error from a wh_err / wharf_error, the status chosen by code. */
void srv_error_wh(srv_call *c, const wh_err *err);
void srv_error_client(srv_call *c, const wharf_error *err);
/* The HTTP status for a stable code. */
unsigned srv_status_of(wh_code code);

/* True (after answering 400) unless c->param is a valid job id. */
bool srv_bad_id(srv_call *c);
/* The inventory host named by c->param; NULL after answering 404
 * not_found naming `host` (srv_hosts.c). */
const wh_inv_host *srv_host(srv_call *c);
/* True (after answering 400 naming `name`) unless c->param2 is a container
 * name ([A-Za-z0-9][A-Za-z0-9_.-]{0,127}). */
bool srv_bad_ctr(srv_call *c);
/* Answer `status` with job `id`'s hash (a minimal {id, state} if it expired
 * already) and a Location header (srv_jobs.c). */
void srv_reply_job(srv_call *c, unsigned status, const char *id, const char *state);
/* Lines of the log stream `key`: all or the last `tail` as JSON, or with
 * `follow` as Server-Sent Events; `job` (NULL for a container's stream)
 * ends the follow when it is terminal (srv_logs.c). */
void srv_logs_stream(srv_call *c, wh_redis *r, const char *key, const char *job, long tail, long follow);
/* Parse the JSON object body of a POST; NULL after answering 415 or 400. */
wh_json *srv_body_object(srv_call *c);
/* An integer query parameter in lo..hi, `def` when absent; false after
 * answering 400 naming it. */
bool srv_query_int(srv_call *c, const char *key, long lo, long hi, long def, long *out);

/* Route handlers. */
void srv_jobs_post(srv_call *c);
void srv_jobs_get(srv_call *c);
void srv_jobs_list(srv_call *c);
void srv_jobs_cancel(srv_call *c);
void srv_logs_get(srv_call *c);
void srv_workers_get(srv_call *c);
void srv_workers_control(srv_call *c);
void srv_stats_get(srv_call *c);
void srv_stats_series(srv_call *c);
void srv_schedules_get(srv_call *c);
void srv_schedules_post(srv_call *c);
void srv_schedules_delete(srv_call *c);
void srv_dead_get(srv_call *c);
void srv_dead_retry(srv_call *c);
void srv_dead_purge(srv_call *c);
void srv_hosts_list(srv_call *c);
void srv_hosts_containers(srv_call *c);
void srv_hosts_container(srv_call *c);
void srv_hosts_stats(srv_call *c);
void srv_hosts_updates(srv_call *c);
void srv_fleet_logs(srv_call *c);
void srv_fleet_action(srv_call *c);
void srv_healthz(srv_call *c);
void srv_metrics(srv_call *c);

/* The dashboard's assets and pages (srv_ui.c). */
void srv_ui_asset(srv_call *c);
/* Answer through wh_mhd_reply with the dashboard's security headers
 * (Content-Security-Policy and friends) added to n others. */
int srv_ui_reply(srv_call *c, unsigned status, const char *type, const char *body, size_t len,
                 const wh_mhd_hdr *hdrs, size_t n);

/* Browser sessions (srv_session.c). The store is in memory: a restart signs
 * everyone out. _new returns NULL on ENOMEM; _free(NULL) is a no-op. */
srv_sessions *srv_sessions_new(int ttl_s);
void srv_sessions_free(srv_sessions *ss);
/* The role of the request's session cookie, SRV_ROLE_NONE without a live one.
 * For a method that changes state it also checks CSRF (same-origin Origin or
 * Sec-Fetch-Site, and X-CSRF-Token equal to the session's); on failure it
 * answers 403 and sets *answered. */
srv_role srv_session_role(srv_call *c, bool *answered);
/* True when the method changes state (anything but GET and HEAD). */
bool srv_method_writes(const srv_call *c);
/* True unless the browser says the request comes from another site: a
 * Sec-Fetch-Site other than same-origin/none, or an Origin whose host is not
 * the Host header. With `answer`, a refusal is answered 403 here. */
bool srv_same_origin(srv_call *c, bool answer);
void srv_ui_login(srv_call *c);
void srv_ui_logout(srv_call *c);
void srv_ui_session(srv_call *c);

#endif
