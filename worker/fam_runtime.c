/* fam_runtime: the `runtime` family, Docker Engine hosts of the inventory.
 *
 * Every type needs a target host (needs_host) and takes a lock per object
 * ("ctr:<name>", "vol:<name>", "net:<name>", "img:<ref>") so jobs on one
 * container never overlap. Engine statuses map to stable codes in
 * rt_engine.c; the state guards that need more than a status are here:
 *   start of a running container / stop of a stopped one -> conflict
 *   remove of a running container without force         -> busy
 * Container creation is in rt_create.c, logs into Redis in rt_logs.c, exec
 * and prunes in rt_exec.c, lists, images, volumes and networks in rt_objs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_fam.h"
#include "wh_text.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

bool rt_name_ok(const char *s, size_t n)
{
    if(n < 1 || n > RT_NAME_MAX)
        return false;
    for(size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if(!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return false;
    }
    return true;
}

/* Image references: name[:tag][@digest], registry host and path included. */
static bool ref_ok(const char *s, size_t n)
{
    if(n < 1 || n > 255 || s[0] == '-' || s[0] == '/' || s[0] == ':')
        return false;
    for(size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if(!alnum && !strchr("_.-/:@", c))
            return false;
    }
    return true;
}

bool rt_mp_cstr(const wh_mp_obj *o, char *out, size_t cap)
{
    const char *p;
    size_t n;
    if(!o || !wh_mp_str(o, &p, &n) || n >= cap || memchr(p, '\0', n))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool job_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

wh_code rt_open(wk_job *job, rt_conn *c, wh_err *err)
{
    return rt_conn_open(c, wk_job_host(job), job_abort, job, err);
}

wk_run rt_fail(wk_job *job, wh_code rc, const wh_err *err)
{
    if(rc == WH_E_INTERRUPTED)
        return WK_RUN_INTERRUPTED;
    bool transient = rc == WH_E_UNREACHABLE;
    return wk_job_fail(job, rc, NULL, transient, "%s", err->msg);
}

wk_run rt_done_name(wk_job *job, wh_code rc, const wh_err *err, const char *name)
{
    if(rc)
        return rt_fail(job, rc, err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(name));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

void rt_arg_name(wk_job *job, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(wk_job_args(job), key, "", &n);
    wh_curl_escape(s, n, out, cap);
}

/* Lock keys: one per named object. */
static bool lock_of(const wh_mp_obj *args, const char *kind, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(args, key, NULL, &n);
    if(!s)
        return false;
    int k = snprintf(out, cap, "%s:%.*s", kind, (int)n, s);
    return k > 0 && (size_t)k < cap;
}
static bool ctr_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "ctr", "name", o, c); }
static bool vol_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "vol", "name", o, c); }
static bool net_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "net", "name", o, c); }
static bool img_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "img", "image", o, c); }
static bool stack_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "stack", "name", o, c); }

/* ---- host ---- */

static wk_run host_ping_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = rt_call(&c, "GET", "/version", NULL, "version", &v, &err);
    if(rc)
        return rt_fail(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "ok", wh_json_bool(true));
    char api[16];
    snprintf(api, sizeof(api), "1.%d", c.api_minor);
    wh_json_setc(r, "api_version", wh_json_str(api));
    size_t n = 0;
    const char *ver = wh_json_strv(wh_json_get(v, "Version"), &n);
    wh_json_setc(r, "engine_version", ver ? wh_json_strn(ver, n) : wh_json_null());
    wh_json_free(v);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

static wk_run host_info_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = rt_call(&c, "GET", "/info", NULL, "info", &v, &err);
    if(rc)
        return rt_fail(job, rc, &err);
    static const char *const keys[] = {"Name", "ServerVersion", "OperatingSystem", "KernelVersion", "Architecture",
                                       "NCPU", "MemTotal", "Containers", "ContainersRunning",
                                       "ContainersPaused", "ContainersStopped", "Images", "Driver",
                                       "CgroupVersion", NULL};
    wk_job_set_result(job, rt_pick(v, keys));
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

static wk_run verb_run(wk_job *job)
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
    if(!rc)
        rc = rt_request(&c, v->method, path, NULL, &st, &ans, &err);
    if(rc)
        return rt_fail(job, rc, &err);
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

static wk_run inspect_run(wk_job *job)
{
    const char *t = wk_job_env(job)->type;
    bool img = strncmp(t, "runtime.image.", 14) == 0, vol = strncmp(t, "runtime.volume.", 15) == 0;
    char name[3 * 256 + 1], path[RT_PATH_MAX];
    rt_arg_name(job, img ? "image" : "name", name, sizeof(name));
    snprintf(path, sizeof(path), img ? "/images/%s/json" : vol ? "/volumes/%s" : "/containers/%s/json", name);
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = rt_call(&c, "GET", path, NULL, name, &v, &err);
    if(rc)
        return rt_fail(job, rc, &err);
    wk_job_set_result(job, v ? v : wh_json_null());
    return WK_RUN_OK;
}

static wk_run rename_run(wk_job *job)
{
    char name[3 * RT_NAME_MAX + 1], to[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    rt_arg_name(job, "name", name, sizeof(name));
    rt_arg_name(job, "new_name", to, sizeof(to));
    snprintf(path, sizeof(path), "/containers/%s/rename?name=%s", name, to);
    rt_conn c;
    wh_err err;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = rt_call(&c, "POST", path, NULL, name, NULL, &err);
    if(rc)
        return rt_fail(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(to));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

static wk_run update_run(wk_job *job)
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
    if(!rc)
        rc = rt_call(&c, "POST", path, body, name, &ans, &err);
    wh_json_free(body);
    if(rc)
        return rt_fail(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(name));
    wh_json *w = wh_json_get(ans, "Warnings");
    wh_json_setc(r, "warnings", w && wh_json_kind_of(w) == WH_JSON_ARRAY ? wh_json_array() : wh_json_array());
    wh_json_free(ans);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

/* ---- args tables ---- */

#define NAME_ARG(req) {"name", WH_ARG_STR, req, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"}
#define REF_ARG {"image", WH_ARG_STR, true, 1, 255, ref_ok, "must be an image reference name[:tag][@digest]"}

static const wh_arg_spec no_args[] = {{"_", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec name_args[] = {NAME_ARG(true)};
static const wh_arg_spec stop_args[] = {NAME_ARG(true), {"timeout_s", WH_ARG_INT, false, 0, 3600, NULL, NULL}};
static const wh_arg_spec kill_args[] = {
    NAME_ARG(true),
    {"signal", WH_ARG_STR, false, 1, 16, rt_name_ok, "must be a signal name or number (KILL, TERM, 9)"}};
static const wh_arg_spec remove_args[] = {NAME_ARG(true),
                                          {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
                                          {"volumes", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec rename_args[] = {
    NAME_ARG(true),
    {"new_name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"}};
static bool restart_ok(const char *s, size_t n)
{
    static const char *const ok[] = {"no", "always", "on-failure", "unless-stopped"};
    for(int i = 0; i < 4; i++)
        if(strlen(ok[i]) == n && memcmp(ok[i], s, n) == 0)
            return true;
    return false;
}
static const wh_arg_spec update_args[] = {
    NAME_ARG(true),
    {"restart", WH_ARG_STR, false, 2, 14, restart_ok, "must be no, always, on-failure or unless-stopped"},
    {"restart_max", WH_ARG_INT, false, 0, 1000, NULL, NULL},
    {"memory", WH_ARG_INT, false, 6291456, INT64_C(1) << 50, NULL, NULL},
    {"cpu_millis", WH_ARG_INT, false, 1, 1024000, NULL, NULL}};
static const wh_arg_spec image_args[] = {REF_ARG};
static const wh_arg_spec image_remove_args[] = {REF_ARG, {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec vol_create_args[] = {NAME_ARG(true),
                                              {"driver", WH_ARG_STR, false, 1, 64, rt_name_ok, "must be a driver name"},
                                              {"options", WH_ARG_MAP, false, 0, 64, NULL, NULL},
                                              {"labels", WH_ARG_MAP, false, 0, 64, NULL, NULL}};
static const wh_arg_spec vol_remove_args[] = {NAME_ARG(true), {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec net_create_args[] = {NAME_ARG(true),
                                              {"driver", WH_ARG_STR, false, 1, 64, rt_name_ok, "must be a driver name"},
                                              {"internal", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
                                              {"subnet", WH_ARG_STR, false, 9, 43, NULL, NULL},
                                              {"labels", WH_ARG_MAP, false, 0, 64, NULL, NULL}};
static const wh_arg_spec net_connect_args[] = {
    NAME_ARG(true),
    {"container", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must be a container name or id"},
    {"aliases", WH_ARG_ARRAY, false, 0, 16, NULL, NULL},
    {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};

/* Shapes the table cannot express: map values must be strings. */
static wh_code str_maps_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    static const char *const keys[] = {"options", "labels", "aliases"};
    for(int k = 0; k < 3; k++) {
        const wh_mp_obj *m = wh_mp_map_get(args, keys[k]);
        bool arr = k == 2;
        for(uint32_t i = 0; m && i < wh_mp_size(m); i++) {
            const char *s;
            size_t n;
            if(!wh_mp_str(arr ? wh_mp_arr_at(m, i) : wh_mp_map_val(m, i), &s, &n) || n > 1024)
                return wh_err_set(err, WH_E_BAD_ARGS, keys[k] == keys[2] ? "args.aliases" : keys[k] == keys[0]
                                  ? "args.options" : "args.labels", "args.%s: values must be strings of at most 1024 bytes",
                                  keys[k]);
        }
    }
    return WH_OK;
}

#define T(nm, a, fn, lk) {.name = nm, .args = a, .nargs = N(a), .run = fn, .needs_host = true, .lock_key = lk}

static const wk_type runtime_types[] = {
    {.name = "runtime.host.ping", .args = no_args, .nargs = 0, .run = host_ping_run, .needs_host = true, .max_attempts = 0},
    {.name = "runtime.host.info", .args = no_args, .nargs = 0, .run = host_info_run, .needs_host = true},
    {.name = "runtime.stack.deploy", .args = rt_stack_args, .nargs = RT_STACK_NARGS, .check = rt_stack_check,
     .run = rt_stack_deploy_run, .needs_host = true, .lock_key = stack_lock, .max_attempts = 1},
    {.name = "runtime.stack.remove", .args = rt_unstack_args, .nargs = RT_UNSTACK_NARGS,
     .run = rt_stack_remove_run, .needs_host = true, .lock_key = stack_lock},
    {.name = "runtime.template.deploy", .args = rt_tmpl_args, .nargs = RT_TMPL_NARGS, .check = rt_tmpl_check,
     .run = rt_tmpl_run, .needs_host = true, .lock_key = stack_lock, .max_attempts = 1},
    {.name = "runtime.host.sync", .args = no_args, .nargs = 0, .run = rt_sync_run, .needs_host = true},
    {.name = "runtime.host.stats", .args = no_args, .nargs = 0, .run = rt_stats_run, .needs_host = true,
     .max_attempts = 1},
    {.name = "runtime.container.create", .args = rt_create_args, .nargs = RT_CREATE_NARGS, .check = rt_create_check,
     .run = rt_create_run, .needs_host = true, .lock_key = ctr_lock},
    {.name = "runtime.container.run", .args = rt_create_args, .nargs = RT_CREATE_NARGS, .check = rt_create_check, .run = rt_run_run,
     .needs_host = true, .lock_key = ctr_lock},
    T("runtime.container.start", name_args, verb_run, ctr_lock),
    T("runtime.container.stop", stop_args, verb_run, ctr_lock),
    T("runtime.container.restart", stop_args, verb_run, ctr_lock),
    T("runtime.container.pause", name_args, verb_run, ctr_lock),
    T("runtime.container.unpause", name_args, verb_run, ctr_lock),
    T("runtime.container.kill", kill_args, verb_run, ctr_lock),
    T("runtime.container.remove", remove_args, verb_run, ctr_lock),
    T("runtime.container.rename", rename_args, rename_run, ctr_lock),
    T("runtime.container.update", update_args, update_run, ctr_lock),
    T("runtime.container.inspect", name_args, inspect_run, NULL),
    {.name = "runtime.container.list", .args = no_args, .nargs = 0, .run = rt_list_run, .needs_host = true},
    {.name = "runtime.container.exec", .args = rt_exec_args, .nargs = RT_EXEC_NARGS, .check = rt_exec_check,
     .run = rt_exec_run, .needs_host = true, .lock_key = ctr_lock},
    {.name = "runtime.container.logs", .args = rt_logs_args, .nargs = RT_LOGS_NARGS, .run = rt_logs_run, .needs_host = true},
    {.name = "runtime.image.pull", .args = rt_pull_args, .nargs = RT_PULL_NARGS, .check = rt_pull_check,
     .run = rt_pull_run, .needs_host = true, .lock_key = img_lock},
    {.name = "runtime.image.list", .args = no_args, .nargs = 0, .run = rt_list_run, .needs_host = true},
    T("runtime.image.inspect", image_args, inspect_run, NULL),
    T("runtime.image.remove", image_remove_args, rt_image_remove_run, img_lock),
    {.name = "runtime.image.prune", .args = rt_prune_args, .nargs = RT_PRUNE_NARGS, .run = rt_prune_run,
     .needs_host = true},
    {.name = "runtime.volume.create", .args = vol_create_args, .nargs = N(vol_create_args), .check = str_maps_check,
     .run = rt_volume_create_run, .needs_host = true, .lock_key = vol_lock},
    T("runtime.volume.remove", vol_remove_args, rt_remove_named_run, vol_lock),
    T("runtime.volume.inspect", name_args, inspect_run, NULL),
    {.name = "runtime.volume.backup", .args = rt_backup_args, .nargs = RT_BACKUP_NARGS, .run = rt_backup_run,
     .needs_host = true, .lock_key = vol_lock},
    {.name = "runtime.volume.restore", .args = rt_backup_args, .nargs = RT_BACKUP_NARGS, .run = rt_restore_run,
     .needs_host = true, .lock_key = vol_lock},
    {.name = "runtime.volume.list", .args = no_args, .nargs = 0, .run = rt_list_run, .needs_host = true},
    {.name = "runtime.volume.prune", .args = no_args, .nargs = 0, .run = rt_prune_run, .needs_host = true},
    {.name = "runtime.network.create", .args = net_create_args, .nargs = N(net_create_args), .check = str_maps_check,
     .run = rt_network_create_run, .needs_host = true, .lock_key = net_lock},
    T("runtime.network.remove", name_args, rt_remove_named_run, net_lock),
    {.name = "runtime.network.list", .args = no_args, .nargs = 0, .run = rt_list_run, .needs_host = true},
    {.name = "runtime.network.connect", .args = net_connect_args, .nargs = N(net_connect_args), .check = str_maps_check,
     .run = rt_network_connect_run, .needs_host = true, .lock_key = net_lock},
    {.name = "runtime.network.disconnect", .args = net_connect_args, .nargs = N(net_connect_args),
     .check = str_maps_check, .run = rt_network_connect_run, .needs_host = true, .lock_key = net_lock},
};

const wk_family wk_family_runtime = {"runtime", runtime_types, N(runtime_types)};
