/* api_v2: the registry HTTP API v2 operations wharf uses, over rg_http.
 *
 *   GET    /v2/                               ping (and credential check)
 *   GET    /v2/_catalog?n=N                   repositories, all pages
 *   GET    /v2/<name>/tags/list?n=N           tags, all pages
 *   HEAD   /v2/<name>/manifests/<ref>         digest and media type
 *   GET    /v2/<name>/manifests/<ref>         manifest or index body
 *   DELETE /v2/<name>/manifests/<digest>
 *
 * Listings follow `Link: <...>; rel="next"` (same origin only) and, for
 * registries that send no Link, `last=` after a full page of `n`; they stop
 * at RG_LIST_MAX items or RG_LIST_PAGES pages (WH_E_TOO_LARGE). A page is at
 * most RG_PAGE_BODY_MAX bytes. */
#ifndef RG_API_H
#define RG_API_H

#include <stddef.h>

#include "connection.h"
#include "manifest.h"
#include "wh_ref.h"

#define RG_LIST_MAX 50000
#define RG_LIST_PAGES 1000
#define RG_PAGE_BODY_MAX (4u << 20)

/* A list of strings the caller frees with rg_list_free. */
typedef struct rg_list {
    char **items;
    size_t n, cap;
} rg_list;

void rg_list_free(rg_list *l);

/* GET /v2/. On WH_OK the registry accepted the entry's credentials (or
 * anonymous access); *api_version gets Docker-Distribution-API-Version. */
wh_code rg_api_ping(rg_conn *c, char *api_version, size_t cap, wh_err *err);

/* Every repository (page size page_n, 0 for the registry's default). */
wh_code rg_api_catalog(rg_conn *c, int page_n, rg_list *out, int *pages, wh_err *err);

/* Every tag of repository `path`. A missing repository is WH_E_NOT_FOUND. */
wh_code rg_api_tags(rg_conn *c, const char *path, int page_n, rg_list *out, int *pages, wh_err *err);

typedef struct rg_head {
    char digest[WH_REF_DIGEST_MAX + 1];
    char media_type[128];
    rg_mani_kind kind;
} rg_head;

/* Digest and kind of the manifest `r` names (its digest if it has one,
 * else its tag) by HEAD, which does not count as a pull on rate-limited
 * registries. Missing: WH_E_NOT_FOUND. */
wh_code rg_api_head(rg_conn *c, const wh_ref *r, rg_head *out, wh_err *err);

/* The manifest body of path@reference (a tag or digest) into *resp. */
wh_code rg_api_manifest(rg_conn *c, const char *path, const char *reference, wh_curl_resp *resp, wh_err *err);

/* DELETE the manifest path@digest. A registry that does not allow it
 * (405) fails WH_E_REGISTRY with *unsupported set (may be NULL). */
wh_code rg_api_delete(rg_conn *c, const char *path, const char *digest, bool *unsupported, wh_err *err);

#endif
