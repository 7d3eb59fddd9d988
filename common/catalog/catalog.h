/* catalog: the job catalogue, what a job type is for the producer and the
 * worker alike.
 *
 * Every type is one wh_job_type row in its family's table (system.c,
 * runtime.c, registry.c, provision.c): the name, the args table, an optional
 * check beyond the table, defaults and the lock key. The producer (`wharf
 * submit`, `wharf serve`) admits a job against its row before publishing it;
 * the worker admits every delivery against the same row and then runs the
 * function its family binds to the type (worker/wk_families.c). So the
 * catalogue describes and never runs: nothing here does I/O, and it links
 * wharf_common only (no libssh, no libcurl). A check that needs I/O or such
 * a library belongs to the worker (see wk_bind.check in worker/wk_job.h).
 *
 * Each family file keeps its family's prefix (rt_, rg_, pv_) for what the
 * worker half of the family shares with it; <family>_args.h declares that.
 * Adding a type: a row here, a binding in worker/families/<family>/. */
#ifndef WH_CATALOG_H
#define WH_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_args.h"
#include "wh_json.h"
#include "wh_mp.h"

/* A check beyond the args table, run before the job starts; failures are
 * bad_args and dead-letter the message. It may prepare the result
 * (*result, owned by the caller afterwards). */
typedef wh_code wh_job_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* One job type. */
typedef struct wh_job_type {
    const char *name;             /* full type, e.g. "system.sleep" */
    const wh_arg_spec *args;      /* args table */
    int nargs;
    bool open_args;               /* accept keys the table does not list */
    wh_job_check *check;          /* optional, see wh_job_check */
    bool all_problems;            /* the type reports every problem of its
                                   * args at once (provision.validate lists
                                   * them): `check` runs the args table
                                   * itself, collecting, and admission leaves
                                   * the table to it (no check: nothing) */
    int max_attempts;             /* default for the type; 0: config default */
    int timeout_s;                /* default run-time limit; 0: config default */
    bool needs_host;              /* `target` must name an inventory host, else
                                   * the job fails unknown_host (permanent) */
    /* Optional per-resource lock: write a key such as "ctr:api" derived from
     * the (validated) args into `out` and return true. The pipe prefixes it
     * with the target, and two jobs holding the same key never run at the
     * same time (the envelope's `lock` field does the same per job). */
    bool (*lock_key)(const wh_mp_obj *args, char *out, size_t cap);
} wh_job_type;

/* One family's rows. */
typedef struct wh_job_family {
    const char *name;             /* "system" */
    const wh_job_type *types;
    int ntypes;
} wh_job_family;

/* The families (one file each). */
extern const wh_job_family wh_cat_system;
extern const wh_job_family wh_cat_registry;
extern const wh_job_family wh_cat_runtime;
extern const wh_job_family wh_cat_provision;

/* Every family, in a NULL-terminated list. */
extern const wh_job_family *const wh_cat_families[];

/* The row of `type` ("system.sleep"); NULL when no family has it. */
const wh_job_type *wh_cat_find(const char *type);

/* The attempts a job of `type` makes when it sets none itself: its row's
 * max_attempts; 0 when the row leaves it to the configuration
 * (jobs.max_attempts) or no row has the type. Producers record it with the
 * job, as the worker would apply it (a job's own value, then the type's,
 * then the configuration's). */
int wh_cat_max_attempts(const char *type);

/* Validate `args` against row `t`: its args table (unless the row has
 * all_problems), then `check` (the row's own when NULL). WH_OK or
 * WH_E_BAD_ARGS (with field and message); on WH_OK
 * *prepared (if not NULL) receives the check's prepared result or NULL,
 * which the caller frees. */
wh_code wh_cat_validate(const wh_job_type *t, const wh_mp_obj *args, wh_job_check *check, wh_json **prepared,
                        wh_err *err);

/* Admission of a decoded envelope's type and args, exactly as the worker
 * does it: find the row (WH_E_UNKNOWN_TYPE naming `type`), then
 * wh_cat_validate with its own check. On WH_OK *row is set. */
wh_code wh_cat_admit(const char *type, const wh_mp_obj *args, const wh_job_type **row, wh_json **prepared,
                     wh_err *err);

#define WH_CAT_JSON_MAX (1u << 20) /* bytes of msgpack the JSON args may become */

/* Admission of JSON args text (a producer's): WH_E_UNKNOWN_TYPE naming
 * `type` before anything else, then the text is parsed and converted to
 * msgpack as the client will publish it (at most WH_CAT_JSON_MAX bytes) and
 * admitted with wh_cat_admit. A bad_args error always names a field ("args"
 * when the check named none). */
wh_code wh_cat_admit_json(const char *type, const char *args_json, wh_err *err);

#endif
