/* ecr: ECR GetAuthorizationToken. See ecr.h. */
#include "ecr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token_cache.h"
#include "wh_json.h"
#include "wh_time.h"

#define ECR_SCOPE "ecr:authorization-token" /* token cache key */

/* "<acct>.dkr.ecr.<region>.amazonaws.com" -> region. */
static bool region_from_url(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, ".dkr.ecr.");
    if(!p)
        return false;
    p += 9;
    size_t n = strcspn(p, ".");
    if(n == 0 || n >= cap || strncmp(p + n, ".amazonaws.com", 14) != 0)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool region_ok(const char *r)
{
    return *r && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(r);
}

wh_code rg_ecr_build(const wh_inv_registry *reg, const char *endpoint, rg_ecr_req *out, wh_err *err)
{
    memset(out, 0, sizeof(*out));
    if(reg->region[0])
        snprintf(out->region, sizeof(out->region), "%s", reg->region);
    else
        region_from_url(reg->url, out->region, sizeof(out->region));
    if(!region_ok(out->region))
        return wh_err_set(err, WH_E_BAD_CONFIG, "region",
                          "registry.%s.region: needed for ecr (or a url <account>.dkr.ecr.<region>.amazonaws.com)",
                          reg->name);
    if(!reg->aws_access_key_id[0] || !reg->aws_secret_access_key[0])
        return wh_err_set(err, WH_E_BAD_CONFIG, "aws_access_key_id",
                          "registry.%s: ecr needs aws_access_key_id and aws_secret_access_key(_file)", reg->name);
    if(endpoint)
        snprintf(out->url, sizeof(out->url), "%s", endpoint);
    else
        snprintf(out->url, sizeof(out->url), "https://api.ecr.%s.amazonaws.com/", out->region);
    snprintf(out->sigv4, sizeof(out->sigv4), "aws:amz:%s:ecr", out->region);
    out->headers[0] = "Content-Type: application/x-amz-json-1.1";
    out->headers[1] = "X-Amz-Target: " RG_ECR_TARGET;
    out->body = "{}";
    return WH_OK;
}

/* authorizationData[0].authorizationToken and its lifetime in ms. */
static wh_code parse_answer(const wh_curl_resp *resp, char **token, int64_t *ttl_ms, wh_err *err)
{
    wh_json *j = resp->body ? wh_json_parse(resp->body, resp->body_len, NULL) : NULL;
    const wh_json *d = j ? wh_json_get(j, "authorizationData") : NULL;
    const wh_json *e = d && wh_json_kind_of(d) == WH_JSON_ARRAY && wh_json_size(d) ? wh_json_at(d, 0) : NULL;
    size_t n = 0;
    const char *t = e ? wh_json_strv(wh_json_get(e, "authorizationToken"), &n) : NULL;
    const wh_json *x = e ? wh_json_get(e, "expiresAt") : NULL;
    double exp_s = !x ? 0 : wh_json_kind_of(x) == WH_JSON_INT ? (double)wh_json_intv(x)
                              : wh_json_kind_of(x) == WH_JSON_REAL ? wh_json_realv(x) : 0;
    wh_code rc = WH_OK;
    if(!t || n == 0 || n >= RG_TOKC_TOKEN_MAX || strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                       "0123456789+/=") != n)
        rc = wh_err_set(err, WH_E_REGISTRY, NULL, "ECR GetAuthorizationToken sent no usable token");
    else
        *token = strndup(t, n);
    if(!rc && !*token)
        rc = wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    else if(!rc)
        *ttl_ms = exp_s > 0 ? (int64_t)(exp_s * 1000) - wh_now_ms() : 3600 * 1000;
    wh_json_free(j);
    return rc;
}

static wh_code call(rg_conn *c, const rg_ecr_req *q, char **token, int64_t *ttl_ms, wh_err *err)
{
    const wh_inv_registry *r = c->reg;
    size_t n = strlen(r->aws_access_key_id) + strlen(r->aws_secret_access_key) + 2;
    char *userpwd = malloc(n);
    if(!userpwd)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    snprintf(userpwd, n, "%s:%s", r->aws_access_key_id, r->aws_secret_access_key);
    wh_curl_req req = {.method = "POST", .url = q->url, .headers = q->headers, .body = q->body,
                       .body_len = strlen(q->body), .timeout_ms = RG_REQUEST_TIMEOUT_MS,
                       .max_body = RG_TOKEN_BODY_MAX, .aws_sigv4 = q->sigv4, .userpwd = userpwd};
    wh_curl_resp resp;
    wh_err e;
    wh_code rc = rg_http_code(wh_curl_do(c->curl, &req, &resp, &e));
    memset(userpwd, 0, n);
    free(userpwd);
    if(rc)
        return wh_err_set(err, rc, NULL, "registry %s: ECR GetAuthorizationToken failed: %s", r->name, e.msg);
    if(resp.status == 200)
        rc = parse_answer(&resp, token, ttl_ms, err);
    else if(resp.status == 400 || resp.status == 401 || resp.status == 403)
        rc = wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s: AWS refused the access key (%ld)", r->name,
                        resp.status);
    else
        rc = wh_err_set(err, resp.status == 429 ? WH_E_RATE_LIMITED : resp.status >= 500 ? WH_E_UNREACHABLE
                                                                                         : WH_E_REGISTRY,
                        NULL, "registry %s: ECR GetAuthorizationToken answered %ld", r->name, resp.status);
    wh_curl_resp_clear(&resp);
    return rc;
}

wh_code rg_ecr_login(rg_conn *c, const char *endpoint, wh_err *err)
{
    rg_ecr_req q;
    wh_code rc = rg_ecr_build(c->reg, endpoint, &q, err);
    if(rc)
        return rc;
    char *token = malloc(RG_TOKC_TOKEN_MAX);
    if(!token)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    if(!rg_tokc_get(c->reg->name, ECR_SCOPE, wh_mono_ms(), token, RG_TOKC_TOKEN_MAX)) {
        free(token);
        token = NULL;
        int64_t ttl = 0;
        rc = call(c, &q, &token, &ttl, err);
        if(rc)
            return rc;
        rg_tokc_put(c->reg->name, ECR_SCOPE, token, wh_mono_ms(), ttl);
    }
    if(c->basic_b64) {
        memset(c->basic_b64, 0, strlen(c->basic_b64));
        free(c->basic_b64);
    }
    c->basic_b64 = token;
    c->use_basic = true;
    return WH_OK;
}
