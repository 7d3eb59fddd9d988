/* health_check: the health check of container.run (args.health).
 *
 *   {"cmd": ["pg_isready"]}                 exec in the container; exit 0 is healthy
 *   {"http_port": 8080, "path": "/health"}  GET on the port the container publishes
 *                                           on the host (2xx/3xx is healthy)
 *   interval_ms (default 1000), retries (default 30): the startup phase;
 *   the first healthy probe ends it, retries failures fail the job with
 *   the custom code `unhealthy` (permanent; the container is left as it
 *   is), saying what the last probe saw: a port the host does not
 *   publish, the GET's failure or status, the command's exit code.
 * HTTP probes go to the published host address (127.0.0.1 unless the job
 * said otherwise), never to a bridge address: straight for unix:// engines
 * (the worker's own host) and tcp:// ones (the endpoint's address), and
 * from the host itself through the SSH session for ssh:// ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One exec probe: true when the command exited 0; else why in why[cap]. */
static bool probe_exec(rt_conn *c, const char *id, const wh_mp_obj *cmd, char *why, size_t cap)
{
    wh_json *b = wh_json_object(), *arr = wh_json_array(), *ans = NULL;
    for(uint32_t i = 0; i < wh_mp_size(cmd); i++) {
        const char *s;
        size_t n;
        if(wh_mp_str(wh_mp_arr_at(cmd, i), &s, &n))
            wh_json_push(arr, wh_json_strn(s, n));
    }
    wh_json_setc(b, "Cmd", arr);
    /* Podman refuses an exec with no stream attached; the output is dropped */
    wh_json_setc(b, "AttachStdout", wh_json_bool(true));
    char path[RT_PATH_MAX], eid[80] = "";
    snprintf(path, sizeof(path), "/containers/%s/exec", id);
    wh_err e;
    wh_code rc = rt_call(c, "POST", path, b, "health", &ans, &e);
    wh_json_free(b);
    size_t n = 0;
    const char *s = rc ? NULL : wh_json_strv(wh_json_get(ans, "Id"), &n);
    if(s && n < sizeof(eid))
        snprintf(eid, sizeof(eid), "%.*s", (int)n, s);
    wh_json_free(ans);
    if(!eid[0]) {
        wh_msg_format(why, cap, "%s", rc ? e.msg : "the engine gave no exec id");
        return false;
    }
    wh_json *start = wh_json_object();
    wh_json_setc(start, "Detach", wh_json_bool(false));
    snprintf(path, sizeof(path), "/exec/%s/start", eid);
    rc = rt_call(c, "POST", path, start, "health", NULL, &e); /* output is dropped */
    wh_json_free(start);
    snprintf(path, sizeof(path), "/exec/%s/json", eid);
    if(rc || rt_call(c, "GET", path, NULL, "health", &ans, &e)) {
        wh_msg_format(why, cap, "%s", e.msg);
        return false;
    }
    wh_json *code = wh_json_get(ans, "ExitCode");
    bool ok = code && wh_json_kind_of(code) == WH_JSON_INT && wh_json_intv(code) == 0;
    snprintf(why, cap, "the command exited %lld", code ? (long long)wh_json_intv(code) : -1LL);
    wh_json_free(ans);
    return ok;
}

/* Where a probe of container port `port`/tcp goes: the address and port
 * the engine's host publishes it on (the endpoint's own address for tcp://
 * engines when published on every address). */
typedef struct target {
    char ip[300];                   /* host name or address */
    int port;
    char path[512];
} target;

static bool published(rt_conn *c, const char *id, int64_t port, target *t, char *why, size_t cap)
{
    char path[RT_PATH_MAX], key[24];
    snprintf(path, sizeof(path), "/containers/%s/json", id);
    snprintf(key, sizeof(key), "%lld/tcp", (long long)port);
    wh_json *ins = NULL;
    wh_err e;
    if(rt_call(c, "GET", path, NULL, "health", &ins, &e)) {
        wh_msg_format(why, cap, "%s", e.msg);
        return false;
    }
    wh_json *b = wh_json_at(wh_json_get(wh_json_get(wh_json_get(ins, "NetworkSettings"), "Ports"), key), 0);
    size_t in = 0, pn = 0;
    const char *ip = wh_json_strv(wh_json_get(b, "HostIp"), &in);
    const char *hp = wh_json_strv(wh_json_get(b, "HostPort"), &pn);
    bool ok = ip && hp && pn && pn < 6 && in < sizeof(t->ip);
    if(ok) {
        bool any = in == 0 || (in == 7 && !memcmp(ip, "0.0.0.0", 7));
        if(c->host->docker_kind == WH_DOCKER_TCP)
            snprintf(t->ip, sizeof(t->ip), "%s", c->host->docker_host);
        else
            snprintf(t->ip, sizeof(t->ip), "%.*s", (int)in, any ? "127.0.0.1" : ip);
        char ps[8];
        snprintf(ps, sizeof(ps), "%.*s", (int)pn, hp);
        t->port = (int)strtol(ps, NULL, 10);
        ok = t->port > 0;
    }
    if(!ok)
        snprintf(why, cap,
                 "port %s is not published on the host (health.http_port is the container's port: publish it "
                 "with ports)", key);
    wh_json_free(ins);
    return ok;
}

/* One GET; 2xx/3xx is healthy, else why in why[cap]. ssh:// hosts are
 * probed from the host itself through a direct-tcpip channel of the
 * session. */
static bool probe_http(rt_conn *c, const target *t, char *why, size_t cap)
{
    char url[900];
    bool ssh = c->host->docker_kind == WH_DOCKER_SSH;
    snprintf(url, sizeof(url), "http://%s:%d%s", t->ip, t->port, t->path);
    rt_ssh_tcp via = {.host = c->host, .ip = t->ip, .port = t->port};
    wh_curl_req r = {.url = url, .timeout_ms = 5000, .connect_timeout_ms = 2000, .max_body = 65536,
                     .abort = c->abort, .abort_ud = c->abort_ud, .open_fd = ssh ? rt_ssh_open_tcp : NULL,
                     .open_ud = ssh ? &via : NULL};
    wh_curl_resp resp;
    wh_err e;
    wh_code rc = wh_curl_do(c->curl, &r, &resp, &e);
    bool ok = !rc && resp.status >= 200 && resp.status < 400;
    if(rc)
        wh_msg_format(why, cap, "GET %s: %s", url, e.msg);
    else
        snprintf(why, cap, "GET %s answered %ld", url, resp.status);
    wh_curl_resp_clear(&resp);
    return ok;
}

wh_code rt_health_wait(wk_job *job, rt_conn *c, const char *id, const wh_mp_obj *h, wh_json *result, wh_err *err)
{
    int64_t interval = 1000, retries = 30, port = 0;
    const wh_mp_obj *o;
    if((o = wh_mp_map_get(h, "interval_ms")))
        wh_mp_int(o, &interval);
    if((o = wh_mp_map_get(h, "retries")))
        wh_mp_int(o, &retries);
    if((o = wh_mp_map_get(h, "http_port")))
        wh_mp_int(o, &port);
    target t = {.path = "/"};
    rt_mp_cstr(wh_mp_map_get(h, "path"), t.path, sizeof(t.path));
    int64_t t0 = now_ms();
    char why[WH_ERR_MSG_MAX + 1] = ""; /* what the last probe saw */
    for(int64_t i = 1; i <= retries; i++) {
        wk_job_progress(job, 50, "waiting for health");
        bool ok = port ? (t.port || published(c, id, port, &t, why, sizeof(why))) && probe_http(c, &t, why, sizeof(why))
                       : probe_exec(c, id, wh_mp_map_get(h, "cmd"), why, sizeof(why));
        if(ok) {
            wh_json_setc(result, "healthy_at", wh_json_int(now_ms()));
            wh_json_setc(result, "health_probes", wh_json_int(i));
            wh_json_setc(result, "health_wait_ms", wh_json_int(now_ms() - t0));
            return WH_OK;
        }
        if(i < retries && wk_job_sleep(job, interval))
            return wh_err_set(err, WH_E_INTERRUPTED, "", "interrupted");
    }
    wh_err_set(err, WH_E_FAILED, "args.health", "container did not become healthy after %lld probes; the last: %s",
               (long long)retries, why);
    if(err)
        snprintf(err->custom, sizeof(err->custom), "unhealthy");
    return WH_E_FAILED;
}
