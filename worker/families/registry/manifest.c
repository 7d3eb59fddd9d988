/* manifest: manifest kinds and index platform selection. See manifest.h. */
#include "manifest.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wh_ref.h"

static const struct {
    const char *type;
    rg_mani_kind kind;
    const char *name;
} kinds[] = {
    {RG_MT_DOCKER_V2, RG_MANI_DOCKER_V2, "docker_v2"},
    {RG_MT_DOCKER_LIST, RG_MANI_DOCKER_LIST, "docker_list"},
    {RG_MT_OCI_MANIFEST, RG_MANI_OCI_MANIFEST, "oci_manifest"},
    {RG_MT_OCI_INDEX, RG_MANI_OCI_INDEX, "oci_index"},
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

rg_mani_kind rg_mani_kind_of(const char *ct, size_t n)
{
    while(n > 0 && (*ct == ' ' || *ct == '\t'))
        ct++, n--;
    size_t len = 0;
    while(len < n && ct[len] != ';' && ct[len] != ' ' && ct[len] != '\t')
        len++;
    for(size_t i = 0; i < NKINDS; i++)
        if(strlen(kinds[i].type) == len && strncasecmp(kinds[i].type, ct, len) == 0)
            return kinds[i].kind;
    return RG_MANI_UNKNOWN;
}

bool rg_mani_is_index(rg_mani_kind k)
{
    return k == RG_MANI_DOCKER_LIST || k == RG_MANI_OCI_INDEX;
}

const char *rg_mani_kind_name(rg_mani_kind k)
{
    for(size_t i = 0; i < NKINDS; i++)
        if(kinds[i].kind == k)
            return kinds[i].name;
    return "unknown";
}

/* The entry's platform, normalised; false when it has none usable. */
static bool entry_platform(const wh_json *e, rg_platform *p)
{
    const wh_json *pl = wh_json_get(e, "platform");
    memset(p, 0, sizeof(*p));
    if(!pl || wh_json_kind_of(pl) != WH_JSON_OBJECT)
        return false;
    const char *names[3] = {"os", "architecture", "variant"};
    char *dst[3] = {p->os, p->arch, p->variant};
    for(int i = 0; i < 3; i++) {
        size_t n = 0;
        const char *v = wh_json_strv(wh_json_get(pl, names[i]), &n);
        if(v && n < 32)
            snprintf(dst[i], 32, "%.*s", (int)n, v);
    }
    rg_platform_normalise(p);
    return p->os[0] && p->arch[0];
}

static bool matches(const rg_platform *have, const rg_platform *want, bool any_variant)
{
    return strcmp(have->os, want->os) == 0 && strcmp(have->arch, want->arch) == 0 &&
           (any_variant || strcmp(have->variant, want->variant) == 0);
}

/* Index of the best entry: exact variant first, then (only when the
 * caller named no variant) any variant. -1 when none. */
static int best_entry(const wh_json *arr, const rg_platform *want, bool want_had_variant)
{
    for(int pass = 0; pass < (want_had_variant ? 1 : 2); pass++)
        for(size_t i = 0; i < wh_json_size(arr); i++) {
            rg_platform have;
            if(entry_platform(wh_json_at(arr, i), &have) && matches(&have, want, pass == 1))
                return (int)i;
        }
    return -1;
}

static wh_json *platform_list(const wh_json *arr, char *text, size_t cap)
{
    wh_json *list = wh_json_array();
    size_t o = 0;
    text[0] = '\0';
    for(size_t i = 0; i < wh_json_size(arr); i++) {
        rg_platform p;
        char s[100];
        if(!entry_platform(wh_json_at(arr, i), &p))
            continue;
        rg_platform_format(&p, s, sizeof(s));
        wh_json_push(list, wh_json_str(s));
        int k = snprintf(text + o, cap - o, "%s%s", o ? ", " : "", s);
        if(k > 0 && o + (size_t)k < cap)
            o += (size_t)k;
    }
    return list;
}

wh_code rg_mani_select(const char *body, size_t n, const rg_platform *want, char *digest, size_t cap,
                       wh_json **platforms, wh_err *err)
{
    if(platforms)
        *platforms = NULL;
    wh_json *doc = n <= RG_MANI_BODY_MAX ? wh_json_parse(body, n, NULL) : NULL;
    const wh_json *arr = doc ? wh_json_get(doc, "manifests") : NULL;
    if(!arr || wh_json_kind_of(arr) != WH_JSON_ARRAY) {
        wh_json_free(doc);
        return wh_err_set(err, WH_E_REGISTRY, NULL, "the registry sent an index that is not valid JSON with a manifests array");
    }
    char avail[160], w[100];
    if(platforms)
        *platforms = platform_list(arr, avail, sizeof(avail));
    else
        wh_json_free(platform_list(arr, avail, sizeof(avail)));
    rg_platform norm = *want;
    bool had_variant = want->variant[0] != '\0';
    rg_platform_normalise(&norm);
    int i = best_entry(arr, &norm, had_variant);
    wh_code rc = WH_OK;
    size_t dn = 0;
    const char *d = i >= 0 ? wh_json_strv(wh_json_get(wh_json_at(arr, (size_t)i), "digest"), &dn) : NULL;
    rg_platform_format(&norm, w, sizeof(w));
    if(i < 0)
        rc = wh_err_set(err, WH_E_NOT_FOUND, "args.platform", "no manifest for %s in the index (it has: %s)", w,
                        avail[0] ? avail : "none");
    else if(!d || !wh_ref_digest_valid(d, dn) || dn >= cap)
        rc = wh_err_set(err, WH_E_REGISTRY, NULL, "the index entry for %s has no valid digest", w);
    else
        snprintf(digest, cap, "%.*s", (int)dn, d);
    wh_json_free(doc);
    return rc;
}
