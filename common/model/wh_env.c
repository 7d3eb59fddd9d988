/* wh_env: envelope decode/encode. See wh_env.h; rules in schemas/README.md. */
#include "wh_env.h"

#include <stdint.h>
#include <string.h>

#include "wh_text.h"
#include "wh_utf8.h"

/* type: [a-z][a-z0-9_]{0,31} "." [a-z][a-z0-9_.]{0,63} */
bool wh_env_type_valid(const char *s, size_t n)
{
    const char *dot = memchr(s, '.', n);
    if(!dot)
        return false;
    size_t fam = (size_t)(dot - s), rest = n - fam - 1;
    return wh_text_ident(s, fam, 32) && rest >= 1 && rest <= 64 && dot[1] && strchr(WH_CS_LOWER, dot[1]) &&
           wh_text_only(dot + 2, rest - 1, WH_CS_LOWER WH_CS_DIGIT "_.");
}

/* target: [A-Za-z0-9][A-Za-z0-9._-]{0,252} */
bool wh_env_target_valid(const char *s, size_t n)
{
    return n >= 1 && n <= WH_TARGET_MAX && s[0] && strchr(WH_CS_ALNUM, s[0]) &&
           wh_text_only(s + 1, n - 1, WH_CS_ALNUM "._-");
}

/* lock: [A-Za-z0-9][A-Za-z0-9._:/@-]{0,199} */
bool wh_env_lock_valid(const char *s, size_t n)
{
    return n >= 1 && n <= WH_LOCK_MAX && s[0] && strchr(WH_CS_ALNUM, s[0]) &&
           wh_text_only(s + 1, n - 1, WH_CS_ALNUM "._:/@-");
}

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    if(n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Top-level keys must be strings and unique. */
static wh_code check_keys(const wh_mp_obj *root, wh_err *err)
{
    uint32_t n = wh_mp_size(root);
    for(uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if(!wh_mp_str(wh_mp_map_key(root, i), &k, &kn))
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "", "envelope keys must be strings");
        for(uint32_t j = 0; j < i; j++) {
            const char *k2;
            size_t kn2;
            wh_mp_str(wh_mp_map_key(root, j), &k2, &kn2);
            if(kn == kn2 && memcmp(k, k2, kn) == 0) {
                char field[64];
                copy_str(field, sizeof(field), k, kn);
                return wh_err_set(err, WH_E_BAD_ENVELOPE, field, "%s: duplicate key", field);
            }
        }
    }
    return WH_OK;
}

/* Optional int in [lo, hi]; absent or nil leaves *out at 0. */
static wh_code opt_int(const wh_mp_obj *root, const char *key, int64_t lo, int64_t hi, int64_t *out, wh_err *err)
{
    const wh_mp_obj *o = wh_mp_map_get(root, key);
    *out = 0;
    if(!o || wh_mp_kind_of(o) == WH_MP_NIL)
        return WH_OK;
    if(!wh_mp_int(o, out) || *out < lo || *out > hi)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, key, "%s: must be an integer in %lld..%lld", key,
                          (long long)lo, (long long)hi);
    return WH_OK;
}

static wh_code check_meta(const wh_mp_obj *m, wh_err *err)
{
    if(wh_mp_kind_of(m) != WH_MP_MAP || wh_mp_size(m) > WH_META_MAX)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "meta", "meta: must be a map of at most %d strings", WH_META_MAX);
    for(uint32_t i = 0; i < wh_mp_size(m); i++) {
        const char *k, *v;
        size_t kn, vn;
        if(!wh_mp_str(wh_mp_map_key(m, i), &k, &kn) || !wh_mp_str(wh_mp_map_val(m, i), &v, &vn) || kn < 1 ||
           kn > WH_META_KEY_MAX || vn > WH_META_VAL_MAX || !wh_utf8_valid(k, kn) || !wh_utf8_valid(v, vn))
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "meta",
                              "meta: keys must be 1..%d and values at most %d bytes of UTF-8 text",
                              WH_META_KEY_MAX, WH_META_VAL_MAX);
    }
    return WH_OK;
}

/* The body after the generic checks: fields in contract order. */
static wh_code decode_fields(const wh_mp_obj *root, wh_env *env, wh_err *err)
{
    const wh_mp_obj *o;
    const char *s;
    size_t n;
    int64_t v;

    if(!(o = wh_mp_map_get(root, "v")) || !wh_mp_int(o, &v))
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "v", "v: required integer schema version");
    if(v != WH_ENV_VERSION)
        return wh_err_set(err, WH_E_UNSUPPORTED_SCHEMA, "v", "v: version %lld is not supported (this worker speaks %d)",
                          (long long)v, WH_ENV_VERSION);
    if(!env->id[0])
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "id", "id: required string matching [A-Za-z0-9_-]{1,64}");
    if(!env->type[0])
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "type", "type: required string like \"family.action\"");
    if(!(env->args = wh_mp_map_get(root, "args")) || wh_mp_kind_of(env->args) != WH_MP_MAP)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "args", "args: required map");
    if((o = wh_mp_map_get(root, "target")) && wh_mp_kind_of(o) != WH_MP_NIL) {
        if(!wh_mp_str(o, &s, &n) || !wh_env_target_valid(s, n))
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "target", "target: must be a host name from the inventory");
        copy_str(env->target, sizeof(env->target), s, n);
    }
    if(!(o = wh_mp_map_get(root, "created_at")) || !wh_mp_int(o, &env->created_at) || env->created_at < 0)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "created_at", "created_at: required integer ms since the epoch");
    wh_code rc;
    if((rc = opt_int(root, "max_attempts", 1, 100, &v, err)))
        return rc;
    env->max_attempts = (int)v;
    if((rc = opt_int(root, "timeout_s", 1, 2592000, &v, err)))
        return rc;
    env->timeout_s = (int)v;
    if((o = wh_mp_map_get(root, "meta")) && wh_mp_kind_of(o) != WH_MP_NIL) {
        if((rc = check_meta(o, err)))
            return rc;
        env->meta = o;
    }
    if((rc = opt_int(root, "run_at", 0, INT64_MAX, &env->run_at, err)))
        return rc;
    if((rc = opt_int(root, "priority", 0, 9, &v, err)))
        return rc;
    env->priority = (int)v;
    if((rc = opt_int(root, "unique_for_s", 1, WH_UNIQUE_MAX_S, &v, err)))
        return rc;
    env->unique_for_s = (int)v;
    if((o = wh_mp_map_get(root, "lock")) && wh_mp_kind_of(o) != WH_MP_NIL) {
        if(!wh_mp_str(o, &s, &n) || !wh_env_lock_valid(s, n))
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "lock",
                              "lock: must be 1..%d bytes of A-Z a-z 0-9 . _ : / @ - starting with a letter or digit",
                              WH_LOCK_MAX);
        copy_str(env->lock, sizeof(env->lock), s, n);
    }
    return WH_OK;
}

wh_code wh_env_decode(const void *body, size_t len, size_t max_body, wh_env *env, wh_err *err)
{
    memset(env, 0, sizeof(*env));
    env->family = -1;
    if(len > max_body)
        return wh_err_set(err, WH_E_TOO_LARGE, "", "body is %zu bytes; the limit is %zu", len, max_body);
    wh_mp_doc *doc = wh_mp_parse(body, len, WH_MP_MAX_DEPTH, err);
    if(!doc)
        return err ? err->code : WH_E_BAD_MSGPACK;
    const wh_mp_obj *root = wh_mp_root(doc);
    wh_code rc = wh_mp_kind_of(root) == WH_MP_MAP ? check_keys(root, err)
                                                 : wh_err_set(err, WH_E_BAD_ENVELOPE, "", "envelope must be a map");
    if(!rc) {
        /* id and type are read first, whatever fails later, so a bad job can
         * still be reported under its own id and type. */
        const wh_mp_obj *o;
        const char *s;
        size_t n;
        if((o = wh_mp_map_get(root, "id")) && wh_mp_str(o, &s, &n) && wh_id_valid(s, n))
            copy_str(env->id, sizeof(env->id), s, n);
        if((o = wh_mp_map_get(root, "type")) && wh_mp_str(o, &s, &n) && wh_env_type_valid(s, n)) {
            copy_str(env->type, sizeof(env->type), s, n);
            env->family = wh_family_parse(s, (size_t)(strchr(env->type, '.') - env->type));
        }
        rc = decode_fields(root, env, err);
    }
    if(rc) {
        wh_mp_doc_free(doc);
        env->args = env->meta = NULL;
        return rc;
    }
    env->doc = doc;
    return WH_OK;
}

void wh_env_release(wh_env *env)
{
    wh_mp_doc_free(env->doc);
    env->doc = NULL;
    env->args = env->meta = NULL;
}

/* Pack a checked spec. Keys go in the contract's order (that of the golden
 * vectors), so every client encodes the same job to the same bytes. */
static void pack_envelope(const wh_env_spec *s, const wh_mp_obj *args, const wh_mp_obj *meta, wh_mp_pack *p)
{
    bool has_target = s->target && s->target[0], has_lock = s->lock && s->lock[0];
    uint32_t n = 5 + has_target + (s->max_attempts > 0) + (s->timeout_s > 0) + (s->run_at > 0) +
                 (s->priority > 0) + (s->unique_for_s > 0) + has_lock + (meta != NULL);
    wh_mp_pack_reset(p);
    wh_mp_pack_map(p, n);
    wh_mp_pack_cstr(p, "v");
    wh_mp_pack_int(p, WH_ENV_VERSION);
    wh_mp_pack_cstr(p, "id");
    wh_mp_pack_cstr(p, s->id);
    wh_mp_pack_cstr(p, "type");
    wh_mp_pack_cstr(p, s->type);
    wh_mp_pack_cstr(p, "args");
    if(args)
        wh_mp_pack_obj(p, args);
    else
        wh_mp_pack_map(p, 0);
    wh_mp_pack_cstr(p, "created_at");
    wh_mp_pack_int(p, s->created_at);
    if(has_target) {
        wh_mp_pack_cstr(p, "target");
        wh_mp_pack_cstr(p, s->target);
    }
    if(s->max_attempts > 0) {
        wh_mp_pack_cstr(p, "max_attempts");
        wh_mp_pack_int(p, s->max_attempts);
    }
    if(s->timeout_s > 0) {
        wh_mp_pack_cstr(p, "timeout_s");
        wh_mp_pack_int(p, s->timeout_s);
    }
    if(meta) {
        wh_mp_pack_cstr(p, "meta");
        wh_mp_pack_obj(p, meta);
    }
    const struct {
        const char *key;
        int64_t v;
    } ints[] = {{"run_at", s->run_at}, {"priority", s->priority}, {"unique_for_s", s->unique_for_s}};
    for(size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if(ints[i].v > 0) {
            wh_mp_pack_cstr(p, ints[i].key);
            wh_mp_pack_int(p, ints[i].v);
        }
    if(has_lock) {
        wh_mp_pack_cstr(p, "lock");
        wh_mp_pack_cstr(p, s->lock);
    }
}

wh_code wh_env_encode(const wh_env_spec *s, wh_mp_pack *p, wh_err *err)
{
    if(!s->id || !wh_id_valid(s->id, strlen(s->id)))
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "id", "id: must match [A-Za-z0-9_-]{1,64}");
    if(!s->type || !wh_env_type_valid(s->type, strlen(s->type)))
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "type", "type: must look like \"family.action\" in lowercase");
    bool has_target = s->target && s->target[0];
    if(has_target && !wh_env_target_valid(s->target, strlen(s->target)))
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "target", "target: not a valid host name");
    if(s->max_attempts < 0 || s->max_attempts > 100)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "max_attempts", "max_attempts: must be 1..100");
    if(s->timeout_s < 0 || s->timeout_s > 2592000)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "timeout_s", "timeout_s: must be 1..2592000");
    if(s->run_at < 0)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "run_at", "run_at: must be ms since the epoch");
    if(s->priority < 0 || s->priority > 9)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "priority", "priority: must be 0..9");
    if(s->unique_for_s < 0 || s->unique_for_s > WH_UNIQUE_MAX_S)
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "unique_for_s", "unique_for_s: must be 1..%d", WH_UNIQUE_MAX_S);
    bool has_lock = s->lock && s->lock[0];
    if(has_lock && !wh_env_lock_valid(s->lock, strlen(s->lock)))
        return wh_err_set(err, WH_E_BAD_ENVELOPE, "lock",
                          "lock: must be 1..%d bytes of A-Z a-z 0-9 . _ : / @ - starting with a letter or digit",
                          WH_LOCK_MAX);
    wh_mp_doc *meta = NULL;
    if(s->meta) {
        wh_err merr;
        meta = wh_mp_parse(s->meta, s->meta_len, WH_MP_MAX_DEPTH, NULL);
        if(!meta || check_meta(wh_mp_root(meta), &merr) != WH_OK) {
            wh_mp_doc_free(meta);
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "meta",
                              "meta: keys must be 1..%d and values at most %d bytes of UTF-8 text, at most %d entries",
                              WH_META_KEY_MAX, WH_META_VAL_MAX, WH_META_MAX);
        }
    }
    wh_mp_doc *args = s->args ? wh_mp_parse(s->args, s->args_len, WH_MP_MAX_DEPTH, NULL) : NULL;
    if(s->args && (!args || wh_mp_kind_of(wh_mp_root(args)) != WH_MP_MAP)) {
        wh_mp_doc_free(args);
        wh_mp_doc_free(meta);
        return wh_err_set(err, WH_E_BAD_ARGS, "args", "args: must be one msgpack map");
    }
    pack_envelope(s, args ? wh_mp_root(args) : NULL, meta ? wh_mp_root(meta) : NULL, p);
    wh_mp_doc_free(meta);
    wh_mp_doc_free(args);
    if(wh_mp_pack_failed(p))
        return wh_err_set(err, WH_E_TOO_LARGE, "args", "envelope exceeds the body size cap");
    return WH_OK;
}
