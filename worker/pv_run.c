/* pv_run: provision.run, a recipe of steps run in order on the target.
 *
 *   {steps: [step...], rollback: [step...]?, vars: {name: "text"}?}
 *   step = {kind, name?, rollback: step?, ...kind fields}
 *     exec      {argv | script, env?, cwd?, stdin?, timeout_s?}
 *     check     same as exec, plus message?: a failing check fails the job
 *               with that message
 *     upload    {path, content, mode?, owner?}: content is a {{var}} template
 *     wait_port {port, host?, timeout_s?}: a TCP connect from the target
 *     wait_http {port, host?, path?, status?, timeout_s?}: a GET from the target
 *     lxc       {action, container, template?, argv?, timeout_s?} (pv_drv.h)
 *     docker    {action, container, image?, argv?, stdin?, timeout_s?} on the
 *               target's Docker Engine (pv_dstep.c, pv_dock.h)
 *
 * Progress: before step i of n, `step` = "i/n name" and progress = 100*i/n.
 * Resume: after each step the number of completed steps is stored in
 * <prefix>pv:run:<job id> (expiring with the job), so a retried or
 * redelivered job starts after the last completed step. Rollback: when the
 * job ends without success (a permanent failure, its last attempt, a cancel
 * or a timeout) the `rollback` step of every completed step runs, newest
 * first, then the recipe's own `rollback` list; a rollback step that fails
 * is logged and the others still run. Shutdown rolls nothing back: the job
 * is requeued and resumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv.h"
#include "pv_drv.h"
#include "wh_shq.h"
#include "wh_text.h"
#include "wh_time.h"
#include "wk_exec.h"

#define PV_STEPS_MAX 256
#define PV_ROLLBACK_S 120 /* default limit of one rollback step, in seconds */

const wh_arg_spec pv_run_args[PV_RUN_NARGS] = {
    {"steps", WH_ARG_ARRAY, true, 1, PV_STEPS_MAX, NULL, NULL},
    {"rollback", WH_ARG_ARRAY, false, 0, PV_STEPS_MAX, NULL, NULL},
    {"vars", WH_ARG_MAP, false, 0, 256, NULL, NULL},
};

static bool host_ok(const char *s, size_t n)
{
    return n && n <= 253 && wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:");
}

#define COMMON {"kind", WH_ARG_STR, true, 1, 16, NULL, NULL}, {"name", WH_ARG_STR, false, 1, 128, NULL, NULL}, \
               {"rollback", WH_ARG_MAP, false, 1, 32, NULL, NULL}
#define CMD {"argv", WH_ARG_ARRAY, false, 1, 4096, NULL, NULL}, {"script", WH_ARG_STR, false, 1, 256 * 1024, NULL, NULL}, \
            {"env", WH_ARG_MAP, false, 0, 128, NULL, NULL}, {"cwd", WH_ARG_STR, false, 1, 512, NULL, NULL},             \
            {"stdin", WH_ARG_STR, false, 0, WH_SSH_STDIN_MAX, NULL, NULL},                                             \
            {"timeout_s", WH_ARG_INT, false, 1, 86400, NULL, NULL}
#define WAIT {"port", WH_ARG_INT, true, 1, 65535, NULL, NULL},                                  \
             {"host", WH_ARG_STR, false, 1, 253, host_ok, "a host name or IP address"},       \
             {"timeout_s", WH_ARG_INT, false, 1, 3600, NULL, NULL}

static const wh_arg_spec exec_spec[] = {COMMON, CMD};
static const wh_arg_spec check_spec[] = {COMMON, CMD, {"message", WH_ARG_STR, false, 1, 200, NULL, NULL}};
static const wh_arg_spec upload_spec[] = {
    COMMON,
    {"path", WH_ARG_STR, true, 2, WH_INV_PATH_MAX - 1, NULL, NULL},
    {"content", WH_ARG_STR, true, 0, PV_TPL_MAX, NULL, NULL},
    {"mode", WH_ARG_INT, false, 0, 07777, NULL, NULL},
    {"owner", WH_ARG_STR, false, 1, 65, pv_owner_ok, "user[:group], each a name or a number"},
};
static bool ct_name_ok(const char *s, size_t n)
{
    return n && wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") && s[0] != '-';
}
static const wh_arg_spec lxc_spec[] = {
    COMMON,
    {"action", WH_ARG_STR, true, 1, 16, NULL, NULL},
    {"container", WH_ARG_STR, true, 1, 64, ct_name_ok, "a container name"},
    {"template", WH_ARG_STR, false, 1, 64, ct_name_ok, "a container name"},
    {"argv", WH_ARG_ARRAY, false, 1, 48, NULL, NULL},
    {"timeout_s", WH_ARG_INT, false, 1, 86400, NULL, NULL},
};
static const wh_arg_spec docker_spec[] = {
    COMMON,
    {"action", WH_ARG_STR, true, 1, 16, NULL, NULL},
    {"container", WH_ARG_STR, true, 1, 64, ct_name_ok, "a container name"},
    {"image", WH_ARG_STR, false, 1, 255, NULL, NULL},
    {"argv", WH_ARG_ARRAY, false, 1, 48, NULL, NULL},
    {"stdin", WH_ARG_STR, false, 0, WH_SSH_STDIN_MAX, NULL, NULL},
    {"timeout_s", WH_ARG_INT, false, 1, 86400, NULL, NULL},
};
static const wh_arg_spec wait_port_spec[] = {COMMON, WAIT};
static const wh_arg_spec wait_http_spec[] = {
    COMMON, WAIT,
    {"path", WH_ARG_STR, false, 1, 1024, NULL, NULL},
    {"status", WH_ARG_INT, false, 100, 599, NULL, NULL},
};

typedef struct run_ctx {
    wk_job *job;
    const wh_mp_obj *vars;
    char field[48];     /* "args.steps[3]" */
    bool rollback;      /* running a rollback step */
} run_ctx;

typedef wh_code (*step_fn)(run_ctx *rc, const wh_mp_obj *step, wh_err *err);

static wh_code do_exec(run_ctx *rc, const wh_mp_obj *step, wh_err *err);
static wh_code do_upload(run_ctx *rc, const wh_mp_obj *step, wh_err *err);
static wh_code do_wait(run_ctx *rc, const wh_mp_obj *step, wh_err *err);
static wh_code do_lxc(run_ctx *rc, const wh_mp_obj *step, wh_err *err);
static wh_code do_docker(run_ctx *rc, const wh_mp_obj *step, wh_err *err);

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct step_kind {
    const char *kind;
    const wh_arg_spec *spec;
    int nspec;
    step_fn run;
} kinds[] = {
    {"exec", exec_spec, N(exec_spec), do_exec},
    {"check", check_spec, N(check_spec), do_exec},
    {"upload", upload_spec, N(upload_spec), do_upload},
    {"wait_port", wait_port_spec, N(wait_port_spec), do_wait},
    {"wait_http", wait_http_spec, N(wait_http_spec), do_wait},
    {"lxc", lxc_spec, N(lxc_spec), do_lxc},
    {"docker", docker_spec, N(docker_spec), do_docker},
};

/* lxc step actions and the driver action each maps to. */
static const struct {
    const char *name;
    pv_action act;
} lxc_actions[] = {{"clone", PV_CLONE}, {"start", PV_START}, {"wait", PV_WAIT}, {"exec", PV_EXEC},
                   {"stop", PV_STOP},   {"destroy", PV_DESTROY}};

static int lxc_action(const wh_mp_obj *st)
{
    for(int i = 0; i < (int)(sizeof(lxc_actions) / sizeof(lxc_actions[0])); i++)
        if(wh_mp_str_eq(wh_mp_map_get(st, "action"), lxc_actions[i].name))
            return i;
    return -1;
}

static const struct step_kind *kind_of(const wh_mp_obj *step)
{
    for(int i = 0; i < N(kinds); i++)
        if(wh_mp_str_eq(wh_mp_map_get(step, "kind"), kinds[i].kind))
            return &kinds[i];
    return NULL;
}

/* Re-point an "args.x: why" error from wh_args at the step. */
static wh_code step_err(wh_err *err, const char *fp)
{
    char msg[sizeof(err->msg)];
    const char *rest = strncmp(err->msg, "args", 4) == 0 ? err->msg + 4 : err->msg;
    snprintf(msg, sizeof(msg), "%s%s", fp, rest);
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    snprintf(err->field, sizeof(err->field), "%s", fp);
    return err->code;
}

/* Validate one step (and its rollback step) without running it. */
static wh_code check_step(const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, int depth, wh_err *err)
{
    if(wh_mp_kind_of(st) != WH_MP_MAP)
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s: must be a map", fp);
    const struct step_kind *k = kind_of(st);
    if(!k)
        return wh_err_set(err, WH_E_BAD_ARGS, fp,
                          "%s.kind: must be one of exec, check, upload, wait_port, wait_http, lxc, docker", fp);
    if(wh_args_validate(st, k->spec, k->nspec, false, err))
        return step_err(err, fp);
    wh_code rc = WH_OK;
    char *out = NULL;
    size_t n;
    if(k->run == do_exec) {
        if(wh_mp_map_get(st, "script") && wh_mp_map_get(st, "stdin"))
            return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.stdin: a script is sent on stdin; not both", fp);
        rc = pv_cmd_build(st, true, vars, fp, &out, err);
    } else if(k->run == do_lxc) {
        int a = lxc_action(st);
        if(a < 0)
            return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.action: must be clone, start, wait, exec, stop or destroy", fp);
        if((lxc_actions[a].act == PV_EXEC) != (wh_mp_map_get(st, "argv") != NULL))
            return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.argv: required by exec and only there", fp);
        if(lxc_actions[a].act == PV_CLONE && !wh_mp_map_get(st, "template"))
            return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.template: required by clone", fp);
        const wh_mp_obj *argv = wh_mp_map_get(st, "argv");
        for(uint32_t i = 0; !rc && argv && i < wh_mp_size(argv); i++) {
            const char *s;
            if(!wh_mp_str(wh_mp_arr_at(argv, i), &s, &n))
                return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.argv: every element must be a string", fp);
            rc = pv_tpl_render(s, n, vars, &out, &n, fp, err);
            free(out);
            out = NULL;
        }
    } else if(k->run == do_docker) {
        rc = pv_dstep_check(st, vars, fp, err);
    } else if(k->run == do_upload) {
        const char *s = wh_args_str(st, "content", "", &n);
        rc = pv_tpl_render(s, n, vars, &out, &n, fp, err);
    }
    free(out);
    const wh_mp_obj *rb = wh_mp_map_get(st, "rollback");
    if(!rc && rb) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%s.rollback", fp);
        if(depth > 0)
            return wh_err_set(err, WH_E_BAD_ARGS, sub, "%s: a rollback step has no rollback of its own", sub);
        rc = check_step(rb, vars, sub, depth + 1, err);
    }
    return rc;
}

wh_code pv_run_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    const wh_mp_obj *vars = wh_mp_map_get(args, "vars");
    if(wh_mp_size(wh_mp_map_get(args, "steps")) == 0)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.steps", "args.steps: needs at least one step");
    for(uint32_t i = 0; vars && i < wh_mp_size(vars); i++)
        if(wh_mp_kind_of(wh_mp_map_val(vars, i)) != WH_MP_STR)
            return wh_err_set(err, WH_E_BAD_ARGS, "args.vars", "args.vars: values must be strings");
    const char *lists[] = {"steps", "rollback"};
    for(int l = 0; l < 2; l++) {
        const wh_mp_obj *a = wh_mp_map_get(args, lists[l]);
        for(uint32_t i = 0; a && i < wh_mp_size(a); i++) {
            char fp[48];
            snprintf(fp, sizeof(fp), "args.%s[%u]", lists[l], i);
            wh_code rc = check_step(wh_mp_arr_at(a, i), vars, fp, l, err);
            if(rc)
                return rc;
        }
    }
    return WH_OK;
}

/* ---- steps ------------------------------------------------------------------ */

static wh_code do_exec(run_ctx *rc, const wh_mp_obj *st, wh_err *err)
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

static wh_code do_upload(run_ctx *rc, const wh_mp_obj *st, wh_err *err)
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
static wh_code do_lxc(run_ctx *rc, const wh_mp_obj *st, wh_err *err)
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
    pv_drv_vals v = {.lxc_path = wk_job_host(rc->job)->lxc_path, .name = name, .template_ = tmpl, .cmd = cmd,
                     .ncmd = nc};
    pv_drv_line line = {.n = 0};
    if(!r && pv_drv_argv(pv_drv_find("lxc", 3), lxc_actions[lxc_action(st)].act, &v, &line))
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
                       lxc_actions[lxc_action(st)].name, name, code, last[0] ? ": " : "", last);
    }
    return r;
}

static wh_code do_docker(run_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    return pv_dstep_run(rc->job, st, rc->vars, rc->field, rc->rollback, rc->rollback ? PV_ROLLBACK_S : 0, err);
}

/* One probe: connect from the target; for HTTP, GET and read the status. */
static wh_code probe(run_ctx *rc, const wh_mp_obj *st, const char *host, int port, int *status, wh_err *err)
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

static wh_code do_wait(run_ctx *rc, const wh_mp_obj *st, wh_err *err)
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

/* ---- the recipe ---------------------------------------------------------------- */

static void record_key(wk_job *job, char *out, size_t cap)
{
    snprintf(out, cap, "%spv:run:%s", wk_job_prefix(job), wk_job_env(job)->id);
}

/* Completed steps recorded by an earlier attempt (0 when none). */
static int record_get(wk_job *job)
{
    char key[320];
    record_key(job, key, sizeof(key));
    wk_job_flush(job);
    const char *argv[] = {"GET", key};
    wh_redis_reply *rep = NULL;
    wh_err err;
    int n = 0;
    if(wh_redis_cmdv(wk_job_redis(job), &rep, &err, 2, argv) == WH_OK && wh_redis_reply_kind(rep) == WH_REDIS_STRING) {
        size_t len;
        const char *s = wh_redis_reply_str(rep, &len);
        char buf[16];
        snprintf(buf, sizeof(buf), "%.*s", (int)(len < 15 ? len : 15), s);
        n = (int)strtol(buf, NULL, 10);
    }
    wh_redis_reply_free(rep);
    return n;
}

/* Store `done` (or delete the record when done < 0). */
static wh_code record_set(wk_job *job, int done, wh_err *err)
{
    char key[320], val[16], ttl[24];
    record_key(job, key, sizeof(key));
    snprintf(val, sizeof(val), "%d", done);
    int64_t t = wk_job_cfg(job)->job_ttl_s;
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(t > 0 ? t : 604800));
    wk_job_flush(job);
    const char *set[] = {"SET", key, val, "EX", ttl}, *del[] = {"DEL", key};
    return done < 0 ? wh_redis_cmdv(wk_job_redis(job), NULL, err, 2, del)
                    : wh_redis_cmdv(wk_job_redis(job), NULL, err, 5, set);
}

/* True when this attempt is the job's last (read from its hash). */
static bool last_attempt(wk_job *job)
{
    char key[320];
    snprintf(key, sizeof(key), "%sjob:%s", wk_job_prefix(job), wk_job_env(job)->id);
    const char *argv[] = {"HMGET", key, "attempt", "max_attempts"};
    wh_redis_reply *rep = NULL;
    wh_err err;
    long v[2] = {1, 1};
    if(wh_redis_cmdv(wk_job_redis(job), &rep, &err, 4, argv) == WH_OK && wh_redis_reply_len(rep) == 2)
        for(size_t i = 0; i < 2; i++) {
            size_t n;
            const char *s = wh_redis_reply_str(wh_redis_reply_at(rep, i), &n);
            char buf[16];
            snprintf(buf, sizeof(buf), "%.*s", s ? (int)(n < 15 ? n : 15) : 0, s ? s : "");
            v[i] = strtol(buf, NULL, 10);
        }
    wh_redis_reply_free(rep);
    return v[0] >= v[1];
}

static wh_code run_one(run_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    const struct step_kind *k = kind_of(st);
    return k ? k->run(rc, st, err) : wh_err_set(err, WH_E_INTERNAL, rc->field, "unchecked step");
}

/* Undo steps [0, done) newest first, then the recipe's rollback list.
 * Failures are logged; every rollback step is tried. */
static void roll_back(wk_job *job, const pv_recipe *rp, int done)
{
    const wh_mp_obj *steps = rp->steps, *extra = rp->rollback;
    run_ctx rc = {job, rp->vars, "", true};
    int n = extra ? (int)wh_mp_size(extra) : 0;
    wk_job_logf(job, WK_SYS, "rolling back %d completed step(s)", done);
    for(int i = done + n - 1; i >= 0 && !pv_stop(job, true); i--) {
        const wh_mp_obj *st = i >= done ? wh_mp_arr_at(extra, (uint32_t)(n - 1 - (i - done)))
                                        : wh_mp_map_get(wh_mp_arr_at(steps, (uint32_t)i), "rollback");
        if(!st)
            continue;
        if(i >= done)
            snprintf(rc.field, sizeof(rc.field), "args.rollback[%d]", n - 1 - (i - done));
        else
            snprintf(rc.field, sizeof(rc.field), "%s[%d].rollback", rp->field, i);
        wk_job_progress(job, 100 * i / (done + n ? done + n : 1), rc.field);
        wh_err err;
        if(run_one(&rc, st, &err))
            wk_job_logf(job, WK_SYS, "rollback %s failed: %s: %s", rc.field, wh_err_name(&err), err.msg);
    }
}

static void set_step(wk_job *job, int i, int n, const wh_mp_obj *st)
{
    size_t nn;
    const char *name = wh_args_str(st, "name", NULL, &nn);
    char text[200];
    if(name)
        snprintf(text, sizeof(text), "%d/%d %.*s", i + 1, n, (int)nn, name);
    else
        snprintf(text, sizeof(text), "%d/%d", i + 1, n);
    wk_job_progress(job, 100 * i / n, text);
}

wk_run pv_recipe_run(wk_job *job, const pv_recipe *rp, bool *ended)
{
    const wh_mp_obj *steps = rp->steps;
    int n = (int)wh_mp_size(steps), done = record_get(job);
    *ended = true;
    if(done > 0)
        wk_job_logf(job, WK_SYS, "resuming after %d completed step(s)", done);
    run_ctx rc = {job, rp->vars, "", false};
    wh_err err;
    wh_code r = WH_OK;
    if(rp->rerun >= 0 && rp->rerun < done) {
        const wh_mp_obj *st = wh_mp_arr_at(steps, (uint32_t)rp->rerun);
        snprintf(rc.field, sizeof(rc.field), "%s[%d]", rp->field, rp->rerun);
        wk_job_logf(job, WK_SYS, "running %s again", rc.field);
        r = run_one(&rc, st, &err);
    }
    for(int i = done; i < n && !r; i++) {
        const wh_mp_obj *st = wh_mp_arr_at(steps, (uint32_t)i);
        snprintf(rc.field, sizeof(rc.field), "%s[%d]", rp->field, i);
        set_step(job, i, n, st);
        r = run_one(&rc, st, &err);
        if(!r && !(r = record_set(job, i + 1, &err)))
            done = i + 1;
    }
    if(!r) {
        record_set(job, -1, &err);
        return WK_RUN_OK;
    }
    wk_stop why = wk_job_stop_reason(job);
    if(why == WK_STOP_SHUTDOWN) {
        *ended = false;
        return WK_RUN_INTERRUPTED; /* requeued: the next run resumes */
    }
    bool retry = (r == WH_E_UNREACHABLE || r == WH_E_REDIS) && why == WK_STOP_NONE && !last_attempt(job);
    if(retry) {
        *ended = false;
    } else {
        roll_back(job, rp, done);
        record_set(job, -1, &err);
    }
    if(why != WK_STOP_NONE)
        return WK_RUN_INTERRUPTED; /* the pipe records cancelled or timeout */
    return wk_job_fail(job, r, err.custom[0] ? err.custom : NULL, retry, "%s", err.msg);
}

wk_run pv_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    pv_recipe rp = {wh_mp_map_get(a, "steps"), wh_mp_map_get(a, "rollback"), wh_mp_map_get(a, "vars"), "args.steps",
                    -1};
    bool ended;
    wk_run r = pv_recipe_run(job, &rp, &ended);
    if(r == WK_RUN_OK) {
        wk_job_progress(job, 100, "done");
        wh_json *res = wh_json_object();
        wh_json_setc(res, "steps", wh_json_int(wh_mp_size(rp.steps)));
        wk_job_set_result(job, res);
    }
    return r;
}
