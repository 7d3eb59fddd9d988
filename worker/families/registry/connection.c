/* connection: registry connection, auth and retries. See connection.h. */
#include "connection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_challenge.h"
#include "link_header.h"
#include "token_cache.h"
#include "wh_json.h"
#include "wh_time.h"

bool rg_http_plain_ok(const char *url, bool insecure)
{
    char a[300];
    if(strncasecmp(url, "https://", 8) == 0)
        return true;
    if(strncasecmp(url, "http://", 7) != 0 || !wh_inv_url_authority(url, a, sizeof(a)))
        return false;
    if(insecure)
        return true;
    /* Strip the port, then accept 127.0.0.0/8, localhost and [::1]. */
    char *colon = a[0] == '[' ? strstr(a, "]:") : strrchr(a, ':');
    if(colon)
        colon[a[0] == '[' ? 1 : 0] = '\0';
    if(strncmp(a, "127.", 4) == 0)
        return strspn(a, "0123456789.") == strlen(a);
    return strcasecmp(a, "localhost") == 0 || strcmp(a, "[::1]") == 0;
}

bool rg_http_base64(const unsigned char *in, size_t n, char *out, size_t cap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = (n + 2) / 3 * 4 + 1, o = 0;
    if(need > cap)
        return false;
    for(size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return true;
}

/* Two digits at s (exactly), or -1. */
static int two(const char *s)
{
    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7, the
 * form senders must use) as seconds since the epoch, or -1. */
static int64_t http_date(const char *v)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if(strlen(v) != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
       v[19] != ':' || v[22] != ':' || strcmp(v + 25, " GMT") != 0)
        return -1;
    const char *m = strstr(months, (char[4]){v[8], v[9], v[10], '\0'});
    int day = two(v + 5), yh = two(v + 12), yl = two(v + 14), hh = two(v + 17), mi = two(v + 20), ss = two(v + 23);
    if(!m || (m - months) % 3 || day < 1 || day > 31 || yh < 0 || yl < 0 || hh > 23 || mi > 59 || ss > 60 || hh < 0 ||
       mi < 0 || ss < 0)
        return -1;
    /* Days from civil (proleptic Gregorian), then seconds. */
    int64_t y = yh * 100 + yl, mon = (m - months) / 3 + 1;
    y -= mon <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return days * 86400 + hh * 3600 + mi * 60 + ss;
}

long rg_http_retry_after(const char *v, int64_t now_s)
{
    char *end;
    if(!v)
        return -1;
    if(*v >= 'A' && *v <= 'Z') {
        int64_t t = http_date(v);
        if(t < 0)
            return -1;
        return t <= now_s ? 0 : t - now_s < 86400 ? (long)(t - now_s) : -1;
    }
    if(*v < '0' || *v > '9')
        return -1;
    long s = strtol(v, &end, 10);
    return *end == '\0' && s >= 0 && s < 86400 ? s : -1;
}

static void wipe_free(char *s)
{
    if(s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static bool has_creds(const rg_conn *c)
{
    return c->basic_b64 || c->reg->password[0];
}

/* "Authorization: Basic <b64 user:password>", malloc'd; NULL without
 * credentials. A gcr entry without a username means "_json_key". */
static char *basic_header(const rg_conn *c)
{
    const wh_inv_registry *r = c->reg;
    const char *user = r->username[0] ? r->username : strcmp(r->provider, "gcr") == 0 ? "_json_key" : "";
    size_t un = strlen(user), pn = strlen(r->password);
    size_t cap = 22 + (un + pn + 3) / 3 * 4 + 8 + (c->basic_b64 ? strlen(c->basic_b64) : 0);
    char *h = malloc(cap);
    if(!h || (!c->basic_b64 && !pn)) {
        free(h);
        return NULL;
    }
    if(c->basic_b64) {
        snprintf(h, cap, "Authorization: Basic %s", c->basic_b64);
        return h;
    }
    char *pair = malloc(un + pn + 2);
    if(!pair) {
        free(h);
        return NULL;
    }
    memcpy(pair, user, un);
    pair[un] = ':';
    memcpy(pair + un + 1, r->password, pn + 1);
    memcpy(h, "Authorization: Basic ", 21);
    rg_http_base64((const unsigned char *)pair, un + pn + 1, h + 21, cap - 21);
    wipe_free(pair);
    return h;
}

static char *bearer_header(const char *token)
{
    size_t n = strlen(token) + 24;
    char *h = malloc(n);
    if(h)
        snprintf(h, n, "Authorization: Bearer %s", token);
    return h;
}

/* Token-cache key under which "this registry wants Basic" is remembered,
 * so later jobs send credentials at once instead of collecting a 401 first.
 * Real scopes look like "repository:..." or "registry:...". */
#define BASIC_MEMO "auth:basic"
#define BASIC_MEMO_MS (3600 * 1000)

static char *pick_auth(rg_conn *c, const char *scope);

/* What to send for `scope` now, malloc'd, or NULL for nothing. */
static char *current_auth(rg_conn *c, const char *scope)
{
    char *h = pick_auth(c, scope);
    /* What the registry wants is known when we send something it took. */
    if(h && !c->auth_seen[0])
        snprintf(c->auth_seen, sizeof(c->auth_seen), "%s", strstr(h, " Basic ") ? "basic" : "bearer");
    return h;
}

static char *pick_auth(rg_conn *c, const char *scope)
{
    if(c->reg->token[0])
        return bearer_header(c->reg->token);
    if(c->token && strcmp(c->token_scope, scope ? scope : "") == 0)
        return bearer_header(c->token);
    char *buf = malloc(RG_TOKC_TOKEN_MAX);
    if(buf && rg_tokc_get(c->reg->name, scope ? scope : "", wh_mono_ms(), buf, RG_TOKC_TOKEN_MAX)) {
        char *h = bearer_header(buf);
        memset(buf, 0, strlen(buf));
        free(buf);
        return h;
    }
    free(buf);
    char memo[4];
    if(!c->use_basic && has_creds(c) && rg_tokc_get(c->reg->name, BASIC_MEMO, wh_mono_ms(), memo, sizeof(memo)))
        c->use_basic = true;
    return c->use_basic ? basic_header(c) : NULL;
}

static bool job_abort(void *ud)
{
    const rg_conn *c = ud;
    return c->ops.abort && c->ops.abort(c->ops.ud);
}

static wh_code send_once(rg_conn *c, const char *method, const char *url, const char *accept, const char *auth,
                         size_t max_body, wh_curl_resp *resp, wh_err *err)
{
    char acc[512];
    const char *headers[4] = {NULL, NULL, NULL, NULL};
    int nh = 0;
    if(accept) {
        snprintf(acc, sizeof(acc), "Accept: %s", accept);
        headers[nh++] = acc;
    }
    if(auth)
        headers[nh++] = auth;
    wh_curl_req req = {.method = method, .url = url, .headers = headers, .timeout_ms = RG_REQUEST_TIMEOUT_MS,
                       .max_body = max_body, .abort = job_abort, .abort_ud = c};
    wh_err e;
    wh_err_clear(&e);
    wh_code rc = rg_http_code(wh_curl_do(c->curl, &req, resp, &e));
    if(rc == WH_E_INTERRUPTED && err)
        *err = e;
    else if(rc) /* the query string is left out: it may name the account */
        wh_err_set(err, rc, NULL, "registry %s: %s %.*s failed: %s", c->reg->name, method, (int)strcspn(url, "?"),
                   url, e.msg);
    return rc;
}

wh_code rg_http_code(wh_code rc)
{
    return rc == WH_E_TIMEOUT ? WH_E_UNREACHABLE : rc;
}

/* send_once, waiting out 429 and 5xx answers while Retry-After allows. */
static wh_code send_retry(rg_conn *c, const char *method, const char *url, const char *accept, const char *auth,
                          size_t max_body, wh_curl_resp *resp, int64_t *waited_ms, wh_err *err)
{
    for(int tries = 0;; tries++) {
        wh_code rc = send_once(c, method, url, accept, auth, max_body, resp, err);
        if(rc || (resp->status != 429 && resp->status < 500))
            return rc;
        char v[32];
        long ra = wh_curl_header(resp, "Retry-After", v, sizeof(v)) >= 0 ? rg_http_retry_after(v, wh_now_ms() / 1000) : -1;
        int64_t wait = ra >= 0 ? ra * 1000 : 1000;
        long status = resp->status;
        wh_curl_resp_clear(resp);
        if(tries >= 3 || *waited_ms + wait > RG_RETRY_WAIT_MAX_MS) {
            wh_code code = status == 429 ? WH_E_RATE_LIMITED : WH_E_UNREACHABLE;
            char after[48] = "";
            if(ra >= 0)
                snprintf(after, sizeof(after), " (Retry-After %ld s)", ra);
            return wh_err_set(err, code, NULL, "registry %s answered %ld to %s %.*s%s", c->reg->name, status,
                              method, (int)strcspn(url, "?"), url, after);
        }
        if(c->ops.sleep && c->ops.sleep(c->ops.ud, wait))
            return wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
        *waited_ms += wait;
    }
}

/* Pull the token out of a token-service answer and keep it. */
static wh_code take_token(rg_conn *c, const wh_curl_resp *resp, const char *scope, wh_err *err)
{
    wh_json *j = resp->body ? wh_json_parse(resp->body, resp->body_len, NULL) : NULL;
    size_t n = 0;
    const char *t = j ? wh_json_strv(wh_json_get(j, "token"), &n) : NULL;
    if(!t || !n)
        t = j ? wh_json_strv(wh_json_get(j, "access_token"), &n) : NULL;
    const wh_json *e = j ? wh_json_get(j, "expires_in") : NULL;
    int64_t ttl = e && wh_json_kind_of(e) == WH_JSON_INT ? wh_json_intv(e) : 60;
    if(!t || n == 0 || n >= RG_TOKC_TOKEN_MAX || memchr(t, '\0', n) || strpbrk(t, "\r\n")) {
        wh_json_free(j);
        return wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s: the token service sent no usable token",
                          c->reg->name);
    }
    wipe_free(c->token);
    c->token = strndup(t, n);
    wh_json_free(j);
    if(!c->token)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    snprintf(c->token_scope, sizeof(c->token_scope), "%s", scope ? scope : "");
    c->token_fetches++;
    rg_tokc_put(c->reg->name, c->token_scope, c->token, wh_mono_ms(), ttl > 0 ? ttl * 1000 : 60000);
    return WH_OK;
}

/* Append "&name=<escaped value>" to url. */
static bool add_param(char *url, size_t cap, const char *name, const char *value)
{
    char esc[RG_URL_MAX];
    size_t n = strlen(url);
    if(!wh_curl_escape(value, strlen(value), esc, sizeof(esc)))
        return false;
    int k = snprintf(url + n, cap - n, "%c%s=%s", strchr(url, '?') ? '&' : '?', name, esc);
    return k > 0 && (size_t)k < cap - n;
}

static wh_code fetch_token(rg_conn *c, const rg_chal *ch, const char *scope, int64_t *waited, wh_err *err)
{
    const char *want = ch->scope[0] ? ch->scope : scope;
    char url[RG_URL_MAX];
    snprintf(url, sizeof(url), "%s", ch->realm);
    if(!rg_http_plain_ok(url, c->reg->insecure))
        return wh_err_set(err, WH_E_REGISTRY, NULL,
                          "registry %s: its token realm is not https (allowed only on loopback or with insecure)",
                          c->reg->name);
    bool ok = (!ch->service[0] || add_param(url, sizeof(url), "service", ch->service)) &&
              (!want || !*want || add_param(url, sizeof(url), "scope", want));
    char *auth = has_creds(c) ? basic_header(c) : NULL;
    if(ok && auth && c->reg->username[0])
        ok = add_param(url, sizeof(url), "account", c->reg->username);
    if(!ok) {
        wipe_free(auth);
        return wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s: token request URL too long", c->reg->name);
    }
    wh_curl_resp resp;
    wh_code rc = send_retry(c, "GET", url, "application/json", auth, RG_TOKEN_BODY_MAX, &resp, waited, err);
    wipe_free(auth);
    if(rc)
        return rc;
    if(resp.status == 401 || resp.status == 403)
        rc = wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s: the token service refused %s (%ld)",
                        c->reg->name, has_creds(c) ? "the credentials" : "anonymous access", resp.status);
    else if(resp.status != 200)
        rc = wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s: the token service answered %ld", c->reg->name,
                        resp.status);
    else
        rc = take_token(c, &resp, scope, err);
    wh_curl_resp_clear(&resp);
    return rc;
}

/* A 401 arrived: learn from its challenge how to authenticate. */
static wh_code answer_challenge(rg_conn *c, const wh_curl_resp *resp, const char *scope, int64_t *waited, wh_err *err)
{
    char *hdr = malloc(RG_CHAL_HEADER_MAX);
    rg_chal ch[RG_CHAL_MAX];
    int n = 0;
    if(!hdr)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    long len = wh_curl_header(resp, "WWW-Authenticate", hdr, RG_CHAL_HEADER_MAX);
    if(len >= 0)
        n = rg_chal_parse(hdr, strlen(hdr), ch, RG_CHAL_MAX);
    free(hdr);
    const rg_chal *bearer = rg_chal_find(ch, n, RG_SCHEME_BEARER), *basic = rg_chal_find(ch, n, RG_SCHEME_BASIC);
    if(c->reg->token[0] || (!bearer && !basic))
        return wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s refused the request (401)%s", c->reg->name,
                          c->reg->token[0] ? " with the configured token" : " and offered no usable challenge");
    if(bearer) {
        snprintf(c->auth_seen, sizeof(c->auth_seen), "bearer");
        return fetch_token(c, bearer, scope, waited, err);
    }
    snprintf(c->auth_seen, sizeof(c->auth_seen), "basic");
    if(!has_creds(c))
        return wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s requires credentials (Basic)", c->reg->name);
    if(c->use_basic) {
        rg_tokc_drop(c->reg->name);
        return wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s refused the credentials (401)", c->reg->name);
    }
    c->use_basic = true;
    rg_tokc_put(c->reg->name, BASIC_MEMO, "1", wh_mono_ms(), BASIC_MEMO_MS);
    return WH_OK;
}

wh_code rg_conn_do(rg_conn *c, const char *method, const char *path, const char *accept, const char *scope,
                   size_t max_body, wh_curl_resp *resp, wh_err *err)
{
    char url[RG_URL_MAX];
    int k = path[0] == '/' ? snprintf(url, sizeof(url), "%s%s", c->base, path) : 0;
    if(path[0] == '/' ? (k <= 0 || (size_t)k >= sizeof(url)) : !rg_link_resolve(c->base, path, url, sizeof(url)))
        return wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s: refused URL (too long or another origin)",
                          c->reg->name);
    int64_t waited = 0;
    bool challenged = false;
    for(;;) {
        char *auth = current_auth(c, scope);
        wh_code rc = send_retry(c, method, url, accept, auth, max_body, resp, &waited, err);
        wipe_free(auth);
        if(rc)
            return rc;
        if(resp->status == 401 && !challenged) {
            challenged = true;
            rc = answer_challenge(c, resp, scope, &waited, err);
            wh_curl_resp_clear(resp);
            if(rc)
                return rc;
            continue;
        }
        if(resp->status == 401 || resp->status == 403) {
            long st = resp->status;
            wh_curl_resp_clear(resp);
            rg_tokc_drop(c->reg->name);
            return wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s refused access (%ld) to %s", c->reg->name,
                              st, path[0] == '/' ? path : "the next page");
        }
        if(!challenged && !c->auth_seen[0])
            snprintf(c->auth_seen, sizeof(c->auth_seen), "none");
        return WH_OK;
    }
}

wh_code rg_conn_open(rg_conn *c, const wh_inv_registry *reg, const rg_ops *ops, wh_err *err)
{
    memset(c, 0, sizeof(*c));
    c->reg = reg;
    if(ops)
        c->ops = *ops;
    wh_inv_registry_origin(reg, c->base, sizeof(c->base));
    char a[300];
    if(!c->base[0] || !wh_inv_url_authority(c->base, a, sizeof(a)))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "registry.%s.url: needed for provider %s (an http(s) URL)",
                          reg->name, reg->provider);
    if(!rg_http_plain_ok(c->base, reg->insecure))
        return wh_err_set(err, WH_E_BAD_CONFIG, "insecure",
                          "registry.%s: plain http is allowed only on loopback or with insecure = true", reg->name);
    c->curl = wh_curl_thread(err);
    return c->curl ? WH_OK : WH_E_IO;
}

void rg_conn_close(rg_conn *c)
{
    if(!c)
        return;
    wipe_free(c->token);
    wipe_free(c->basic_b64);
    c->token = NULL;
    c->basic_b64 = NULL;
}

wh_code rg_http_status_err(const rg_conn *c, long status, const char *what, wh_err *err)
{
    const char *name = c->reg->name;
    if(status == 404)
        return wh_err_set(err, WH_E_NOT_FOUND, NULL, "registry %s has no %s", name, what);
    if(status == 401 || status == 403)
        return wh_err_set(err, WH_E_AUTH_FAILED, NULL, "registry %s refused access to %s (%ld)", name, what, status);
    if(status == 429)
        return wh_err_set(err, WH_E_RATE_LIMITED, NULL, "registry %s rate-limited %s", name, what);
    if(status >= 500)
        return wh_err_set(err, WH_E_UNREACHABLE, NULL, "registry %s failed on %s (%ld)", name, what, status);
    if(status == 405)
        return wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s does not allow this on %s (405)", name, what);
    return wh_err_set(err, WH_E_REGISTRY, NULL, "registry %s answered %ld for %s", name, status, what);
}
