/* registry_platform: image platforms "os/arch[/variant]" as registry.digest
 * takes them (args.platform) and the worker matches them against an index
 * (worker/families/registry/manifest.c). See registry_args.h. */
#include <stdio.h>
#include <string.h>

#include "registry_args.h"

static bool part_valid(const char *s, size_t n)
{
    if(n == 0 || n >= 32)
        return false;
    for(size_t i = 0; i < n; i++)
        if(!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr("_.-", s[i])))
            return false;
    return true;
}

/* containerd's normalisation of architecture names. */
static void normalise_arch(rg_platform *p)
{
    if(strcmp(p->arch, "x86_64") == 0 || strcmp(p->arch, "x86-64") == 0)
        snprintf(p->arch, sizeof(p->arch), "amd64");
    else if(strcmp(p->arch, "aarch64") == 0)
        snprintf(p->arch, sizeof(p->arch), "arm64");
}

void rg_platform_normalise(rg_platform *p)
{
    normalise_arch(p);
    if(strcmp(p->arch, "arm64") == 0 && (!p->variant[0] || strcmp(p->variant, "8") == 0))
        snprintf(p->variant, sizeof(p->variant), "v8");
    else if(strcmp(p->arch, "arm") == 0 && !p->variant[0])
        snprintf(p->variant, sizeof(p->variant), "v7");
}

wh_code rg_platform_parse(const char *s, size_t n, rg_platform *p, const char *field, wh_err *err)
{
    memset(p, 0, sizeof(*p));
    char *dst[3] = {p->os, p->arch, p->variant};
    int part = 0;
    size_t start = 0;
    for(size_t i = 0; i <= n; i++) {
        if(i < n && s[i] != '/')
            continue;
        if(part == 3 || !part_valid(s + start, i - start))
            return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: must be os/arch[/variant], e.g. linux/arm64/v8",
                              field);
        memcpy(dst[part++], s + start, i - start);
        start = i + 1;
    }
    if(part < 2)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: must be os/arch[/variant], e.g. linux/arm64/v8", field);
    /* The default variant is applied when matching, so an index entry of
     * any variant can serve a request that named none. */
    normalise_arch(p);
    return WH_OK;
}

void rg_platform_format(const rg_platform *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}
