/* handlers: the `registry` family's run functions and binding table (the
 * args, checks and lock of each type are common/catalog/registry.c's).
 *   registry.check   {registry}                                  credentials valid?
 *   registry.catalog {registry, n?}                              repositories
 *   registry.tags    {image, include?, exclude?, transform?, semver?, n?}
 *   registry.digest  {image, platform?}                          digest by HEAD
 *   registry.delete  {image, tag?, digest?}                      delete a manifest
 *                    (`unsupported` where the registry does not allow it)
 *   registry.update_check {containers?} on a target host         see update_check.h
 *   registry.update_container {name, tag?, dry_run?, health_timeout_s?}  see update_container.h
 * An image's registry is the inventory entry serving its host (a bare name
 * is docker.io); a host no entry serves is unknown_host. Credentials come
 * only from the inventory and never appear in results, logs or errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_v2.h"
#include "ecr.h"
#include "registry_args.h"
#include "semver.h"
#include "update_container.h"
#include "update_check.h"
#include "wk_job.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The error name of an operation the registry does not offer (a delete
 * where deletes are off, Docker Hub deletes); its code is registry_error. */
#define RG_UNSUPPORTED "unsupported"

static bool job_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

static bool job_sleep(void *ud, int64_t ms)
{
    return wk_job_sleep(ud, ms);
}

/* Open a connection to the entry named `name`, or serving `host`. */
static wh_code connect(wk_job *job, const char *name, const char *host, rg_conn *c, wh_err *err)
{
    const wh_inv *inv = wk_job_cfg(job)->inv;
    memset(c, 0, sizeof(*c));
    const wh_inv_registry *reg = name ? wh_inv_registry_find(inv, name) : wh_inv_registry_serving(inv, host);
    if(!reg && name)
        return wh_err_set(err, WH_E_UNKNOWN_HOST, "args.registry", "args.registry: \"%s\" is not in the inventory",
                          name);
    if(!reg)
        return wh_err_set(err, WH_E_UNKNOWN_HOST, "args.image",
                          "args.image: no registry in the inventory serves host \"%s\"", host);
    rg_ops ops = {job_abort, job_sleep, job};
    wh_code rc = rg_conn_open(c, reg, &ops, err);
    /* ECR: a password given directly wins; else ask AWS for one. */
    if(!rc && strcmp(reg->provider, "ecr") == 0 && !reg->password[0] && !reg->token[0])
        rc = rg_ecr_login(c, NULL, err);
    return rc;
}

/* ---- registry.check ---- */

static wk_run check_run(wk_job *job)
{
    char name[64], ver[64];
    rg_conn c;
    wh_err err;
    wh_err_clear(&err);
    rg_arg_copy(wk_job_args(job), "registry", name, sizeof(name));
    wh_code rc = connect(job, name, NULL, &c, &err);
    if(!rc)
        rc = rg_api_ping(&c, ver, sizeof(ver), &err);
    if(rc) {
        rg_conn_close(&c);
        return wk_job_fail_err(job, err.code, &err);
    }
    wh_json *r = wh_json_object();
    wh_json_setc(r, "registry", wh_json_str(c.reg->name));
    wh_json_setc(r, "provider", wh_json_str(c.reg->provider));
    wh_json_setc(r, "url", wh_json_str(c.base));
    wh_json_setc(r, "auth", wh_json_str(c.auth_seen[0] ? c.auth_seen : "none"));
    wh_json_setc(r, "authenticated", wh_json_bool(c.reg->password[0] || c.reg->token[0] || c.basic_b64));
    wh_json_setc(r, "api_version", ver[0] ? wh_json_str(ver) : wh_json_null());
    wk_job_set_result(job, r);
    rg_conn_close(&c);
    return WK_RUN_OK;
}

/* ---- registry.catalog ---- */

static wh_json *list_json(const rg_list *l)
{
    wh_json *a = wh_json_array();
    for(size_t i = 0; i < l->n; i++)
        wh_json_push(a, wh_json_str(l->items[i]));
    return a;
}

static wk_run catalog_run(wk_job *job)
{
    char name[64];
    rg_conn c;
    rg_list l = {0};
    int pages = 0;
    wh_err err;
    wh_err_clear(&err);
    rg_arg_copy(wk_job_args(job), "registry", name, sizeof(name));
    wh_code rc = connect(job, name, NULL, &c, &err);
    if(!rc)
        rc = rg_api_catalog(&c, (int)wh_args_int(wk_job_args(job), "n", 0), &l, &pages, &err);
    rg_conn_close(&c);
    if(rc) {
        rg_list_free(&l);
        return wk_job_fail_err(job, err.code, &err);
    }
    wh_json *r = wh_json_object();
    wh_json_setc(r, "registry", wh_json_str(name));
    wh_json_setc(r, "count", wh_json_int((int64_t)l.n));
    wh_json_setc(r, "pages", wh_json_int(pages));
    wh_json_setc(r, "repositories", list_json(&l));
    wk_job_set_result(job, r);
    rg_list_free(&l);
    return WK_RUN_OK;
}

/* ---- registry.tags ---- */

typedef struct tag_entry {
    const char *tag;
    char version[RG_TAGF_OUT_MAX];
    rg_semver v;
} tag_entry;

/* Highest version first; equal versions by tag name. */
static int by_semver_desc(const void *pa, const void *pb)
{
    const tag_entry *a = pa, *b = pb;
    int c = rg_semver_cmp(&b->v, &a->v);
    return c ? c : strcmp(a->tag, b->tag);
}

/* Filter and order the tags into the result object. */
static void tags_result(const rg_list *l, const rg_tagf *f, bool semver, bool transform, wh_json *r)
{
    tag_entry *e = calloc(l->n ? l->n : 1, sizeof(*e));
    size_t k = 0;
    for(size_t i = 0; e && i < l->n; i++) {
        const char *t = l->items[i];
        if(!rg_tagf_keep(f, t) || !rg_tagf_transform(f, t, e[k].version, sizeof(e[k].version)))
            continue;
        if(semver && !rg_semver_parse(e[k].version, strlen(e[k].version), &e[k].v))
            continue;
        e[k++].tag = t;
    }
    if(semver && k > 1)
        qsort(e, k, sizeof(*e), by_semver_desc);
    wh_json *tags = wh_json_array(), *versions = transform ? wh_json_object() : NULL;
    for(size_t i = 0; i < k; i++) {
        wh_json_push(tags, wh_json_str(e[i].tag));
        if(versions)
            wh_json_setc(versions, e[i].tag, wh_json_str(e[i].version));
    }
    wh_json_setc(r, "count", wh_json_int((int64_t)k));
    wh_json_setc(r, "tags", tags);
    if(versions)
        wh_json_setc(r, "versions", versions);
    if(semver)
        wh_json_setc(r, "latest", k ? wh_json_str(e[0].tag) : wh_json_null());
    free(e);
}

static wk_run tags_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    wh_ref ref;
    rg_tagf *f = NULL;
    rg_conn c;
    rg_list l = {0};
    int pages = 0;
    wh_err err;
    wh_err_clear(&err);
    wh_code rc = rg_image_arg(a, &ref, &err);
    if(!rc)
        rc = rg_tagf_args(a, &f, &err);
    if(!rc)
        rc = connect(job, NULL, ref.host, &c, &err);
    if(!rc) {
        rc = rg_api_tags(&c, ref.path, (int)wh_args_int(a, "n", 0), &l, &pages, &err);
        rg_conn_close(&c);
    }
    if(rc) {
        rg_tagf_free(f);
        rg_list_free(&l);
        return wk_job_fail_err(job, err.code, &err);
    }
    char tr[8];
    wh_json *r = wh_json_object();
    char img[600];
    snprintf(img, sizeof(img), "%s/%s", ref.host, ref.path);
    wh_json_setc(r, "image", wh_json_str(img));
    wh_json_setc(r, "registry", wh_json_str(c.reg->name));
    wh_json_setc(r, "pages", wh_json_int(pages));
    wh_json_setc(r, "total", wh_json_int((int64_t)l.n));
    tags_result(&l, f, wh_args_bool(a, "semver", false), rg_arg_copy(a, "transform", tr, sizeof(tr))[0] != '\0', r);
    wk_job_set_result(job, r);
    rg_tagf_free(f);
    rg_list_free(&l);
    return WK_RUN_OK;
}

/* ---- registry.digest ---- */

/* For an index and a platform: the platform's manifest digest. */
static wh_code pick_platform(rg_conn *c, const wh_ref *ref, const rg_head *h, const rg_platform *p, wh_json *r,
                             wh_err *err)
{
    wh_curl_resp resp;
    char d[WH_REF_DIGEST_MAX + 1], text[100];
    wh_json *platforms = NULL;
    wh_code rc = rg_api_manifest(c, ref->path, h->digest, &resp, err);
    if(rc)
        return rc;
    rc = rg_mani_select(resp.body, resp.body_len, p, d, sizeof(d), &platforms, err);
    wh_curl_resp_clear(&resp);
    rg_platform_format(p, text, sizeof(text));
    wh_json_setc(r, "platform", wh_json_str(text));
    if(platforms)
        wh_json_setc(r, "platforms", platforms);
    if(!rc)
        wh_json_setc(r, "platform_digest", wh_json_str(d));
    return rc;
}

static wk_run digest_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    wh_ref ref;
    rg_platform p;
    bool want_platform = false;
    rg_conn c;
    rg_head h;
    wh_err err;
    wh_err_clear(&err);
    wh_code rc = rg_image_arg(a, &ref, &err);
    if(!rc)
        rc = rg_platform_arg(a, &p, &want_platform, &err);
    if(!rc)
        rc = connect(job, NULL, ref.host, &c, &err);
    if(rc)
        return wk_job_fail_err(job, err.code, &err);
    rc = rg_api_head(&c, &ref, &h, &err);
    wh_json *r = wh_json_object();
    char img[800];
    wh_ref_format(&ref, img, sizeof(img));
    wh_json_setc(r, "image", wh_json_str(img));
    wh_json_setc(r, "registry", wh_json_str(c.reg->name));
    if(!rc) {
        wh_json_setc(r, "digest", wh_json_str(h.digest));
        wh_json_setc(r, "media_type", wh_json_str(h.media_type));
        wh_json_setc(r, "kind", wh_json_str(rg_mani_kind_name(h.kind)));
        wh_json_setc(r, "index", wh_json_bool(rg_mani_is_index(h.kind)));
    }
    if(!rc && want_platform && rg_mani_is_index(h.kind))
        rc = pick_platform(&c, &ref, &h, &p, r, &err);
    rg_conn_close(&c);
    if(rc) {
        wh_json_free(r);
        return wk_job_fail_err(job, err.code, &err);
    }
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

/* ---- registry.delete ---- */

static wk_run delete_run(wk_job *job)
{
    wh_ref ref;
    rg_conn c;
    rg_head h;
    wh_err err;
    wh_err_clear(&err);
    bool unsupported = false;
    wh_code rc = rg_delete_ref(wk_job_args(job), &ref, &err);
    if(!rc)
        rc = connect(job, NULL, ref.host, &c, &err);
    if(rc)
        return wk_job_fail_err(job, err.code, &err);
    /* Docker Hub's registry refuses manifest deletes; its Hub API
     * (hub.docker.com, a separate login) is not spoken here. */
    if(strcmp(c.reg->provider, "dockerhub") == 0) {
        rg_conn_close(&c);
        return wk_job_fail(job, WH_E_REGISTRY, RG_UNSUPPORTED, false,
                           "registry %s: Docker Hub does not delete through the registry API; delete the tag on "
                           "hub.docker.com", c.reg->name);
    }
    /* Registries delete by digest: resolve a tag first. */
    rc = rg_api_head(&c, &ref, &h, &err);
    if(!rc)
        rc = rg_api_delete(&c, ref.path, h.digest, &unsupported, &err);
    rg_conn_close(&c);
    if(rc && unsupported)
        return wk_job_fail(job, rc, RG_UNSUPPORTED, false, "%s", err.msg);
    if(rc)
        return wk_job_fail_err(job, err.code, &err);
    wh_json *r = wh_json_object();
    char img[600];
    snprintf(img, sizeof(img), "%s/%s", ref.host, ref.path);
    wh_json_setc(r, "image", wh_json_str(img));
    wh_json_setc(r, "deleted", wh_json_str(h.digest));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

static const wk_bind registry_binds[] = {
    {"registry.check", check_run, NULL},
    {"registry.catalog", catalog_run, NULL},
    {"registry.tags", tags_run, NULL},
    {"registry.digest", digest_run, NULL},
    {"registry.delete", delete_run, NULL},
    {"registry.update_check", rg_upd_run, NULL},
    {"registry.update_container", rg_cupd_run, NULL},
};

const wk_family wk_family_registry = {"registry", registry_binds, N(registry_binds)};
