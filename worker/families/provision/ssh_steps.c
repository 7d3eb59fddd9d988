/* ssh_steps: the step kinds of a recipe that run over SSH on the target:
 * exec and check (the catalogue's pv_cmd_build builds the line), upload
 * (SFTP, atomic), the lxc driver's actions, and wait_port / wait_http (a
 * TCP connect or an HTTP/1.0 GET made from the target through a
 * direct-tcpip channel).
 * The docker step is docker_step.c's; the table is steps.c's, the checks
 * the catalogue's (common/catalog/provision_recipe.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "drivers.h"
#include "wh_shq.h"
#include "wh_time.h"

wh_code pv_step_exec(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    char *line = NULL;
    wh_code r = pv_cmd_build(st, true, rc->vars, rc->field, &line, err);
    if(r)
        return r;
    int64_t t = wh_args_int(st, "timeout_s", rc->rollback ? PV_ROLLBACK_S : 0);
    pv_cmd cmd = {.command = line, .timeout_ms = t * 1000, .log = true, .rollback = rc->rollback};
    cmd.stdin_data = wh_args_str(st, wh_mp_map_get(st, "script") ? "script" : "stdin", "", &cmd.stdin_len);
    int code = -1;
    pv_tail tail = {0};
    r = pv_exec(rc->job, &cmd, &code, &tail, err);
    free(line);
    if(r || code == 0)
        return r;
    size_t mn;
    const char *msg = wh_args_str(st, "message", NULL, &mn);
    char last[PV_TAIL_LINES * (PV_TAIL_BYTES + 3) + 1];
    pv_tail_text(&tail, last, sizeof(last));
    if(msg)
        return wh_err_set(err, WH_E_COMMAND_FAILED, rc->field, "%s: %.*s (exit status %d)", rc->field, (int)mn, msg,
                          code);
    return wh_err_set(err, WH_E_COMMAND_FAILED, rc->field, "%s: exit status %d%s%s", rc->field, code,
                      last[0] ? ": " : "", last);
}

wh_code pv_step_upload(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    size_t n, pn;
    char *content = NULL, *path = NULL;
    const char *s = wh_args_str(st, "path", "", &n);
    wh_code r = pv_tpl_render(s, n, rc->vars, &path, &pn, rc->field, err);
    if(!r)
        r = pv_path_allowed(rc->job, path, rc->field, err);
    s = wh_args_str(st, "content", "", &n);
    if(!r)
        r = pv_tpl_render(s, n, rc->vars, &content, &n, rc->field, err);
    wh_ssh_put put = {.path = path, .data = content, .len = n, .mode = (int)wh_args_int(st, "mode", 0644),
                      .uid = -1, .gid = -1, .abort = NULL, .ud = rc->job};
    const char *own = wh_args_str(st, "owner", NULL, &n);
    if(!r && own)
        r = pv_owner_resolve(rc->job, own, n, rc->field, &put.uid, &put.gid, err);
    char sha[WH_SSH_SHA256_HEX];
    wh_ssh_conn *c = NULL;
    if(!r)
        r = pv_conn_get(rc->job, &c, err);
    if(!r)
        r = wh_ssh_upload(c, &put, sha, err);
    pv_conn_put(c);
    if(!r)
        wk_job_logf(rc->job, WK_SYS, "%s: uploaded %zu bytes to %s (sha256 %s)", rc->field, put.len, path, sha);
    free(path);
    free(content);
    return r;
}

/* An lxc action through the lxc driver, on the host's lxc_path. Strings are
 * taken as given (container names are checked; argv is quoted like any). */
wh_code pv_step_lxc(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    char name[65], tmpl[65];
    size_t n;
    const char *s = wh_args_str(st, "container", "", &n);
    snprintf(name, sizeof(name), "%.*s", (int)n, s);
    s = wh_args_str(st, "template", "", &n);
    snprintf(tmpl, sizeof(tmpl), "%.*s", (int)n, s);
    const char *cmd[48];
    char *owned[48] = {0};
    const wh_mp_obj *argv = wh_mp_map_get(st, "argv");
    int nc = 0;
    wh_code r = WH_OK;
    for(uint32_t i = 0; !r && argv && i < wh_mp_size(argv) && i < 48; i++) {
        wh_mp_str(wh_mp_arr_at(argv, i), &s, &n);
        r = pv_tpl_render(s, n, rc->vars, &owned[nc], &n, rc->field, err);
        cmd[nc] = owned[nc] ? owned[nc] : "";
        nc++;
    }
    pv_action act = PV_EXEC;
    const char *aname = "";
    pv_lxc_action(st, &act, &aname);
    pv_drv_vals v = {.lxc_path = wk_job_host(rc->job)->lxc_path, .name = name, .template_ = tmpl, .cmd = cmd,
                     .ncmd = nc};
    pv_drv_line line = {.n = 0};
    if(!r && pv_drv_argv(pv_drv_find("lxc", 3), act, &v, &line))
        r = wh_err_set(err, WH_E_BAD_ARGS, rc->field, "%s: too many arguments", rc->field);
    wh_shq_str words[PV_DRV_ARGV_MAX];
    for(int i = 0; i < line.n; i++)
        words[i] = (wh_shq_str){line.v[i], strlen(line.v[i])};
    wh_shq_cmd c = {words, line.n, NULL, NULL, NULL, 0};
    char *text = NULL;
    if(!r)
        r = wh_shq_build(&c, &text, err);
    for(int i = 0; i < nc; i++)
        free(owned[i]);
    int64_t t = wh_args_int(st, "timeout_s", rc->rollback ? PV_ROLLBACK_S : 0);
    pv_cmd pc = {.command = text, .timeout_ms = t * 1000, .log = true, .rollback = rc->rollback};
    int code = -1;
    pv_tail tail = {0};
    if(!r)
        r = pv_exec(rc->job, &pc, &code, &tail, err);
    free(text);
    if(!r && code != 0) {
        char last[PV_TAIL_LINES * (PV_TAIL_BYTES + 3) + 1];
        pv_tail_text(&tail, last, sizeof(last));
        r = wh_err_set(err, WH_E_COMMAND_FAILED, rc->field, "%s: lxc %s %s: exit status %d%s%s", rc->field,
                       aname, name, code, last[0] ? ": " : "", last);
    }
    return r;
}

/* One probe: connect from the target; for HTTP, GET and read the status. */
static wh_code probe(pv_step_ctx *rc, const wh_mp_obj *st, const char *host, int port, int *status, wh_err *err)
{
    wh_ssh_conn *c = NULL;
    wh_ssh_chan *ch = NULL;
    wh_code r = pv_conn_get(rc->job, &c, err);
    if(!r)
        r = wh_ssh_chan_open_tcp(c, host, port, &ch, err);
    if(!r && wh_mp_str_eq(wh_mp_map_get(st, "kind"), "wait_http")) {
        size_t pn;
        const char *path = wh_args_str(st, "path", "/", &pn);
        char req[1400];
        int n = snprintf(req, sizeof(req), "GET %.*s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", (int)pn, path,
                         host);
        r = wh_ssh_chan_write(ch, req, (size_t)n, err);
        char buf[64] = {0};
        size_t got = 0, have = 0;
        bool eof = false;
        int64_t until = wh_mono_ms() + 5000;
        while(!r && !eof && have < 12 && wh_mono_ms() < until) {
            r = wh_ssh_chan_read(ch, 1, buf + have, sizeof(buf) - 1 - have, 100, &got, &eof, err);
            have += got;
        }
        *status = have >= 12 && memcmp(buf, "HTTP/1.", 7) == 0 ? (int)strtol(buf + 9, NULL, 10) : 0;
    }
    wh_ssh_chan_close(ch);
    pv_conn_put(c);
    return r;
}

wh_code pv_step_wait(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    size_t hn;
    const char *h = wh_args_str(st, "host", "127.0.0.1", &hn);
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)hn, h);
    int port = (int)wh_args_int(st, "port", 0), want = (int)wh_args_int(st, "status", 200), status = 0;
    int64_t deadline = wh_mono_ms() + wh_args_int(st, "timeout_s", 60) * 1000;
    for(;;) {
        wh_code r = probe(rc, st, host, port, &status, err);
        bool http = wh_mp_str_eq(wh_mp_map_get(st, "kind"), "wait_http");
        if(!r && (!http || status == want))
            return WH_OK;
        if(r && r != WH_E_UNREACHABLE)
            return r;
        if(wh_mono_ms() >= deadline)
            return http && !r ? wh_err_set(err, WH_E_TIMEOUT, rc->field, "%s: %s:%d answered %d, not %d", rc->field,
                                           host, port, status, want)
                              : wh_err_set(err, WH_E_TIMEOUT, rc->field, "%s: %s:%d not reachable from the host",
                                           rc->field, host, port);
        if(rc->rollback)
            wh_sleep_ms(250);
        if(pv_stop(rc->job, rc->rollback) || (!rc->rollback && wk_job_sleep(rc->job, 250)))
            return wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
    }
}

