/* docker_driver: the docker driver (see docker_driver.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_driver.h"
#include "stream_demux.h"
#include "engine.h"
#include "wh_id.h"
#include "wh_time.h"

#define PV_DOCK_WAIT_MS 30000

/* The command of a provisioned container: sleep until stopped. */
static const char *const keep_alive[] = {"sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"};

typedef struct dock_ctx {
    wk_job *job;
    bool rollback;
    pv_tail *tail;
    rt_demux dm;
    rt_lines ln;
    int pending;
    int64_t flushed_ms;
} dock_ctx;

static bool dock_abort(void *ud)
{
    dock_ctx *d = ud;
    int64_t now = wh_mono_ms();
    if(d->pending && now - d->flushed_ms >= 200) {
        wk_job_flush(d->job);
        d->pending = 0;
        d->flushed_ms = now;
    }
    return pv_stop(d->job, d->rollback);
}

static wh_code open_conn(dock_ctx *d, rt_conn *c, wh_err *err)
{
    return rt_conn_open(c, wk_job_host(d->job), dock_abort, d, err);
}

/* ---- one file through PUT /archive ------------------------------------------ */

typedef struct tar_src {
    const unsigned char *data;
    size_t len, off;
} tar_src;

static wh_code tar_read(void *ud, char *buf, size_t cap, size_t *n)
{
    tar_src *t = ud;
    size_t k = t->len - t->off < cap ? t->len - t->off : cap;
    memcpy(buf, t->data + t->off, k);
    t->off += k;
    *n = k;
    return WH_OK;
}

/* A ustar archive of one regular file: header, data padded to 512, two
 * zero blocks. NULL when out of memory. */
static unsigned char *tar_one(const char *base, const void *data, size_t len, int mode, size_t *out_len)
{
    size_t body = (len + 511) / 512 * 512, total = 512 + body + 1024;
    unsigned char *t = calloc(1, total);
    if(!t)
        return NULL;
    char *h = (char *)t;
    snprintf(h, 100, "%s", base);
    snprintf(h + 100, 8, "%07o", (unsigned)mode & 07777);
    snprintf(h + 108, 8, "%07o", 0u);
    snprintf(h + 116, 8, "%07o", 0u);
    snprintf(h + 124, 12, "%011" PRIo64, (uint64_t)len & 077777777777u);
    snprintf(h + 136, 12, "%011" PRIo64, ((uint64_t)wh_now_ms() / 1000) & 077777777777u);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for(int i = 0; i < 512; i++)
        sum += t[i];
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    if(len)
        memcpy(t + 512, data, len);
    *out_len = total;
    return t;
}

static wh_code put_file(rt_conn *c, const char *name, const char *dir, const char *base, const void *data,
                        size_t len, int mode, wh_err *err)
{
    if(strlen(base) > 99 || strchr(base, '/'))
        return wh_err_set(err, WH_E_INTERNAL, NULL, "archive member name %s", base);
    size_t tl;
    unsigned char *tar = tar_one(base, data, len, mode, &tl);
    if(!tar)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    char path[RT_PATH_MAX], q[1024];
    size_t o = 0;
    for(const char *p = dir; *p && o + 4 < sizeof(q); p++) {
        if(*p == '/')
            o += (size_t)snprintf(q + o, sizeof(q) - o, "%%2F");
        else
            q[o++] = *p;
    }
    q[o] = '\0';
    snprintf(path, sizeof(path), "/containers/%s/archive?path=%s", name, q);
    tar_src src = {tar, tl, 0};
    long st = 0;
    wh_code rc = rt_request_upload(c, "PUT", path, "application/x-tar", tar_read, &src, &st, err);
    /* the tar held the data (maybe a password): wipe it before freeing */
    memset(tar, 0, tl);
    free(tar);
    return rc ? rc : rt_engine_status(st, NULL, "archive", err);
}

wh_code pv_dock_put(wk_job *job, const char *name, const char *dir, const char *base, const void *data, size_t len,
                    int mode, bool rollback, wh_err *err)
{
    dock_ctx d = {.job = job, .rollback = rollback, .flushed_ms = wh_mono_ms()};
    rt_conn c;
    wh_code rc = open_conn(&d, &c, err);
    return rc ? rc : put_file(&c, name, dir, base, data, len, mode, err);
}

/* ---- exec ---------------------------------------------------------------------- */

static wh_code on_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)cut;
    dock_ctx *d = ud;
    wk_job_log(d->job, s == RT_STDERR ? WK_ERR : WK_OUT, line, len);
    d->pending++;
    if(d->tail)
        pv_tail_push(d->tail, line, len);
    return WH_OK;
}

static wh_code on_data(void *ud, const char *data, size_t len)
{
    dock_ctx *d = ud;
    return rt_demux_feed(&d->dm, data, len, NULL);
}

static wh_code do_exec(dock_ctx *d, rt_conn *c, const pv_dock_op *op, int *exit_code, wh_err *err)
{
    char path[RT_PATH_MAX], id[80], tmp[40] = "";
    wh_code rc = WH_OK;
    if(op->stdin_data) {
        snprintf(tmp, sizeof(tmp), ".wharf-in-%016" PRIx64, wh_random_u64());
        rc = put_file(c, op->name, "/tmp", tmp, op->stdin_data, op->stdin_len, 0600, err);
        if(rc)
            return rc;
    }
    wh_json *body = wh_json_object(), *cmd = wh_json_array(), *ans = NULL;
    if(op->stdin_data) {
        char f[64];
        snprintf(f, sizeof(f), "/tmp/%s", tmp);
        wh_json_push(cmd, wh_json_str("sh"));
        wh_json_push(cmd, wh_json_str("-c"));
        wh_json_push(cmd, wh_json_str("exec <\"$1\" && rm -f \"$1\" && shift && exec \"$@\""));
        wh_json_push(cmd, wh_json_str("sh"));
        wh_json_push(cmd, wh_json_str(f));
    }
    for(int i = 0; i < op->argc; i++)
        wh_json_push(cmd, wh_json_str(op->argv[i]));
    wh_json_setc(body, "AttachStdout", wh_json_bool(true));
    wh_json_setc(body, "AttachStderr", wh_json_bool(true));
    wh_json_setc(body, "Cmd", cmd);
    snprintf(path, sizeof(path), "/containers/%s/exec", op->name);
    rc = rt_call(c, "POST", path, body, op->name, &ans, err);
    wh_json_free(body);
    size_t n = 0;
    const char *s = rc ? NULL : wh_json_strv(wh_json_get(ans, "Id"), &n);
    if(!rc && (!s || n >= sizeof(id)))
        rc = wh_err_set(err, WH_E_ENGINE, "", "exec: the engine answered without an Id");
    if(!rc)
        snprintf(id, sizeof(id), "%.*s", (int)n, s);
    wh_json_free(ans);
    if(rc)
        return rc;
    rt_demux_init(&d->dm, false, rt_lines_feed, &d->ln);
    rt_lines_init(&d->ln, on_line, d);
    wh_json *start = wh_json_object();
    wh_json_setc(start, "Detach", wh_json_bool(false));
    wh_json_setc(start, "Tty", wh_json_bool(false));
    snprintf(path, sizeof(path), "/exec/%s/start", id);
    int64_t left = op->rollback ? INT64_MAX : wk_job_remaining_ms(d->job), t = op->timeout_ms;
    long st = 0;
    rc = rt_request_stream(c, "POST", path, start, t > 0 && t < left ? (long)t : 0, on_data, d, &st, err);
    wh_json_free(start);
    rt_lines_flush(&d->ln);
    if(rc == WH_E_TIMEOUT)
        return wh_err_set(err, WH_E_TIMEOUT, NULL, "%s: the command ran longer than %lld ms", op->name,
                          (long long)t);
    if(!rc && st != 200)
        rc = rt_engine_status(st, NULL, "exec start", err);
    snprintf(path, sizeof(path), "/exec/%s/json", id);
    if(!rc)
        rc = rt_call(c, "GET", path, NULL, "exec", &ans, err);
    if(!rc) {
        *exit_code = (int)wh_json_intv(wh_json_get(ans, "ExitCode"));
        wh_json_free(ans);
    }
    return rc;
}

/* ---- the other actions ------------------------------------------------------------ */

static wh_code do_create(rt_conn *c, const pv_dock_op *op, wh_err *err)
{
    wh_json *b = wh_json_object(), *cmd = wh_json_array(), *labels = wh_json_object(), *hc = wh_json_object(),
            *rp = wh_json_object();
    for(int i = 0; i < 3; i++)
        wh_json_push(cmd, wh_json_str(keep_alive[i]));
    wh_json_setc(labels, "wharf.provision", wh_json_str(op->name));
    wh_json_setc(rp, "Name", wh_json_str("unless-stopped"));
    wh_json_setc(hc, "RestartPolicy", rp);
    wh_json_setc(b, "Image", wh_json_str(op->image));
    wh_json_setc(b, "Hostname", wh_json_str(op->name));
    wh_json_setc(b, "Cmd", cmd);
    wh_json_setc(b, "Labels", labels);
    wh_json_setc(b, "HostConfig", hc);
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/containers/create?name=%s", op->name);
    wh_code rc = rt_call(c, "POST", path, b, op->name, NULL, err);
    wh_json_free(b);
    return rc;
}

static wh_code do_wait(dock_ctx *d, rt_conn *c, const pv_dock_op *op, wh_err *err)
{
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/containers/%s/json", op->name);
    int64_t until = wh_mono_ms() + PV_DOCK_WAIT_MS;
    for(;;) {
        wh_json *ans = NULL;
        wh_code rc = rt_call(c, "GET", path, NULL, op->name, &ans, err);
        if(rc)
            return rc;
        bool up = wh_json_boolv(wh_json_get(wh_json_get(ans, "State"), "Running"));
        wh_json_free(ans);
        if(up)
            return WH_OK;
        if(wh_mono_ms() >= until)
            return wh_err_set(err, WH_E_TIMEOUT, NULL, "%s: not running after %d s", op->name,
                              PV_DOCK_WAIT_MS / 1000);
        if(pv_stop(d->job, d->rollback))
            return wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
        wh_sleep_ms(200);
    }
}

wh_code pv_dock_run(wk_job *job, const pv_dock_op *op, int *exit_code, pv_tail *tail, wh_err *err)
{
    dock_ctx *d = calloc(1, sizeof(*d)); /* line buffers: not on the stack */
    if(!d)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    *d = (dock_ctx){.job = job, .rollback = op->rollback, .tail = tail, .flushed_ms = wh_mono_ms()};
    *exit_code = 0;
    rt_conn c;
    char path[RT_PATH_MAX];
    long st = 0;
    wh_code rc = open_conn(d, &c, err);
    if(rc) {
        free(d);
        return rc;
    }
    switch(op->act) {
    case PV_CLONE:
        rc = do_create(&c, op, err);
        break;
    case PV_TAG:
        break;
    case PV_START:
        snprintf(path, sizeof(path), "/containers/%s/start", op->name);
        rc = rt_request(&c, "POST", path, NULL, &st, NULL, err);
        if(!rc && st != 304)
            rc = rt_engine_status(st, NULL, op->name, err);
        break;
    case PV_WAIT:
        rc = do_wait(d, &c, op, err);
        break;
    case PV_EXEC:
        rc = do_exec(d, &c, op, exit_code, err);
        break;
    case PV_STOP:
        snprintf(path, sizeof(path), "/containers/%s/stop?t=5", op->name);
        rc = rt_request(&c, "POST", path, NULL, &st, NULL, err);
        if(!rc && st != 304)
            rc = rt_engine_status(st, NULL, op->name, err);
        break;
    case PV_DESTROY:
        snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", op->name);
        rc = rt_request(&c, "DELETE", path, NULL, &st, NULL, err);
        if(!rc && st != 404)
            rc = rt_engine_status(st, NULL, op->name, err);
        break;
    case PV_EXISTS:
        if(op->name)
            snprintf(path, sizeof(path), "/containers/%s/json", op->name);
        else
            snprintf(path, sizeof(path), "/images/%s/json", op->image);
        rc = rt_request(&c, "GET", path, NULL, &st, NULL, err);
        if(!rc && st == 404)
            *exit_code = 1;
        else if(!rc)
            rc = rt_engine_status(st, NULL, op->name ? op->name : op->image, err);
        break;
    default:
        rc = wh_err_set(err, WH_E_INTERNAL, NULL, "docker driver: no action %d", (int)op->act);
    }
    if(d->pending)
        wk_job_flush(job);
    free(d);
    return rc;
}
