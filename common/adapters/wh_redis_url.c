/* wh_redis_url: the Redis adapter's URL parser. See wh_redis.h for the
 * forms. Passwords are percent-decoded into the handle, never echoed. */
#include "wh_redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decode %XX escapes from src[0..n) into out. False if it does not fit. */
static bool pct_decode(const char *src, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for(size_t i = 0; i < n; i++) {
        if(o + 1 >= cap)
            return false;
        if(src[i] == '%' && i + 2 < n) {
            char hex[3] = {src[i + 1], src[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if(*end == '\0') {
                out[o++] = (char)v;
                i += 2;
                continue;
            }
        }
        out[o++] = src[i];
    }
    out[o] = '\0';
    return true;
}

/* "[user]:password" or "password" in p[0..at): into r->user and r->pass. */
static wh_code parse_userinfo(wh_redis *r, const char *p, const char *at, wh_err *err)
{
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon ? colon + 1 : p;
    if(colon && !pct_decode(p, (size_t)(colon - p), r->user, sizeof(r->user)))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: user name too long");
    if(!pct_decode(pw, (size_t)(at - pw), r->pass, sizeof(r->pass)))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: password too long");
    return WH_OK;
}

static wh_code parse_tcp(wh_redis *r, const char *p, wh_err *err)
{
    const char *at = strrchr(p, '@');
    if(at) {
        if(parse_userinfo(r, p, at, err))
            return WH_E_BAD_CONFIG;
        p = at + 1;
    }
    size_t hostlen;
    const char *rest;
    if(*p == '[') { /* [ipv6] */
        const char *close = strchr(p, ']');
        if(!close)
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: unterminated [ in host");
        p++;
        hostlen = (size_t)(close - p);
        rest = close + 1;
    } else {
        hostlen = strcspn(p, ":/");
        rest = p + hostlen;
    }
    if(hostlen == 0 || hostlen >= sizeof(r->host))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: missing or overlong host");
    memcpy(r->host, p, hostlen);
    r->host[hostlen] = '\0';
    r->port = 6379;
    char *end = (char *)rest;
    if(*rest == ':') {
        long port = strtol(rest + 1, &end, 10);
        if(end == rest + 1 || port < 1 || port > 65535)
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: bad port");
        r->port = (int)port;
    }
    if(*end == '/' && end[1]) {
        char *e2;
        long db = strtol(end + 1, &e2, 10);
        if(*e2 || db < 0 || db > 1000000)
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: bad database number");
        r->db = (int)db;
    } else if(*end && strcmp(end, "/") != 0)
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: unexpected text after host");
    return WH_OK;
}

/* One "host:port" (or "[v6]:port") of a Sentinel list, p[0..n). */
static wh_code parse_node(wh_redis_node *nd, const char *p, size_t n, wh_err *err)
{
    const char *end = p + n, *colon = NULL;
    for(const char *q = p; q < end; q++)
        if(*q == ':')
            colon = q;
    const char *h = p;
    size_t hl = colon ? (size_t)(colon - p) : 0;
    if(hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    size_t digits = colon ? (size_t)(end - colon - 1) : 0;
    long port = 0;
    if(digits >= 1 && digits <= 5 && strspn(colon + 1, "0123456789") >= digits)
        port = strtol(colon + 1, NULL, 10);
    if(!hl || hl >= sizeof(nd->host) || port < 1 || port > 65535)
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: Sentinel \"%.*s\" is not host:port",
                          (int)(n > 100 ? 100 : n), p);
    memcpy(nd->host, h, hl);
    nd->host[hl] = '\0';
    nd->port = (int)port;
    return WH_OK;
}

/* redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db] */
static wh_code parse_sentinel(wh_redis *r, const char *p, wh_err *err)
{
    size_t alen = strcspn(p, "/");
    const char *at = NULL;
    for(size_t i = 0; i < alen; i++)
        if(p[i] == '@')
            at = p + i;
    if(at) {
        if(parse_userinfo(r, p, at, err))
            return WH_E_BAD_CONFIG;
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *list_end = p + alen;
    while(p < list_end) {
        size_t n = strcspn(p, ",/");
        if(r->nsent == WH_REDIS_SENTINELS)
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: at most %d Sentinels", WH_REDIS_SENTINELS);
        if(parse_node(&r->sent[r->nsent++], p, n, err))
            return WH_E_BAD_CONFIG;
        p += n;
        if(*p == ',' && (p + 1 == list_end || p[1] == ','))
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: empty entry in the Sentinel list");
        p += *p == ',';
    }
    if(!r->nsent || *list_end != '/')
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: redis-sentinel:// needs host:port,.../master_name");
    const char *m = list_end + 1;
    size_t mn = strcspn(m, "/");
    if(!mn || mn >= sizeof(r->master))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: missing or overlong master name");
    memcpy(r->master, m, mn);
    r->master[mn] = '\0';
    if(m[mn] == '/' && m[mn + 1]) {
        char *e2;
        long db = strtol(m + mn + 1, &e2, 10);
        if(*e2 || db < 0 || db > 1000000)
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: bad database number");
        r->db = (int)db;
    }
    return WH_OK;
}


wh_code wh_redis__parse_url(wh_redis *r, const char *url, wh_err *err)
{
    if(strncmp(url, "unix://", 7) == 0) {
        const char *q = strchr(url + 7, '?');
        size_t n = q ? (size_t)(q - url - 7) : strlen(url + 7);
        if(n == 0 || n >= sizeof(r->path))
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: bad unix socket path");
        memcpy(r->path, url + 7, n);
        r->path[n] = '\0';
        if(q && strncmp(q, "?db=", 4) == 0) {
            char *end;
            long db = strtol(q + 4, &end, 10);
            if(*end || db < 0 || db > 1000000)
                return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: bad database number");
            r->db = (int)db;
        }
        return WH_OK;
    }
    if(strncmp(url, "redis://", 8) == 0)
        return parse_tcp(r, url + 8, err);
    if(strncmp(url, "redis-sentinel://", 17) == 0)
        return parse_sentinel(r, url + 17, err);
    if(strncmp(url, "rediss://", 9) == 0)
        return wh_err_set(err, WH_E_BAD_CONFIG, "url",
                          "redis.url: TLS needs hiredis >= 1.0; use a TLS sidecar (see deploy/)");
    return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: must start with redis://, redis-sentinel:// or unix://");
}
