/* runtime_create_body: container.create's args as the Engine's create body
 * (shared with container.run and every container of a stack), and
 * container.exec's args, whose cmd and env have the same shapes.
 *
 * Every rule the args table cannot express is checked on the way: array
 * elements are strings, env keys have no '=', mounts are {source|name,
 * target, read_only?} with absolute paths, ports {container, host?, proto?,
 * host_ip?}, health (container.run's health check) one of its two shapes.
 * What depends on the target host (binds inside its roots, existing, not
 * bound twice) is the worker's, when the job runs
 * (worker/families/runtime/container_create.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_args.h"
#include "wh_inv.h"

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

const wh_arg_spec rt_exec_args[RT_EXEC_NARGS] = {
    {"name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"},
    {"cmd", WH_ARG_ARRAY, true, 1, 256, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, 256, NULL, NULL},
    {"user", WH_ARG_STR, false, 1, 64, NULL, NULL},
    {"workdir", WH_ARG_STR, false, 1, 1024, abs_ok, "must be an absolute path"},
};

/* cmd and env: the shapes the create body builder checks. */
wh_code rt_exec_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    const wh_mp_obj *cmd = wh_mp_map_get(args, "cmd");
    for(uint32_t i = 0; i < wh_mp_size(cmd); i++) {
        const char *s;
        size_t n;
        if(!wh_mp_str(wh_mp_arr_at(cmd, i), &s, &n) || n > 32768)
            return wh_err_at(err, WH_E_BAD_ARGS, "args.cmd[%u]: must be a string of at most 32768 bytes", i);
    }
    const wh_mp_obj *env = wh_mp_map_get(args, "env");
    for(uint32_t i = 0; env && i < wh_mp_size(env); i++) {
        const char *k, *v;
        size_t kn, vn;
        if(!wh_mp_str(wh_mp_map_key(env, i), &k, &kn) || !wh_mp_str(wh_mp_map_val(env, i), &v, &vn) || !kn ||
           kn > 256 || vn > 32768 || memchr(k, '=', kn))
            return wh_err_set(err, WH_E_BAD_ARGS, "args.env", "args.env: names 1..256 bytes without '=', string values");
    }
    return WH_OK;
}

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
            return wh_err_at(err, WH_E_BAD_ARGS, "args.%s[%u]: must be a UTF-8 string of at most %zu bytes", field, i,
                             max);
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
            return wh_err_at(err, WH_E_BAD_ARGS, "args.%s: keys must be 1..256 bytes%s, values strings", field,
                             env ? " without '='" : "");
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

static wh_code one_mount(const wh_mp_obj *m, bool bind, uint32_t i, wh_json **out, wh_err *err)
{
    const char *field = bind ? "binds" : "volumes";
    char src[WH_INV_PATH_MAX], dst[1024];
    bool ro = false;
    const wh_mp_obj *rov = wh_mp_map_get(m, "read_only");
    if(wh_mp_kind_of(m) != WH_MP_MAP || field_str(m, bind ? "source" : "name", src, sizeof(src)) != 1 ||
       field_str(m, "target", dst, sizeof(dst)) != 1 || dst[0] != '/' || (rov && !wh_mp_bool(rov, &ro)))
        return wh_err_at(err, WH_E_BAD_ARGS, "args.%s[%u]: must be {%s, target (absolute), read_only?}", field, i,
                         bind ? "source (absolute host path)" : "name");
    if(bind && (src[0] != '/' || strstr(src, "/../") || strstr(src, "/./")))
        return wh_err_at(err, WH_E_BAD_ARGS, "args.binds[%u].source: must be an absolute path without . or ..", i);
    if(!bind && !rt_name_ok(src, strlen(src)))
        return wh_err_at(err, WH_E_BAD_ARGS, "args.volumes[%u].name: not a volume name", i);
    *out = wh_json_object();
    wh_json_setc(*out, "Type", wh_json_str(bind ? "bind" : "volume"));
    wh_json_setc(*out, "Source", wh_json_str(src));
    wh_json_setc(*out, "Target", wh_json_str(dst));
    wh_json_setc(*out, "ReadOnly", wh_json_bool(ro));
    return WH_OK;
}

/* Binds first, then volumes, as HostConfig.Mounts. */
static wh_code mounts(const wh_mp_obj *args, wh_json *hc, wh_err *err)
{
    wh_json *arr = wh_json_array();
    for(int b = 1; b >= 0; b--) {
        const wh_mp_obj *list = wh_mp_map_get(args, b ? "binds" : "volumes");
        for(uint32_t i = 0; list && i < wh_mp_size(list); i++) {
            wh_json *m = NULL;
            wh_code rc = one_mount(wh_mp_arr_at(list, i), b, i, &m, err);
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
            return wh_err_at(err, WH_E_BAD_ARGS,
                             "args.ports[%u]: must be {container: 1..65535, host?: 0..65535, proto?: tcp|udp, host_ip?}",
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

wh_code rt_create_body_build(const wh_mp_obj *a, wh_json **body, wh_err *err)
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
        rc = mounts(a, hc, err);
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
    wh_code rc = rt_create_body_build(args, &b, err);
    wh_json_free(b);
    return rc;
}

wh_code rt_health_check_shape(const wh_mp_obj *h, wh_err *err)
{
    if(!h)
        return WH_OK;
    const wh_mp_obj *cmd = wh_mp_map_get(h, "cmd"), *port = wh_mp_map_get(h, "http_port");
    int64_t v = 0;
    bool ok = wh_mp_kind_of(h) == WH_MP_MAP && (!cmd != !port);
    for(uint32_t i = 0; ok && cmd && i < wh_mp_size(cmd); i++) {
        const char *s;
        size_t n;
        ok = wh_mp_kind_of(cmd) == WH_MP_ARRAY && wh_mp_str(wh_mp_arr_at(cmd, i), &s, &n) && n <= 4096;
    }
    ok = ok && (!cmd || (wh_mp_kind_of(cmd) == WH_MP_ARRAY && wh_mp_size(cmd) >= 1 && wh_mp_size(cmd) <= 64));
    ok = ok && (!port || (wh_mp_int(port, &v) && v >= 1 && v <= 65535));
    const wh_mp_obj *path = wh_mp_map_get(h, "path");
    char buf[512];
    ok = ok && (!path || (rt_mp_cstr(path, buf, sizeof(buf)) && buf[0] == '/' && !strpbrk(buf, " \r\n")));
    const wh_mp_obj *iv = wh_mp_map_get(h, "interval_ms"), *re = wh_mp_map_get(h, "retries");
    ok = ok && (!iv || (wh_mp_int(iv, &v) && v >= 10 && v <= 600000));
    ok = ok && (!re || (wh_mp_int(re, &v) && v >= 1 && v <= 10000));
    for(uint32_t i = 0; ok && i < wh_mp_size(h); i++) {
        const wh_mp_obj *k = wh_mp_map_key(h, i);
        ok = wh_mp_str_eq(k, "cmd") || wh_mp_str_eq(k, "http_port") || wh_mp_str_eq(k, "path") ||
             wh_mp_str_eq(k, "interval_ms") || wh_mp_str_eq(k, "retries");
    }
    return ok ? WH_OK
              : wh_err_set(err, WH_E_BAD_ARGS, "args.health",
                           "args.health: must be {cmd: [str] | http_port: 1..65535, path?: \"/...\", "
                           "interval_ms?: 10..600000, retries?: 1..10000}");
}
