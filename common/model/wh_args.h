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

/* Validate `args` (a map) against `n` specs. `open` allows unlisted keys.
 * Stops at the first problem: WH_E_BAD_ARGS naming its field. */
wh_code wh_args_validate(const wh_mp_obj *args, const wh_arg_spec *specs, int n, bool open, wh_err *err);

/* Receives one problem of wh_args_problems (bad_args, its field named);
 * returns false to stop the walk there. */
typedef bool wh_args_note(void *ud, const wh_err *problem);

/* The same checks as wh_args_validate, but every problem is handed to
 * `note`: the keys in the map's order, then each required key that is
 * missing. For the types that report every problem at once (a
 * provision.validate result). Returns how many problems were noted. */
int wh_args_problems(const wh_mp_obj *args, const wh_arg_spec *specs, int n, bool open, wh_args_note *note,
                     void *ud);

/* Re-point an error about the args map at `path`, an element holding a
 * map of its own (such as "args.steps[2]"): field "args.x" becomes
 * "args.steps[2].x" and a message "args.x: why" "args.steps[2].x: why".
 * Returns err->code. */
wh_code wh_args_rebase(wh_err *err, const char *path);

/* Readers for validated args; absent keys give `def`. */
int64_t wh_args_int(const wh_mp_obj *args, const char *name, int64_t def);
bool wh_args_bool(const wh_mp_obj *args, const char *name, bool def);
/* String value, or `def` (with *len = strlen(def)) when absent. */
const char *wh_args_str(const wh_mp_obj *args, const char *name, const char *def, size_t *len);

#endif
