/* wk_job: the handler-facing job calls. See wk_job.h; the struct is in
 * wk_job_int.h, shared with the pipe that runs jobs. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_log.h"
#include "wh_utf8.h"
#include "wh_time.h"
#include "wk_job_int.h"

#define LOG_BATCH 256 /* XADDs pipelined before reading the replies */

void wk_job_init(wk_job *job, const wh_cfg *cfg, wh_redis *redis, wk_halt *halt)
{
    memset(job, 0, sizeof(*job));
    atomic_init(&job->cancel, false);
    job->cfg = cfg;
    job->redis = redis;
    job->halt = halt;
}

void wk_job_release(wk_job *job)
{
    wh_json_free(job->result);
    job->result = NULL;
    wh_env_release(&job->env);
}

const wh_env *wk_job_env(const wk_job *job) { return &job->env; }
const wh_mp_obj *wk_job_args(const wk_job *job) { return job->env.args; }

void wk_job_flush(wk_job *job)
{
    if(!job->log_pending)
        return;
    wh_err err;
    int n = job->log_pending;
    job->log_pending = 0;
    if(wh_redis_drain(job->redis, n, &err) != WH_OK && !job->log_failed) {
        /* Logs are best effort: a lost line must not fail or wedge the job. */
        job->log_failed = true;
        wh_log(WH_LOG_WARN, job->env.id, "job log lines lost", "error", err.msg);
    }
}

void wk_job_log(wk_job *job, wk_stream s, const char *line, size_t len)
{
    static const char *const stream_names[] = {"out", "err", "sys"};
    char maxlen[16];
    if(len && line[len - 1] == '\n')
        len--;
    if(len > WK_LOG_LINE_MAX)
        len = wh_utf8_cut(line, len, WK_LOG_LINE_MAX);
    snprintf(maxlen, sizeof(maxlen), "%d", job->cfg->log_max_lines);
    const char *argv[] = {"XADD", job->logkey, "MAXLEN", "~", maxlen, "*", "s", stream_names[s], "l", line};
    size_t lens[10];
    for(int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    lens[9] = len;
    wh_err err;
    if(!job->logged) { /* finish.lua expires the stream of a job flagged so */
        const char *flag[] = {"HSET", job->key, "log", "1"};
        if(wh_redis_append(job->redis, 4, flag, NULL, &err) != WH_OK)
            return;
        job->logged = true;
        job->log_pending++;
    }
    if(wh_redis_append(job->redis, 10, argv, lens, &err) != WH_OK)
        return;
    if(++job->log_pending >= LOG_BATCH)
        wk_job_flush(job);
}

void wk_job_logf(wk_job *job, wk_stream s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if(n < 0)
        return;
    wk_job_log(job, s, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void wk_job_progress(wk_job *job, int pct, const char *step)
{
    char p[8];
    snprintf(p, sizeof(p), "%d", pct < 0 ? 0 : pct > 100 ? 100 : pct);
    wk_job_flush(job);
    const char *argv[] = {"HSET", job->key, "progress", p, "step", step ? step : ""};
    wh_err err;
    /* Progress is advisory: a failed write is not worth failing the job. */
    if(wh_redis_cmdv(job->redis, NULL, &err, 6, argv) != WH_OK)
        wh_log(WH_LOG_DEBUG, job->env.id, "progress write failed", "error", err.msg);
}

void wk_job_set_result(wk_job *job, wh_json *v)
{
    wh_json_free(job->result);
    job->result = v;
}

void wk_job_set_ttl(wk_job *job, int64_t ttl_s)
{
    job->ttl_s = ttl_s > 0 ? ttl_s : 0;
}

wk_run wk_job_fail(wk_job *job, wh_code code, const char *custom, bool transient, const char *fmt, ...)
{
    job->err.code = code;
    snprintf(job->err.custom, sizeof(job->err.custom), "%s", custom ? custom : "");
    job->err.field[0] = '\0';
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = wh_msg_vformat(job->err.msg, sizeof(job->err.msg), fmt, ap);
    va_end(ap);
    if(n >= (int)sizeof(job->err.msg)) {
        /* error_message keeps WH_ERR_MSG_MAX bytes: the whole text goes to
         * the job's log, where a line holds up to WK_LOG_LINE_MAX. */
        char *full = malloc((size_t)n + 1);
        if(full) {
            vsnprintf(full, (size_t)n + 1, fmt, again);
            wk_job_logf(job, WK_SYS, "error message cut at %d of %d bytes; in full:", WH_ERR_MSG_MAX, n);
            wk_job_log(job, WK_SYS, full, (size_t)n);
            free(full);
        }
    }
    va_end(again);
    job->transient = transient;
    return WK_RUN_FAIL;
}

wk_run wk_job_fail_err(wk_job *job, wh_code rc, const wh_err *err)
{
    if(rc == WH_E_INTERRUPTED || wk_job_interrupted(job))
        return WK_RUN_INTERRUPTED;
    const char *custom = err && err->custom[0] ? err->custom : NULL;
    return wk_job_fail(job, rc, custom, wh_code_transient(rc), "%s", err ? err->msg : wh_code_name(rc));
}

bool wk_job_interrupted(const wk_job *job)
{
    return wk_job_stop_reason(job) != WK_STOP_NONE;
}

bool wk_job_sleep(wk_job *job, int64_t ms)
{
    int64_t left = wk_job_remaining_ms(job);
    if(left < ms) {
        /* Sleep past the deadline (ms are rounded down), so the stop reason
         * reads as the timeout. */
        wk_halt_sleep(job->halt, left + 1, &job->cancel);
        while(!wk_job_interrupted(job))
            wk_halt_sleep(job->halt, 1, &job->cancel);
        return true;
    }
    return wk_halt_sleep(job->halt, ms, &job->cancel) || wk_job_interrupted(job);
}

int64_t wk_job_remaining_ms(const wk_job *job)
{
    if(!job->deadline_us)
        return INT64_MAX;
    int64_t left = (job->deadline_us - wh_mono_us()) / 1000;
    return left > 0 ? left : 0;
}

wk_stop wk_job_stop_reason(const wk_job *job)
{
    if(wk_halt_interrupted(job->halt))
        return WK_STOP_SHUTDOWN;
    if(atomic_load(&job->cancel))
        return WK_STOP_CANCEL;
    if(job->deadline_us && wh_mono_us() >= job->deadline_us)
        return WK_STOP_TIMEOUT;
    return WK_STOP_NONE;
}

const wh_cfg *wk_job_cfg(const wk_job *job) { return job->cfg; }
const wh_inv_host *wk_job_host(const wk_job *job) { return job->host; }
wh_redis *wk_job_redis(wk_job *job) { return job->redis; }
const char *wk_job_prefix(const wk_job *job) { return job->cfg->redis_prefix; }
