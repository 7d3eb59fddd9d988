/* semver: version parsing and precedence. See semver.h. */
#include "semver.h"

#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A numeric identifier: "0" or [1-9][0-9]*, below 2^63. */
static bool number(const char *s, size_t n, uint64_t *out)
{
    if(n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for(size_t i = 0; i < n; i++) {
        if(!is_digit(s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static bool all_digits(const char *s, size_t n)
{
    for(size_t i = 0; i < n; i++)
        if(!is_digit(s[i]))
            return false;
    return n > 0;
}

/* Dot-separated identifiers; numeric ones may not have leading zeros when
 * `strict_numbers` (prerelease), build metadata allows them. */
static bool idents_valid(const char *s, size_t n, bool strict_numbers)
{
    size_t start = 0;
    for(size_t i = 0; i <= n; i++) {
        if(i < n && s[i] != '.') {
            if(!ident_char(s[i]))
                return false;
            continue;
        }
        size_t len = i - start;
        if(len == 0)
            return false;
        if(strict_numbers && all_digits(s + start, len) && len > 1 && s[start] == '0')
            return false;
        start = i + 1;
    }
    return true;
}

bool rg_semver_parse(const char *s, size_t n, rg_semver *v)
{
    memset(v, 0, sizeof(*v));
    if(n > 0 && (s[0] == 'v' || s[0] == 'V'))
        s++, n--;
    size_t end = 0;
    while(end < n && s[end] != '-' && s[end] != '+')
        end++;
    uint64_t *slot[3] = {&v->major, &v->minor, &v->patch};
    size_t start = 0;
    for(size_t i = 0; i <= end; i++) {
        if(i < end && s[i] != '.')
            continue;
        if(v->parts == 3 || !number(s + start, i - start, slot[v->parts]))
            return false;
        v->parts++;
        start = i + 1;
    }
    if(end == n)
        return true;
    const char *plus = memchr(s + end, '+', n - end);
    size_t pre_end = plus ? (size_t)(plus - s) : n;
    if(s[end] == '-') {
        size_t pn = pre_end - end - 1;
        if(pn > RG_SEMVER_PRE_MAX || !idents_valid(s + end + 1, pn, true))
            return false;
        memcpy(v->pre, s + end + 1, pn);
        v->pre[pn] = '\0';
    }
    if(plus && !idents_valid(plus + 1, n - pre_end - 1, false))
        return false;
    return true;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* Compare one prerelease identifier each: numeric < alphanumeric, numbers
 * numerically, others in ASCII order. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    bool na = all_digits(a, an), nb = all_digits(b, bn);
    if(na && nb) {
        if(an != bn)
            return an < bn ? -1 : 1; /* no leading zeros: longer is larger */
        return memcmp(a, b, an);
    }
    if(na != nb)
        return na ? -1 : 1;
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : cmp_u64(an, bn);
}

static int cmp_pre(const char *a, const char *b)
{
    if(!*a || !*b)
        return !*a - !*b; /* a release ranks above any prerelease */
    for(;;) {
        size_t an = strcspn(a, "."), bn = strcspn(b, ".");
        int c = cmp_ident(a, an, b, bn);
        if(c)
            return c < 0 ? -1 : 1;
        a += an, b += bn;
        if(!*a || !*b)
            return (*a != 0) - (*b != 0); /* more fields rank higher */
        a++, b++;
    }
}

int rg_semver_cmp(const rg_semver *a, const rg_semver *b)
{
    int c = cmp_u64(a->major, b->major);
    if(!c)
        c = cmp_u64(a->minor, b->minor);
    if(!c)
        c = cmp_u64(a->patch, b->patch);
    return c ? c : cmp_pre(a->pre, b->pre);
}

rg_semver_diff rg_semver_diff_of(const rg_semver *from, const rg_semver *to)
{
    if(from->major != to->major)
        return RG_DIFF_MAJOR;
    if(from->minor != to->minor)
        return RG_DIFF_MINOR;
    if(from->patch != to->patch)
        return RG_DIFF_PATCH;
    return strcmp(from->pre, to->pre) ? RG_DIFF_PRERELEASE : RG_DIFF_NONE;
}

const char *rg_semver_diff_name(rg_semver_diff d)
{
    static const char *const names[] = {"none", "major", "minor", "patch", "prerelease"};
    return (unsigned)d < sizeof(names) / sizeof(names[0]) ? names[d] : "none";
}
