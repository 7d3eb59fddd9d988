/* container_exec: container.exec (output to the job log, exit code to the result)
 * and the prunes (image.prune, volume.prune). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_demux.h"
#include "runtime.h"

static wh_json *exec_body(const wh_mp_obj *a)
{
    wh_json *b = wh_json_object(), *cmd = wh_json_array(), *env = wh_json_array();
    const wh_mp_obj *c = wh_mp_map_get(a, "cmd"), *e = wh_mp_map_get(a, "env");
    for(uint32_t i = 0; i < wh_mp_size(c); i++) {
        const char *s;
        size_t n;
        if(wh_mp_str(wh_mp_arr_at(c, i), &s, &n))
            wh_json_push(cmd, wh_json_strn(s, n));
    }
    for(uint32_t i = 0; e && i < wh_mp_size(e); i++) {
        const char *k, *v;
        size_t kn, vn;
        char *kv;
        if(wh_mp_str(wh_mp_map_key(e, i), &k, &kn) && wh_mp_str(wh_mp_map_val(e, i), &v, &vn) &&
           (kv = malloc(kn + vn + 2))) {
            memcpy(kv, k, kn);
            kv[kn] = '=';
            memcpy(kv + kn + 1, v, vn);
            wh_json_push(env, wh_json_strn(kv, kn + vn + 1));
            free(kv);
        }
    }
    wh_json_setc(b, "AttachStdout", wh_json_bool(true));
    wh_json_setc(b, "AttachStderr", wh_json_bool(true));
    wh_json_setc(b, "Cmd", cmd);
    wh_json_setc(b, "Env", env);
    size_t n;
    const char *s;
    if((s = wh_args_str(a, "user", NULL, &n)))
        wh_json_setc(b, "User", wh_json_strn(s, n));
    if((s = wh_args_str(a, "workdir", NULL, &n)))
        wh_json_setc(b, "WorkingDir", wh_json_strn(s, n));
    return b;
}

typedef struct outctx {
    wk_job *job;
    rt_demux dm;
    rt_lines ln;
    long long lines;
} outctx;

static wh_code out_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)cut;
    outctx *o = ud;
    wk_job_log(o->job, s == RT_STDERR ? WK_ERR : WK_OUT, line, len);
    o->lines++;
    return WH_OK;
}

static wh_code out_sink(void *ud, const char *data, size_t len)
{
    outctx *o = ud;
    return rt_demux_feed(&o->dm, data, len, NULL);
}

wk_run rt_exec_run(wk_job *job)
{
    char name[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX], id[80];
    rt_arg_name(job, "name", name, sizeof(name));
    snprintf(path, sizeof(path), "/containers/%s/exec", name);
    rt_conn c;
    wh_err err;
    wh_json *body = exec_body(wk_job_args(job)), *ans = NULL;
    wh_code rc = rt_open_call(job, &c, "POST", path, body, name, &ans, &err);
    wh_json_free(body);
    size_t n = 0;
    const char *s = rc ? NULL : wh_json_strv(wh_json_get(ans, "Id"), &n);
    if(!rc && (!s || n >= sizeof(id)))
        rc = wh_err_set(&err, WH_E_ENGINE, "", "exec: the engine answered without an Id");
    if(!rc)
        snprintf(id, sizeof(id), "%.*s", (int)n, s);
    wh_json_free(ans);
    if(rc == WH_E_CONFLICT && !strstr(err.msg, "is not running")) /* Podman: "...: container state improper" */
        return wk_job_fail(job, rc, NULL, false, "container %s is not running", name);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    outctx *o = calloc(1, sizeof(*o)); /* line buffers: not on the stack */
    if(!o)
        return wk_job_fail(job, WH_E_NOMEM, NULL, true, "out of memory");
    o->job = job;
    rt_demux_init(&o->dm, false, rt_lines_feed, &o->ln);
    rt_lines_init(&o->ln, out_line, o);
    wh_json *start = wh_json_object();
    wh_json_setc(start, "Detach", wh_json_bool(false));
    wh_json_setc(start, "Tty", wh_json_bool(false));
    snprintf(path, sizeof(path), "/exec/%s/start", id);
    long st = 0;
    rc = rt_request_stream(&c, "POST", path, start, 0, out_sink, o, &st, &err);
    wh_json_free(start);
    if(!rc || rc == WH_E_INTERRUPTED)
        rt_lines_flush(&o->ln);
    long long lines = o->lines;
    free(o);
    if(!rc && st != 200)
        rc = rt_engine_status(st, NULL, "exec start", &err);
    snprintf(path, sizeof(path), "/exec/%s/json", id);
    if(!rc)
        rc = rt_call(&c, "GET", path, NULL, "exec", &ans, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "exit_code", wh_json_int(wh_json_intv(wh_json_get(ans, "ExitCode"))));
    wh_json_setc(r, "lines", wh_json_int(lines));
    wh_json_free(ans);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_prune_run(wk_job *job)
{
    bool img = strcmp(wk_job_env(job)->type, "runtime.image.prune") == 0;
    bool all = wh_args_bool(wk_job_args(job), "all", false);
    /* filters={"dangling":["false"]} = every unused image, not only untagged ones. */
    const char *path = !img ? "/volumes/prune"
                            : all ? "/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D" : "/images/prune";
    rt_conn c;
    wh_err err;
    wh_json *ans = NULL;
    wh_code rc = rt_open_call(job, &c, "POST", path, NULL, "prune", &ans, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *del = wh_json_get(ans, img ? "ImagesDeleted" : "VolumesDeleted");
    wh_json *r = wh_json_object();
    wh_json_setc(r, "deleted", wh_json_int(del && wh_json_kind_of(del) == WH_JSON_ARRAY ? (int64_t)wh_json_size(del) : 0));
    wh_json_setc(r, "space_reclaimed", wh_json_int(wh_json_intv(wh_json_get(ans, "SpaceReclaimed"))));
    wh_json_free(ans);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
