/* link_header: Link header parsing and same-origin resolution. See link_header.h. */
#include "link_header.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Does the rel value (space-separated relation types) contain "next"? */
static bool rel_has_next(const char *v, size_t n)
{
    size_t i = 0;
    while(i < n) {
        while(i < n && v[i] == ' ')
            i++;
        size_t s = i;
        while(i < n && v[i] != ' ')
            i++;
        if(i - s == 4 && strncasecmp(v + s, "next", 4) == 0)
            return true;
    }
    return false;
}

/* Scan the parameters after "<...>" up to the next ',' outside quotes.
 * Returns true when one is rel containing next; *p ends past the link. */
static bool params_say_next(const char **p, const char *end)
{
    bool next = false;
    const char *q = *p;
    while(q < end && *q != ',') {
        while(q < end && (*q == ';' || *q == ' ' || *q == '\t'))
            q++;
        const char *name = q;
        while(q < end && *q != '=' && *q != ';' && *q != ',')
            q++;
        size_t nn = (size_t)(q - name);
        while(nn > 0 && name[nn - 1] == ' ')
            nn--;
        if(q >= end || *q != '=')
            continue;
        q++;
        while(q < end && *q == ' ')
            q++;
        const char *v = q;
        size_t vn;
        if(q < end && *q == '"') {
            v = ++q;
            while(q < end && *q != '"')
                q++;
            vn = (size_t)(q - v);
            if(q < end)
                q++;
        } else {
            while(q < end && *q != ';' && *q != ',' && *q != ' ')
                q++;
            vn = (size_t)(q - v);
        }
        if(nn == 3 && strncasecmp(name, "rel", 3) == 0 && rel_has_next(v, vn))
            next = true;
    }
    *p = q;
    return next;
}

bool rg_link_next(const char *hdr, size_t n, char *out, size_t cap)
{
    const char *p = hdr, *end = hdr + (n > RG_LINK_HEADER_MAX ? RG_LINK_HEADER_MAX : n);
    while(p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if(!lt)
            return false;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if(!gt)
            return false;
        p = gt + 1;
        if(params_say_next(&p, end)) {
            size_t un = (size_t)(gt - lt - 1);
            if(un == 0 || un >= cap)
                return false;
            memcpy(out, lt + 1, un);
            out[un] = '\0';
            return true;
        }
        if(p < end)
            p++; /* the ',' */
    }
    return false;
}

/* Length of "scheme://authority" at the start of an http(s) URL, or 0. */
static size_t origin_len(const char *u)
{
    size_t s;
    if(strncasecmp(u, "https://", 8) == 0)
        s = 8;
    else if(strncasecmp(u, "http://", 7) == 0)
        s = 7;
    else
        return 0;
    size_t a = strcspn(u + s, "/?#");
    return a ? s + a : 0;
}

bool rg_link_resolve(const char *base, const char *ref, char *out, size_t cap)
{
    for(const char *c = ref; *c; c++)
        if((unsigned char)*c <= ' ' || *c == 0x7f)
            return false;
    size_t bo = origin_len(base);
    if(bo == 0)
        return false;
    int k;
    if(ref[0] == '/' && ref[1] != '/') {
        k = snprintf(out, cap, "%.*s%s", (int)bo, base, ref);
    } else {
        size_t ro = origin_len(ref);
        if(ro != bo || strncasecmp(ref, base, bo) != 0)
            return false;
        k = snprintf(out, cap, "%s", ref);
    }
    return k > 0 && (size_t)k < cap;
}
