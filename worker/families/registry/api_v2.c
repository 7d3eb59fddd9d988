/* api_v2: registry v2 operations. See api_v2.h. */
#include "api_v2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link_header.h"
#include "wh_json.h"

void rg_list_free(rg_list *l)
{
    if(!l)
        return;
    for(size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static wh_code list_push(rg_list *l, const char *s, size_t n, wh_err *err)
{
    if(l->n >= RG_LIST_MAX)
        return wh_err_set(err, WH_E_TOO_LARGE, NULL, "more than %d entries in a registry listing", RG_LIST_MAX);
    if(l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->items, cap * sizeof(*p));
        if(!p)
            return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n] = strndup(s, n);
    if(!l->items[l->n])
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    l->n++;
    return WH_OK;
}

wh_code rg_api_ping(rg_conn *c, char *api_version, size_t cap, wh_err *err)
{
    wh_curl_resp resp;
    wh_code rc = rg_conn_do(c, "GET", "/v2/", NULL, NULL, 65536, &resp, err);
    if(rc)
        return rc;
    if(resp.status != 200)
        rc = rg_http_status_err(c, resp.status, "/v2/ (not a registry API v2 endpoint?)", err);
    else if(wh_curl_header(&resp, "Docker-Distribution-API-Version", api_version, cap) < 0)
        api_version[0] = '\0';
    wh_curl_resp_clear(&resp);
    return rc;
}

/* Add one page's names (JSON array under `key`; null means none). */
static wh_code take_page(const wh_curl_resp *resp, const char *key, rg_list *out, const char *what, wh_err *err)
{
    wh_json *j = resp->body ? wh_json_parse(resp->body, resp->body_len, NULL) : NULL;
    const wh_json *a = j ? wh_json_get(j, key) : NULL;
    wh_code rc = WH_OK;
    if(!j || (a && wh_json_kind_of(a) != WH_JSON_ARRAY && wh_json_kind_of(a) != WH_JSON_NULL))
        rc = wh_err_set(err, WH_E_REGISTRY, NULL, "the registry sent a %s page that is not JSON with \"%s\"", what, key);
    for(size_t i = 0; !rc && a && wh_json_kind_of(a) == WH_JSON_ARRAY && i < wh_json_size(a); i++) {
        size_t n = 0;
        const char *s = wh_json_strv(wh_json_at(a, i), &n);
        if(s && n > 0 && n <= 255 && !memchr(s, '\0', n))
            rc = list_push(out, s, n, err);
    }
    wh_json_free(j);
    return rc;
}

/* The next page's URL: the Link header, or `last=` after a full page.
 * Returns 1 with url set, 0 at the end, -1 when a next link points to
 * another origin or does not fit (refused, never silently cut). */
static int next_page(const rg_conn *c, const wh_curl_resp *resp, const char *first, int page_n, size_t got,
                     const rg_list *out, char *url, size_t cap)
{
    char link[RG_URL_MAX];
    if(wh_curl_header(resp, "Link", link, sizeof(link)) >= 0) {
        char target[RG_URL_MAX];
        if(!rg_link_next(link, strlen(link), target, sizeof(target)))
            return 0;
        return rg_link_resolve(c->base, target, url, cap) ? 1 : -1;
    }
    /* Only a page of exactly n says "maybe more": a registry that ignores
     * n sends everything at once. */
    if(page_n <= 0 || got != (size_t)page_n || out->n == 0)
        return 0;
    char esc[600];
    const char *last = out->items[out->n - 1];
    if(!wh_curl_escape(last, strlen(last), esc, sizeof(esc)))
        return -1;
    int k = snprintf(url, cap, "%s%s%clast=%s", c->base, first, strchr(first, '?') ? '&' : '?', esc);
    return k > 0 && (size_t)k < cap ? 1 : -1;
}

static wh_code list_all(rg_conn *c, const char *first, const char *key, const char *scope, int page_n,
                        const char *what, rg_list *out, int *pages, wh_err *err)
{
    char url[RG_URL_MAX];
    snprintf(url, sizeof(url), "%s", first);
    *pages = 0;
    for(;;) {
        if(*pages >= RG_LIST_PAGES)
            return wh_err_set(err, WH_E_TOO_LARGE, NULL, "%s: more than %d pages", what, RG_LIST_PAGES);
        wh_curl_resp resp;
        wh_code rc = rg_conn_do(c, "GET", url, "application/json", scope, RG_PAGE_BODY_MAX, &resp, err);
        if(rc)
            return rc;
        size_t before = out->n;
        if(resp.status != 200)
            rc = rg_http_status_err(c, resp.status, what, err);
        else
            rc = take_page(&resp, key, out, what, err);
        (*pages)++;
        char prev_last[256] = "";
        if(before > 0)
            snprintf(prev_last, sizeof(prev_last), "%s", out->items[before - 1]);
        int next = rc ? 0 : next_page(c, &resp, first, page_n, out->n - before, out, url, sizeof(url));
        bool more = next > 0;
        wh_curl_resp_clear(&resp);
        if(next < 0)
            return wh_err_set(err, WH_E_REGISTRY, NULL,
                              "registry %s: refused the next page of %s (a link to another origin, or too long)",
                              c->reg->name, what);
        /* A registry that ignores `last` would repeat the page forever. */
        if(more && out->n > before && strcmp(prev_last, out->items[out->n - 1]) == 0)
            more = false;
        if(rc || !more)
            return rc;
    }
}

wh_code rg_api_catalog(rg_conn *c, int page_n, rg_list *out, int *pages, wh_err *err)
{
    char first[64] = "/v2/_catalog";
    if(page_n > 0)
        snprintf(first, sizeof(first), "/v2/_catalog?n=%d", page_n);
    return list_all(c, first, "repositories", "registry:catalog:*", page_n, "catalog", out, pages, err);
}

wh_code rg_api_tags(rg_conn *c, const char *path, int page_n, rg_list *out, int *pages, wh_err *err)
{
    char first[400], scope[300], what[300];
    snprintf(first, sizeof(first), "/v2/%s/tags/list", path);
    if(page_n > 0)
        snprintf(first + strlen(first), sizeof(first) - strlen(first), "?n=%d", page_n);
    snprintf(scope, sizeof(scope), "repository:%s:pull", path);
    snprintf(what, sizeof(what), "repository %s", path);
    return list_all(c, first, "tags", scope, page_n, what, out, pages, err);
}

static void fill_head(const wh_curl_resp *resp, rg_head *out)
{
    char ct[128];
    if(wh_curl_header(resp, "Docker-Content-Digest", out->digest, sizeof(out->digest)) < 0 ||
       !wh_ref_digest_valid(out->digest, strlen(out->digest)))
        out->digest[0] = '\0';
    if(wh_curl_header(resp, "Content-Type", ct, sizeof(ct)) < 0)
        ct[0] = '\0';
    snprintf(out->media_type, sizeof(out->media_type), "%.*s", (int)strcspn(ct, "; "), ct);
    out->kind = rg_mani_kind_of(ct, strlen(ct));
}

wh_code rg_api_head(rg_conn *c, const wh_ref *r, rg_head *out, wh_err *err)
{
    char path[600], scope[300], what[600];
    const char *ref = r->digest[0] ? r->digest : r->tag;
    snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r->path, ref);
    snprintf(scope, sizeof(scope), "repository:%s:pull", r->path);
    snprintf(what, sizeof(what), "manifest %s%s%s", r->path, r->digest[0] ? "@" : ":", ref);
    memset(out, 0, sizeof(*out));
    wh_curl_resp resp;
    wh_code rc = rg_conn_do(c, "HEAD", path, RG_MANI_ACCEPT, scope, 0, &resp, err);
    if(rc)
        return rc;
    if(resp.status == 200)
        fill_head(&resp, out);
    else
        rc = rg_http_status_err(c, resp.status, what, err);
    wh_curl_resp_clear(&resp);
    if(rc || out->digest[0])
        return rc;
    /* Some registries leave the digest header off HEAD: ask with GET. */
    rc = rg_conn_do(c, "GET", path, RG_MANI_ACCEPT, scope, RG_MANI_BODY_MAX, &resp, err);
    if(rc)
        return rc;
    if(resp.status == 200)
        fill_head(&resp, out);
    else
        rc = rg_http_status_err(c, resp.status, what, err);
    wh_curl_resp_clear(&resp);
    if(!rc && !out->digest[0])
        rc = wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s sent no Docker-Content-Digest for %s", c->reg->name,
                        what);
    return rc;
}

wh_code rg_api_manifest(rg_conn *c, const char *path, const char *reference, wh_curl_resp *resp, wh_err *err)
{
    char url[600], scope[300], what[600];
    snprintf(url, sizeof(url), "/v2/%s/manifests/%s", path, reference);
    snprintf(scope, sizeof(scope), "repository:%s:pull", path);
    snprintf(what, sizeof(what), "manifest %s %s", path, reference);
    wh_code rc = rg_conn_do(c, "GET", url, RG_MANI_ACCEPT, scope, RG_MANI_BODY_MAX, resp, err);
    if(rc)
        return rc;
    if(resp->status != 200) {
        rc = rg_http_status_err(c, resp->status, what, err);
        wh_curl_resp_clear(resp);
    }
    return rc;
}

wh_code rg_api_delete(rg_conn *c, const char *path, const char *digest, bool *unsupported, wh_err *err)
{
    if(unsupported)
        *unsupported = false;
    char url[600], scope[300], what[600];
    snprintf(url, sizeof(url), "/v2/%s/manifests/%s", path, digest);
    snprintf(scope, sizeof(scope), "repository:%s:delete", path);
    snprintf(what, sizeof(what), "manifest %s@%s", path, digest);
    wh_curl_resp resp;
    wh_code rc = rg_conn_do(c, "DELETE", url, NULL, scope, 65536, &resp, err);
    if(rc)
        return rc;
    if(resp.status == 405) /* distribution without storage.delete.enabled, and others */
        rc = wh_err_set(err, WH_E_REGISTRY, NULL,
                        "registry %s does not allow deleting %s (405 Method Not Allowed; distribution needs "
                        "storage.delete.enabled, REGISTRY_STORAGE_DELETE_ENABLED=true)",
                        c->reg->name, what);
    else if(resp.status != 202 && resp.status != 200 && resp.status != 204)
        rc = rg_http_status_err(c, resp.status, what, err);
    if(unsupported)
        *unsupported = resp.status == 405;
    wh_curl_resp_clear(&resp);
    return rc;
}
