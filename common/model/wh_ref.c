/* wh_ref: image reference parsing. See wh_ref.h for the grammar. */
#include "wh_ref.h"

#include <stdio.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* One path component: alnum runs joined by ".", "_", "__" or "-"+. */
static bool component_valid(const char *s, size_t n)
{
    size_t i = 0;
    while(i < n) {
        if(!is_lower_alnum(s[i]))
            return false;
        while(i < n && is_lower_alnum(s[i]))
            i++;
        if(i == n)
            return true;
        size_t sep = i;
        if(s[i] == '.')
            i++;
        else if(s[i] == '_')
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else if(s[i] == '-')
            while(i < n && s[i] == '-')
                i++;
        else
            return false;
        if(i == n || i == sep)
            return false; /* a separator must be followed by alnum */
    }
    return n > 0;
}

static bool path_valid(const char *s, size_t n)
{
    size_t start = 0;
    for(size_t i = 0; i <= n; i++)
        if(i == n || s[i] == '/') {
            if(!component_valid(s + start, i - start))
                return false;
            start = i + 1;
        }
    return true;
}

/* DNS label: alnum, inner '-' allowed. */
static bool label_valid(const char *s, size_t n)
{
    if(n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for(size_t i = 0; i < n; i++)
        if(!is_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool port_valid(const char *s, size_t n)
{
    if(n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for(size_t i = 0; i < n; i++) {
        if(s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* host[:port], host a DNS name, IPv4 address or [IPv6]. */
static bool domain_valid(const char *s, size_t n)
{
    size_t hn = n;
    if(n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if(!close || close == s + 1)
            return false;
        for(const char *p = s + 1; p < close; p++)
            if(!is_hex_lower(*p) && !(*p >= 'A' && *p <= 'F') && *p != ':' && *p != '.')
                return false;
        hn = (size_t)(close - s) + 1;
        if(hn == n)
            return true;
        return s[hn] == ':' && port_valid(s + hn + 1, n - hn - 1);
    }
    const char *colon = memchr(s, ':', n);
    if(colon) {
        hn = (size_t)(colon - s);
        if(!port_valid(colon + 1, n - hn - 1))
            return false;
    }
    size_t start = 0;
    for(size_t i = 0; i <= hn; i++)
        if(i == hn || s[i] == '.') {
            if(!label_valid(s + start, i - start))
                return false;
            start = i + 1;
        }
    return hn > 0;
}

bool wh_ref_tag_valid(const char *s, size_t n)
{
    if(n == 0 || n > WH_REF_TAG_MAX || !(is_alnum(s[0]) || s[0] == '_'))
        return false;
    for(size_t i = 1; i < n; i++)
        if(!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

/* algorithm := component ( [+._-] component )*, component [A-Za-z][A-Za-z0-9]* */
static bool algorithm_valid(const char *s, size_t n)
{
    bool want_alpha = true;
    for(size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if(want_alpha) {
            if(!alpha)
                return false;
            want_alpha = false;
        } else if(c == '+' || c == '.' || c == '_' || c == '-') {
            want_alpha = true;
        } else if(!is_alnum(c)) {
            return false;
        }
    }
    return n > 0 && !want_alpha;
}

bool wh_ref_digest_valid(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if(!colon || n > WH_REF_DIGEST_MAX)
        return false;
    size_t an = (size_t)(colon - s), hn = n - an - 1;
    if(!algorithm_valid(s, an))
        return false;
    bool lower = true;
    for(size_t i = 0; i < hn; i++) {
        char c = colon[1 + i];
        if(!is_hex_lower(c) && !(c >= 'A' && c <= 'F'))
            return false;
        lower = lower && is_hex_lower(c);
    }
    /* The registered algorithms fix the length and the case. */
    if(an == 6 && memcmp(s, "sha256", 6) == 0)
        return hn == 64 && lower;
    if(an == 6 && memcmp(s, "sha512", 6) == 0)
        return hn == 128 && lower;
    return hn >= 32;
}

bool wh_ref_is_dockerhub(const char *host)
{
    return strcmp(host, WH_REF_DOCKERHUB) == 0;
}

/* Does the first element name a registry rather than a path component? */
static bool looks_like_domain(const char *s, size_t n)
{
    if(n == 9 && memcmp(s, "localhost", 9) == 0)
        return true;
    for(size_t i = 0; i < n; i++)
        if(s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '[')
            return true;
    return false;
}

static wh_code bad(wh_err *err, const char *field, const char *why)
{
    return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: %s", field, why);
}

/* Split off "@digest" and ":tag" (a ':' after the last '/'). */
static wh_code split_suffixes(const char *s, size_t *n, wh_ref *out, const char *field, wh_err *err)
{
    const char *at = memchr(s, '@', *n);
    if(at) {
        size_t dn = *n - (size_t)(at - s) - 1;
        if(!wh_ref_digest_valid(at + 1, dn))
            return bad(err, field, "digest must be algorithm:hex (sha256 with 64 lowercase hex digits)");
        memcpy(out->digest, at + 1, dn);
        out->digest[dn] = '\0';
        *n = (size_t)(at - s);
    }
    size_t slash = 0;
    for(size_t i = 0; i < *n; i++)
        if(s[i] == '/')
            slash = i + 1;
    const char *colon = memchr(s + slash, ':', *n - slash);
    if(colon) {
        size_t tn = *n - (size_t)(colon - s) - 1;
        if(!wh_ref_tag_valid(colon + 1, tn))
            return bad(err, field, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
        memcpy(out->tag, colon + 1, tn);
        out->tag[tn] = '\0';
        out->tag_given = true;
        *n = (size_t)(colon - s);
    }
    return WH_OK;
}

wh_code wh_ref_parse(const char *s, size_t n, wh_ref *out, const char *field, wh_err *err)
{
    memset(out, 0, sizeof(*out));
    if(n == 0 || n > WH_REF_MAX || memchr(s, '\0', n))
        return bad(err, field, "must be an image reference of 1..512 bytes");
    wh_code rc = split_suffixes(s, &n, out, field, err);
    if(rc)
        return rc;
    if(n > WH_REF_NAME_MAX)
        return bad(err, field, "name is longer than 255 bytes");
    const char *slash = memchr(s, '/', n);
    const char *path = s;
    size_t pn = n;
    if(slash && looks_like_domain(s, (size_t)(slash - s))) {
        size_t dn = (size_t)(slash - s);
        if(!domain_valid(s, dn))
            return bad(err, field, "registry host must be a DNS name, IPv4 or [IPv6] with an optional port");
        memcpy(out->host, s, dn);
        path = slash + 1;
        pn = n - dn - 1;
        if(strcmp(out->host, "index.docker.io") == 0 || strcmp(out->host, "registry-1.docker.io") == 0)
            snprintf(out->host, sizeof(out->host), "%s", WH_REF_DOCKERHUB);
    } else {
        snprintf(out->host, sizeof(out->host), "%s", WH_REF_DOCKERHUB);
    }
    if(!path_valid(path, pn))
        return bad(err, field, "repository must be lowercase components [a-z0-9] joined by '.', '_', '__', '-' and '/'");
    bool library = wh_ref_is_dockerhub(out->host) && !memchr(path, '/', pn);
    if((library ? 8 : 0) + pn + strlen(out->host) + 1 > WH_REF_NAME_MAX)
        return bad(err, field, "name is longer than 255 bytes");
    snprintf(out->path, sizeof(out->path), "%s%.*s", library ? "library/" : "", (int)pn, path);
    if(!out->tag_given && !out->digest[0])
        snprintf(out->tag, sizeof(out->tag), "latest");
    return WH_OK;
}

size_t wh_ref_format(const wh_ref *r, char *out, size_t cap)
{
    int k = snprintf(out, cap, "%s/%s%s%s%s%s", r->host, r->path, r->tag[0] ? ":" : "", r->tag,
                     r->digest[0] ? "@" : "", r->digest);
    return k < 0 ? 0 : (size_t)k;
}
