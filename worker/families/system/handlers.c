/* handlers: the built-in `system` family, used for smoke tests, demos and
 * benchmarks of the pipe itself: its run functions, bound to the types of
 * common/catalog/system.c (which holds the args tables and checks).
 *   system.noop  {any}                       result = the args
 *   system.sleep {ms}                        sleeps, interruptibly
 *   system.fail  {code?, message?, transient?} fails as told
 *   system.log   {lines, bytes?}             writes lines to the job log */
#include <stdio.h>
#include <string.h>

#include "wk_job.h"

static wk_run noop_run(wk_job *job)
{
    (void)job;
    return WK_RUN_OK;
}

static wk_run sleep_run(wk_job *job)
{
    if(wk_job_sleep(job, wh_args_int(wk_job_args(job), "ms", 0)))
        return WK_RUN_INTERRUPTED;
    return WK_RUN_OK;
}

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

static const wk_bind system_binds[] = {
    {"system.noop", noop_run, NULL},
    {"system.sleep", sleep_run, NULL},
    {"system.fail", fail_run, NULL},
    {"system.log", log_run, NULL},
};

const wk_family wk_family_system = {"system", system_binds, N(system_binds)};
