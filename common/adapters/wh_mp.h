/* wh_mp: the msgpack adapter (msgpack-c). No other file includes <msgpack.h>.
 *
 * Reading: wh_mp_parse() first walks the bytes with a bounded structural
 * check (every declared length must fit in the bytes that remain, containers
 * nest at most WH_MP_MAX_DEPTH deep, exactly one object, no trailing bytes),
 * and only then lets msgpack-c build the object tree. msgpack-c allocates a
 * container's slots from its declared count before reading the elements, so
 * the check is what keeps a 5-byte "array of 100M" from costing memory.
 *
 * Writing: wh_mp_pack is a growable buffer with a hard cap; once a write would
 * pass the cap the packer is marked failed and ignores further writes. */
#ifndef WH_MP_H
#define WH_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"

/* Deepest container nesting accepted. msgpack-c 4.0 as packaged by Debian is
 * compiled with a 32-level unpack stack; deeper input is bad_msgpack. */
#define WH_MP_MAX_DEPTH 32

typedef enum wh_mp_kind {
    WH_MP_NIL,
    WH_MP_BOOL,
    WH_MP_INT,   /* signed or unsigned integer */
    WH_MP_FLOAT, /* float32 or float64 */
    WH_MP_STR,
    WH_MP_BIN,
    WH_MP_ARRAY,
    WH_MP_MAP,
    WH_MP_EXT
} wh_mp_kind;

typedef struct wh_mp_doc wh_mp_doc; /* an unpacked tree and the memory behind it */
typedef struct wh_mp_obj wh_mp_obj; /* a node of a doc; lives as long as the doc */

/* Check that buf[0..len) holds exactly one well-formed msgpack object nested
 * at most `max_depth` deep. Returns WH_OK or WH_E_BAD_MSGPACK with a reason. */
wh_code wh_mp_check(const void *buf, size_t len, int max_depth, wh_err *err);

/* Check, then unpack buf[0..len). The doc copies nothing it does not need but
 * references `buf`: keep `buf` alive and unchanged until wh_mp_doc_free().
 * Returns NULL with err set (WH_E_BAD_MSGPACK or WH_E_NOMEM) on failure. */
wh_mp_doc *wh_mp_parse(const void *buf, size_t len, int max_depth, wh_err *err);

/* Free a doc and every node in it. NULL is a no-op. */
void wh_mp_doc_free(wh_mp_doc *doc);

const wh_mp_obj *wh_mp_root(const wh_mp_doc *doc);

/* Every accessor below accepts NULL, the absent value that wh_mp_map_get
 * returns, and treats it as nil: the kind is WH_MP_NIL, the typed reads
 * return false, the size is 0 and wh_mp_map_get returns NULL. */
wh_mp_kind wh_mp_kind_of(const wh_mp_obj *o);

/* Scalar reads: return false (leaving *out alone) when the kind differs or an
 * unsigned value does not fit in int64_t. A float is never an int. */
bool wh_mp_int(const wh_mp_obj *o, int64_t *out);
bool wh_mp_bool(const wh_mp_obj *o, bool *out);
bool wh_mp_float(const wh_mp_obj *o, double *out);

/* String read: msgpack str only (bin is not a string). Not NUL-terminated;
 * *p is never NULL, even for the empty string. */
bool wh_mp_str(const wh_mp_obj *o, const char **p, size_t *n);

/* True when `o` is a str equal to the C string `lit`. */
bool wh_mp_str_eq(const wh_mp_obj *o, const char *lit);

/* Number of map pairs or array elements; 0 for anything else. */
uint32_t wh_mp_size(const wh_mp_obj *o);

/* Map and array access by index (no bounds beyond wh_mp_size). */
const wh_mp_obj *wh_mp_map_key(const wh_mp_obj *o, uint32_t i);
const wh_mp_obj *wh_mp_map_val(const wh_mp_obj *o, uint32_t i);
const wh_mp_obj *wh_mp_arr_at(const wh_mp_obj *o, uint32_t i);

/* Value of the first pair whose key is the str `key`; NULL if absent or if
 * `o` is not a map. */
const wh_mp_obj *wh_mp_map_get(const wh_mp_obj *o, const char *key);

/* ---- packing ---- */

typedef struct wh_mp_pack wh_mp_pack;

/* New empty packer whose buffer may grow to `max` bytes. NULL on ENOMEM. */
wh_mp_pack *wh_mp_pack_new(size_t max);
void wh_mp_pack_free(wh_mp_pack *p);
/* Drop the content and the failed mark, keeping the allocation. */
void wh_mp_pack_reset(wh_mp_pack *p);

void wh_mp_pack_map(wh_mp_pack *p, uint32_t pairs);
void wh_mp_pack_array(wh_mp_pack *p, uint32_t n);
void wh_mp_pack_str(wh_mp_pack *p, const char *s, size_t n);
void wh_mp_pack_cstr(wh_mp_pack *p, const char *s);
void wh_mp_pack_int(wh_mp_pack *p, int64_t v);
void wh_mp_pack_float(wh_mp_pack *p, double v);
void wh_mp_pack_bool(wh_mp_pack *p, bool v);
void wh_mp_pack_nil(wh_mp_pack *p);
/* Pack a node of a doc, deeply. */
void wh_mp_pack_obj(wh_mp_pack *p, const wh_mp_obj *o);

/* True once a write did not fit under the cap (or memory ran out). */
bool wh_mp_pack_failed(const wh_mp_pack *p);
const char *wh_mp_pack_data(const wh_mp_pack *p, size_t *len);

#endif
