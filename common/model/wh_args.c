/* wh_args: args validation. See wh_args.h. */
#include "wh_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wh_utf8.h"

/* Fill err with WH_E_BAD_ARGS for field "args.<name>", then the reason. */
__attribute__((format(printf, 3, 4))) static wh_code bad(wh_err *err, const char *name, const char *fmt, ...)
{
    char field[80], why[160];
    snprintf(field, sizeof(field), "args.%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: %s", field, why);
}

static wh_code check_one(const wh_mp_obj *v, const wh_arg_spec *s, wh_err *err)
{
    int64_t i;
    bool b;
    const char *str;
    size_t n;
    long long lo = (long long)s->min, hi = (long long)s->max;
    switch(s->kind) {
    case WH_ARG_INT:
        if(!wh_mp_int(v, &i) || i < s->min || i > s->max)
            return bad(err, s->name, "must be an integer in %lld..%lld", lo, hi);
        return WH_OK;
    case WH_ARG_BOOL:
        return wh_mp_bool(v, &b) ? WH_OK : bad(err, s->name, "must be a boolean");
    case WH_ARG_STR:
        if(!wh_mp_str(v, &str, &n) || !wh_utf8_valid(str, n) || (int64_t)n < s->min || (int64_t)n > s->max)
            return bad(err, s->name, "must be a UTF-8 string of %lld..%lld bytes", lo, hi);
        if(s->check && !s->check(str, n))
            return bad(err, s->name, "%s", s->check_desc ? s->check_desc : "has an invalid value");
        return WH_OK;
    case WH_ARG_MAP:
        if(wh_mp_kind_of(v) != WH_MP_MAP || wh_mp_size(v) > s->max)
            return bad(err, s->name, "must be a map of at most %lld entries", hi);
        return WH_OK;
    case WH_ARG_ARRAY:
        if(wh_mp_kind_of(v) != WH_MP_ARRAY || wh_mp_size(v) > s->max)
            return bad(err, s->name, "must be an array of at most %lld elements", hi);
        return WH_OK;
    }
    return wh_err_set(err, WH_E_INTERNAL, "", "arg spec %s has an unknown kind", s->name);
}

static const wh_arg_spec *find_spec(const wh_arg_spec *specs, int n, const char *k, size_t kn)
{
    for(int i = 0; i < n; i++)
        if(strlen(specs[i].name) == kn && memcmp(specs[i].name, k, kn) == 0)
            return &specs[i];
    return NULL;
}

/* The problem of key i of `args`, if any (WH_OK when none). */
static wh_code check_key(const wh_mp_obj *args, uint32_t i, const wh_arg_spec *specs, int n, bool open, wh_err *err)
{
    const char *k;
    size_t kn;
    if(!wh_mp_str(wh_mp_map_key(args, i), &k, &kn))
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args: keys must be strings");
    const wh_arg_spec *s = find_spec(specs, n, k, kn);
    if(!s && !open) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(kn > 40 ? 40 : kn), k);
        if(!wh_utf8_valid(name, strlen(name)))
            snprintf(name, sizeof(name), "?");
        return bad(err, name, "is not a known argument");
    }
    if(!s || (wh_mp_kind_of(wh_mp_map_val(args, i)) == WH_MP_NIL && !s->required))
        return WH_OK;
    return check_one(wh_mp_map_val(args, i), s, err);
}

int wh_args_problems(const wh_mp_obj *args, const wh_arg_spec *specs, int n, bool open, wh_args_note *note,
                     void *ud)
{
    int count = 0;
    wh_err e;
    for(uint32_t i = 0; i < wh_mp_size(args); i++) {
        if(!check_key(args, i, specs, n, open, &e))
            continue;
        count++;
        if(!note(ud, &e))
            return count;
    }
    for(int i = 0; i < n; i++) {
        if(!specs[i].required || wh_mp_map_get(args, specs[i].name))
            continue;
        bad(&e, specs[i].name, "is required");
        count++;
        if(!note(ud, &e))
            return count;
    }
    return count;
}

/* wh_args_validate's note: keep the first problem, stop. */
static bool keep_first(void *ud, const wh_err *problem)
{
    *(wh_err *)ud = *problem;
    return false;
}

wh_code wh_args_validate(const wh_mp_obj *args, const wh_arg_spec *specs, int n, bool open, wh_err *err)
{
    wh_err first;
    if(!wh_args_problems(args, specs, n, open, keep_first, &first))
        return WH_OK;
    if(err)
        *err = first;
    return first.code;
}

wh_code wh_args_rebase(wh_err *err, const char *path)
{
    char field[sizeof(err->field)], rest[sizeof(err->msg)];
    snprintf(field, sizeof(field), "%s%s", path, strncmp(err->field, "args", 4) == 0 ? err->field + 4 : "");
    bool named = strncmp(err->msg, "args", 4) == 0;
    snprintf(rest, sizeof(rest), "%s", named ? err->msg + 4 : err->msg);
    return wh_err_set(err, err->code, field, "%s%s%s", path, named ? "" : ": ", rest);
}

int64_t wh_args_int(const wh_mp_obj *args, const char *name, int64_t def)
{
    const wh_mp_obj *o = wh_mp_map_get(args, name);
    int64_t v;
    return o && wh_mp_int(o, &v) ? v : def;
}

bool wh_args_bool(const wh_mp_obj *args, const char *name, bool def)
{
    const wh_mp_obj *o = wh_mp_map_get(args, name);
    bool v;
    return o && wh_mp_bool(o, &v) ? v : def;
}

const char *wh_args_str(const wh_mp_obj *args, const char *name, const char *def, size_t *len)
{
    const wh_mp_obj *o = wh_mp_map_get(args, name);
    const char *s;
    if(o && wh_mp_str(o, &s, len))
        return s;
    *len = def ? strlen(def) : 0;
    return def;
}
