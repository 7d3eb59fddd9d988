/* wh_mp: msgpack adapter. See wh_mp.h for the design note. */
#include "wh_mp.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct wh_mp_doc {
    msgpack_unpacked u;
};

/* A node is msgpack-c's own object; the opaque type keeps msgpack.h private. */
/* NULL (an absent value, e.g. from wh_mp_map_get) reads as nil, so every
 * accessor below is safe on it. */
static const msgpack_object nil_object = {.type = MSGPACK_OBJECT_NIL};

static const msgpack_object *mo(const wh_mp_obj *o)
{
    return o ? (const msgpack_object *)o : &nil_object;
}

static const wh_mp_obj *wo(const msgpack_object *o)
{
    return (const wh_mp_obj *)o;
}

/* ---- structural check ---- */

/* Read an n-byte big-endian length at p. */
static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for(int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* What the type byte `b` says follows it: `hdr` bytes of length field, then
 * either `fixed` payload bytes, a payload whose length is in the header
 * (`sized`), or `items` child objects (length field or the low bits). */
typedef struct {
    int hdr;        /* bytes of length field after the type byte */
    uint64_t fixed; /* payload bytes when not sized */
    bool sized;     /* payload length comes from the header */
    int per_item;   /* 1 for arrays, 2 for maps, 0 for scalars */
    uint64_t items; /* for fix containers: count from the type byte */
    int ext_type;   /* 1 when a one-byte ext type follows the length */
} mp_shape;

static bool shape_of(unsigned char b, mp_shape *s)
{
    memset(s, 0, sizeof(*s));
    if(b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return true;
    if((b & 0xf0) == 0x80) { /* fixmap */
        s->per_item = 2;
        s->items = b & 0x0f;
        return true;
    }
    if((b & 0xf0) == 0x90) { /* fixarray */
        s->per_item = 1;
        s->items = b & 0x0f;
        return true;
    }
    if((b & 0xe0) == 0xa0) { /* fixstr */
        s->fixed = b & 0x1f;
        return true;
    }
    switch(b) {
    case 0xc4: case 0xd9: s->hdr = 1; s->sized = true; return true;
    case 0xc5: case 0xda: s->hdr = 2; s->sized = true; return true;
    case 0xc6: case 0xdb: s->hdr = 4; s->sized = true; return true;
    case 0xc7: s->hdr = 1; s->sized = true; s->ext_type = 1; return true;
    case 0xc8: s->hdr = 2; s->sized = true; s->ext_type = 1; return true;
    case 0xc9: s->hdr = 4; s->sized = true; s->ext_type = 1; return true;
    case 0xca: s->fixed = 4; return true;
    case 0xcb: s->fixed = 8; return true;
    case 0xcc: case 0xd0: s->fixed = 1; return true;
    case 0xcd: case 0xd1: s->fixed = 2; return true;
    case 0xce: case 0xd2: s->fixed = 4; return true;
    case 0xcf: case 0xd3: s->fixed = 8; return true;
    case 0xd4: s->fixed = 2; return true;
    case 0xd5: s->fixed = 3; return true;
    case 0xd6: s->fixed = 5; return true;
    case 0xd7: s->fixed = 9; return true;
    case 0xd8: s->fixed = 17; return true;
    case 0xdc: s->hdr = 2; s->per_item = 1; return true;
    case 0xdd: s->hdr = 4; s->per_item = 1; return true;
    case 0xde: s->hdr = 2; s->per_item = 2; return true;
    case 0xdf: s->hdr = 4; s->per_item = 2; return true;
    default: return false; /* 0xc1 is never used */
    }
}

wh_code wh_mp_check(const void *buf, size_t len, int max_depth, wh_err *err)
{
    const unsigned char *p = buf;
    uint64_t need[WH_MP_MAX_DEPTH + 1]; /* objects still owed per open level */
    int depth = 0;
    size_t pos = 0;

    if(max_depth > WH_MP_MAX_DEPTH)
        max_depth = WH_MP_MAX_DEPTH;
    need[0] = 1;
    while(depth >= 0) {
        if(need[depth] == 0) {
            depth--;
            continue;
        }
        need[depth]--;
        if(pos >= len)
            return wh_err_set(err, WH_E_BAD_MSGPACK, "", "truncated at byte %zu", pos);
        unsigned char b = p[pos++];
        mp_shape s;
        if(!shape_of(b, &s))
            return wh_err_set(err, WH_E_BAD_MSGPACK, "", "invalid type byte 0x%02x at %zu", b, pos - 1);
        if((size_t)s.hdr > len - pos)
            return wh_err_set(err, WH_E_BAD_MSGPACK, "", "truncated length at byte %zu", pos);
        uint64_t n = s.hdr ? be(p + pos, s.hdr) : 0;
        pos += (size_t)s.hdr;
        if(s.per_item) {
            uint64_t items = (s.hdr ? n : s.items) * (uint64_t)s.per_item;
            /* Depth counts containers, empty ones too (schemas/README.md). */
            if(depth + 1 > max_depth)
                return wh_err_set(err, WH_E_BAD_MSGPACK, "", "nesting deeper than %d", max_depth);
            if(items == 0)
                continue;
            /* Every child takes at least one byte, so more children than
             * bytes left is a lie about the length. */
            if(items > len - pos)
                return wh_err_set(err, WH_E_BAD_MSGPACK, "",
                                  "container declares %llu items but %zu bytes remain",
                                  (unsigned long long)items, len - pos);
            need[++depth] = items;
            continue;
        }
        uint64_t payload = (s.sized ? n : s.fixed) + (uint64_t)s.ext_type;
        if(payload > len - pos)
            return wh_err_set(err, WH_E_BAD_MSGPACK, "",
                              "value declares %llu bytes but %zu remain",
                              (unsigned long long)payload, len - pos);
        pos += (size_t)payload;
    }
    if(pos != len)
        return wh_err_set(err, WH_E_BAD_MSGPACK, "", "%zu trailing bytes after the object", len - pos);
    return WH_OK;
}

wh_mp_doc *wh_mp_parse(const void *buf, size_t len, int max_depth, wh_err *err)
{
    if(wh_mp_check(buf, len, max_depth, err) != WH_OK)
        return NULL;
    wh_mp_doc *doc = malloc(sizeof(*doc));
    if(!doc) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory unpacking %zu bytes", len);
        return NULL;
    }
    msgpack_unpacked_init(&doc->u);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&doc->u, buf, len, &off);
    if(r != MSGPACK_UNPACK_SUCCESS) {
        wh_mp_doc_free(doc);
        wh_err_set(err, r == MSGPACK_UNPACK_NOMEM_ERROR ? WH_E_NOMEM : WH_E_BAD_MSGPACK, "",
                   "msgpack unpack failed (%d)", (int)r);
        return NULL;
    }
    return doc;
}

void wh_mp_doc_free(wh_mp_doc *doc)
{
    if(!doc)
        return;
    msgpack_unpacked_destroy(&doc->u);
    free(doc);
}

const wh_mp_obj *wh_mp_root(const wh_mp_doc *doc)
{
    return wo(&doc->u.data);
}

wh_mp_kind wh_mp_kind_of(const wh_mp_obj *o)
{
    switch(mo(o)->type) {
    case MSGPACK_OBJECT_NIL: return WH_MP_NIL;
    case MSGPACK_OBJECT_BOOLEAN: return WH_MP_BOOL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return WH_MP_INT;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return WH_MP_FLOAT;
    case MSGPACK_OBJECT_STR: return WH_MP_STR;
    case MSGPACK_OBJECT_BIN: return WH_MP_BIN;
    case MSGPACK_OBJECT_ARRAY: return WH_MP_ARRAY;
    case MSGPACK_OBJECT_MAP: return WH_MP_MAP;
    default: return WH_MP_EXT;
    }
}

bool wh_mp_int(const wh_mp_obj *o, int64_t *out)
{
    const msgpack_object *m = mo(o);
    if(m->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = m->via.i64;
        return true;
    }
    if(m->type == MSGPACK_OBJECT_POSITIVE_INTEGER && m->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)m->via.u64;
        return true;
    }
    return false;
}

bool wh_mp_bool(const wh_mp_obj *o, bool *out)
{
    if(mo(o)->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *out = mo(o)->via.boolean;
    return true;
}

bool wh_mp_float(const wh_mp_obj *o, double *out)
{
    if(mo(o)->type != MSGPACK_OBJECT_FLOAT32 && mo(o)->type != MSGPACK_OBJECT_FLOAT64)
        return false;
    *out = mo(o)->via.f64;
    return true;
}

bool wh_mp_str(const wh_mp_obj *o, const char **p, size_t *n)
{
    if(mo(o)->type != MSGPACK_OBJECT_STR)
        return false;
    /* msgpack-c leaves ptr NULL for an empty str; callers may memcmp it */
    *p = mo(o)->via.str.size ? mo(o)->via.str.ptr : "";
    *n = mo(o)->via.str.size;
    return true;
}

bool wh_mp_str_eq(const wh_mp_obj *o, const char *lit)
{
    const char *p;
    size_t n;
    return wh_mp_str(o, &p, &n) && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

uint32_t wh_mp_size(const wh_mp_obj *o)
{
    if(mo(o)->type == MSGPACK_OBJECT_MAP)
        return mo(o)->via.map.size;
    if(mo(o)->type == MSGPACK_OBJECT_ARRAY)
        return mo(o)->via.array.size;
    return 0;
}

const wh_mp_obj *wh_mp_map_key(const wh_mp_obj *o, uint32_t i)
{
    return wo(&mo(o)->via.map.ptr[i].key);
}

const wh_mp_obj *wh_mp_map_val(const wh_mp_obj *o, uint32_t i)
{
    return wo(&mo(o)->via.map.ptr[i].val);
}

const wh_mp_obj *wh_mp_arr_at(const wh_mp_obj *o, uint32_t i)
{
    return wo(&mo(o)->via.array.ptr[i]);
}

const wh_mp_obj *wh_mp_map_get(const wh_mp_obj *o, const char *key)
{
    if(mo(o)->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for(uint32_t i = 0; i < mo(o)->via.map.size; i++)
        if(wh_mp_str_eq(wh_mp_map_key(o, i), key))
            return wh_mp_map_val(o, i);
    return NULL;
}

/* ---- packing ---- */

struct wh_mp_pack {
    msgpack_packer pk;
    char *data;
    size_t len, cap, max; /* bytes used, allocated, allowed */
    bool failed;
};

/* msgpack-c write callback: append under the cap, or mark the packer failed. */
static int pack_write(void *data, const char *buf, size_t n)
{
    wh_mp_pack *p = data;
    if(p->failed)
        return -1;
    if(n > p->max - p->len) {
        p->failed = true;
        return -1;
    }
    if(p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while(cap < p->len + n)
            cap *= 2;
        if(cap > p->max)
            cap = p->max;
        char *d = realloc(p->data, cap);
        if(!d) {
            p->failed = true;
            return -1;
        }
        p->data = d;
        p->cap = cap;
    }
    memcpy(p->data + p->len, buf, n);
    p->len += n;
    return 0;
}

wh_mp_pack *wh_mp_pack_new(size_t max)
{
    wh_mp_pack *p = calloc(1, sizeof(*p));
    if(!p)
        return NULL;
    p->max = max;
    msgpack_packer_init(&p->pk, p, pack_write);
    return p;
}

void wh_mp_pack_free(wh_mp_pack *p)
{
    if(!p)
        return;
    free(p->data);
    free(p);
}

void wh_mp_pack_reset(wh_mp_pack *p)
{
    p->len = 0;
    p->failed = false;
}

void wh_mp_pack_map(wh_mp_pack *p, uint32_t pairs) { msgpack_pack_map(&p->pk, pairs); }
void wh_mp_pack_array(wh_mp_pack *p, uint32_t n) { msgpack_pack_array(&p->pk, n); }
void wh_mp_pack_int(wh_mp_pack *p, int64_t v) { msgpack_pack_int64(&p->pk, v); }
void wh_mp_pack_float(wh_mp_pack *p, double v) { msgpack_pack_double(&p->pk, v); }
void wh_mp_pack_nil(wh_mp_pack *p) { msgpack_pack_nil(&p->pk); }

void wh_mp_pack_bool(wh_mp_pack *p, bool v)
{
    if(v)
        msgpack_pack_true(&p->pk);
    else
        msgpack_pack_false(&p->pk);
}

void wh_mp_pack_str(wh_mp_pack *p, const char *s, size_t n)
{
    if(msgpack_pack_str(&p->pk, n) == 0)
        msgpack_pack_str_body(&p->pk, s, n);
}

void wh_mp_pack_cstr(wh_mp_pack *p, const char *s)
{
    wh_mp_pack_str(p, s, strlen(s));
}

void wh_mp_pack_obj(wh_mp_pack *p, const wh_mp_obj *o)
{
    msgpack_pack_object(&p->pk, *mo(o));
}

bool wh_mp_pack_failed(const wh_mp_pack *p)
{
    return p->failed;
}

const char *wh_mp_pack_data(const wh_mp_pack *p, size_t *len)
{
    *len = p->len;
    return p->data;
}
