/* images_volumes_networks: the runtime family's lists and its image, volume and network
 * handlers (the table is in handlers.c); image.pull is the engine's
 * credentialed pull (image_pull.h).
 *   volume.create is idempotent: an existing volume with the same driver and
 *   options is success (created=false), other options are a conflict;
 *   removing a volume or network in use is busy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_pull.h"
#include "runtime.h"
#include "wh_ref.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Copy `keys` of `from` into a new object (missing ones are skipped). */
wh_json *rt_pick(const wh_json *from, const char *const *keys)
{
    wh_json *o = wh_json_object();
    for(; *keys; keys++) {
        wh_json *v = wh_json_get(from, *keys);
        if(v) {
            char *d = wh_json_dump(v);
            wh_json *cp = d ? wh_json_parse(d, strlen(d), NULL) : NULL;
            free(d);
            if(cp)
                wh_json_setc(o, *keys, cp);
        }
    }
    return o;
}

/* ---- lists ---- */

typedef struct lister {
    const char *type;
    const char *path;
    const char *items;            /* key of the array in the answer; NULL: the answer is the array */
    const char *const *keys;      /* fields kept per item */
} lister;

static const char *const ctr_keys[] = {"Id", "Names", "Image", "State", "Status", "Created", "Labels", "Ports", NULL};
static const char *const img_keys[] = {"Id", "RepoTags", "RepoDigests", "Size", "Created", "Labels", NULL};
static const char *const vol_keys[] = {"Name", "Driver", "Mountpoint", "Labels", "Options", "CreatedAt", NULL};
static const char *const net_keys[] = {"Id", "Name", "Driver", "Scope", "Internal", "Labels", NULL};

static const lister listers[] = {
    {"runtime.container.list", "/containers/json?all=1", NULL, ctr_keys},
    {"runtime.image.list", "/images/json", NULL, img_keys},
    {"runtime.volume.list", "/volumes", "Volumes", vol_keys},
    {"runtime.network.list", "/networks", NULL, net_keys},
};

wk_run rt_list_run(wk_job *job)
{
    const lister *l = NULL;
    for(int i = 0; i < N(listers); i++)
        if(strcmp(listers[i].type, wk_job_env(job)->type) == 0)
            l = &listers[i];
    if(!l) /* the family's binding table routes only the types above here */
        return wk_job_fail(job, WH_E_INTERNAL, NULL, false, "no lister for %s", wk_job_env(job)->type);
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open_call(job, &c, "GET", l->path, NULL, "list", &v, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *arr = l->items ? wh_json_get(v, l->items) : v;
    wh_json *out = wh_json_array();
    for(size_t i = 0; arr && i < wh_json_size(arr); i++) {
        wh_json *item = rt_pick(wh_json_at(arr, i), l->keys);
        if(l->keys == img_keys)
            rt_image_familiar(&c, item);
        wh_json_push(out, item);
    }
    wh_json *r = wh_json_object();
    wh_json_setc(r, "count", wh_json_int((int64_t)wh_json_size(out)));
    wh_json_setc(r, "items", out);
    wh_json_free(v);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

/* ---- images, volumes, networks ---- */

wk_run rt_image_remove_run(wk_job *job)
{
    char ref[3 * 256 + 1], path[RT_PATH_MAX];
    rt_arg_name(job, "image", ref, sizeof(ref));
    snprintf(path, sizeof(path), "/images/%s?force=%d", ref, wh_args_bool(wk_job_args(job), "force", false));
    rt_conn c;
    wh_err err;
    wh_json *v = NULL;
    wh_code rc = rt_open_call(job, &c, "DELETE", path, NULL, "image", &v, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "removed", v ? v : wh_json_array());
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

/* Copy a str-to-str msgpack map into a JSON object (validated already). */
static wh_json *str_map(const wh_mp_obj *m)
{
    wh_json *o = wh_json_object();
    for(uint32_t i = 0; m && i < wh_mp_size(m); i++) {
        const char *k, *v;
        size_t kn, vn;
        if(wh_mp_str(wh_mp_map_key(m, i), &k, &kn) && wh_mp_str(wh_mp_map_val(m, i), &v, &vn))
            wh_json_set(o, k, kn, wh_json_strn(v, vn));
    }
    return o;
}

static bool same_opts(const wh_json *have, const wh_json *want)
{
    char *a = wh_json_dump(have), *b = wh_json_dump(want);
    bool same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

/* volume.create is idempotent: an existing volume with the same driver and
 * options is success (created=false); different options are a conflict. */
wk_run rt_volume_create_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t nn, dn;
    const char *name = wh_args_str(a, "name", "", &nn);
    const char *drv = wh_args_str(a, "driver", "local", &dn);
    char esc[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    wh_curl_escape(name, nn, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/volumes/%s", esc);
    wh_json *opts = str_map(wh_mp_map_get(a, "options"));
    rt_conn c;
    wh_err err;
    long st = 0;
    wh_json *have = NULL;
    wh_code rc = rt_open_request(job, &c, "GET", path, NULL, &st, &have, &err);
    bool created = false;
    if(!rc && st == 200) {
        size_t hn = 0;
        const char *hd = wh_json_strv(wh_json_get(have, "Driver"), &hn);
        wh_json *ho = wh_json_get(have, "Options");
        bool same = hd && hn == dn && memcmp(hd, drv, dn) == 0 &&
                    (ho && wh_json_kind_of(ho) == WH_JSON_OBJECT ? same_opts(ho, opts) : wh_json_size(opts) == 0);
        if(!same)
            rc = wh_err_set(&err, WH_E_CONFLICT, "args.options",
                            "volume %s exists with another driver or options", esc);
    } else if(!rc) {
        wh_json *body = wh_json_object();
        wh_json_setc(body, "Name", wh_json_strn(name, nn));
        wh_json_setc(body, "Driver", wh_json_strn(drv, dn));
        wh_json_setc(body, "DriverOpts", opts);
        opts = NULL;
        wh_json_setc(body, "Labels", str_map(wh_mp_map_get(a, "labels")));
        rc = rt_call(&c, "POST", "/volumes/create", body, "volume", NULL, &err);
        wh_json_free(body);
        created = true;
    }
    wh_json_free(have);
    wh_json_free(opts);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_strn(name, nn));
    wh_json_setc(r, "created", wh_json_bool(created));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_remove_named_run(wk_job *job)
{
    bool vol = strncmp(wk_job_env(job)->type, "runtime.volume.", 15) == 0;
    char name[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    rt_arg_name(job, "name", name, sizeof(name));
    if(vol)
        snprintf(path, sizeof(path), "/volumes/%s?force=%d", name, wh_args_bool(wk_job_args(job), "force", false));
    else
        snprintf(path, sizeof(path), "/networks/%s", name);
    rt_conn c;
    wh_err err;
    long st = 0;
    wh_json *ans = NULL;
    wh_code rc = rt_open_request(job, &c, "DELETE", path, NULL, &st, &ans, &err);
    if(!rc && (st == 409 || (!vol && st == 403)))
        rc = wh_err_set(&err, WH_E_BUSY, "", "%s %s is in use", vol ? "volume" : "network", name);
    if(!rc)
        rc = rt_engine_status(st, ans, name, &err);
    wh_json_free(ans);
    return rt_done_name(job, rc, &err, name);
}

/* Podman's network drivers are bridge, macvlan and ipvlan (netavark); a
 * Docker driver it lacks (overlay, host, none, plugins) is unsupported,
 * said before the engine's "invalid argument". */
static wh_code podman_driver(const rt_conn *c, const char *drv, size_t dn, wh_err *err)
{
    static const char *const have[] = {"bridge", "macvlan", "ipvlan"};
    if(c->engine != RT_ENGINE_PODMAN)
        return WH_OK;
    for(int i = 0; i < N(have); i++)
        if(dn == strlen(have[i]) && memcmp(drv, have[i], dn) == 0)
            return WH_OK;
    return wh_err_set(err, WH_E_UNSUPPORTED, "args.driver",
                      "network.create: Podman has no network driver %.*s (it has bridge, macvlan and ipvlan)",
                      (int)(dn > 64 ? 64 : dn), drv);
}

wk_run rt_network_create_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t nn, dn;
    const char *name = wh_args_str(a, "name", "", &nn);
    const char *drv = wh_args_str(a, "driver", "bridge", &dn);
    wh_json *body = wh_json_object();
    wh_json_setc(body, "Name", wh_json_strn(name, nn));
    wh_json_setc(body, "Driver", wh_json_strn(drv, dn));
    wh_json_setc(body, "CheckDuplicate", wh_json_bool(true));
    wh_json_setc(body, "Internal", wh_json_bool(wh_args_bool(a, "internal", false)));
    wh_json_setc(body, "Labels", str_map(wh_mp_map_get(a, "labels")));
    if(wh_mp_map_get(a, "subnet")) {
        size_t sn;
        const char *s = wh_args_str(a, "subnet", "", &sn);
        wh_json *cfg = wh_json_object(), *arr = wh_json_array(), *ipam = wh_json_object();
        wh_json_setc(cfg, "Subnet", wh_json_strn(s, sn));
        wh_json_push(arr, cfg);
        wh_json_setc(ipam, "Config", arr);
        wh_json_setc(body, "IPAM", ipam);
    }
    rt_conn c;
    wh_err err;
    wh_json *ans = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = podman_driver(&c, drv, dn, &err);
    if(!rc)
        rc = rt_call(&c, "POST", "/networks/create", body, "network", &ans, &err);
    wh_json_free(body);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    size_t idn = 0;
    const char *id = wh_json_strv(wh_json_get(ans, "Id"), &idn);
    wh_json_setc(r, "id", id ? wh_json_strn(id, idn) : wh_json_null());
    wh_json_setc(r, "name", wh_json_strn(name, nn));
    wh_json_free(ans);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_network_connect_run(wk_job *job)
{
    bool connect = strcmp(wk_job_env(job)->type, "runtime.network.connect") == 0;
    const wh_mp_obj *a = wk_job_args(job);
    char net[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    rt_arg_name(job, "name", net, sizeof(net));
    snprintf(path, sizeof(path), "/networks/%s/%s", net, connect ? "connect" : "disconnect");
    size_t cn;
    const char *ctr = wh_args_str(a, "container", "", &cn);
    wh_json *body = wh_json_object();
    wh_json_setc(body, "Container", wh_json_strn(ctr, cn));
    if(connect && wh_mp_map_get(a, "aliases")) {
        const wh_mp_obj *al = wh_mp_map_get(a, "aliases");
        wh_json *arr = wh_json_array(), *ep = wh_json_object();
        for(uint32_t i = 0; i < wh_mp_size(al); i++) {
            const char *s;
            size_t n;
            if(wh_mp_str(wh_mp_arr_at(al, i), &s, &n))
                wh_json_push(arr, wh_json_strn(s, n));
        }
        wh_json_setc(ep, "Aliases", arr);
        wh_json_setc(body, "EndpointConfig", ep);
    }
    if(!connect)
        wh_json_setc(body, "Force", wh_json_bool(wh_args_bool(a, "force", false)));
    rt_conn c;
    wh_err err;
    wh_code rc = rt_open_call(job, &c, "POST", path, body, net, NULL, &err);
    wh_json_free(body);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "network", wh_json_str(net));
    wh_json_setc(r, "container", wh_json_strn(ctr, cn));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_pull_run(wk_job *job)
{
    size_t n;
    const char *image = wh_args_str(wk_job_args(job), "image", "", &n);
    rt_conn c;
    wh_err err;
    char digest[128] = "";
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = rt_pull_image(&c, wk_job_cfg(job)->inv, image, n, rt_say, job, digest, sizeof(digest), &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "image", wh_json_strn(image, n));
    wh_json_setc(r, "digest", digest[0] ? wh_json_str(digest) : wh_json_null());
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
