/* system: the built-in `system` family, used for smoke tests, demos and
 * benchmarks of the pipe itself (run functions in
 * worker/families/system/handlers.c).
 *   system.noop  {any}                       result = the args
 *   system.sleep {ms}                        sleeps, interruptibly
 *   system.fail  {code?, message?, transient?} fails as told
 *   system.log   {lines, bytes?}             writes lines to the job log */
#include "catalog.h"
#include "wh_conv.h"
#include "wh_text.h"

/* noop: the result is the args; converting them here, before the job
 * starts, makes args with no JSON form (bin, ext) a bad_args rejection. */
static wh_code noop_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    *result = wh_conv_to_json(args, "args", err);
    return *result ? WH_OK : WH_E_BAD_ARGS;
}

static const wh_arg_spec sleep_args[] = {
    {"ms", WH_ARG_INT, true, 0, 3600000, NULL, NULL},
};

static bool code_ok(const char *s, size_t n)
{
    return wh_text_ident(s, n, 32);
}

static const wh_arg_spec fail_args[] = {
    {"code", WH_ARG_STR, false, 1, 32, code_ok, "must match [a-z][a-z0-9_]{0,31}"},
    {"message", WH_ARG_STR, false, 0, 1024, NULL, NULL},
    {"transient", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
};

static const wh_arg_spec log_args[] = {
    {"lines", WH_ARG_INT, true, 0, 10000000, NULL, NULL},
    {"bytes", WH_ARG_INT, false, 1, 4096, NULL, NULL},
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const wh_job_type system_types[] = {
    {.name = "system.noop", .open_args = true, .check = noop_check},
    {.name = "system.sleep", .args = sleep_args, .nargs = N(sleep_args)},
    {.name = "system.fail", .args = fail_args, .nargs = N(fail_args)},
    {.name = "system.log", .args = log_args, .nargs = N(log_args)},
};

const wh_job_family wh_cat_system = {"system", system_types, N(system_types)};
