/* registry: the `registry` family, on the inventory's registries (run
 * functions in worker/families/registry/).
 *   registry.check   {registry}                                  credentials valid?
 *   registry.catalog {registry, n?}                              repositories
 *   registry.tags    {image, include?, exclude?, transform?, semver?, n?}
 *   registry.digest  {image, platform?}                          digest by HEAD
 *   registry.delete  {image, tag?, digest?}                      delete a manifest
 *   registry.update_check {containers?} on a target host
 *   registry.update_container {name, tag?, dry_run?, health_timeout_s?} on a target host
 * Images are references (wh_ref), patterns POSIX regexes
 * (registry_tag_filter.c), platforms os/arch[/variant] (registry_platform.c);
 * all are checked before the job starts. */
#include <stdio.h>
#include <string.h>

#include "registry_args.h"
#include "runtime_args.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the args the run functions read too ---- */

const char *rg_arg_copy(const wh_mp_obj *a, const char *name, char *buf, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(a, name, "", &n);
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
    return buf;
}

wh_code rg_image_arg(const wh_mp_obj *a, wh_ref *r, wh_err *err)
{
    size_t n = 0;
    const char *s = wh_args_str(a, "image", "", &n);
    return wh_ref_parse(s, n, r, "args.image", err);
}

wh_code rg_tagf_args(const wh_mp_obj *a, rg_tagf **f, wh_err *err)
{
    char inc[RG_TAGF_PATTERN_MAX + 1], exc[RG_TAGF_PATTERN_MAX + 1], tr[RG_TAGF_PATTERN_MAX * 2 + 9];
    return rg_tagf_new(rg_arg_copy(a, "include", inc, sizeof(inc)), rg_arg_copy(a, "exclude", exc, sizeof(exc)),
                       rg_arg_copy(a, "transform", tr, sizeof(tr)), f, err);
}

wh_code rg_platform_arg(const wh_mp_obj *a, rg_platform *p, bool *given, wh_err *err)
{
    size_t n = 0;
    const char *s = wh_args_str(a, "platform", "", &n);
    *given = n > 0;
    return n ? rg_platform_parse(s, n, p, "args.platform", err) : WH_OK;
}

wh_code rg_delete_ref(const wh_mp_obj *a, wh_ref *r, wh_err *err)
{
    char tag[WH_REF_TAG_MAX + 1], dig[WH_REF_DIGEST_MAX + 1];
    wh_code rc = rg_image_arg(a, r, err);
    if(rc)
        return rc;
    if(rg_arg_copy(a, "tag", tag, sizeof(tag))[0]) {
        snprintf(r->tag, sizeof(r->tag), "%s", tag);
        r->tag_given = true;
    }
    if(rg_arg_copy(a, "digest", dig, sizeof(dig))[0])
        snprintf(r->digest, sizeof(r->digest), "%s", dig);
    if(!r->tag_given && !r->digest[0])
        return wh_err_set(err, WH_E_BAD_ARGS, "args.image",
                          "args.image: name the manifest to delete with a tag or digest (image:tag, image@digest, "
                          "args.tag or args.digest)");
    return WH_OK;
}

/* ---- args tables and checks ---- */

static bool name_ok(const char *s, size_t n)
{
    for(size_t i = 0; i < n; i++)
        if(!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
             strchr("._-", s[i])))
            return false;
    return n > 0;
}

static const wh_arg_spec check_args[] = {
    {"registry", WH_ARG_STR, true, 1, 63, name_ok, "must name a [registry.NAME] inventory entry"},
};

static const wh_arg_spec catalog_args[] = {
    {"registry", WH_ARG_STR, true, 1, 63, name_ok, "must name a [registry.NAME] inventory entry"},
    {"n", WH_ARG_INT, false, 1, 10000, NULL, NULL},
};

static const wh_arg_spec tags_args[] = {
    {"image", WH_ARG_STR, true, 1, WH_REF_MAX, NULL, NULL},
    {"include", WH_ARG_STR, false, 0, RG_TAGF_PATTERN_MAX, NULL, NULL},
    {"exclude", WH_ARG_STR, false, 0, RG_TAGF_PATTERN_MAX, NULL, NULL},
    {"transform", WH_ARG_STR, false, 0, RG_TAGF_PATTERN_MAX * 2 + 8, NULL, NULL},
    {"semver", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
    {"n", WH_ARG_INT, false, 1, 10000, NULL, NULL},
};

/* Reject bad images and patterns before the job starts. */
static wh_code tags_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    wh_ref r;
    rg_tagf *f = NULL;
    wh_code rc = rg_image_arg(a, &r, err);
    if(!rc)
        rc = rg_tagf_args(a, &f, err);
    rg_tagf_free(f);
    return rc;
}

static const wh_arg_spec digest_args[] = {
    {"image", WH_ARG_STR, true, 1, WH_REF_MAX, NULL, NULL},
    {"platform", WH_ARG_STR, false, 3, 100, NULL, NULL},
};

static wh_code digest_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    wh_ref r;
    rg_platform p;
    bool given;
    wh_code rc = rg_image_arg(a, &r, err);
    return rc ? rc : rg_platform_arg(a, &p, &given, err);
}

static const wh_arg_spec delete_args[] = {
    {"image", WH_ARG_STR, true, 1, WH_REF_MAX, NULL, NULL},
    {"tag", WH_ARG_STR, false, 1, WH_REF_TAG_MAX, wh_ref_tag_valid, "must be a tag [A-Za-z0-9_][A-Za-z0-9_.-]*"},
    {"digest", WH_ARG_STR, false, 1, WH_REF_DIGEST_MAX, wh_ref_digest_valid, "must be a digest sha256:<64 hex>"},
};

static wh_code delete_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    wh_ref r;
    return rg_delete_ref(a, &r, err);
}

static const wh_arg_spec upd_args[] = {
    {"containers", WH_ARG_ARRAY, false, 0, 100, NULL, NULL},
};

static bool cname_ok(const char *s, size_t n)
{
    if(n == 0 || n > 128)
        return false;
    for(size_t i = 0; i < n; i++)
        if(!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
             (i > 0 && strchr("_.-", s[i]))))
            return false;
    return true;
}

static wh_code upd_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    const wh_mp_obj *a = wh_mp_map_get(args, "containers");
    for(uint32_t i = 0; a && i < wh_mp_size(a); i++) {
        const char *s;
        size_t n;
        if(!wh_mp_str(wh_mp_arr_at(a, i), &s, &n) || !cname_ok(s, n))
            return wh_err_at(err, WH_E_BAD_ARGS,
                             "args.containers[%u]: must be a container name [A-Za-z0-9][A-Za-z0-9_.-]{0,127}", i);
    }
    return WH_OK;
}

static const wh_arg_spec cupd_args[] = {
    {"name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must be a container name [A-Za-z0-9][A-Za-z0-9_.-]*"},
    {"tag", WH_ARG_STR, false, 1, WH_REF_TAG_MAX, wh_ref_tag_valid, "must be a tag [A-Za-z0-9_][A-Za-z0-9_.-]*"},
    {"dry_run", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
    {"health_timeout_s", WH_ARG_INT, false, 1, 600, NULL, NULL},
};

/* The lock key is "ctr:<name>", shared with the runtime family. */
static bool cupd_lock(const wh_mp_obj *args, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(args, "name", NULL, &n);
    int k = s ? snprintf(out, cap, "ctr:%.*s", (int)n, s) : -1;
    return k > 0 && (size_t)k < cap;
}

static const wh_job_type registry_types[] = {
    {.name = "registry.check", .args = check_args, .nargs = N(check_args)},
    {.name = "registry.catalog", .args = catalog_args, .nargs = N(catalog_args)},
    {.name = "registry.tags", .args = tags_args, .nargs = N(tags_args), .check = tags_check},
    {.name = "registry.digest", .args = digest_args, .nargs = N(digest_args), .check = digest_check},
    {.name = "registry.delete", .args = delete_args, .nargs = N(delete_args), .check = delete_check},
    {.name = "registry.update_check", .args = upd_args, .nargs = N(upd_args), .check = upd_check, .needs_host = true},
    {.name = "registry.update_container", .args = cupd_args, .nargs = N(cupd_args), .needs_host = true,
     .lock_key = cupd_lock, .timeout_s = 900},
};

const wh_job_family wh_cat_registry = {"registry", registry_types, N(registry_types)};
