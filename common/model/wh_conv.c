/* wh_conv: msgpack <-> JSON conversion. See wh_conv.h. */
#include "wh_conv.h"

#include <stdio.h>
#include <string.h>

/* Path of a child: "<path>.<key>" cut to the buffer; used only in messages. */
static void child_path(char *out, size_t cap, const char *path, const char *key, size_t keylen)
{
    snprintf(out, cap, "%s%s%.*s", path, path[0] ? "." : "", (int)(keylen > 64 ? 64 : keylen), key);
}

static wh_json *scalar_to_json(const wh_mp_obj *o, const char *path, wh_err *err)
{
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t n;
    wh_json *j = NULL;

    switch(wh_mp_kind_of(o)) {
    case WH_MP_NIL: return wh_json_null();
    case WH_MP_BOOL: wh_mp_bool(o, &b); return wh_json_bool(b);
    case WH_MP_INT:
        if(!wh_mp_int(o, &i)) {
            wh_err_set(err, WH_E_BAD_ARGS, path, "%s: integer out of range", path);
            return NULL;
        }
        return wh_json_int(i);
    case WH_MP_FLOAT:
        wh_mp_float(o, &d);
        if(!(j = wh_json_real(d)))
            wh_err_set(err, WH_E_BAD_ARGS, path, "%s: number is not finite", path);
        return j;
    case WH_MP_STR:
        wh_mp_str(o, &s, &n);
        if(!(j = wh_json_strn(s, n)))
            wh_err_set(err, WH_E_BAD_ARGS, path, "%s: string is not valid UTF-8", path);
        return j;
    default:
        wh_err_set(err, WH_E_BAD_ARGS, path, "%s: binary and ext values are not accepted", path);
        return NULL;
    }
}

static wh_json *map_to_json(const wh_mp_obj *o, const char *path, wh_err *err)
{
    wh_json *obj = wh_json_object();
    for(uint32_t i = 0; obj && i < wh_mp_size(o); i++) {
        const char *k;
        size_t kn;
        char sub[160];
        if(!wh_mp_str(wh_mp_map_key(o, i), &k, &kn)) {
            wh_err_set(err, WH_E_BAD_ARGS, path, "%s: map keys must be strings", path);
            wh_json_free(obj);
            return NULL;
        }
        child_path(sub, sizeof(sub), path, k, kn);
        wh_json *v = wh_conv_to_json(wh_mp_map_val(o, i), sub, err);
        if(!v || wh_json_set(obj, k, kn, v) != 0) {
            if(v)
                wh_err_set(err, WH_E_BAD_ARGS, sub, "%s: key is not valid UTF-8", sub);
            wh_json_free(obj);
            return NULL;
        }
    }
    return obj;
}

wh_json *wh_conv_to_json(const wh_mp_obj *o, const char *path, wh_err *err)
{
    wh_mp_kind k = wh_mp_kind_of(o);
    if(k == WH_MP_MAP)
        return map_to_json(o, path, err);
    if(k != WH_MP_ARRAY)
        return scalar_to_json(o, path, err);
    wh_json *arr = wh_json_array();
    for(uint32_t i = 0; arr && i < wh_mp_size(o); i++) {
        char sub[160];
        snprintf(sub, sizeof(sub), "%s[%u]", path, i);
        wh_json *v = wh_conv_to_json(wh_mp_arr_at(o, i), sub, err);
        if(!v || wh_json_push(arr, v) != 0) {
            wh_json_free(arr);
            return NULL;
        }
    }
    return arr;
}

static wh_code to_mp(const wh_json *j, wh_mp_pack *p, int depth, wh_err *err)
{
    size_t n;
    const char *s;

    if(depth > WH_MP_MAX_DEPTH)
        return wh_err_set(err, WH_E_BAD_ARGS, "", "JSON nested deeper than %d", WH_MP_MAX_DEPTH);
    switch(wh_json_kind_of(j)) {
    case WH_JSON_OBJECT:
        wh_mp_pack_map(p, (uint32_t)wh_json_size(j));
        for(wh_json_iter *it = wh_json_iter_first(j); it; it = wh_json_iter_next(j, it)) {
            s = wh_json_iter_key(it, &n);
            wh_mp_pack_str(p, s, n);
            if(to_mp(wh_json_iter_val(it), p, depth + 1, err) != WH_OK)
                return err ? err->code : WH_E_BAD_ARGS;
        }
        break;
    case WH_JSON_ARRAY:
        wh_mp_pack_array(p, (uint32_t)wh_json_size(j));
        for(size_t i = 0; i < wh_json_size(j); i++)
            if(to_mp(wh_json_at(j, i), p, depth + 1, err) != WH_OK)
                return err ? err->code : WH_E_BAD_ARGS;
        break;
    case WH_JSON_STRING: s = wh_json_strv(j, &n); wh_mp_pack_str(p, s, n); break;
    case WH_JSON_INT: wh_mp_pack_int(p, wh_json_intv(j)); break;
    case WH_JSON_REAL: wh_mp_pack_float(p, wh_json_realv(j)); break;
    case WH_JSON_BOOL: wh_mp_pack_bool(p, wh_json_boolv(j)); break;
    case WH_JSON_NULL: wh_mp_pack_nil(p); break;
    }
    if(wh_mp_pack_failed(p))
        return wh_err_set(err, WH_E_TOO_LARGE, "", "packed value exceeds its size cap");
    return WH_OK;
}

wh_code wh_conv_to_mp(const wh_json *j, wh_mp_pack *p, wh_err *err)
{
    return to_mp(j, p, 1, err);
}
