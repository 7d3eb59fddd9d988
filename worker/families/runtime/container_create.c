/* container_create: container.create and container.run.
 *
 * The job's args are turned into the Engine's create body here, and every
 * rule the table cannot express is checked on the way: array elements are
 * strings, env keys have no '=', binds are absolute host paths inside the
 * host's `roots` (wh_inv_path_allowed), exist (checked here on local unix
 * engines, where the worker sees the host's filesystem; by the engine
 * itself on the host for ssh:// and tcp:// ones, whose "bind source path
 * does not exist" answer becomes bad_args, rt_create_call) and are not
 * bound twice (conflict, checked when the job runs, so it is the job's
 * error): not twice in one container, and not by another container of
 * the host, stopped ones included (rt_create_call asks the engine).
 * container.run pulls a missing image first (image_pull.c). Published ports bind 127.0.0.1 unless host_ip says
 * otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stream_demux.h"
#include "runtime.h"

static bool restart_ok(const char *s, size_t n)
{
    return (n == 2 && !memcmp(s, "no", 2)) || (n == 6 && !memcmp(s, "always", 6)) ||
           (n == 10 && !memcmp(s, "on-failure", 10)) || (n == 14 && !memcmp(s, "unless-stopped", 14));
}

static bool wait_ok(const char *s, size_t n)
{
    return (n == 4 && !memcmp(s, "none", 4)) || (n == 4 && !memcmp(s, "exit", 4));
}

static bool abs_ok(const char *s, size_t n)
{
    return n >= 1 && s[0] == '/';
}

const wh_arg_spec rt_create_args[RT_CREATE_NARGS] = {
    {"name", WH_ARG_STR, false, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"},
    {"image", WH_ARG_STR, true, 1, 255, NULL, NULL},
    {"cmd", WH_ARG_ARRAY, false, 0, 256, NULL, NULL},
    {"entrypoint", WH_ARG_ARRAY, false, 0, 64, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, 256, NULL, NULL},
    {"labels", WH_ARG_MAP, false, 0, 64, NULL, NULL},
    {"workdir", WH_ARG_STR, false, 1, 1024, abs_ok, "must be an absolute path"},
    {"user", WH_ARG_STR, false, 1, 64, NULL, NULL},
    {"restart", WH_ARG_STR, false, 2, 14, restart_ok, "must be no, always, on-failure or unless-stopped"},
    {"restart_max", WH_ARG_INT, false, 0, 1000, NULL, NULL},
    {"binds", WH_ARG_ARRAY, false, 0, 32, NULL, NULL},
    {"volumes", WH_ARG_ARRAY, false, 0, 32, NULL, NULL},
    {"ports", WH_ARG_ARRAY, false, 0, 64, NULL, NULL},
    {"network", WH_ARG_STR, false, 1, RT_NAME_MAX, rt_name_ok, "must be a network name"},
    {"aliases", WH_ARG_ARRAY, false, 0, 16, NULL, NULL},
    {"memory", WH_ARG_INT, false, 6291456, INT64_C(1) << 50, NULL, NULL},
    {"cpu_millis", WH_ARG_INT, false, 1, 1024000, NULL, NULL},
    {"wait", WH_ARG_STR, false, 4, 4, wait_ok, "must be none or exit"},
    {"wait_timeout_s", WH_ARG_INT, false, 1, 86400, NULL, NULL},
    {"tail", WH_ARG_INT, false, 0, 1000, NULL, NULL},
    {"health", WH_ARG_MAP, false, 1, 5, NULL, NULL},
};

/* An array of strings (each at most `max` bytes) as a JSON array. */
static wh_code str_array(const wh_mp_obj *a, const char *field, size_t max, wh_json **out, wh_err *err)
{
    *out = wh_json_array();
    for(uint32_t i = 0; a && i < wh_mp_size(a); i++) {
        const char *s;
        size_t n;
        wh_json *v = NULL;
        if(wh_mp_str(wh_mp_arr_at(a, i), &s, &n) && n <= max)
            v = wh_json_strn(s, n);
        if(!v) {
            wh_json_free(*out);
            *out = NULL;
            return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.%s.%u: must be a UTF-8 string of at most %zu bytes",
                              field, i, max);
        }
        wh_json_push(*out, v);
    }
    return WH_OK;
}

/* env (map) -> ["K=V"], labels (map) -> object. */
static wh_code str_map(const wh_mp_obj *m, const char *field, bool env, wh_json **out, wh_err *err)
{
    *out = env ? wh_json_array() : wh_json_object();
    for(uint32_t i = 0; m && i < wh_mp_size(m); i++) {
        const char *k, *v;
        size_t kn, vn;
        bool ok = wh_mp_str(wh_mp_map_key(m, i), &k, &kn) && wh_mp_str(wh_mp_map_val(m, i), &v, &vn) && kn >= 1 &&
                  kn <= 256 && vn <= 32768 && !(env && memchr(k, '=', kn));
        int rc = -1;
        if(ok && env) {
            char buf[256 + 1 + 32768 + 1];
            int len = snprintf(buf, sizeof(buf), "%.*s=%.*s", (int)kn, k, (int)vn, v);
            rc = wh_json_push(*out, wh_json_strn(buf, (size_t)len));
        } else if(ok) {
            rc = wh_json_set(*out, k, kn, wh_json_strn(v, vn));
        }
        if(rc) {
            wh_json_free(*out);
            *out = NULL;
            return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.%s: keys must be 1..256 bytes%s, values strings",
                              field, env ? " without '='" : "");
        }
    }
    return WH_OK;
}

/* Read string `key` of map `m` into out[cap]; 0 absent, 1 ok, -1 wrong. */
static int field_str(const wh_mp_obj *m, const char *key, char *out, size_t cap)
{
    const wh_mp_obj *o = wh_mp_map_get(m, key);
    if(!o)
        return 0;
    return rt_mp_cstr(o, out, cap) ? 1 : -1;
}

static wh_code one_mount(const wh_mp_obj *m, bool bind, uint32_t i, const wh_inv_host *h, wh_json **out, wh_err *err)
{
    const char *field = bind ? "binds" : "volumes";
    char src[WH_INV_PATH_MAX], dst[1024];
    bool ro = false;
    const wh_mp_obj *rov = wh_mp_map_get(m, "read_only");
    if(wh_mp_kind_of(m) != WH_MP_MAP || field_str(m, bind ? "source" : "name", src, sizeof(src)) != 1 ||
       field_str(m, "target", dst, sizeof(dst)) != 1 || dst[0] != '/' || (rov && !wh_mp_bool(rov, &ro)))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.%s.%u: must be {%s, target (absolute), read_only?}", field,
                          i, bind ? "source (absolute host path)" : "name");
    if(bind && (src[0] != '/' || strstr(src, "/../") || strstr(src, "/./")))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.binds.%u.source: must be an absolute path without . or ..",
                          i);
    if(!bind && !rt_name_ok(src, strlen(src)))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.volumes.%u.name: not a volume name", i);
    if(bind && h && !wh_inv_path_allowed(h, src))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.binds.%u.source: %s is outside the roots of host %s", i,
                          src, h->name);
    struct stat st;
    if(bind && h && h->docker_kind == WH_DOCKER_UNIX && (stat(src, &st) != 0 || !S_ISDIR(st.st_mode)))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args.binds.%u.source: host directory %s does not exist", i,
                          src);
    *out = wh_json_object();
    wh_json_setc(*out, "Type", wh_json_str(bind ? "bind" : "volume"));
    wh_json_setc(*out, "Source", wh_json_str(src));
    wh_json_setc(*out, "Target", wh_json_str(dst));
    wh_json_setc(*out, "ReadOnly", wh_json_bool(ro));
    return WH_OK;
}

static wh_code mounts(const wh_mp_obj *args, const wh_inv_host *h, wh_json *hc, wh_err *err)
{
    wh_json *arr = wh_json_array();
    for(int b = 1; b >= 0; b--) {
        const wh_mp_obj *list = wh_mp_map_get(args, b ? "binds" : "volumes");
        for(uint32_t i = 0; list && i < wh_mp_size(list); i++) {
            wh_json *m = NULL;
            wh_code rc = one_mount(wh_mp_arr_at(list, i), b, i, h, &m, err);
            for(size_t j = 0; !rc && b && h && j < wh_json_size(arr); j++) {
                size_t n1, n2;
                const char *s1 = wh_json_strv(wh_json_get(wh_json_at(arr, j), "Source"), &n1);
                const char *s2 = wh_json_strv(wh_json_get(m, "Source"), &n2);
                if(s1 && s2 && n1 == n2 && memcmp(s1, s2, n1) == 0)
                    rc = wh_err_set(err, WH_E_CONFLICT, "args", "args.binds.%u.source: %.*s is already bound", i,
                                    (int)n2, s2);
            }
            if(rc) {
                wh_json_free(m);
                wh_json_free(arr);
                return rc;
            }
            wh_json_push(arr, m);
        }
    }
    wh_json_setc(hc, "Mounts", arr);
    return WH_OK;
}

static wh_code ports(const wh_mp_obj *args, wh_json *cfg, wh_json *hc, wh_err *err)
{
    const wh_mp_obj *list = wh_mp_map_get(args, "ports");
    wh_json *exp = wh_json_object(), *pb = wh_json_object();
    for(uint32_t i = 0; list && i < wh_mp_size(list); i++) {
        const wh_mp_obj *p = wh_mp_arr_at(list, i);
        int64_t cport = 0, hport = 0;
        char proto[8] = "tcp", ip[64] = "127.0.0.1";
        bool is_map = wh_mp_kind_of(p) == WH_MP_MAP;
        const wh_mp_obj *hp = is_map ? wh_mp_map_get(p, "host") : NULL;
        const wh_mp_obj *cp = is_map ? wh_mp_map_get(p, "container") : NULL;
        bool ok = cp && wh_mp_int(cp, &cport) && cport >= 1 &&
                  cport <= 65535 && (!hp || (wh_mp_int(hp, &hport) && hport >= 0 && hport <= 65535)) &&
                  field_str(p, "proto", proto, sizeof(proto)) >= 0 && field_str(p, "host_ip", ip, sizeof(ip)) >= 0 &&
                  (!strcmp(proto, "tcp") || !strcmp(proto, "udp"));
        if(!ok) {
            wh_json_free(exp);
            wh_json_free(pb);
            return wh_err_set(err, WH_E_BAD_ARGS, "args",
                              "args.ports.%u: must be {container: 1..65535, host?: 0..65535, proto?: tcp|udp, host_ip?}",
                              i);
        }
        char key[24], hps[8];
        snprintf(key, sizeof(key), "%lld/%s", (long long)cport, proto);
        snprintf(hps, sizeof(hps), "%lld", (long long)hport);
        wh_json_setc(exp, key, wh_json_object());
        wh_json *b = wh_json_object(), *arr = wh_json_array();
        wh_json_setc(b, "HostIp", wh_json_str(ip));
        wh_json_setc(b, "HostPort", wh_json_str(hport ? hps : ""));
        wh_json_push(arr, b);
        wh_json_setc(pb, key, arr);
    }
    wh_json_setc(cfg, "ExposedPorts", exp);
    wh_json_setc(hc, "PortBindings", pb);
    return WH_OK;
}

static wh_json *restart_policy(const wh_mp_obj *a)
{
    size_t n;
    const char *s = wh_args_str(a, "restart", "no", &n);
    wh_json *rp = wh_json_object();
    wh_json_setc(rp, "Name", wh_json_strn(s, n));
    if(n == 10)
        wh_json_setc(rp, "MaximumRetryCount", wh_json_int(wh_args_int(a, "restart_max", 0)));
    return rp;
}

static void network(const wh_mp_obj *a, wh_json *cfg, wh_json *hc, wh_json *aliases)
{
    size_t n;
    const char *net = wh_args_str(a, "network", NULL, &n);
    if(!net) {
        wh_json_free(aliases);
        return;
    }
    wh_json_setc(hc, "NetworkMode", wh_json_strn(net, n));
    wh_json *ep = wh_json_object(), *eps = wh_json_object(), *nc = wh_json_object();
    wh_json_setc(ep, "Aliases", aliases);
    wh_json_set(eps, net, n, ep);
    wh_json_setc(nc, "EndpointsConfig", eps);
    wh_json_setc(cfg, "NetworkingConfig", nc);
}

wh_code rt_create_body(const wh_mp_obj *a, const wh_inv_host *h, wh_json **body, wh_err *err)
{
    wh_json *cfg = wh_json_object(), *hc = wh_json_object(), *v = NULL, *al = NULL;
    size_t n;
    const char *img = wh_args_str(a, "image", "", &n);
    wh_json_setc(cfg, "Image", wh_json_strn(img, n));
    wh_code rc = WH_OK;
    if(wh_mp_map_get(a, "cmd") && !(rc = str_array(wh_mp_map_get(a, "cmd"), "cmd", 32768, &v, err)))
        wh_json_setc(cfg, "Cmd", v);
    if(!rc && wh_mp_map_get(a, "entrypoint") &&
       !(rc = str_array(wh_mp_map_get(a, "entrypoint"), "entrypoint", 4096, &v, err)))
        wh_json_setc(cfg, "Entrypoint", v);
    if(!rc && !(rc = str_map(wh_mp_map_get(a, "env"), "env", true, &v, err)))
        wh_json_setc(cfg, "Env", v);
    if(!rc && !(rc = str_map(wh_mp_map_get(a, "labels"), "labels", false, &v, err)))
        wh_json_setc(cfg, "Labels", v);
    if(!rc)
        rc = str_array(wh_mp_map_get(a, "aliases"), "aliases", 253, &al, err);
    if(!rc)
        rc = rt_health_check_shape(wh_mp_map_get(a, "health"), err);
    if(!rc)
        rc = mounts(a, h, hc, err);
    if(!rc)
        rc = ports(a, cfg, hc, err);
    if(rc) {
        wh_json_free(cfg);
        wh_json_free(hc);
        wh_json_free(al);
        return rc;
    }
    if((img = wh_args_str(a, "workdir", NULL, &n)))
        wh_json_setc(cfg, "WorkingDir", wh_json_strn(img, n));
    if((img = wh_args_str(a, "user", NULL, &n)))
        wh_json_setc(cfg, "User", wh_json_strn(img, n));
    wh_json_setc(hc, "RestartPolicy", restart_policy(a));
    if(wh_mp_map_get(a, "memory"))
        wh_json_setc(hc, "Memory", wh_json_int(wh_args_int(a, "memory", 0)));
    if(wh_mp_map_get(a, "cpu_millis"))
        wh_json_setc(hc, "NanoCpus", wh_json_int(wh_args_int(a, "cpu_millis", 0) * 1000000));
    network(a, cfg, hc, al);
    wh_json_setc(cfg, "HostConfig", hc);
    *body = cfg;
    return WH_OK;
}

wh_code rt_create_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    wh_json *b = NULL;
    wh_code rc = rt_create_body(args, NULL, &b, err);
    wh_json_free(b);
    return rc;
}

/* True when mount `m` (engine JSON) is a bind. */
static bool is_bind(const wh_json *m)
{
    size_t tn = 0;
    const char *t = wh_json_strv(wh_json_get(m, "Type"), &tn);
    return t && tn == 4 && memcmp(t, "bind", 4) == 0;
}

/* True when mount `m` is a bind of host directory s[0..n). */
static bool binds_source(const wh_json *m, const char *s, size_t n)
{
    size_t sn = 0;
    const char *src = wh_json_strv(wh_json_get(m, "Source"), &sn);
    return is_bind(m) && src && sn == n && memcmp(src, s, n) == 0;
}

/* Conflict when a container of the host (stopped ones too) already binds a
 * host directory that `body` binds. One list call, only for bodies with
 * binds. */
static wh_code binds_free(rt_conn *c, const wh_json *body, wh_err *err)
{
    const wh_json *mine = wh_json_get(wh_json_get(body, "HostConfig"), "Mounts");
    bool any = false;
    for(size_t i = 0; mine && i < wh_json_size(mine); i++)
        any = any || is_bind(wh_json_at(mine, i));
    if(!any)
        return WH_OK;
    long st = 0;
    wh_json *list = NULL;
    wh_code rc = rt_request(c, "GET", "/containers/json?all=1", NULL, &st, &list, err);
    if(!rc && st != 200)
        rc = rt_engine_status(st, list, "list", err);
    for(size_t k = 0; !rc && list && k < wh_json_size(list); k++) {
        const wh_json *ctr = wh_json_at(list, k), *theirs = wh_json_get(ctr, "Mounts");
        for(size_t i = 0; !rc && i < wh_json_size(mine); i++) {
            size_t n = 0;
            const char *s = wh_json_strv(wh_json_get(wh_json_at(mine, i), "Source"), &n);
            if(!s || !binds_source(wh_json_at(mine, i), s, n))
                continue;
            for(size_t j = 0; !rc && theirs && j < wh_json_size(theirs); j++)
                if(binds_source(wh_json_at(theirs, j), s, n)) {
                    size_t nn = 0;
                    const char *name = wh_json_strv(wh_json_at(wh_json_get(ctr, "Names"), 0), &nn);
                    rc = wh_err_set(err, WH_E_CONFLICT, "args.binds",
                                    "args.binds.%zu.source: %.*s is already bound by container %.*s", i, (int)n, s,
                                    (int)(name && nn && name[0] == '/' ? nn - 1 : nn),
                                    name ? (name[0] == '/' ? name + 1 : name) : "?");
                }
        }
    }
    wh_json_free(list);
    return rc;
}

wh_code rt_create_call(rt_conn *c, const char *path, const wh_json *body, const char *what, wh_json **out,
                       wh_err *err)
{
    static const char gone[] = "bind source path does not exist: ";
    long st = 0;
    wh_json *ans = NULL;
    wh_code rc = binds_free(c, body, err);
    if(rc)
        return rc;
    rc = rt_request(c, "POST", path, body, &st, &ans, err);
    if(rc)
        return rc;
    size_t n = 0;
    const char *m = st == 400 ? wh_json_strv(wh_json_get(ans, "message"), &n) : NULL;
    const char *at = m ? (const char *)memmem(m, n, gone, sizeof(gone) - 1) : NULL;
    if(at) {
        size_t off = (size_t)(at - m) + sizeof(gone) - 1;
        rc = wh_err_set(err, WH_E_BAD_ARGS, "args.binds", "args.binds: host directory %.*s does not exist on host %s",
                        (int)(n - off > 600 ? 600 : n - off), m + off, c->host->name);
    } else
        rc = rt_engine_status(st, ans, what, err);
    if(rc || !out)
        wh_json_free(ans);
    else
        *out = ans;
    return rc;
}

/* Create; on success *id gets the container id (64 hex + NUL). */
static wh_code create(wk_job *job, rt_conn *c, char *id, size_t cap, wh_json **warnings, wh_err *err)
{
    wh_json *body = NULL, *ans = NULL;
    wh_code rc = rt_create_body(wk_job_args(job), wk_job_host(job), &body, err);
    char path[RT_PATH_MAX] = "/containers/create";
    if(!rc && wh_mp_map_get(wk_job_args(job), "name")) {
        char name[3 * RT_NAME_MAX + 1];
        rt_arg_name(job, "name", name, sizeof(name));
        snprintf(path, sizeof(path), "/containers/create?name=%s", name);
    }
    if(!rc)
        rc = rt_create_call(c, path, body, "create", &ans, err);
    wh_json_free(body);
    size_t n = 0;
    const char *s = rc ? NULL : wh_json_strv(wh_json_get(ans, "Id"), &n);
    if(!rc && (!s || n >= cap))
        rc = wh_err_set(err, WH_E_ENGINE, "", "create: the engine answered without an Id");
    if(!rc) {
        memcpy(id, s, n);
        id[n] = '\0';
        *warnings = wh_json_copy(wh_json_get(ans, "Warnings"));
    }
    wh_json_free(ans);
    return rc;
}

static wh_json *id_result(const char *id, wh_json *warnings)
{
    wh_json *r = wh_json_object();
    wh_json_setc(r, "id", wh_json_str(id));
    wh_json_setc(r, "warnings", warnings && wh_json_kind_of(warnings) == WH_JSON_ARRAY ? warnings : wh_json_array());
    if(warnings && wh_json_kind_of(warnings) != WH_JSON_ARRAY)
        wh_json_free(warnings);
    return r;
}

wk_run rt_create_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    char id[80];
    wh_json *w = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = create(job, &c, id, sizeof(id), &w, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wk_job_set_result(job, id_result(id, w));
    return WK_RUN_OK;
}

/* Collect the last lines of the container's output for the run result. */
typedef struct tail_ctx {
    rt_demux dm;
    rt_lines ln;
    wh_json *arr;
} tail_ctx;

static wh_code tail_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)s, (void)cut;
    tail_ctx *t = ud;
    wh_json *v = wh_json_strn(line, len);
    wh_json_push(t->arr, v ? v : wh_json_str("(not UTF-8)"));
    return WH_OK;
}

static wh_code tail_sink(void *ud, const char *data, size_t len)
{
    tail_ctx *t = ud;
    return rt_demux_feed(&t->dm, data, len, NULL);
}

wk_run rt_run_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    rt_conn c;
    wh_err err;
    char id[80], path[RT_PATH_MAX];
    wh_json *w = NULL, *ans = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = create(job, &c, id, sizeof(id), &w, &err);
    if(rc == WH_E_NOT_FOUND && strstr(err.msg, "No such image")) {
        /* Missing image: pull it with the inventory's credentials, then create again. */
        size_t n;
        const char *image = wh_args_str(a, "image", "", &n);
        rc = rt_pull_image(job, &c, image, n, NULL, 0, &err);
        if(!rc)
            rc = create(job, &c, id, sizeof(id), &w, &err);
    }
    if(!rc) {
        snprintf(path, sizeof(path), "/containers/%s/start", id);
        rc = rt_call(&c, "POST", path, NULL, "start", NULL, &err);
    }
    if(rc) {
        wh_json_free(w);
        return wk_job_fail_err(job, rc, &err);
    }
    wh_json *r = id_result(id, w);
    const wh_mp_obj *health = wh_mp_map_get(a, "health");
    if(health && (rc = rt_health_wait(job, &c, id, health, r, &err)) != WH_OK) {
        wh_json_free(r);
        return wk_job_fail_err(job, rc, &err); /* `unhealthy` names itself */
    }
    size_t wn;
    const char *wait = wh_args_str(a, "wait", "none", &wn);
    if(wn == 4 && !memcmp(wait, "exit", 4)) {
        snprintf(path, sizeof(path), "/containers/%s/wait", id);
        rc = rt_call(&c, "POST", path, NULL, "wait", &ans, &err);
        if(rc) {
            wh_json_free(r);
            return wk_job_fail_err(job, rc, &err);
        }
        wh_json_setc(r, "exit_code", wh_json_int(wh_json_intv(wh_json_get(ans, "StatusCode"))));
        wh_json_free(ans);
        tail_ctx t = {.arr = wh_json_array()};
        rt_demux_init(&t.dm, false, rt_lines_feed, &t.ln);
        rt_lines_init(&t.ln, tail_line, &t);
        long st = 0;
        snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1&tail=%lld", id,
                 (long long)wh_args_int(a, "tail", 50));
        if(rt_request_stream(&c, "GET", path, NULL, 30000, tail_sink, &t, &st, &err) == WH_OK)
            rt_lines_flush(&t.ln);
        wh_json_setc(r, "log_tail", t.arr);
    }
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
