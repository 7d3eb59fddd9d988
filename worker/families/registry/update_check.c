/* update_check: registry.update_check. See update_check.h. */
#include "update_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_v2.h"
#include "answer_memo.h"
#include "semver.h"
#include "registry_tag_filter.h"
#include "engine.h"
#include "wh_time.h"

typedef struct upd {
    wk_job *job;
    rt_conn rt;
    const wh_inv *inv;
    rg_memo *memo;   /* registry answers shared by this job's containers */
} upd;

static bool job_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

static bool job_sleep(void *ud, int64_t ms)
{
    return wk_job_sleep(ud, ms);
}

/* A label's value (or the alternative label's), "" when neither is set. */
static void label(const wh_json *labels, const char *key, const char *alt, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = labels ? wh_json_strv(wh_json_get(labels, key), &n) : NULL;
    if(!v && labels)
        v = wh_json_strv(wh_json_get(labels, alt), &n);
    snprintf(out, cap, "%.*s", v && n < cap ? (int)n : 0, v ? v : "");
}

/* The local image's digests for ref's repository (from RepoDigests). */
static wh_code local_digests(upd *u, const char *image_id, const wh_ref *ref, wh_json *out, wh_err *err)
{
    char path[200], esc[160];
    wh_json *img = NULL;
    wh_curl_escape(image_id, strlen(image_id), esc, sizeof(esc));
    snprintf(path, sizeof(path), "/images/%s/json", esc);
    wh_code rc = rt_call(&u->rt, "GET", path, NULL, "image", &img, err);
    const wh_json *rd = rc ? NULL : wh_json_get(img, "RepoDigests");
    for(size_t i = 0; rd && wh_json_kind_of(rd) == WH_JSON_ARRAY && i < wh_json_size(rd); i++) {
        size_t n = 0;
        const char *s = wh_json_strv(wh_json_at(rd, i), &n);
        wh_ref r;
        if(s && wh_ref_parse(s, n, &r, "RepoDigests", NULL) == WH_OK && strcmp(r.host, ref->host) == 0 &&
           strcmp(r.path, ref->path) == 0 && r.digest[0])
            wh_json_push(out, wh_json_str(r.digest));
    }
    wh_json_free(img);
    return rc;
}

static bool has_digest(const wh_json *list, const char *d)
{
    for(size_t i = 0; i < wh_json_size(list); i++) {
        const char *s = wh_json_strv(wh_json_at(list, i), NULL);
        if(s && strcmp(s, d) == 0)
            return true;
    }
    return false;
}

/* The highest tag above `cur` that passes the filters, into best. */
static wh_code newest_tag(upd *u, const wh_inv_registry *reg, const wh_ref *ref, const rg_tagf *f,
                          const rg_semver *cur, char *best, size_t cap, rg_semver *bv, wh_err *err)
{
    const rg_list *l = NULL;
    best[0] = '\0';
    wh_code rc = rg_memo_tags(u->memo, reg, ref->path, &l, err);
    for(size_t i = 0; !rc && i < l->n; i++) {
        char ver[RG_TAGF_OUT_MAX];
        rg_semver v;
        if(!rg_tagf_keep(f, l->items[i]) || !rg_tagf_transform(f, l->items[i], ver, sizeof(ver)) ||
           !rg_semver_parse(ver, strlen(ver), &v))
            continue;
        if(v.pre[0] && !cur->pre[0])
            continue; /* no prereleases unless the container runs one */
        if(rg_semver_cmp(&v, cur) > 0 && (!best[0] || rg_semver_cmp(&v, bv) > 0)) {
            snprintf(best, cap, "%s", l->items[i]);
            *bv = v;
        }
    }
    return rc;
}

/* Step 3 of the header: a newer version tag, into entry e. */
static wh_code tag_update(upd *u, const wh_inv_registry *reg, const wh_ref *ref, const wh_json *labels, wh_json *e,
                          wh_err *err)
{
    char inc[RG_TAGF_PATTERN_MAX + 1], exc[RG_TAGF_PATTERN_MAX + 1], tr[RG_TAGF_PATTERN_MAX * 2 + 9];
    label(labels, "wharf.update.include", "wud.tag.include", inc, sizeof(inc));
    label(labels, "wharf.update.exclude", "wud.tag.exclude", exc, sizeof(exc));
    label(labels, "wharf.update.transform", "wud.tag.transform", tr, sizeof(tr));
    rg_tagf *f = NULL;
    wh_err ferr;
    if(rg_tagf_new(inc, exc, tr, &f, &ferr)) {
        wh_json_setc(e, "filter_error", wh_json_str(ferr.msg)); /* a bad label is the container's problem */
        return WH_OK;
    }
    char ver[RG_TAGF_OUT_MAX], best[WH_REF_TAG_MAX + 1];
    rg_semver cur, bv = {0};
    wh_code rc = WH_OK;
    if(ref->tag[0] && rg_tagf_transform(f, ref->tag, ver, sizeof(ver)) && rg_semver_parse(ver, strlen(ver), &cur))
        rc = newest_tag(u, reg, ref, f, &cur, best, sizeof(best), &bv, err);
    else
        best[0] = '\0';
    rg_tagf_free(f);
    if(rc || !best[0])
        return rc;
    wh_ref cand = *ref;
    snprintf(cand.tag, sizeof(cand.tag), "%s", best);
    cand.digest[0] = '\0';
    rg_head h;
    rc = rg_memo_head(u->memo, reg, &cand, &h, err);
    if(rc)
        return rc;
    wh_json_setc(e, "kind", wh_json_str("tag"));
    wh_json_setc(e, "candidate_tag", wh_json_str(best));
    wh_json_setc(e, "candidate_digest", wh_json_str(h.digest));
    wh_json_setc(e, "semver_diff", wh_json_str(rg_semver_diff_name(rg_semver_diff_of(&cur, &bv))));
    return WH_OK;
}

/* Steps 2 and 3 against the registry serving ref. */
static wh_code registry_side(upd *u, const wh_inv_registry *reg, const wh_ref *ref, const char *image_id,
                             const wh_json *labels, wh_json *e, wh_err *err)
{
    rg_head h;
    wh_json *local = wh_json_array();
    wh_code rc = local_digests(u, image_id, ref, local, err);
    if(rc) {
        wh_json_free(local);
        return rc;
    }
    rc = rg_memo_head(u->memo, reg, ref, &h, err);
    if(!rc) {
        bool moved = !has_digest(local, h.digest);
        wh_json_setc(e, "registry_digest", wh_json_str(h.digest));
        wh_json_setc(e, "digest_changed", wh_json_bool(moved));
        wh_json_setc(e, "kind", wh_json_str(moved ? "digest" : "none"));
        if(moved) {
            wh_json_setc(e, "candidate_tag", wh_json_str(ref->tag));
            wh_json_setc(e, "candidate_digest", wh_json_str(h.digest));
        }
        rc = tag_update(u, reg, ref, labels, e, err);
    }
    wh_json_setc(e, "current_digests", local);
    return rc;
}

/* One container's entry; a transient registry error is returned instead. */
/* The image reference the container was created with. The list's "Image"
 * turns into the image id once its tag has moved to another image (a newer
 * pull); then the container's own Config.Image says it. The text goes
 * into buf; NULL when there is none. */
static const char *configured_image(upd *u, const wh_json *ctr, char *buf, size_t cap, size_t *n)
{
    const char *image = wh_json_strv(wh_json_get(ctr, "Image"), n);
    const char *id = wh_json_strv(wh_json_get(ctr, "Id"), NULL);
    if(image && strncmp(image, "sha256:", 7) != 0 && strspn(image, "0123456789abcdef") != *n) {
        snprintf(buf, cap, "%.*s", (int)(*n < cap ? *n : cap - 1), image);
        return buf;
    }
    char path[200], esc[160];
    wh_json *c = NULL;
    wh_err e;
    if(!id || !wh_curl_escape(id, strlen(id), esc, sizeof(esc)))
        return NULL;
    snprintf(path, sizeof(path), "/containers/%s/json", esc);
    if(rt_call(&u->rt, "GET", path, NULL, "container", &c, &e))
        return NULL;
    const wh_json *cfg = wh_json_get(c, "Config");
    const char *ci = cfg ? wh_json_strv(wh_json_get(cfg, "Image"), n) : NULL;
    if(ci)
        snprintf(buf, cap, "%.*s", (int)(*n < cap ? *n : cap - 1), ci);
    wh_json_free(c);
    *n = ci ? strlen(buf) : 0;
    return ci ? buf : NULL;
}

static wh_code check_one(upd *u, const wh_json *ctr, const char *name, wh_json **out, wh_err *err)
{
    size_t n = 0;
    char ibuf[WH_REF_MAX + 1];
    const char *image = configured_image(u, ctr, ibuf, sizeof(ibuf), &n);
    const char *image_id = wh_json_strv(wh_json_get(ctr, "ImageID"), NULL);
    wh_json *e = wh_json_object();
    wh_json_setc(e, "container", wh_json_str(name));
    wh_json_setc(e, "image", image ? wh_json_strn(image, n) : wh_json_null());
    wh_ref ref;
    const wh_inv_registry *reg = NULL;
    const char *status = "ok";
    if(!image || !image_id || strncmp(image, "sha256:", 7) == 0 || wh_ref_parse(image, n, &ref, "image", NULL))
        status = "unsupported";
    else
        reg = wh_inv_registry_serving(u->inv, ref.host);
    if(!strcmp(status, "ok") && !reg)
        status = "no_registry";
    wh_code rc = WH_OK;
    if(reg) {
        wh_json_setc(e, "registry", wh_json_str(reg->name));
        wh_json_setc(e, "current_tag", wh_json_str(ref.tag));
        rc = registry_side(u, reg, &ref, image_id, wh_json_get(ctr, "Labels"), e, err);
    }
    if(rc && wh_code_transient(rc)) { /* the job is retried (or requeued): no entry */
        wh_json_free(e);
        return rc;
    }
    if(rc) {
        status = "error";
        wh_json_setc(e, "error", wh_json_str(wh_err_name(err)));
        wh_json_setc(e, "error_message", wh_json_str(err->msg));
    }
    wh_json_setc(e, "status", wh_json_str(status));
    wh_json_setc(e, "checked_at", wh_json_int(wh_now_ms()));
    *out = e;
    return WH_OK;
}

/* Is `name` wanted (no list: all)? */
static bool wanted(const wh_mp_obj *list, const char *name)
{
    if(!list)
        return true;
    for(uint32_t i = 0; i < wh_mp_size(list); i++)
        if(wh_mp_str_eq(wh_mp_arr_at(list, i), name))
            return true;
    return false;
}

/* Write the entries to the host's hash in one MULTI/EXEC; a check of all
 * containers replaces the hash (containers gone since drop out). */
static wh_code store(wk_job *job, const char *host, const wh_json *entries, bool all, wh_err *err)
{
    char key[512];
    snprintf(key, sizeof(key), "%supdates:%s", wk_job_prefix(job), host);
    wk_job_flush(job);
    wh_redis *r = wk_job_redis(job);
    const char *multi[] = {"MULTI"}, *del[] = {"DEL", key}, *exec[] = {"EXEC"};
    wh_code rc = wh_redis_cmdv(r, NULL, err, 1, multi);
    if(!rc && all)
        rc = wh_redis_cmdv(r, NULL, err, 2, del);
    for(size_t i = 0; !rc && i < wh_json_size(entries); i++) {
        const wh_json *e = wh_json_at(entries, i);
        char *v = wh_json_dump(e);
        const char *hset[] = {"HSET", key, wh_json_strv(wh_json_get(e, "container"), NULL), v ? v : "{}"};
        rc = wh_redis_cmdv(r, NULL, err, 4, hset);
        free(v);
    }
    if(!rc)
        rc = wh_redis_cmdv(r, NULL, err, 1, exec);
    return rc;
}

static wh_code check_all(upd *u, const wh_json *list, wh_json *entries, wh_err *err)
{
    const wh_mp_obj *names = wh_mp_map_get(wk_job_args(u->job), "containers");
    for(size_t i = 0; i < wh_json_size(list) && i < RG_UPD_MAX_CONTAINERS; i++) {
        const wh_json *ctr = wh_json_at(list, i);
        const wh_json *nm = wh_json_get(ctr, "Names");
        const char *name = nm && wh_json_size(nm) ? wh_json_strv(wh_json_at(nm, 0), NULL) : NULL;
        if(!name)
            continue;
        name += name[0] == '/';
        if(!wanted(names, name))
            continue;
        wh_json *e = NULL;
        wh_code rc = check_one(u, ctr, name, &e, err);
        if(rc)
            return rc;
        wh_json_push(entries, e);
        wk_job_progress(u->job, (int)((i + 1) * 100 / wh_json_size(list)), name);
    }
    return WH_OK;
}

wk_run rg_upd_run(wk_job *job)
{
    rg_ops ops = {job_abort, job_sleep, job};
    upd u = {.job = job, .inv = wk_job_cfg(job)->inv, .memo = rg_memo_new(&ops)};
    wh_err err;
    wh_json *list = NULL, *entries = wh_json_array();
    wh_err_clear(&err);
    wh_code rc = u.memo ? WH_OK : wh_err_set(&err, WH_E_NOMEM, NULL, "out of memory");
    if(!rc)
        rc = rt_conn_open(&u.rt, wk_job_host(job), job_abort, job, &err);
    if(!rc)
        rc = rt_call(&u.rt, "GET", "/containers/json?all=1", NULL, "containers", &list, &err);
    if(!rc)
        rc = check_all(&u, list, entries, &err);
    wh_json_free(list);
    if(!rc)
        rc = store(job, wk_job_host(job)->name, entries, !wh_mp_map_get(wk_job_args(job), "containers"), &err);
    int heads = 0, lists = 0;
    if(u.memo)
        rg_memo_counts(u.memo, &heads, &lists);
    rg_memo_free(u.memo);
    if(rc) {
        wh_json_free(entries);
        return wk_job_fail_err(job, rc, &err);
    }
    wh_json *r = wh_json_object();
    wh_json_setc(r, "host", wh_json_str(wk_job_host(job)->name));
    wh_json_setc(r, "containers", entries);
    wh_json *look = wh_json_object();
    wh_json_setc(look, "digests", wh_json_int(heads));
    wh_json_setc(look, "tag_lists", wh_json_int(lists));
    wh_json_setc(r, "registry_lookups", look);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
