/* ssh_pool: the provision family's use of the SSH pool: one pool per worker
 * process, commands run with their output streamed into the job log; and
 * the helpers every provision module shares (pv_stop,
 * pv_path_allowed). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "wh_shq.h"
#include "wh_time.h"

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static wh_ssh_pool *pool;

static void pool_make(void)
{
    /* Up to 8 idle sessions per host: enough for a worker's job threads to
     * run commands on one host in parallel without reconnecting. */
    pool = wh_ssh_pool_new(8);
}

wh_ssh_pool *pv_pool(void)
{
    pthread_once(&pool_once, pool_make);
    return pool;
}

bool pv_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

wh_code pv_conn_get(wk_job *job, wh_ssh_conn **out, wh_err *err)
{
    wh_ssh_pool *p = pv_pool();
    if(!p)
        return wh_err_set(err, WH_E_NOMEM, NULL, "cannot create the SSH pool");
    return wh_ssh_pool_get(p, wk_job_host(job), out, err);
}

void pv_conn_put(wh_ssh_conn *c)
{
    wh_ssh_pool_put(pv_pool(), c);
}

void pv_tail_text(const pv_tail *t, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for(int i = 0; i < t->count; i++) {
        int k = (t->next - t->count + i + PV_TAIL_LINES) % PV_TAIL_LINES;
        int n = snprintf(out + o, cap - o, "%s%s", i ? " | " : "", t->line[k]);
        if(n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
}

typedef struct line_ctx {
    wk_job *job;
    pv_tail *tail;
    bool log;
    int pending;           /* lines logged since the last flush */
    int64_t flushed_ms;    /* monotonic time of the last flush */
    bool rollback;
} line_ctx;

static void on_line(void *ud, int fd, const char *line, size_t len)
{
    line_ctx *lc = ud;
    if(lc->log) {
        wk_job_log(lc->job, fd == 2 ? WK_ERR : WK_OUT, line, len);
        lc->pending++;
    }
    if(lc->tail)
        pv_tail_push(lc->tail, line, len);
}

void pv_tail_push(pv_tail *t, const char *line, size_t len)
{
    if(!len)
        return;
    size_t n = len > PV_TAIL_BYTES ? PV_TAIL_BYTES : len;
    memcpy(t->line[t->next], line, n);
    t->line[t->next][n] = '\0';
    t->next = (t->next + 1) % PV_TAIL_LINES;
    if(t->count < PV_TAIL_LINES)
        t->count++;
}

/* Polled about every 100 ms while a command runs: also the moment to send
 * pipelined log lines, so `wharf logs -f` shows output as it comes (at most
 * ~5 flushes a second, whatever the output rate). */
bool pv_stop(wk_job *job, bool rollback)
{
    return rollback ? wk_job_stop_reason(job) == WK_STOP_SHUTDOWN : wk_job_interrupted(job);
}

static bool abort_ctx(void *ud)
{
    line_ctx *lc = ud;
    int64_t now = wh_mono_ms();
    if(lc->pending && now - lc->flushed_ms >= 200) {
        wk_job_flush(lc->job);
        lc->pending = 0;
        lc->flushed_ms = now;
    }
    return pv_stop(lc->job, lc->rollback);
}

wh_code pv_exec(wk_job *job, const pv_cmd *cmd, int *exit_code, pv_tail *tail, wh_err *err)
{
    line_ctx lc = {job, tail, cmd->log, 0, wh_mono_ms(), cmd->rollback};
    int64_t left = cmd->rollback ? INT64_MAX : wk_job_remaining_ms(job);
    int64_t t = cmd->timeout_ms;
    wh_ssh_exec_opts o = {.command = cmd->command, .stdin_data = cmd->stdin_data, .stdin_len = cmd->stdin_len,
                          .timeout_ms = t > 0 && t < left ? t : 0, .abort = abort_ctx, .line = on_line, .ud = &lc};
    for(int attempt = 0;; attempt++) {
        wh_ssh_conn *c = NULL;
        wh_code rc = pv_conn_get(job, &c, err);
        if(rc)
            return rc;
        bool reused = wh_ssh_conn_reused(c);
        wh_ssh_exec_res res;
        rc = wh_ssh_exec(c, &o, &res, err);
        pv_conn_put(c);
        if(rc == WH_E_UNREACHABLE && !res.started && reused && attempt == 0)
            continue; /* a pooled session had died while idle */
        if(!rc)
            *exit_code = res.exit_code;
        return rc;
    }
}

wh_code pv_path_allowed(wk_job *job, const char *path, const char *field, wh_err *err)
{
    const wh_inv_host *h = wk_job_host(job);
    if(!pv_path_clean(path, strlen(path)) || !wh_inv_path_allowed(h, path))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: %s is outside the roots of host.%s", field, path, h->name);
    return WH_OK;
}

/* Run a driver's command line for `act` over SSH (the line is quoted word
 * by word by wh_shq, so every value stays one word). */
wh_code pv_ct_drv_run(wk_job *job, const pv_driver *d, pv_action act, const pv_drv_vals *v, int *exit_code,
                      wh_err *err)
{
    pv_drv_line line;
    if(pv_drv_argv(d, act, v, &line))
        return wh_err_set(err, WH_E_INTERNAL, NULL, "driver has no command for action %d", (int)act);
    wh_shq_str argv[PV_DRV_ARGV_MAX];
    for(int i = 0; i < line.n; i++)
        argv[i] = (wh_shq_str){line.v[i], strlen(line.v[i])};
    wh_shq_cmd c = {argv, line.n, NULL, NULL, NULL, 0};
    char *cmd = NULL;
    wh_code rc = wh_shq_build(&c, &cmd, err);
    pv_cmd pc = {.command = cmd, .timeout_ms = 120000, .log = true, .rollback = false};
    if(!rc)
        rc = pv_exec(job, &pc, exit_code, NULL, err);
    free(cmd);
    return rc;
}
