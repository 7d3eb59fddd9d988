/* wh_env: the job envelope, wire contract v1 (schemas/README.md).
 *
 * Decoding applies the contract's rules in their documented order and stops
 * at the first failure, so every client sees the same code and field for the
 * same bytes (schemas/vectors pins this down). Encoding writes the canonical
 * form that the C producer publishes. */
#ifndef WH_ENV_H
#define WH_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_cfg.h"
#include "wh_id.h"
#include "wh_mp.h"

#define WH_ENV_VERSION 1
#define WH_TYPE_MAX 97     /* longest job type: 32 + "." + 64 bytes */
#define WH_TARGET_MAX 253  /* longest target host name, bytes */
#define WH_META_MAX 64     /* meta entries */
#define WH_META_KEY_MAX 64 /* meta key bytes */
#define WH_META_VAL_MAX 1024 /* meta value bytes */
#define WH_LOCK_MAX 200    /* lock key bytes */
#define WH_UNIQUE_MAX_S 2592000 /* longest unique_for_s (30 days) */

typedef struct wh_env {
    wh_mp_doc *doc;                /* owns the tree; references the body */
    char id[WH_ID_MAX + 1];        /* set as soon as the id parses, even on failure */
    char type[WH_TYPE_MAX + 1];    /* set as soon as the type parses */
    int family;                    /* wh_family, or -1 when not a known family */
    char target[WH_TARGET_MAX + 1];/* empty when absent */
    int64_t created_at;            /* ms since the epoch */
    int max_attempts;              /* 0 when absent */
    int timeout_s;                 /* 0 when absent */
    int64_t run_at;                /* ms since the epoch; 0 when absent */
    int priority;                  /* 0..9; 0 when absent */
    int unique_for_s;              /* 0 when absent */
    char lock[WH_LOCK_MAX + 1];    /* empty when absent */
    const wh_mp_obj *args;         /* the args map, inside doc */
    const wh_mp_obj *meta;         /* the meta map, or NULL */
} wh_env;

/* Decode `len` bytes of `body`. On WH_OK `env` holds the envelope and refers
 * into `body`, which must outlive wh_env_release(). On failure the code is
 * one of WH_E_TOO_LARGE, WH_E_BAD_MSGPACK, WH_E_BAD_ENVELOPE or
 * WH_E_UNSUPPORTED_SCHEMA with err->field naming the field; env->id and
 * env->type are still filled when they parsed, and nothing needs releasing
 * (calling wh_env_release is harmless). */
wh_code wh_env_decode(const void *body, size_t len, size_t max_body, wh_env *env, wh_err *err);

/* Release what decode holds. Safe on a zeroed or failed env. */
void wh_env_release(wh_env *env);

/* What a producer submits. args is a packed msgpack map (NULL: empty map). */
typedef struct wh_env_spec {
    const char *id;
    const char *type;
    const char *target;      /* NULL or "" for none */
    int64_t created_at;      /* ms */
    int max_attempts;        /* 0 to omit */
    int timeout_s;           /* 0 to omit */
    int64_t run_at;          /* 0 to omit */
    int priority;            /* 0 to omit */
    int unique_for_s;        /* 0 to omit */
    const char *lock;        /* NULL or "" to omit */
    const void *args;        /* packed msgpack map */
    size_t args_len;
    const void *meta;        /* packed msgpack map of strings, or NULL */
    size_t meta_len;
} wh_env_spec;

/* Check a spec's id, type and target against the contract, then pack it
 * into `p` (which is reset first). WH_E_BAD_ENVELOPE names the bad field;
 * WH_E_BAD_ARGS when args is not one msgpack map; WH_E_TOO_LARGE over the cap. */
wh_code wh_env_encode(const wh_env_spec *s, wh_mp_pack *p, wh_err *err);

/* Contract checks on single fields, shared by encode, decode and the CLI. */
bool wh_env_type_valid(const char *s, size_t n);
bool wh_env_target_valid(const char *s, size_t n);
bool wh_env_lock_valid(const char *s, size_t n);

#endif
