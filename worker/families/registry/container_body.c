/* container_body: the body a recreated container is made from. See container_body.h. */
#include "container_body.h"

#include <stdlib.h>
#include <string.h>

const char *rg_cbody_str(const wh_json *o, const char *k)
{
    const char *s = o ? wh_json_strv(wh_json_get(o, k), NULL) : NULL;
    return s ? s : "";
}

/* Deep copy through text (wh_json has no copy). */
static wh_json *copy(const wh_json *v)
{
    char *s = v ? wh_json_dump(v) : NULL;
    wh_json *j = s ? wh_json_parse(s, strlen(s), NULL) : NULL;
    free(s);
    return j ? j : wh_json_null();
}

static bool same(const wh_json *a, const wh_json *b)
{
    char *x = a ? wh_json_dump(a) : NULL, *y = b ? wh_json_dump(b) : NULL;
    bool eq = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return eq;
}

static bool in_array(const wh_json *arr, const char *s)
{
    for(size_t i = 0; arr && wh_json_kind_of(arr) == WH_JSON_ARRAY && i < wh_json_size(arr); i++)
        if(wh_json_strv(wh_json_at(arr, i), NULL) && strcmp(wh_json_strv(wh_json_at(arr, i), NULL), s) == 0)
            return true;
    return false;
}

/* Env without the old image's own entries (the new image brings its own). */
static wh_json *env_of(const wh_json *env, const wh_json *img_env)
{
    wh_json *out = wh_json_array();
    for(size_t i = 0; env && i < wh_json_size(env); i++) {
        const char *e = wh_json_strv(wh_json_at(env, i), NULL);
        if(e && !in_array(img_env, e))
            wh_json_push(out, wh_json_str(e));
    }
    return out;
}

/* Labels without those equal to the old image's. */
static wh_json *labels_of(const wh_json *labels, const wh_json *img_labels)
{
    wh_json *out = wh_json_object();
    for(wh_json_iter *it = labels ? wh_json_iter_first(labels) : NULL; it; it = wh_json_iter_next(labels, it)) {
        size_t kn = 0;
        const char *k = wh_json_iter_key(it, &kn);
        const wh_json *v = wh_json_iter_val(it);
        const wh_json *iv = img_labels && wh_json_kind_of(img_labels) == WH_JSON_OBJECT ? wh_json_get(img_labels, k)
                                                                                       : NULL;
        if(!same(v, iv))
            wh_json_set(out, k, kn, copy(v));
    }
    return out;
}

/* An endpoint's settings to recreate: aliases (without the old short id)
 * and the static IPAM config. */
wh_json *rg_cbody_endpoint(const wh_json *ctr, const wh_json *e)
{
    wh_json *out = wh_json_object(), *aliases = wh_json_array();
    const wh_json *a = wh_json_get(e, "Aliases");
    for(size_t i = 0; a && wh_json_kind_of(a) == WH_JSON_ARRAY && i < wh_json_size(a); i++) {
        const char *s = wh_json_strv(wh_json_at(a, i), NULL);
        if(s && strncmp(s, rg_cbody_str(ctr, "Id"), 12) != 0)
            wh_json_push(aliases, wh_json_str(s));
    }
    wh_json_setc(out, "Aliases", aliases);
    const wh_json *ipam = wh_json_get(e, "IPAMConfig");
    if(ipam && wh_json_kind_of(ipam) == WH_JSON_OBJECT)
        wh_json_setc(out, "IPAMConfig", copy(ipam));
    return out;
}

const wh_json *rg_cbody_networks(const wh_json *ctr)
{
    const wh_json *ns = wh_json_get(ctr, "NetworkSettings");
    const wh_json *n = ns ? wh_json_get(ns, "Networks") : NULL;
    return n && wh_json_kind_of(n) == WH_JSON_OBJECT ? n : NULL;
}

static const char *net_mode(const wh_json *ctr)
{
    return rg_cbody_str(wh_json_get(ctr, "HostConfig"), "NetworkMode");
}

/* The network the container is created on: its NetworkMode ("default" is
 * the engine's "bridge"). */
static const char *primary_net(const wh_json *ctr)
{
    const char *m = net_mode(ctr);
    return strcmp(m, "default") == 0 || !*m ? "bridge" : m;
}

/* Networks joined after create: user networks other than the primary one.
 * "none", "host" and container:<id> modes carry no extra endpoints. */
bool rg_cbody_joins_later(const wh_json *ctr, const char *net)
{
    const char *m = net_mode(ctr);
    return strcmp(net, primary_net(ctr)) != 0 && strcmp(net, "none") != 0 && strcmp(net, "host") != 0 &&
           strcmp(m, "none") != 0 && strcmp(m, "host") != 0 && strncmp(m, "container:", 10) != 0;
}

/* The /containers/create body: step 4 of the header. */
wh_json *rg_cbody_create(const wh_json *ctr, const wh_json *oldimg, const char *image)
{
    const wh_json *cfg = wh_json_get(ctr, "Config"), *icfg = wh_json_get(oldimg, "Config");
    wh_json *body = wh_json_object();
    for(wh_json_iter *it = cfg ? wh_json_iter_first(cfg) : NULL; it; it = wh_json_iter_next(cfg, it)) {
        size_t kn = 0;
        const char *k = wh_json_iter_key(it, &kn);
        const wh_json *v = wh_json_iter_val(it);
        if(strcmp(k, "Image") == 0 || (strcmp(k, "Hostname") == 0 && strncmp(rg_cbody_str(cfg, k), rg_cbody_str(ctr, "Id"), 12) == 0))
            continue;
        if(strcmp(k, "Env") == 0)
            wh_json_setc(body, k, env_of(v, icfg ? wh_json_get(icfg, "Env") : NULL));
        else if(strcmp(k, "Labels") == 0)
            wh_json_setc(body, k, labels_of(v, icfg ? wh_json_get(icfg, "Labels") : NULL));
        else if((strcmp(k, "Cmd") == 0 || strcmp(k, "Entrypoint") == 0) && icfg && same(v, wh_json_get(icfg, k)))
            continue;
        else
            wh_json_set(body, k, kn, copy(v));
    }
    wh_json_setc(body, "Image", wh_json_str(image));
    wh_json_setc(body, "HostConfig", copy(wh_json_get(ctr, "HostConfig")));
    const wh_json *nets = rg_cbody_networks(ctr), *primary = nets ? wh_json_get(nets, primary_net(ctr)) : NULL;
    if(primary && strcmp(primary_net(ctr), "none") != 0 && strcmp(primary_net(ctr), "host") != 0) {
        wh_json *eps = wh_json_object(), *nc = wh_json_object();
        wh_json_setc(eps, primary_net(ctr), rg_cbody_endpoint(ctr, primary));
        wh_json_setc(nc, "EndpointsConfig", eps);
        wh_json_setc(body, "NetworkingConfig", nc);
    }
    return body;
}

/* The host paths the container binds (HostConfig.Binds "src:dst[:opts]"
 * with an absolute src, and HostConfig.Mounts of Type "bind"), pushed to
 * `out` as strings. */
void rg_cbody_binds(const wh_json *ctr, wh_json *out)
{
    const wh_json *hc = wh_json_get(ctr, "HostConfig");
    const wh_json *b = hc ? wh_json_get(hc, "Binds") : NULL, *m = hc ? wh_json_get(hc, "Mounts") : NULL;
    for(size_t i = 0; b && wh_json_kind_of(b) == WH_JSON_ARRAY && i < wh_json_size(b); i++) {
        size_t n = 0;
        const char *s = wh_json_strv(wh_json_at(b, i), &n);
        if(s && n && s[0] == '/')
            wh_json_push(out, wh_json_strn(s, strcspn(s, ":")));
    }
    for(size_t i = 0; m && wh_json_kind_of(m) == WH_JSON_ARRAY && i < wh_json_size(m); i++) {
        const wh_json *e = wh_json_at(m, i);
        if(strcmp(rg_cbody_str(e, "Type"), "bind") == 0 && rg_cbody_str(e, "Source")[0])
            wh_json_push(out, wh_json_str(rg_cbody_str(e, "Source")));
    }
}

