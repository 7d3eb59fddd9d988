/* wh_args: declarative validation of a job's args map.
 *
 * Each job type lists its args as a table of wh_arg_spec. Validation runs
 * before the handler, so handlers read args without re-checking them.
 * Failures are WH_E_BAD_ARGS with field "args.<name>". A closed table (the
 * default) also rejects keys it does not list, which catches typos. */
#ifndef WH_ARGS_H
#define WH_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_mp.h"

typedef enum wh_arg_kind {
    WH_ARG_INT,   /* integer in [min, max] */
    WH_ARG_STR,   /* UTF-8 string of min..max bytes */
    WH_ARG_BOOL,
    WH_ARG_MAP,   /* map of at most max pairs */
    WH_ARG_ARRAY, /* array of at most max elements */
} wh_arg_kind;

typedef struct wh_arg_spec {
    const char *name;
    wh_arg_kind kind;
    bool required;
    int64_t min, max;                          /* see wh_arg_kind */
    bool (*check)(const char *s, size_t n);    /* extra string rule, or NULL */
    const char *check_desc;                    /* what `check` wants, for messages */
} wh_arg_spec;

/* Validate `args` (a map) against `n` specs. `open` allows unlisted keys. */
wh_code wh_args_validate(const wh_mp_obj *args, const wh_arg_spec *specs, int n, bool open, wh_err *err);

/* Readers for validated args; absent keys give `def`. */
int64_t wh_args_int(const wh_mp_obj *args, const char *name, int64_t def);
bool wh_args_bool(const wh_mp_obj *args, const char *name, bool def);
/* String value, or `def` (with *len = strlen(def)) when absent. */
const char *wh_args_str(const wh_mp_obj *args, const char *name, const char *def, size_t *len);

#endif
