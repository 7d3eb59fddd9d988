/* one_call_verbs: host.ping and host.info, and the container verbs that are one
 * Engine call each (start, stop, restart, pause, unpause, kill, remove,
 * rename, update, and the inspects of containers, images and volumes).
 *
 * The state guards that need more than a status are here:
 *   start of a running container / stop of a stopped one (304) -> conflict
 *   (Podman: stop of a container never started, asked first)  -> conflict
 *   remove of a running container without force (409)         -> busy
 * everything else maps through rt_engine_status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- host ---- */

wk_run rt_host_ping_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open_call(job, &c, "GET", "/version", NULL, "version", &v, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "ok", wh_json_bool(true));
    char api[16];
    snprintf(api, sizeof(api), "1.%d", c.api_minor);
    wh_json_setc(r, "api_version", wh_json_str(api));
    size_t n = 0;
    const char *ver = wh_json_strv(wh_json_get(v, "Version"), &n);
    wh_json_setc(r, "engine_version", ver ? wh_json_strn(ver, n) : wh_json_null());
    wh_json_setc(r, "engine", wh_json_str(rt_engine_name(c.engine)));
    wh_json_free(v);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_host_info_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open_call(job, &c, "GET", "/info", NULL, "info", &v, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    static const char *const keys[] = {"Name", "ServerVersion", "OperatingSystem", "KernelVersion", "Architecture",
                                       "NCPU", "MemTotal", "Containers", "ContainersRunning",
                                       "ContainersPaused", "ContainersStopped", "Images", "Driver",
                                       "CgroupVersion", NULL};
    wh_json *r = rt_pick(v, keys);
    wh_json_setc(r, "engine", wh_json_str(rt_engine_name(c.engine)));
    wk_job_set_result(job, r);
    wh_json_free(v);
    return WK_RUN_OK;
}

/* ---- container verbs ---- */

/* One container action: method, path suffix, query built from args, and
 * the message for a 304 (the engine's "nothing to do"). */
typedef struct verb {
    const char *type;
    const char *method;
    const char *suffix;       /* "/start"; "" for the container itself */
    const char *not_modified; /* conflict message for 304, after "container <name> " */
} verb;

static const verb verbs[] = {
    {"runtime.container.start", "POST", "/start", "is already running"},
    {"runtime.container.stop", "POST", "/stop", "is not running"},
    {"runtime.container.restart", "POST", "/restart", NULL},
    {"runtime.container.pause", "POST", "/pause", NULL},
    {"runtime.container.unpause", "POST", "/unpause", NULL},
    {"runtime.container.kill", "POST", "/kill", NULL},
    {"runtime.container.remove", "DELETE", "", NULL},
};

static const verb *verb_of(wk_job *job)
{
    const char *t = wk_job_env(job)->type;
    for(int i = 0; i < N(verbs); i++)
        if(strcmp(verbs[i].type, t) == 0)
            return &verbs[i];
    return NULL;
}

static void verb_query(wk_job *job, char *q, size_t cap)
{
    const wh_mp_obj *a = wk_job_args(job);
    q[0] = '\0';
    if(wh_mp_map_get(a, "timeout_s"))
        snprintf(q, cap, "?t=%lld", (long long)wh_args_int(a, "timeout_s", 10));
    else if(wh_mp_map_get(a, "signal")) {
        size_t n;
        const char *s = wh_args_str(a, "signal", "KILL", &n);
        char esc[64];
        wh_curl_escape(s, n, esc, sizeof(esc));
        snprintf(q, cap, "?signal=%s", esc);
    } else if(strcmp(wk_job_env(job)->type, "runtime.container.remove") == 0)
        snprintf(q, cap, "?force=%d&v=%d", wh_args_bool(a, "force", false), wh_args_bool(a, "volumes", false));
}

/* Podman stops a container that was created and never started (204)
 * where Docker answers 304: on Podman a stop asks for the state first, so
 * both engines say conflict. False when the container cannot be inspected
 * (the stop itself then says why). */
static bool podman_never_started(rt_conn *c, const verb *v, const char *name)
{
    if(c->engine != RT_ENGINE_PODMAN || strcmp(v->type, "runtime.container.stop") != 0)
        return false;
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/containers/%s/json", name);
    wh_json *ins = NULL;
    wh_err e;
    if(rt_call(c, "GET", path, NULL, name, &ins, &e))
        return false;
    size_t n = 0;
    const char *st = wh_json_strv(wh_json_get(wh_json_get(ins, "State"), "Status"), &n);
    bool created = st && n == 7 && memcmp(st, "created", 7) == 0;
    wh_json_free(ins);
    return created;
}

wk_run rt_verb_run(wk_job *job)
{
    const verb *v = verb_of(job);
    char name[3 * RT_NAME_MAX + 1], q[96], path[RT_PATH_MAX];
    rt_arg_name(job, "name", name, sizeof(name));
    verb_query(job, q, sizeof(q));
    snprintf(path, sizeof(path), "/containers/%s%s%s", name, v->suffix, q);
    rt_conn c;
    wh_err err;
    long st = 0;
    wh_json *ans = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc && podman_never_started(&c, v, name))
        st = 304;
    else if(!rc)
        rc = rt_request(&c, v->method, path, NULL, &st, &ans, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    if(st == 304 && v->not_modified) {
        wh_json_free(ans);
        return wk_job_fail(job, WH_E_CONFLICT, NULL, false, "container %s %s", name, v->not_modified);
    }
    if(st == 409 && strcmp(v->type, "runtime.container.remove") == 0) {
        wh_json_free(ans);
        return wk_job_fail(job, WH_E_BUSY, NULL, false,
                           "container %s is running: stop it first or remove with force=true", name);
    }
    rc = rt_engine_status(st, ans, name, &err);
    wh_json_free(ans);
    return rt_done_name(job, rc, &err, name);
}

wk_run rt_inspect_run(wk_job *job)
{
    const char *t = wk_job_env(job)->type;
    bool img = strncmp(t, "runtime.image.", 14) == 0, vol = strncmp(t, "runtime.volume.", 15) == 0;
    char name[3 * 256 + 1], path[RT_PATH_MAX];
    rt_arg_name(job, img ? "image" : "name", name, sizeof(name));
    snprintf(path, sizeof(path), img ? "/images/%s/json" : vol ? "/volumes/%s" : "/containers/%s/json", name);
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open_call(job, &c, "GET", path, NULL, name, &v, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    if(img && v)
        rt_image_familiar(&c, v);
    wk_job_set_result(job, v ? v : wh_json_null());
    return WK_RUN_OK;
}

wk_run rt_rename_run(wk_job *job)
{
    char name[3 * RT_NAME_MAX + 1], to[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    rt_arg_name(job, "name", name, sizeof(name));
    rt_arg_name(job, "new_name", to, sizeof(to));
    snprintf(path, sizeof(path), "/containers/%s/rename?name=%s", name, to);
    rt_conn c;
    wh_err err;
    wh_code rc = rt_open_call(job, &c, "POST", path, NULL, name, NULL, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(to));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_update_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    char name[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    rt_arg_name(job, "name", name, sizeof(name));
    snprintf(path, sizeof(path), "/containers/%s/update", name);
    wh_json *body = wh_json_object();
    if(wh_mp_map_get(a, "restart")) {
        size_t n;
        const char *s = wh_args_str(a, "restart", "no", &n);
        wh_json *rp = wh_json_object();
        wh_json_setc(rp, "Name", wh_json_strn(s, n));
        if(n == 10 && memcmp(s, "on-failure", 10) == 0)
            wh_json_setc(rp, "MaximumRetryCount", wh_json_int(wh_args_int(a, "restart_max", 0)));
        wh_json_setc(body, "RestartPolicy", rp);
    }
    if(wh_mp_map_get(a, "memory"))
        wh_json_setc(body, "Memory", wh_json_int(wh_args_int(a, "memory", 0)));
    if(wh_mp_map_get(a, "cpu_millis"))
        wh_json_setc(body, "NanoCpus", wh_json_int(wh_args_int(a, "cpu_millis", 0) * 1000000));
    rt_conn c;
    wh_err err;
    wh_json *ans = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc && c.engine == RT_ENGINE_PODMAN) /* Docker's route is a 404 there, "not found" would mislead */
        rc = wh_err_set(&err, WH_E_UNSUPPORTED, "type",
                        "container.update: Podman has no Docker-compatible /containers/{name}/update (its own "
                        "update cannot change a restart policy); recreate container %s instead", name);
    if(!rc)
        rc = rt_call(&c, "POST", path, body, name, &ans, &err);
    wh_json_free(body);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(name));
    wh_json *w = wh_json_get(ans, "Warnings");
    wh_json_setc(r, "warnings", w && wh_json_kind_of(w) == WH_JSON_ARRAY ? wh_json_copy(w) : wh_json_array());
    wh_json_free(ans);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
