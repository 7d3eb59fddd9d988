/* rg_cupd: registry.update_container. See rg_cupd.h for the steps. */
#include "rg_cupd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rg_http.h"
#include "rg_ref.h"
#include "rt_fam.h"
#include "wh_time.h"

const wh_arg_spec rg_cupd_args[RG_CUPD_NARGS] = {
    {"name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must be a container name [A-Za-z0-9][A-Za-z0-9_.-]*"},
    {"tag", WH_ARG_STR, false, 1, RG_REF_TAG_MAX, rg_ref_tag_valid, "must be a tag [A-Za-z0-9_][A-Za-z0-9_.-]*"},
    {"dry_run", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
    {"health_timeout_s", WH_ARG_INT, false, 1, 600, NULL, NULL},
};

bool rg_cupd_lock(const wh_mp_obj *args, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(args, "name", NULL, &n);
    int k = s ? snprintf(out, cap, "ctr:%.*s", (int)n, s) : -1;
    return k > 0 && (size_t)k < cap;
}

typedef struct cupd {
    wk_job *job;
    rt_conn rt;
    char name[RT_NAME_MAX + 1];
    wh_json *ctr, *oldimg;      /* inspections of the container and its image */
    char old_id[80], new_id[80];
    char from[700], to[700];    /* image references */
    char host[RG_REF_NAME_MAX + 1]; /* the registry host of `to` */
    bool was_running, renamed, created;
} cupd;

static bool job_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

static const char *sget(const wh_json *o, const char *k)
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
static wh_json *endpoint_of(const cupd *u, const wh_json *e)
{
    wh_json *out = wh_json_object(), *aliases = wh_json_array();
    const wh_json *a = wh_json_get(e, "Aliases");
    for(size_t i = 0; a && wh_json_kind_of(a) == WH_JSON_ARRAY && i < wh_json_size(a); i++) {
        const char *s = wh_json_strv(wh_json_at(a, i), NULL);
        if(s && strncmp(s, u->old_id, 12) != 0)
            wh_json_push(aliases, wh_json_str(s));
    }
    wh_json_setc(out, "Aliases", aliases);
    const wh_json *ipam = wh_json_get(e, "IPAMConfig");
    if(ipam && wh_json_kind_of(ipam) == WH_JSON_OBJECT)
        wh_json_setc(out, "IPAMConfig", copy(ipam));
    return out;
}

static const wh_json *networks(const cupd *u)
{
    const wh_json *ns = wh_json_get(u->ctr, "NetworkSettings");
    const wh_json *n = ns ? wh_json_get(ns, "Networks") : NULL;
    return n && wh_json_kind_of(n) == WH_JSON_OBJECT ? n : NULL;
}

static const char *net_mode(const cupd *u)
{
    return sget(wh_json_get(u->ctr, "HostConfig"), "NetworkMode");
}

/* The network the container is created on: its NetworkMode ("default" is
 * the engine's "bridge"). */
static const char *primary_net(const cupd *u)
{
    const char *m = net_mode(u);
    return strcmp(m, "default") == 0 || !*m ? "bridge" : m;
}

/* Networks joined after create: user networks other than the primary one.
 * "none", "host" and container:<id> modes carry no extra endpoints. */
static bool joins_later(const cupd *u, const char *net)
{
    const char *m = net_mode(u);
    return strcmp(net, primary_net(u)) != 0 && strcmp(net, "none") != 0 && strcmp(net, "host") != 0 &&
           strcmp(m, "none") != 0 && strcmp(m, "host") != 0 && strncmp(m, "container:", 10) != 0;
}

/* The /containers/create body: step 4 of the header. */
static wh_json *create_body(const cupd *u)
{
    const wh_json *cfg = wh_json_get(u->ctr, "Config"), *icfg = wh_json_get(u->oldimg, "Config");
    wh_json *body = wh_json_object();
    for(wh_json_iter *it = cfg ? wh_json_iter_first(cfg) : NULL; it; it = wh_json_iter_next(cfg, it)) {
        size_t kn = 0;
        const char *k = wh_json_iter_key(it, &kn);
        const wh_json *v = wh_json_iter_val(it);
        if(strcmp(k, "Image") == 0 || (strcmp(k, "Hostname") == 0 && strncmp(sget(cfg, k), u->old_id, 12) == 0))
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
    wh_json_setc(body, "Image", wh_json_str(u->to));
    wh_json_setc(body, "HostConfig", copy(wh_json_get(u->ctr, "HostConfig")));
    const wh_json *nets = networks(u), *primary = nets ? wh_json_get(nets, primary_net(u)) : NULL;
    if(primary && strcmp(primary_net(u), "none") != 0 && strcmp(primary_net(u), "host") != 0) {
        wh_json *eps = wh_json_object(), *nc = wh_json_object();
        wh_json_setc(eps, primary_net(u), endpoint_of(u, primary));
        wh_json_setc(nc, "EndpointsConfig", eps);
        wh_json_setc(body, "NetworkingConfig", nc);
    }
    return body;
}

/* Networks beyond the primary one are connected after create (API < 1.44
 * takes one endpoint at create). */
static wh_code connect_others(cupd *u, wh_err *err)
{
    const wh_json *nets = networks(u);
    wh_code rc = WH_OK;
    for(wh_json_iter *it = nets ? wh_json_iter_first(nets) : NULL; !rc && it; it = wh_json_iter_next(nets, it)) {
        const char *net = wh_json_iter_key(it, NULL);
        if(!joins_later(u, net))
            continue;
        char path[RT_PATH_MAX], esc[400];
        wh_curl_escape(net, strlen(net), esc, sizeof(esc));
        snprintf(path, sizeof(path), "/networks/%s/connect", esc);
        wh_json *b = wh_json_object();
        wh_json_setc(b, "Container", wh_json_str(u->new_id));
        wh_json_setc(b, "EndpointConfig", endpoint_of(u, wh_json_iter_val(it)));
        rc = rt_call(&u->rt, "POST", path, b, "network connect", NULL, err);
        wh_json_free(b);
    }
    return rc;
}

/* POST a container action; `ok304` accepts "already in that state". */
static wh_code act(cupd *u, const char *id, const char *what, const char *query, bool ok304, wh_err *err)
{
    char path[RT_PATH_MAX];
    long st = 0;
    snprintf(path, sizeof(path), "/containers/%s/%s%s", id, what, query ? query : "");
    wh_json *out = NULL;
    wh_code rc = rt_request(&u->rt, "POST", path, NULL, &st, &out, err);
    if(!rc && !(ok304 && st == 304))
        rc = rt_engine_status(st, out, what, err);
    wh_json_free(out);
    return rc;
}

static wh_code inspect(cupd *u, const char *id, wh_json **out, wh_err *err)
{
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/containers/%s/json", id);
    return rt_call(&u->rt, "GET", path, NULL, "container", out, err);
}

/* Wait until the new container is healthy (with a health check) or has
 * run RG_CUPD_SETTLE_MS without stopping; *why says what went wrong. */
static wh_code wait_ready(cupd *u, int64_t timeout_ms, char *why, size_t cap, wh_err *err)
{
    int64_t start = wh_mono_ms();
    for(;;) {
        wh_json *c = NULL;
        wh_code rc = inspect(u, u->new_id, &c, err);
        if(rc)
            return rc;
        const wh_json *st = wh_json_get(c, "State"), *h = st ? wh_json_get(st, "Health") : NULL;
        bool running = st && wh_json_boolv(wh_json_get(st, "Running")) && !wh_json_boolv(wh_json_get(st, "Restarting"));
        char health[32]; /* copied: `c` is freed below */
        snprintf(health, sizeof(health), "%s", h ? sget(h, "Status") : "");
        long long code = st ? (long long)wh_json_intv(wh_json_get(st, "ExitCode")) : 0;
        const wh_json *rcount = wh_json_get(c, "RestartCount");
        running = running && !(rcount && wh_json_intv(rcount) > 0); /* crashed and came back */
        wh_json_free(c);
        int64_t age = wh_mono_ms() - start;
        if(!running) {
            snprintf(why, cap, "the new container stopped (exit code %lld)", code);
            return WH_E_FAILED;
        }
        if(strcmp(health, "unhealthy") == 0) {
            snprintf(why, cap, "the new container is unhealthy");
            return WH_E_FAILED;
        }
        if(strcmp(health, "healthy") == 0 || (!health[0] && age >= RG_CUPD_SETTLE_MS))
            return WH_OK;
        if(age >= timeout_ms) {
            snprintf(why, cap, "the new container was not healthy within %lld s", (long long)(timeout_ms / 1000));
            return WH_E_FAILED;
        }
        if(wk_job_sleep(u->job, 250))
            return wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
    }
}

/* Undo what was done: the new container goes, the old one comes back. */
static void rollback(cupd *u)
{
    wk_job_logf(u->job, WK_SYS, "rolling back to the old container %.12s", u->old_id);
    /* A cancel, timeout or shutdown may be why we are here: the rollback
     * itself must not be aborted, or the old container stays aside. */
    u->rt.abort = NULL;
    wh_err e;
    char path[RT_PATH_MAX];
    long st;
    if(u->created) {
        snprintf(path, sizeof(path), "/containers/%s?force=1", u->new_id);
        rt_request(&u->rt, "DELETE", path, NULL, &st, NULL, &e);
    }
    if(u->renamed) {
        char q[RT_NAME_MAX + 16];
        snprintf(q, sizeof(q), "?name=%s", u->name);
        act(u, u->old_id, "rename", q, false, &e);
    }
    if(u->was_running)
        act(u, u->old_id, "start", NULL, true, &e);
}

/* Step 2: the new reference; false when the container's image cannot be
 * updated by tag (an image id, or pinned by digest without args.tag). */
static bool plan(cupd *u, const char *tag, char *why, size_t cap)
{
    const char *img = sget(wh_json_get(u->ctr, "Config"), "Image");
    rg_ref r;
    snprintf(u->from, sizeof(u->from), "%s", img);
    if(strncmp(img, "sha256:", 7) == 0 || rg_ref_parse(img, strlen(img), &r, "image", NULL)) {
        snprintf(why, cap, "container %s runs an image given by id", u->name);
        return false;
    }
    if(!tag[0] && !r.tag_given && r.digest[0]) {
        snprintf(why, cap, "container %s runs an image pinned by digest: give args.tag", u->name);
        return false;
    }
    snprintf(u->to, sizeof(u->to), "%s/%s:%s", r.host, r.path, tag[0] ? tag : r.tag);
    snprintf(u->host, sizeof(u->host), "%s", r.host);
    return true;
}

/* The host paths the container binds (HostConfig.Binds "src:dst[:opts]"
 * with an absolute src, and HostConfig.Mounts of Type "bind"), pushed to
 * `out` as strings. */
static void bind_sources(const cupd *u, wh_json *out)
{
    const wh_json *hc = wh_json_get(u->ctr, "HostConfig");
    const wh_json *b = hc ? wh_json_get(hc, "Binds") : NULL, *m = hc ? wh_json_get(hc, "Mounts") : NULL;
    for(size_t i = 0; b && wh_json_kind_of(b) == WH_JSON_ARRAY && i < wh_json_size(b); i++) {
        size_t n = 0;
        const char *s = wh_json_strv(wh_json_at(b, i), &n);
        if(s && n && s[0] == '/')
            wh_json_push(out, wh_json_strn(s, strcspn(s, ":")));
    }
    for(size_t i = 0; m && wh_json_kind_of(m) == WH_JSON_ARRAY && i < wh_json_size(m); i++) {
        const wh_json *e = wh_json_at(m, i);
        if(strcmp(sget(e, "Type"), "bind") == 0 && sget(e, "Source")[0])
            wh_json_push(out, wh_json_str(sget(e, "Source")));
    }
}

/* A recreated container may bind only what the host's `roots` allow now
 * (the inventory may have changed since it was made, or it was made
 * outside wharf): the first refused source into why, false. */
static bool binds_allowed(const cupd *u, const wh_json *sources, char *why, size_t cap)
{
    const wh_inv_host *h = wk_job_host(u->job);
    for(size_t i = 0; i < wh_json_size(sources); i++) {
        const char *src = wh_json_strv(wh_json_at(sources, i), NULL);
        if(src && !wh_inv_path_allowed(h, src)) {
            snprintf(why, cap, "container %s binds %.300s, outside the roots of host %s: not recreated", u->name, src,
                     h->name);
            return false;
        }
    }
    return true;
}

/* dry_run's result: what the update would do. */
static wh_json *plan_of(const cupd *u, wh_json *binds)
{
    const char *steps[] = {"pull", "create", "connect_networks", "stop_old", "rename_old", "start_new",
                           "wait_ready", "remove_old"};
    wh_json *p = wh_json_object(), *st = wh_json_array(), *nets = wh_json_array();
    for(size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        wh_json_push(st, wh_json_str(steps[i]));
    const wh_json *ns = networks(u);
    for(wh_json_iter *it = ns ? wh_json_iter_first(ns) : NULL; it; it = wh_json_iter_next(ns, it))
        wh_json_push(nets, wh_json_str(wh_json_iter_key(it, NULL)));
    wh_json_setc(p, "steps", st);
    char tmp[RT_NAME_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s-wharf-new", u->name);
    wh_json_setc(p, "temp_name", wh_json_str(tmp));
    wh_json_setc(p, "binds", binds);
    wh_json_setc(p, "networks", nets);
    wh_json_setc(p, "was_running", wh_json_bool(u->was_running));
    return p;
}

static wh_json *result_of(const cupd *u, bool updated, const char *digest)
{
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(u->name));
    wh_json_setc(r, "from_image", wh_json_str(u->from));
    wh_json_setc(r, "to_image", wh_json_str(u->to));
    wh_json_setc(r, "updated", wh_json_bool(updated));
    wh_json_setc(r, "old_id", wh_json_str(u->old_id));
    if(u->new_id[0])
        wh_json_setc(r, "new_id", wh_json_str(u->new_id));
    if(digest && digest[0])
        wh_json_setc(r, "digest", wh_json_str(digest));
    return r;
}

/* Steps 4 and 5; on failure *why is set or err says what failed. */
static wh_code swap(cupd *u, int64_t health_ms, char *why, size_t cap, wh_err *err)
{
    char path[RT_PATH_MAX], q[RT_NAME_MAX + 32];
    long st;
    snprintf(path, sizeof(path), "/containers/%s-wharf-new?force=1", u->name); /* a leftover of a crash */
    rt_request(&u->rt, "DELETE", path, NULL, &st, NULL, err);
    snprintf(path, sizeof(path), "/containers/create?name=%s-wharf-new", u->name);
    wh_json *body = create_body(u), *out = NULL;
    wh_code rc = rt_call(&u->rt, "POST", path, body, "create", &out, err);
    wh_json_free(body);
    snprintf(u->new_id, sizeof(u->new_id), "%s", sget(out, "Id"));
    wh_json_free(out);
    if(rc)
        return rc;
    u->created = true;
    wk_job_logf(u->job, WK_SYS, "created %s-wharf-new (%.12s) from %s", u->name, u->new_id, u->to);
    rc = connect_others(u, err);
    if(!rc && u->was_running)
        rc = act(u, u->old_id, "stop", "?t=10", true, err);
    snprintf(q, sizeof(q), "?name=%s-wharf-old", u->name);
    if(!rc && !(rc = act(u, u->old_id, "rename", q, false, err)))
        u->renamed = true;
    snprintf(q, sizeof(q), "?name=%s", u->name);
    if(!rc)
        rc = act(u, u->new_id, "rename", q, false, err);
    if(!rc)
        wk_job_logf(u->job, WK_SYS, "stopped and renamed the old container to %s-wharf-old", u->name);
    if(!rc)
        rc = act(u, u->new_id, "start", NULL, false, err);
    if(!rc) {
        wk_job_logf(u->job, WK_SYS, "started the new container as %s; waiting for it", u->name);
        rc = wait_ready(u, health_ms, why, cap, err);
    }
    return rc;
}

/* Before anything changed: the plain code. After the new container was
 * created (and so rolled back): `rolled_back`, with the reason. */
static wk_run finish_fail(cupd *u, wh_code rc, const char *why, const wh_err *err)
{
    if(rc == WH_E_INTERRUPTED) /* rolled back first when needed; the pipe says why */
        return WK_RUN_INTERRUPTED;
    const char *reason = rc == WH_E_FAILED ? why : err->msg;
    if(!u->created)
        return wk_job_fail(u->job, rc, NULL, rg_http_transient(rc), "update of %s to %s failed: %s", u->name, u->to,
                           reason);
    return wk_job_fail(u->job, WH_E_FAILED, "rolled_back", false,
                       "update of %s to %s rolled back, the old container is back: %s", u->name, u->to, reason);
}

static wk_run run(cupd *u)
{
    const wh_mp_obj *a = wk_job_args(u->job);
    char tag[RG_REF_TAG_MAX + 1], why[800] = "", digest[128] = "", path[RT_PATH_MAX];
    size_t n = 0;
    const char *t = wh_args_str(a, "tag", "", &n);
    snprintf(tag, sizeof(tag), "%.*s", (int)n, t);
    wh_err err;
    wh_err_clear(&err);
    wh_code rc = rt_conn_open(&u->rt, wk_job_host(u->job), job_abort, u->job, &err);
    if(!rc)
        rc = inspect(u, u->name, &u->ctr, &err);
    if(rc)
        return rt_fail(u->job, rc, &err);
    snprintf(u->old_id, sizeof(u->old_id), "%s", sget(u->ctr, "Id"));
    u->was_running = wh_json_boolv(wh_json_get(wh_json_get(u->ctr, "State"), "Running"));
    snprintf(path, sizeof(path), "/images/%s/json", sget(u->ctr, "Image"));
    if((rc = rt_call(&u->rt, "GET", path, NULL, "image", &u->oldimg, &err)))
        return rt_fail(u->job, rc, &err);
    if(!plan(u, tag, why, sizeof(why)))
        return wk_job_fail(u->job, WH_E_CONFLICT, NULL, false, "%s", why);
    /* The family acts only on registries in the inventory. */
    if(!rg_http_find(wk_job_cfg(u->job)->inv, u->host))
        return wk_job_fail(u->job, WH_E_UNKNOWN_HOST, NULL, false,
                           "container %s: no registry in the inventory serves host \"%s\" of %s", u->name, u->host,
                           u->from);
    wh_json *binds = wh_json_array();
    bind_sources(u, binds);
    if(!binds_allowed(u, binds, why, sizeof(why))) {
        wh_json_free(binds);
        return wk_job_fail(u->job, WH_E_CONFLICT, NULL, false, "%s", why);
    }
    if(wh_args_bool(a, "dry_run", false)) {
        wh_json *r = result_of(u, false, NULL);
        wh_json_setc(r, "dry_run", wh_json_bool(true));
        wh_json_setc(r, "plan", plan_of(u, binds));
        wk_job_set_result(u->job, r);
        return WK_RUN_OK;
    }
    wh_json_free(binds);
    wk_job_progress(u->job, 10, "pull");
    rc = rt_pull_image(u->job, &u->rt, u->to, strlen(u->to), digest, sizeof(digest), &err);
    wh_json *img = NULL;
    snprintf(path, sizeof(path), "/images/%s/json", u->to);
    if(!rc)
        rc = rt_call(&u->rt, "GET", path, NULL, "image", &img, &err);
    if(rc)
        return finish_fail(u, rc, why, &err);
    bool same_image = strcmp(sget(img, "Id"), sget(u->oldimg, "Id")) == 0;
    wh_json_free(img);
    if(same_image) { /* nothing newer: leave the container alone */
        wk_job_set_result(u->job, result_of(u, false, digest));
        return WK_RUN_OK;
    }
    wk_job_progress(u->job, 40, "recreate");
    rc = swap(u, wh_args_int(a, "health_timeout_s", 60) * 1000, why, sizeof(why), &err);
    if(rc) {
        rollback(u);
        return finish_fail(u, rc, why, &err);
    }
    snprintf(path, sizeof(path), "/containers/%s?force=1", u->old_id);
    long st;
    rt_request(&u->rt, "DELETE", path, NULL, &st, NULL, &err);
    wk_job_set_result(u->job, result_of(u, true, digest));
    return WK_RUN_OK;
}

wk_run rg_cupd_run(wk_job *job)
{
    cupd u;
    memset(&u, 0, sizeof(u));
    u.job = job;
    size_t n = 0;
    const char *s = wh_args_str(wk_job_args(job), "name", "", &n);
    snprintf(u.name, sizeof(u.name), "%.*s", (int)n, s);
    wk_run r = run(&u);
    wh_json_free(u.ctr);
    wh_json_free(u.oldimg);
    return r;
}
