/* registry_tag_filter: tag include/exclude/transform. See registry_tag_filter.h. */
#include "registry_tag_filter.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct rg_tagf {
    bool has_include, has_exclude, has_transform;
    regex_t include, exclude, transform;
    char tmpl[RG_TAGF_PATTERN_MAX + 1]; /* transform template */
};

/* Rewrite \d and \D for POSIX ERE; refuse back-references. Returns false
 * when the pattern is refused or does not fit. */
static bool translate(const char *s, size_t n, char *out, size_t cap, const char **why)
{
    size_t o = 0;
    bool in_bracket = false;
    for(size_t i = 0; i < n; i++) {
        const char *add = NULL;
        char one[3] = {s[i], 0, 0};
        if(s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if(c >= '1' && c <= '9') {
                *why = "back-references are not allowed";
                return false;
            }
            if(c == 'd')
                add = in_bracket ? "0-9" : "[0-9]";
            else if(c == 'D' && !in_bracket)
                add = "[^0-9]";
            else
                one[1] = c;
            i++;
        } else if(s[i] == '[' && !in_bracket) {
            in_bracket = true;
            /* "[]..." and "[^]..." keep the ']' as a member. */
            if(i + 1 < n && s[i + 1] == '^')
                one[1] = s[++i];
            if(i + 1 < n && s[i + 1] == ']')
                one[one[1] ? 2 : 1] = s[++i];
        } else if(s[i] == ']' && in_bracket) {
            in_bracket = false;
        }
        if(!add)
            add = one;
        size_t an = strlen(add);
        if(o + an >= cap) {
            *why = "is too long";
            return false;
        }
        memcpy(out + o, add, an);
        o += an;
    }
    out[o] = '\0';
    return true;
}

static wh_code compile(regex_t *re, const char *pat, size_t n, const char *field, wh_err *err)
{
    char buf[RG_TAGF_PATTERN_MAX * 3 + 1];
    const char *why = NULL;
    if(n > RG_TAGF_PATTERN_MAX)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: longer than %d bytes", field, RG_TAGF_PATTERN_MAX);
    if(!translate(pat, n, buf, sizeof(buf), &why))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: %s", field, why);
    int rc = regcomp(re, buf, REG_EXTENDED);
    if(rc) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: not a valid regular expression (%s)", field, msg);
    }
    return WH_OK;
}

static wh_code compile_transform(rg_tagf *f, const char *t, wh_err *err)
{
    const char *arrow = strstr(t, "=>");
    if(!arrow)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.transform",
                          "args.transform: must be \"REGEX => TEMPLATE\", e.g. \"^([0-9]+)-ls.* => $1\"");
    size_t pn = (size_t)(arrow - t);
    while(pn > 0 && (t[pn - 1] == ' ' || t[pn - 1] == '\t'))
        pn--;
    const char *tm = arrow + 2;
    while(*tm == ' ' || *tm == '\t')
        tm++;
    size_t tn = strlen(tm);
    while(tn > 0 && (tm[tn - 1] == ' ' || tm[tn - 1] == '\t'))
        tn--;
    if(pn == 0 || tn == 0 || tn > RG_TAGF_PATTERN_MAX)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.transform",
                          "args.transform: both the regex and the template must be non-empty (template <= %d bytes)",
                          RG_TAGF_PATTERN_MAX);
    memcpy(f->tmpl, tm, tn);
    f->tmpl[tn] = '\0';
    wh_code rc = compile(&f->transform, t, pn, "args.transform", err);
    f->has_transform = rc == WH_OK;
    return rc;
}

wh_code rg_tagf_new(const char *include, const char *exclude, const char *transform, rg_tagf **out,
                    wh_err *err)
{
    rg_tagf *f = calloc(1, sizeof(*f));
    if(!f)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    wh_code rc = WH_OK;
    if(include && *include) {
        rc = compile(&f->include, include, strlen(include), "args.include", err);
        f->has_include = rc == WH_OK;
    }
    if(!rc && exclude && *exclude) {
        rc = compile(&f->exclude, exclude, strlen(exclude), "args.exclude", err);
        f->has_exclude = rc == WH_OK;
    }
    if(!rc && transform && *transform)
        rc = compile_transform(f, transform, err);
    if(rc) {
        rg_tagf_free(f);
        return rc;
    }
    *out = f;
    return WH_OK;
}

void rg_tagf_free(rg_tagf *f)
{
    if(!f)
        return;
    if(f->has_include)
        regfree(&f->include);
    if(f->has_exclude)
        regfree(&f->exclude);
    if(f->has_transform)
        regfree(&f->transform);
    free(f);
}

bool rg_tagf_keep(const rg_tagf *f, const char *tag)
{
    if(f && f->has_include && regexec(&f->include, tag, 0, NULL, 0) != 0)
        return false;
    if(f && f->has_exclude && regexec(&f->exclude, tag, 0, NULL, 0) == 0)
        return false;
    return true;
}

static bool put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    if(*o + n >= cap)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    return true;
}

bool rg_tagf_transform(const rg_tagf *f, const char *tag, char *out, size_t cap)
{
    regmatch_t m[10];
    size_t o = 0;
    bool ok = true;
    if(cap == 0)
        return false;
    if(!f || !f->has_transform || regexec(&f->transform, tag, 10, m, 0) != 0) {
        ok = put(out, cap, &o, tag, strlen(tag));
    } else {
        for(const char *p = f->tmpl; *p && ok; p++) {
            if(p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
                int g = *++p - '0';
                if(m[g].rm_so >= 0)
                    ok = put(out, cap, &o, tag + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
            } else if(p[0] == '$' && p[1] == '$') {
                ok = put(out, cap, &o, p++, 1);
            } else {
                ok = put(out, cap, &o, p, 1);
            }
        }
    }
    out[ok ? o : 0] = '\0';
    return ok;
}
