/* wh_json: jansson adapter. See wh_json.h. */
#include "wh_json.h"

#include <jansson.h>
#include <math.h>

static json_t *J(const wh_json *j) { return (json_t *)j; }
static wh_json *W(json_t *j) { return (wh_json *)j; }

wh_json *wh_json_parse(const char *text, size_t len, wh_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if(!j) {
        wh_err_set(err, WH_E_BAD_ARGS, "", "invalid JSON at line %d column %d: %s", je.line, je.column,
                   je.text);
        return NULL;
    }
    return W(j);
}

char *wh_json_dump(const wh_json *j)
{
    return json_dumps(J(j), JSON_COMPACT | JSON_ENCODE_ANY);
}

char *wh_json_dump_sorted(const wh_json *j)
{
    return json_dumps(J(j), JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

void wh_json_free(wh_json *j)
{
    if(j)
        json_decref(J(j));
}

wh_json *wh_json_object(void) { return W(json_object()); }
wh_json *wh_json_array(void) { return W(json_array()); }
wh_json *wh_json_strn(const char *s, size_t n) { return W(json_stringn(s, n)); }
wh_json *wh_json_str(const char *s) { return W(json_string(s)); }
wh_json *wh_json_int(int64_t v) { return W(json_integer((json_int_t)v)); }
wh_json *wh_json_bool(bool v) { return W(json_boolean(v)); }
wh_json *wh_json_null(void) { return W(json_null()); }

wh_json *wh_json_copy(const wh_json *j)
{
    return j ? W(json_deep_copy(J(j))) : NULL;
}

wh_json *wh_json_real(double v)
{
    if(!isfinite(v))
        return NULL;
    return W(json_real(v));
}

int wh_json_set(wh_json *obj, const char *key, size_t n, wh_json *v)
{
    if(!obj || !v) {
        json_decref(J(v));
        return -1;
    }
    return json_object_setn_new(J(obj), key, n, J(v));
}

int wh_json_setc(wh_json *obj, const char *key, wh_json *v)
{
    if(!obj || !v) {
        json_decref(J(v));
        return -1;
    }
    return json_object_set_new(J(obj), key, J(v));
}

int wh_json_push(wh_json *arr, wh_json *v)
{
    if(!arr || !v) {
        json_decref(J(v));
        return -1;
    }
    return json_array_append_new(J(arr), J(v));
}

wh_json_kind wh_json_kind_of(const wh_json *j)
{
    switch(json_typeof(J(j))) {
    case JSON_OBJECT: return WH_JSON_OBJECT;
    case JSON_ARRAY: return WH_JSON_ARRAY;
    case JSON_STRING: return WH_JSON_STRING;
    case JSON_INTEGER: return WH_JSON_INT;
    case JSON_REAL: return WH_JSON_REAL;
    case JSON_TRUE:
    case JSON_FALSE: return WH_JSON_BOOL;
    default: return WH_JSON_NULL;
    }
}

size_t wh_json_size(const wh_json *j)
{
    if(json_is_object(J(j)))
        return json_object_size(J(j));
    return json_array_size(J(j));
}

wh_json *wh_json_at(const wh_json *arr, size_t i) { return W(json_array_get(J(arr), i)); }
wh_json *wh_json_get(const wh_json *obj, const char *key) { return W(json_object_get(J(obj), key)); }
int64_t wh_json_intv(const wh_json *j) { return (int64_t)json_integer_value(J(j)); }
double wh_json_realv(const wh_json *j) { return json_real_value(J(j)); }
bool wh_json_boolv(const wh_json *j) { return json_is_true(J(j)); }

const char *wh_json_strv(const wh_json *j, size_t *n)
{
    if(!json_is_string(J(j)))
        return NULL;
    if(n)
        *n = json_string_length(J(j));
    return json_string_value(J(j));
}

wh_json_iter *wh_json_iter_first(const wh_json *obj)
{
    return (wh_json_iter *)json_object_iter(J(obj));
}

wh_json_iter *wh_json_iter_next(const wh_json *obj, wh_json_iter *it)
{
    return (wh_json_iter *)json_object_iter_next(J(obj), it);
}

const char *wh_json_iter_key(wh_json_iter *it, size_t *n)
{
    if(n)
        *n = json_object_iter_key_len(it);
    return json_object_iter_key(it);
}

wh_json *wh_json_iter_val(wh_json_iter *it)
{
    return W(json_object_iter_value(it));
}
