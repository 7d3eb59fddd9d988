/* update_container: registry.update_container. See update_container.h for the steps. */
#include "update_container.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_body.h"
#include "connection.h"
#include "image_pull.h"
#include "wh_ref.h"
#include "runtime_args.h"
#include "wh_time.h"

typedef struct cupd {
    wk_job *job;
    rt_conn rt;
    char name[RT_NAME_MAX + 1];
    wh_json *ctr, *oldimg;      /* inspections of the container and its image */
    char old_id[80], new_id[80];
    char from[700], to[700];    /* image references */
    char host[WH_REF_NAME_MAX + 1]; /* the registry host of `to` */
    bool was_running, renamed, created;
} cupd;

static bool job_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

/* rt_pull_image's announcing line, into the job log. */
static void job_say(void *ud, const char *line)
{
    wk_job_log(ud, WK_SYS, line, strlen(line));
}

static const char *sget(const wh_json *o, const char *k)
{
    return rg_cbody_str(o, k);
}

/* Networks beyond the primary one are connected after create (API < 1.44
 * takes one endpoint at create). */
static wh_code connect_others(cupd *u, wh_err *err)
{
    const wh_json *nets = rg_cbody_networks(u->ctr);
    wh_code rc = WH_OK;
    for(wh_json_iter *it = nets ? wh_json_iter_first(nets) : NULL; !rc && it; it = wh_json_iter_next(nets, it)) {
        const char *net = wh_json_iter_key(it, NULL);
        if(!rg_cbody_joins_later(u->ctr, net))
            continue;
        char path[RT_PATH_MAX], esc[400];
        wh_curl_escape(net, strlen(net), esc, sizeof(esc));
        snprintf(path, sizeof(path), "/networks/%s/connect", esc);
        wh_json *b = wh_json_object();
        wh_json_setc(b, "Container", wh_json_str(u->new_id));
        wh_json_setc(b, "EndpointConfig", rg_cbody_endpoint(u->ctr, wh_json_iter_val(it)));
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
    wh_ref r;
    snprintf(u->from, sizeof(u->from), "%s", img);
    if(strncmp(img, "sha256:", 7) == 0 || wh_ref_parse(img, strlen(img), &r, "image", NULL)) {
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
    const wh_json *ns = rg_cbody_networks(u->ctr);
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
    wh_json *body = rg_cbody_create(u->ctr, u->oldimg, u->to), *out = NULL;
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
    if(!rc) {
        rc = act(u, u->old_id, "rename", q, false, err);
        u->renamed = !rc;
    }
    snprintf(q, sizeof(q), "?name=%s", u->name);
    if(!rc)
        rc = act(u, u->new_id, "rename", q, false, err);
    if(rc)
        return rc;
    wk_job_logf(u->job, WK_SYS, "stopped and renamed the old container to %s-wharf-old", u->name);
    rc = act(u, u->new_id, "start", NULL, false, err);
    if(rc)
        return rc;
    wk_job_logf(u->job, WK_SYS, "started the new container as %s; waiting for it", u->name);
    return wait_ready(u, health_ms, why, cap, err);
}

/* Before anything changed: the plain code. After the new container was
 * created (and so rolled back): `rolled_back`, with the reason. */
static wk_run finish_fail(cupd *u, wh_code rc, const char *why, const wh_err *err)
{
    if(rc == WH_E_INTERRUPTED) /* rolled back first when needed; the pipe says why */
        return WK_RUN_INTERRUPTED;
    const char *reason = rc == WH_E_FAILED ? why : err->msg;
    if(!u->created) {
        wh_err e;
        wh_err_set(&e, rc, NULL, "update of %s to %s failed: %s", u->name, u->to, reason);
        return wk_job_fail_err(u->job, rc, &e);
    }
    return wk_job_fail(u->job, WH_E_FAILED, "rolled_back", false,
                       "update of %s to %s rolled back, the old container is back: %s", u->name, u->to, reason);
}

/* Steps 1 and 2: inspect, plan and check (a registry in the inventory,
 * binds in the roots); dry_run ends here with the plan. True to go on;
 * false when the job is finished, *out saying how. */
static bool prepare(cupd *u, wk_run *out)
{
    const wh_mp_obj *a = wk_job_args(u->job);
    char tag[WH_REF_TAG_MAX + 1], why[800] = "", path[RT_PATH_MAX];
    size_t n = 0;
    const char *t = wh_args_str(a, "tag", "", &n);
    snprintf(tag, sizeof(tag), "%.*s", (int)n, t);
    wh_err err;
    wh_err_clear(&err);
    wh_code rc = rt_conn_open(&u->rt, wk_job_host(u->job), job_abort, u->job, &err);
    if(!rc)
        rc = inspect(u, u->name, &u->ctr, &err);
    if(rc) {
        *out = wk_job_fail_err(u->job, rc, &err);
        return false;
    }
    snprintf(u->old_id, sizeof(u->old_id), "%s", sget(u->ctr, "Id"));
    u->was_running = wh_json_boolv(wh_json_get(wh_json_get(u->ctr, "State"), "Running"));
    snprintf(path, sizeof(path), "/images/%s/json", sget(u->ctr, "Image"));
    rc = rt_call(&u->rt, "GET", path, NULL, "image", &u->oldimg, &err);
    if(rc) {
        *out = wk_job_fail_err(u->job, rc, &err);
        return false;
    }
    if(!plan(u, tag, why, sizeof(why))) {
        *out = wk_job_fail(u->job, WH_E_CONFLICT, NULL, false, "%s", why);
        return false;
    }
    /* The family acts only on registries in the inventory. */
    if(!wh_inv_registry_serving(wk_job_cfg(u->job)->inv, u->host)) {
        *out = wk_job_fail(u->job, WH_E_UNKNOWN_HOST, NULL, false,
                           "container %s: no registry in the inventory serves host \"%s\" of %s", u->name, u->host,
                           u->from);
        return false;
    }
    wh_json *binds = wh_json_array();
    rg_cbody_binds(u->ctr, binds);
    bool go_on = false;
    if(!binds_allowed(u, binds, why, sizeof(why))) {
        *out = wk_job_fail(u->job, WH_E_CONFLICT, NULL, false, "%s", why);
    } else if(wh_args_bool(a, "dry_run", false)) {
        wh_json *r = result_of(u, false, NULL);
        wh_json_setc(r, "dry_run", wh_json_bool(true));
        wh_json_setc(r, "plan", plan_of(u, binds)); /* takes binds */
        binds = NULL;
        wk_job_set_result(u->job, r);
        *out = WK_RUN_OK;
    } else {
        go_on = true;
    }
    wh_json_free(binds);
    return go_on;
}

/* Steps 3 to 6. */
static wk_run run(cupd *u)
{
    wk_run done;
    if(!prepare(u, &done))
        return done;
    const wh_mp_obj *a = wk_job_args(u->job);
    char why[800] = "", digest[128] = "", path[RT_PATH_MAX];
    wh_err err;
    wh_err_clear(&err);
    wk_job_progress(u->job, 10, "pull");
    wh_code rc = rt_pull_image(&u->rt, wk_job_cfg(u->job)->inv, u->to, strlen(u->to), job_say, u->job, digest,
                               sizeof(digest), &err);
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
