/* registry_args: the registry family's half in the catalogue (registry.c,
 * registry_platform.c, registry_tag_filter.c): what its run functions read
 * of the args the same way its checks do. */
#ifndef RG_ARGS_H
#define RG_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "registry_tag_filter.h"
#include "wh_ref.h"

/* ---- registry.c ---- */

/* String arg `name` (validated UTF-8) copied into buf[cap], "" when
 * absent, cut to fit. Returns buf. */
const char *rg_arg_copy(const wh_mp_obj *a, const char *name, char *buf, size_t cap);

/* args.image parsed into *r (bad_args naming args.image). */
wh_code rg_image_arg(const wh_mp_obj *a, wh_ref *r, wh_err *err);

/* args.include, args.exclude and args.transform compiled (rg_tagf_new). */
wh_code rg_tagf_args(const wh_mp_obj *a, rg_tagf **f, wh_err *err);

/* registry.delete's manifest: args.image with args.tag / args.digest
 * applied; bad_args unless a tag or a digest names it. */
wh_code rg_delete_ref(const wh_mp_obj *a, wh_ref *r, wh_err *err);

/* ---- registry_platform.c ---- */

typedef struct rg_platform {
    char os[32];
    char arch[32];
    char variant[32];
} rg_platform;

/* Parse "os/arch[/variant]" (lowercase [a-z0-9_.-]) into *p, with the
 * architecture name normalised (the variant is kept as written).
 * Errors are WH_E_BAD_ARGS naming `field`. */
wh_code rg_platform_parse(const char *s, size_t n, rg_platform *p, const char *field, wh_err *err);

/* "os/arch[/variant]" into out. */
void rg_platform_format(const rg_platform *p, char *out, size_t cap);

/* containerd's normalisation: "x86_64"/"x86-64" and "aarch64" are amd64
 * and arm64; arm64 without a variant (or "8") is v8, arm without one v7. */
void rg_platform_normalise(rg_platform *p);

/* args.platform parsed into *p; *given says whether it was there (absent
 * is fine). */
wh_code rg_platform_arg(const wh_mp_obj *a, rg_platform *p, bool *given, wh_err *err);

#endif
