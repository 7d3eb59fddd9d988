/* wh_json: the JSON adapter (jansson). No other file includes <jansson.h>.
 *
 * Values are reference-counted jansson values behind an opaque type. Builders
 * return a new reference or NULL on failure (including invalid UTF-8 and
 * non-finite reals); setters *steal* the reference to the value they are
 * given, even on failure, so builder calls can be nested without leaks. */
#ifndef WH_JSON_H
#define WH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"

typedef struct wh_json wh_json;
typedef struct wh_json_iter wh_json_iter;

typedef enum wh_json_kind {
    WH_JSON_OBJECT,
    WH_JSON_ARRAY,
    WH_JSON_STRING,
    WH_JSON_INT,
    WH_JSON_REAL,
    WH_JSON_BOOL,
    WH_JSON_NULL
} wh_json_kind;

/* Parse `len` bytes of JSON text. Duplicate object keys are rejected.
 * Returns NULL with WH_E_BAD_ARGS and the line/column in err->msg. */
wh_json *wh_json_parse(const char *text, size_t len, wh_err *err);

/* Serialise compactly (keys in insertion order). Returns a malloc'd string
 * the caller frees with free(), or NULL on ENOMEM. */
char *wh_json_dump(const wh_json *j);

/* The same with object keys sorted: a canonical text for comparing values. */
char *wh_json_dump_sorted(const wh_json *j);

/* Drop one reference. NULL is a no-op. */
void wh_json_free(wh_json *j);

wh_json *wh_json_object(void);
wh_json *wh_json_array(void);
wh_json *wh_json_strn(const char *s, size_t n); /* NULL unless valid UTF-8 */
wh_json *wh_json_str(const char *s);
wh_json *wh_json_int(int64_t v);
wh_json *wh_json_real(double v); /* NULL for NaN and infinities */
wh_json *wh_json_bool(bool v);
wh_json *wh_json_null(void);
/* A deep copy of `j` (owned by the caller), or NULL for NULL. */
wh_json *wh_json_copy(const wh_json *j);

/* Set key (`n` bytes, must be UTF-8) to `v`, stealing `v`. 0 on success. */
int wh_json_set(wh_json *obj, const char *key, size_t n, wh_json *v);
/* Same with a C-string key. */
int wh_json_setc(wh_json *obj, const char *key, wh_json *v);
/* Append `v` to an array, stealing `v`. 0 on success. */
int wh_json_push(wh_json *arr, wh_json *v);

wh_json_kind wh_json_kind_of(const wh_json *j);
size_t wh_json_size(const wh_json *j); /* object pairs or array elements */
wh_json *wh_json_at(const wh_json *arr, size_t i); /* borrowed */
wh_json *wh_json_get(const wh_json *obj, const char *key); /* borrowed, NULL if absent */
const char *wh_json_strv(const wh_json *j, size_t *n); /* NULL unless a string */
int64_t wh_json_intv(const wh_json *j);
double wh_json_realv(const wh_json *j);
bool wh_json_boolv(const wh_json *j);

/* Object iteration in insertion order. Iterators are borrowed. */
wh_json_iter *wh_json_iter_first(const wh_json *obj);
wh_json_iter *wh_json_iter_next(const wh_json *obj, wh_json_iter *it);
const char *wh_json_iter_key(wh_json_iter *it, size_t *n);
wh_json *wh_json_iter_val(wh_json_iter *it);

#endif
