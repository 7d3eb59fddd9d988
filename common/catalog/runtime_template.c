/* runtime_template: template.deploy, a Portainer v2 app template of type 1 (one
 * container) deployed as a one-container stack named `name`.
 *
 *   {name, template: {type: 1, image, env: [{name, default}], ports:
 *    ["8080:80/tcp", "443/tcp"], volumes: [{container, bind?, readonly?}],
 *    labels: [{name, value}], restart_policy}, env: {NAME: value},
 *    host_ip: "127.0.0.1"}
 *
 * Template env defaults are overridden by the job's `env`; ports publish on
 * host_ip (default 127.0.0.1); a volume without `bind` becomes the named
 * volume <name>-vol<i> of the stack, one with `bind` a bind mount (inside the
 * host's roots, as for container.create). The template is translated to
 * stack args here and validated by the stack's own checks; the worker
 * deploys the translation as a stack (worker/families/runtime/stack.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_args.h"
#include "wh_conv.h"

const wh_arg_spec rt_tmpl_args[RT_TMPL_NARGS] = {
    {"name", WH_ARG_STR, true, 1, 64, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"},
    {"template", WH_ARG_MAP, true, 1, 64, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, 256, NULL, NULL},
    {"host_ip", WH_ARG_STR, false, 7, 45, NULL, NULL},
};

/* "8080:80/tcp", "80/udp", "80" -> {container, host?, proto, host_ip}. */
static wh_json *port_of(const char *s, size_t n, const char *ip)
{
    char buf[40];
    if(n == 0 || n >= sizeof(buf))
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *proto = strchr(buf, '/');
    if(proto)
        *proto++ = '\0';
    char *colon = strrchr(buf, ':');
    char *cport = colon ? colon + 1 : buf;
    if(colon)
        *colon = '\0';
    char *end;
    long c = strtol(cport, &end, 10), h = 0;
    if(*end || c < 1 || c > 65535)
        return NULL;
    if(colon) {
        h = strtol(buf, &end, 10);
        if(*end || h < 0 || h > 65535)
            return NULL;
    }
    if(proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
        return NULL;
    wh_json *p = wh_json_object();
    wh_json_setc(p, "container", wh_json_int(c));
    if(h)
        wh_json_setc(p, "host", wh_json_int(h));
    wh_json_setc(p, "proto", wh_json_str(proto ? proto : "tcp"));
    wh_json_setc(p, "host_ip", wh_json_str(ip));
    return p;
}

static const char *mp_s(const wh_mp_obj *m, const char *key, size_t *n)
{
    const wh_mp_obj *o = wh_mp_kind_of(m) == WH_MP_MAP ? wh_mp_map_get(m, key) : NULL;
    const char *s;
    if(o && wh_mp_str(o, &s, n))
        return s;
    return NULL;
}

static wh_code env_of(const wh_mp_obj *t, const wh_mp_obj *over, wh_json *ctr, wh_err *err)
{
    const wh_mp_obj *list = wh_mp_map_get(t, "env");
    wh_json *env = wh_json_object();
    for(uint32_t i = 0; list && i < wh_mp_size(list); i++) {
        size_t kn = 0, vn = 0;
        const char *k = mp_s(wh_mp_arr_at(list, i), "name", &kn);
        const char *v = mp_s(wh_mp_arr_at(list, i), "default", &vn);
        if(!k) {
            wh_json_free(env);
            return wh_err_at(err, WH_E_BAD_ARGS, "args.template.env[%u]: needs a name", i);
        }
        wh_json_set(env, k, kn, wh_json_strn(v ? v : "", v ? vn : 0));
    }
    for(uint32_t i = 0; over && i < wh_mp_size(over); i++) {
        const char *k, *v;
        size_t kn, vn;
        if(wh_mp_str(wh_mp_map_key(over, i), &k, &kn) && wh_mp_str(wh_mp_map_val(over, i), &v, &vn))
            wh_json_set(env, k, kn, wh_json_strn(v, vn));
    }
    wh_json_setc(ctr, "env", env);
    return WH_OK;
}

static wh_code mounts_of(const wh_mp_obj *t, const char *name, wh_json *ctr, wh_json *vols, wh_err *err)
{
    const wh_mp_obj *list = wh_mp_map_get(t, "volumes");
    wh_json *binds = wh_json_array(), *named = wh_json_array();
    for(uint32_t i = 0; list && i < wh_mp_size(list); i++) {
        const wh_mp_obj *v = wh_mp_arr_at(list, i);
        size_t cn = 0, bn = 0;
        const char *c = mp_s(v, "container", &cn), *b = mp_s(v, "bind", &bn);
        bool ro = false;
        const wh_mp_obj *r = wh_mp_kind_of(v) == WH_MP_MAP ? wh_mp_map_get(v, "readonly") : NULL;
        if(r)
            wh_mp_bool(r, &ro);
        if(!c) {
            wh_json_free(binds);
            wh_json_free(named);
            return wh_err_at(err, WH_E_BAD_ARGS, "args.template.volumes[%u]: needs a container path", i);
        }
        wh_json *m = wh_json_object();
        wh_json_setc(m, "target", wh_json_strn(c, cn));
        wh_json_setc(m, "read_only", wh_json_bool(ro));
        if(b) {
            wh_json_setc(m, "source", wh_json_strn(b, bn));
            wh_json_push(binds, m);
        } else {
            char vn[RT_NAME_MAX + 16];
            snprintf(vn, sizeof(vn), "%.64s-vol%u", name, i);
            wh_json_setc(m, "name", wh_json_str(vn));
            wh_json_push(named, m);
            wh_json *vo = wh_json_object();
            wh_json_setc(vo, "name", wh_json_str(vn));
            wh_json_push(vols, vo);
        }
    }
    wh_json_setc(ctr, "binds", binds);
    wh_json_setc(ctr, "volumes", named);
    return WH_OK;
}

wh_code rt_tmpl_translate(const wh_mp_obj *a, wh_json **out, wh_err *err)
{
    const wh_mp_obj *t = wh_mp_map_get(a, "template");
    int64_t type = 0;
    const wh_mp_obj *to = wh_mp_map_get(t, "type");
    size_t nn, in, rn, ipn;
    const char *name = wh_args_str(a, "name", "", &nn), *img = mp_s(t, "image", &in);
    if(!to || !wh_mp_int(to, &type) || type != 1)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.template.type", "args.template.type: only type 1 (container)");
    if(!img)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.template.image", "args.template.image: is required");
    const char *ip = wh_args_str(a, "host_ip", "127.0.0.1", &ipn);
    char ipbuf[64], cname[RT_NAME_MAX + 1];
    snprintf(ipbuf, sizeof(ipbuf), "%.*s", (int)ipn, ip);
    snprintf(cname, sizeof(cname), "%.*s", (int)nn, name);
    wh_json *ctr = wh_json_object(), *vols = wh_json_array(), *ports = wh_json_array(), *labels = wh_json_object();
    wh_json_setc(ctr, "name", wh_json_str(cname));
    wh_json_setc(ctr, "image", wh_json_strn(img, in));
    const char *rp = mp_s(t, "restart_policy", &rn);
    if(rp)
        wh_json_setc(ctr, "restart", wh_json_strn(rp, rn));
    const wh_mp_obj *pl = wh_mp_map_get(t, "ports"), *ll = wh_mp_map_get(t, "labels");
    wh_code rc = WH_OK;
    for(uint32_t i = 0; !rc && pl && i < wh_mp_size(pl); i++) {
        const char *s;
        size_t n;
        wh_json *p = wh_mp_str(wh_mp_arr_at(pl, i), &s, &n) ? port_of(s, n, ipbuf) : NULL;
        if(!p)
            rc = wh_err_at(err, WH_E_BAD_ARGS, "args.template.ports[%u]: must look like \"8080:80/tcp\" or \"80/udp\"",
                           i);
        else
            wh_json_push(ports, p);
    }
    for(uint32_t i = 0; !rc && ll && i < wh_mp_size(ll); i++) {
        size_t kn = 0, vn = 0;
        const char *k = mp_s(wh_mp_arr_at(ll, i), "name", &kn), *v = mp_s(wh_mp_arr_at(ll, i), "value", &vn);
        if(k)
            wh_json_set(labels, k, kn, wh_json_strn(v ? v : "", v ? vn : 0));
    }
    wh_json_setc(ctr, "ports", ports);
    wh_json_setc(ctr, "labels", labels);
    if(!rc)
        rc = env_of(t, wh_mp_map_get(a, "env"), ctr, err);
    if(!rc)
        rc = mounts_of(t, cname, ctr, vols, err);
    if(rc) {
        wh_json_free(ctr);
        wh_json_free(vols);
        return rc;
    }
    wh_json *st = wh_json_object(), *ctrs = wh_json_array();
    wh_json_push(ctrs, ctr);
    wh_json_setc(st, "name", wh_json_str(cname));
    wh_json_setc(st, "volumes", vols);
    wh_json_setc(st, "containers", ctrs);
    *out = st;
    return WH_OK;
}

wh_code rt_tmpl_stack_doc(const wh_mp_obj *a, wh_mp_pack **pk, wh_mp_doc **doc, wh_err *err)
{
    wh_json *st = NULL;
    wh_code rc = rt_tmpl_translate(a, &st, err);
    if(rc)
        return rc;
    *pk = wh_mp_pack_new(1u << 20);
    rc = *pk ? wh_conv_to_mp(st, *pk, err) : wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    wh_json_free(st);
    size_t len = 0;
    const char *data = rc ? NULL : wh_mp_pack_data(*pk, &len);
    if(!rc && !(*doc = wh_mp_parse(data, len, WH_MP_MAX_DEPTH, err)))
        rc = err ? err->code : WH_E_BAD_ARGS;
    if(!rc && (rc = rt_stack_check(wh_mp_root(*doc), NULL, err)) != WH_OK)
        rc = WH_E_BAD_ARGS;
    return rc;
}

wh_code rt_tmpl_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    wh_mp_pack *pk = NULL;
    wh_mp_doc *doc = NULL;
    wh_code rc = rt_tmpl_stack_doc(args, &pk, &doc, err);
    wh_mp_doc_free(doc);
    wh_mp_pack_free(pk);
    return rc;
}
