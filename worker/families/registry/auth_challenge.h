/* auth_challenge: WWW-Authenticate challenges (RFC 7235), as registries send them:
 *
 *   Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"
 *   Basic realm="Registry Realm", Bearer realm="x"
 *
 * Several challenges may share one header; parameters are token=token or
 * token="quoted string" with backslash escapes, so commas inside quotes do
 * not split. Parsing never fails as a whole: a malformed part is skipped and
 * the parser resynchronises at the next scheme. Parameter values longer than
 * their field drop the challenge (a cut realm would be a wrong URL). */
#ifndef RG_CHAL_H
#define RG_CHAL_H

#include <stddef.h>

#define RG_CHAL_HEADER_MAX 8192 /* bytes of header parsed; the rest is ignored */
#define RG_CHAL_MAX 8           /* challenges kept from one header */

typedef enum rg_scheme { RG_SCHEME_OTHER = 0, RG_SCHEME_BASIC, RG_SCHEME_BEARER } rg_scheme;

typedef struct rg_chal {
    rg_scheme scheme;
    char realm[1024];
    char service[256];
    char scope[1024];
    char error[64];   /* Bearer error="insufficient_scope" etc., or "" */
} rg_chal;

/* Parse hdr[0..n) into at most `max` challenges; returns how many. */
int rg_chal_parse(const char *hdr, size_t n, rg_chal *out, int max);

/* The first challenge with this scheme, or NULL. */
const rg_chal *rg_chal_find(const rg_chal *c, int count, rg_scheme scheme);

#endif
