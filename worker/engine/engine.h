/* engine: a Docker Engine API client for one inventory host.
 *
 * The endpoint comes from the inventory only (unix socket, tcp with TLS
 * files, or ssh:// through `docker system dial-stdio` or the engine's
 * socket forwarded over SSH, engine_ssh.c); the API version is the lower
 * of the engine's (/version, cached per host for the process, with the
 * engine's kind: Docker or Podman) and RT_API_MAX. Requests run on the calling
 * thread's keep-alive wh_curl client and poll an abort hook every 100 ms.
 *
 * Engine statuses map to the stable codes (rt_engine_status):
 *   2xx ok; 304 -> conflict (already started / stopped); 404 -> not_found;
 *   409 -> conflict; anything else -> engine_error; transport failures ->
 *   unreachable (transient); a tcp:// engine's TLS failures (our client
 *   certificate refused, the engine's not trusted) -> tls_error
 *   (permanent), naming the host's tls_ca and tls_cert. The engine's own
 *   "message" is kept in err. */
#ifndef RT_ENGINE_H
#define RT_ENGINE_H

#include <stdbool.h>

#include "wh_curl.h"
#include "wh_inv.h"
#include "wh_json.h"

#define RT_API_MAX_MINOR 41         /* we speak Engine API up to v1.41 */
#define RT_API_MIN_MINOR 24         /* engines older than v1.24 are refused */
#define RT_PATH_MAX 2048            /* bytes of one request path with its query */
#define RT_BODY_MAX (16u << 20)     /* bytes of one buffered JSON answer */

/* The engine behind an endpoint, told by its /version answer. */
typedef enum rt_engine_kind {
    RT_ENGINE_DOCKER = 0,           /* Docker Engine (and anything not Podman) */
    RT_ENGINE_PODMAN = 1            /* Podman's Docker-compatible API */
} rt_engine_kind;

/* "docker" or "podman", as results name the engine. */
const char *rt_engine_name(rt_engine_kind k);

typedef struct rt_conn {
    const wh_inv_host *host;
    wh_curl *curl;                  /* the thread's client; not owned */
    int api_minor;                  /* negotiated: v1.<api_minor> */
    rt_engine_kind engine;          /* negotiated with the version, cached with it */
    wh_curl_abort_fn abort;
    void *abort_ud;
    char base[300];                 /* "http://docker" or "https://host:port" */
} rt_conn;

/* Prepare a connection to `h` and negotiate the API version. Returns
 * WH_OK, WH_E_UNREACHABLE (transient), WH_E_TLS, WH_E_ENGINE (the engine is
 * too old), or the SSH layer's codes. Nothing to free. */
wh_code rt_conn_open(rt_conn *c, const wh_inv_host *h, wh_curl_abort_fn abort, void *abort_ud, wh_err *err);

/* One request. `path` starts with '/' and has no version ("/containers/json").
 * `body` (may be NULL) is sent as JSON. On WH_OK *status is the HTTP status
 * and *out (if not NULL) the parsed JSON answer or NULL when the body is
 * empty or not JSON. Transport errors return their code. Podman's 500s for
 * what Docker refuses with 409 (a container in the wrong state, a network
 * or volume that exists or is in use) come back as 409. */
wh_code rt_request(rt_conn *c, const char *method, const char *path, const wh_json *body, long *status,
                   wh_json **out, wh_err *err);

/* Same, but the answer body is streamed to `sink` (logs, archives). */
wh_code rt_request_stream(rt_conn *c, const char *method, const char *path, const wh_json *body, long timeout_ms,
                  wh_curl_sink_fn sink, void *sink_ud, long *status, wh_err *err);

/* rt_request_stream with one extra request header line ("Name: value", may
 * be NULL) and no body, for X-Registry-Auth. The header is never logged. */
wh_code rt_request_stream_h(rt_conn *c, const char *method, const char *path, const char *header, long timeout_ms,
                            wh_curl_sink_fn sink, void *sink_ud, long *status, wh_err *err);

/* wh_curl connection hook for ssh:// hosts (engine_ssh.c): `ud` is the
 * rt_conn; returns a socket carrying `docker system dial-stdio` on the
 * host, or, when the host's inventory entry names a `socket`, a
 * direct-streamlocal channel to that unix socket on the host; or -1 with
 * err set: unreachable (also when docker_cmd cannot reach the engine:
 * "docker_cmd exit status N: <its stderr>", or sshd cannot connect to the
 * socket), auth_failed, host_key_mismatch, interrupted. */
int rt_ssh_open(void *ud, wh_err *err);

/* The same for a TCP connection made from an ssh:// host to ip:port (an
 * SSH direct-tcpip channel): `ud` is an rt_ssh_tcp. Used for HTTP health
 * probes of ports the host publishes on its own loopback. */
typedef struct rt_ssh_tcp {
    const wh_inv_host *host;
    const char *ip;                 /* as the host sees it, e.g. "127.0.0.1" */
    int port;
} rt_ssh_tcp;
int rt_ssh_open_tcp(void *ud, wh_err *err);

/* A pooled SSH session to `h` for the calling thread (files on the host,
 * wh_ssh_file_*), given back with rt_ssh_release (NULL ok). Errors as
 * wh_ssh_pool_get. */
struct wh_ssh_conn;
wh_code rt_ssh_session(const wh_inv_host *h, struct wh_ssh_conn **out, wh_err *err);
void rt_ssh_release(struct wh_ssh_conn *c);

/* Upload a request body pulled from `source` (chunked), e.g. a tar archive. */
wh_code rt_request_upload(rt_conn *c, const char *method, const char *path, const char *content_type,
                          wh_curl_source_fn source, void *source_ud, long *status, wh_err *err);

/* Map an engine answer to a code: WH_OK for 2xx, else the code above with
 * the engine's message (from `answer`, may be NULL) prefixed by `what`. */
wh_code rt_engine_status(long status, const wh_json *answer, const char *what, wh_err *err);

/* Request and map in one: a non-2xx status becomes an error. */
wh_code rt_call(rt_conn *c, const char *method, const char *path, const wh_json *body, const char *what,
                wh_json **out, wh_err *err);

#endif
