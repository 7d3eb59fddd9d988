/* handlers: the built-in `system` family, used for smoke tests, demos and
 * benchmarks of the pipe itself.
 *   system.noop  {any}                       result = the args
 *   system.sleep {ms}                        sleeps, interruptibly
 *   system.fail  {code?, message?, transient?} fails as told
 *   system.log   {lines, bytes?}             writes lines to the job log */
#include <stdio.h>
#include <string.h>

#include "wh_conv.h"
#include "wh_text.h"
#include "wk_job.h"

/* noop: the result is the args; converting them here, before the job
 * starts, makes args with no JSON form (bin, ext) a bad_args rejection. */
static wh_code noop_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    *result = wh_conv_to_json(args, "args", err);
    return *result ? WH_OK : WH_E_BAD_ARGS;
}

static wk_run noop_run(wk_job *job)
{
    (void)job;
    return WK_RUN_OK;
}

static const wh_arg_spec sleep_args[] = {
    {"ms", WH_ARG_INT, true, 0, 3600000, NULL, NULL},
};

static wk_run sleep_run(wk_job *job)
{
    if(wk_job_sleep(job, wh_args_int(wk_job_args(job), "ms", 0)))
        return WK_RUN_INTERRUPTED;
    return WK_RUN_OK;
}

static bool code_ok(const char *s, size_t n)
{
    return wh_text_ident(s, n, 32);
}

static const wh_arg_spec fail_args[] = {
    {"code", WH_ARG_STR, false, 1, 32, code_ok, "must match [a-z][a-z0-9_]{0,31}"},
    {"message", WH_ARG_STR, false, 0, 1024, NULL, NULL},
    {"transient", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
};

static wk_run fail_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t cn, mn;
    const char *code = wh_args_str(a, "code", "failed", &cn);
    const char *msg = wh_args_str(a, "message", "failed on request", &mn);
    char custom[40];
    snprintf(custom, sizeof(custom), "%.*s", (int)cn, code);
    return wk_job_fail(job, WH_E_FAILED, custom, wh_args_bool(a, "transient", false), "%.*s", (int)mn, msg);
}

static const wh_arg_spec log_args[] = {
    {"lines", WH_ARG_INT, true, 0, 10000000, NULL, NULL},
    {"bytes", WH_ARG_INT, false, 1, 4096, NULL, NULL},
};

static wk_run log_run(wk_job *job)
{
    int64_t lines = wh_args_int(wk_job_args(job), "lines", 0);
    size_t bytes = (size_t)wh_args_int(wk_job_args(job), "bytes", 80);
    char line[4096 + 32];
    long long total = 0;
    int reported = 0; /* progress in steps of 5%: at most 20 writes a job */
    for(int64_t i = 0; i < lines; i++) {
        if((i & 1023) == 0 && wk_job_interrupted(job))
            return WK_RUN_INTERRUPTED;
        int pct = (int)(i * 100 / lines);
        if(pct >= reported + 5) {
            char step[64];
            snprintf(step, sizeof(step), "line %lld of %lld", (long long)i, (long long)lines);
            wk_job_progress(job, pct, step);
            reported = pct - pct % 5;
        }
        /* "line <n> " then filler to exactly `bytes` bytes. */
        int n = snprintf(line, sizeof(line), "line %lld ", (long long)i + 1);
        size_t len = (size_t)n;
        if(bytes > len) {
            memset(line + n, 'x', bytes - len);
            len = bytes;
        }
        wk_job_log(job, WK_OUT, line, len);
        total += (long long)len;
    }
    wh_json *r = wh_json_object();
    wh_json_setc(r, "lines", wh_json_int(lines));
    wh_json_setc(r, "bytes", wh_json_int(total));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const wk_type system_types[] = {
    {.name = "system.noop", .open_args = true, .check = noop_check, .run = noop_run},
    {.name = "system.sleep", .args = sleep_args, .nargs = N(sleep_args), .run = sleep_run},
    {.name = "system.fail", .args = fail_args, .nargs = N(fail_args), .run = fail_run},
    {.name = "system.log", .args = log_args, .nargs = N(log_args), .run = log_run},
};

const wk_family wk_family_system = {"system", system_types, N(system_types)};
