/* auth_challenge: WWW-Authenticate parsing. See auth_challenge.h. */
#include "auth_challenge.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

typedef struct cursor {
    const char *p, *end;
} cursor;

/* RFC 7230 tchar. */
static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ws(cursor *c)
{
    while(c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static size_t token(cursor *c, const char **start)
{
    *start = c->p;
    while(c->p < c->end && tchar(*c->p))
        c->p++;
    return (size_t)(c->p - *start);
}

/* A quoted string (cursor on the opening quote) or a token, copied
 * unescaped into out. Returns false when malformed or too long for out. */
static bool value(cursor *c, char *out, size_t cap)
{
    size_t len = 0;
    bool fits = true;
    if(c->p < c->end && *c->p == '"') {
        c->p++;
        while(c->p < c->end && *c->p != '"') {
            if(*c->p == '\\' && c->p + 1 < c->end)
                c->p++;
            if(len + 1 < cap)
                out[len++] = *c->p;
            else
                fits = false;
            c->p++;
        }
        if(c->p == c->end)
            return false; /* unterminated */
        c->p++;
    } else {
        /* A token, or leniently anything up to ',' or blank: some servers
         * send unquoted URLs, and token68 values end in '='. */
        const char *s = c->p;
        while(c->p < c->end && *c->p != ',' && *c->p != ' ' && *c->p != '\t' && *c->p != '"')
            c->p++;
        size_t n = (size_t)(c->p - s);
        if(n == 0)
            return false;
        fits = n < cap;
        len = fits ? n : 0;
        memcpy(out, s, len);
    }
    out[len] = '\0';
    return fits;
}

static void store(rg_chal *ch, const char *name, size_t nn, cursor *c, bool *ok)
{
    char scratch[64];
    char *dst = scratch;
    size_t cap = sizeof(scratch);
    if(nn == 5 && strncasecmp(name, "realm", 5) == 0)
        dst = ch->realm, cap = sizeof(ch->realm);
    else if(nn == 7 && strncasecmp(name, "service", 7) == 0)
        dst = ch->service, cap = sizeof(ch->service);
    else if(nn == 5 && strncasecmp(name, "scope", 5) == 0)
        dst = ch->scope, cap = sizeof(ch->scope);
    else if(nn == 5 && strncasecmp(name, "error", 5) == 0)
        dst = ch->error, cap = sizeof(ch->error);
    bool fits = value(c, dst, cap);
    /* An unknown parameter may be long; only ours must fit. */
    if(!fits && dst != scratch)
        *ok = false;
}

/* Parameters after a scheme, until the next scheme or the end. */
static bool params(cursor *c, rg_chal *ch)
{
    bool ok = true;
    for(;;) {
        skip_ws(c);
        while(c->p < c->end && (*c->p == ',' || *c->p == ' ' || *c->p == '\t'))
            c->p++;
        const char *save = c->p, *name;
        size_t nn = token(c, &name);
        skip_ws(c);
        if(nn == 0 || c->p == c->end || *c->p != '=') {
            c->p = save; /* a new scheme, the end, or junk */
            return ok;
        }
        c->p++;
        skip_ws(c);
        const char *before = c->p;
        store(ch, name, nn, c, &ok);
        if(c->p == before) {
            return false; /* nothing consumable: resync in the caller */
        }
    }
}

static rg_scheme scheme_of(const char *s, size_t n)
{
    if(n == 5 && strncasecmp(s, "basic", 5) == 0)
        return RG_SCHEME_BASIC;
    if(n == 6 && strncasecmp(s, "bearer", 6) == 0)
        return RG_SCHEME_BEARER;
    return RG_SCHEME_OTHER;
}

int rg_chal_parse(const char *hdr, size_t n, rg_chal *out, int max)
{
    cursor c = {hdr, hdr + (n > RG_CHAL_HEADER_MAX ? RG_CHAL_HEADER_MAX : n)};
    int count = 0;
    while(c.p < c.end && count < max) {
        while(c.p < c.end && !tchar(*c.p))
            c.p++; /* separators and junk between challenges */
        const char *s;
        size_t sn = token(&c, &s);
        if(sn == 0)
            break;
        if(c.p < c.end && *c.p == '=') {
            /* A stray param without a scheme: skip its value. */
            c.p++;
            rg_chal junk;
            bool ok = true;
            store(&junk, "", 0, &c, &ok);
            continue;
        }
        rg_chal *ch = &out[count];
        memset(ch, 0, sizeof(*ch));
        ch->scheme = scheme_of(s, sn);
        const char *before = c.p;
        if(params(&c, ch))
            count++;
        if(c.p == before && c.p < c.end && *c.p != ' ' && *c.p != ',')
            c.p++; /* guarantee progress on junk */
    }
    return count;
}

const rg_chal *rg_chal_find(const rg_chal *c, int count, rg_scheme scheme)
{
    for(int i = 0; i < count; i++)
        if(c[i].scheme == scheme)
            return &c[i];
    return NULL;
}
