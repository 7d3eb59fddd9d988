/* container_create: container.create and container.run.
 *
 * The create body comes from the job's args (the catalogue's
 * rt_create_body_build, which checks their shapes); here the binds are
 * checked against the target host: inside its `roots`
 * (wh_inv_path_allowed), existing (checked here on local unix engines,
 * where the worker sees the host's filesystem; by the engine itself on the
 * host for ssh:// and tcp:// ones, whose "bind source path does not exist"
 * answer becomes bad_args, rt_create_call; over SFTP for ssh:// Podman
 * hosts, as Podman does not check) and not bound twice (conflict,
 * checked when the job runs, so it is the job's error): not twice in one
 * container, and not by another container of the host, stopped ones
 * included (rt_create_call asks the engine).
 * container.run pulls a missing image first (the engine's image_pull.c).
 * Published ports bind 127.0.0.1 unless host_ip says otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_pull.h"
#include "runtime.h"
#include "stream_demux.h"
#include "wh_ssh.h"

/* True when mount `m` (engine JSON) is a bind. */
static bool is_bind(const wh_json *m)
{
    size_t tn = 0;
    const char *t = wh_json_strv(wh_json_get(m, "Type"), &tn);
    return t && tn == 4 && memcmp(t, "bind", 4) == 0;
}

/* True when mount `m` is a bind of host directory s[0..n). */
static bool binds_source(const wh_json *m, const char *s, size_t n)
{
    size_t sn = 0;
    const char *src = wh_json_strv(wh_json_get(m, "Source"), &sn);
    return is_bind(m) && src && sn == n && memcmp(src, s, n) == 0;
}

/* The host's rules for the binds of `body` (rt_create_body_build puts them
 * first in HostConfig.Mounts, in args order): inside the host's roots,
 * existing (local unix engines, where the worker sees the host's
 * filesystem) and not bound twice in one container. */
static wh_code binds_on_host(const wh_json *body, const wh_inv_host *h, wh_err *err)
{
    const wh_json *ms = wh_json_get(wh_json_get(body, "HostConfig"), "Mounts");
    for(size_t i = 0; i < wh_json_size(ms) && is_bind(wh_json_at(ms, i)); i++) {
        size_t n = 0;
        const char *src = wh_json_strv(wh_json_get(wh_json_at(ms, i), "Source"), &n);
        struct stat st;
        if(!wh_inv_path_allowed(h, src))
            return wh_err_at(err, WH_E_BAD_ARGS, "args.binds[%zu].source: %s is outside the roots of host %s", i, src,
                             h->name);
        if(h->docker_kind == WH_DOCKER_UNIX && (stat(src, &st) != 0 || !S_ISDIR(st.st_mode)))
            return wh_err_at(err, WH_E_BAD_ARGS, "args.binds[%zu].source: host directory %s does not exist", i, src);
        for(size_t j = 0; j < i; j++)
            if(binds_source(wh_json_at(ms, j), src, n))
                return wh_err_at(err, WH_E_CONFLICT, "args.binds[%zu].source: %.*s is already bound", i, (int)n, src);
    }
    return WH_OK;
}

wh_code rt_create_body(const wh_mp_obj *a, const wh_inv_host *h, wh_json **body, wh_err *err)
{
    wh_json *b = NULL;
    wh_code rc = rt_create_body_build(a, &b, err);
    if(!rc && h)
        rc = binds_on_host(b, h, err);
    if(rc) {
        wh_json_free(b);
        return rc;
    }
    *body = b;
    return WH_OK;
}

/* Conflict when a container of the host (stopped ones too) already binds a
 * host directory that `body` binds. One list call, only for bodies with
 * binds. */
static wh_code binds_free(rt_conn *c, const wh_json *body, wh_err *err)
{
    const wh_json *mine = wh_json_get(wh_json_get(body, "HostConfig"), "Mounts");
    bool any = false;
    for(size_t i = 0; mine && i < wh_json_size(mine); i++)
        any = any || is_bind(wh_json_at(mine, i));
    if(!any)
        return WH_OK;
    long st = 0;
    wh_json *list = NULL;
    wh_code rc = rt_request(c, "GET", "/containers/json?all=1", NULL, &st, &list, err);
    if(!rc && st != 200)
        rc = rt_engine_status(st, list, "list", err);
    for(size_t k = 0; !rc && list && k < wh_json_size(list); k++) {
        const wh_json *ctr = wh_json_at(list, k), *theirs = wh_json_get(ctr, "Mounts");
        for(size_t i = 0; !rc && i < wh_json_size(mine); i++) {
            size_t n = 0;
            const char *s = wh_json_strv(wh_json_get(wh_json_at(mine, i), "Source"), &n);
            if(!s || !binds_source(wh_json_at(mine, i), s, n))
                continue;
            for(size_t j = 0; !rc && theirs && j < wh_json_size(theirs); j++)
                if(binds_source(wh_json_at(theirs, j), s, n)) {
                    size_t nn = 0;
                    const char *name = wh_json_strv(wh_json_at(wh_json_get(ctr, "Names"), 0), &nn);
                    rc = wh_err_at(err, WH_E_CONFLICT, "args.binds[%zu].source: %.*s is already bound by container %.*s",
                                   i, (int)n, s,
                                    (int)(name && nn && name[0] == '/' ? nn - 1 : nn),
                                    name ? (name[0] == '/' ? name + 1 : name) : "?");
                }
        }
    }
    wh_json_free(list);
    return rc;
}

/* Podman does not refuse a bind whose host directory is missing when the
 * container is created, as Docker does: on an ssh:// Podman host the
 * worker asks the host over SFTP first (as it stats them itself for
 * unix:// engines). */
static wh_code binds_exist_over_ssh(rt_conn *c, const wh_json *body, wh_err *err)
{
    if(c->engine != RT_ENGINE_PODMAN || c->host->docker_kind != WH_DOCKER_SSH)
        return WH_OK;
    const wh_json *ms = wh_json_get(wh_json_get(body, "HostConfig"), "Mounts");
    wh_ssh_conn *s = NULL;
    wh_code rc = WH_OK;
    for(size_t i = 0; !rc && i < wh_json_size(ms) && is_bind(wh_json_at(ms, i)); i++) {
        size_t n = 0;
        const char *src = wh_json_strv(wh_json_get(wh_json_at(ms, i), "Source"), &n);
        char path[WH_INV_PATH_MAX];
        snprintf(path, sizeof(path), "%.*s", (int)n, src ? src : "");
        bool dir = false;
        if(!s)
            rc = rt_ssh_session(c->host, &s, err);
        if(!rc)
            rc = wh_ssh_is_dir(s, path, &dir, err);
        if(!rc && !dir)
            rc = wh_err_at(err, WH_E_BAD_ARGS, "args.binds[%zu].source: host directory %s does not exist on host %s",
                           i, path, c->host->name);
    }
    rt_ssh_release(s);
    return rc;
}

wh_code rt_create_call(rt_conn *c, const char *path, const wh_json *body, const char *what, wh_json **out,
                       wh_err *err)
{
    static const char gone[] = "bind source path does not exist: ";
    long st = 0;
    wh_json *ans = NULL;
    wh_code rc = binds_exist_over_ssh(c, body, err);
    if(!rc)
        rc = binds_free(c, body, err);
    if(rc)
        return rc;
    rc = rt_request(c, "POST", path, body, &st, &ans, err);
    if(rc)
        return rc;
    size_t n = 0;
    const char *m = st == 400 ? wh_json_strv(wh_json_get(ans, "message"), &n) : NULL;
    const char *at = m ? (const char *)memmem(m, n, gone, sizeof(gone) - 1) : NULL;
    if(at) {
        size_t off = (size_t)(at - m) + sizeof(gone) - 1;
        rc = wh_err_set(err, WH_E_BAD_ARGS, "args.binds", "args.binds: host directory %.*s does not exist on host %s",
                        (int)(n - off > 600 ? 600 : n - off), m + off, c->host->name);
    } else
        rc = rt_engine_status(st, ans, what, err);
    if(rc || !out)
        wh_json_free(ans);
    else
        *out = ans;
    return rc;
}

/* Create; on success *id gets the container id (64 hex + NUL). */
static wh_code create(wk_job *job, rt_conn *c, char *id, size_t cap, wh_json **warnings, wh_err *err)
{
    wh_json *body = NULL, *ans = NULL;
    wh_code rc = rt_create_body(wk_job_args(job), wk_job_host(job), &body, err);
    char path[RT_PATH_MAX] = "/containers/create";
    if(!rc && wh_mp_map_get(wk_job_args(job), "name")) {
        char name[3 * RT_NAME_MAX + 1];
        rt_arg_name(job, "name", name, sizeof(name));
        snprintf(path, sizeof(path), "/containers/create?name=%s", name);
    }
    if(!rc)
        rc = rt_create_call(c, path, body, "create", &ans, err);
    wh_json_free(body);
    size_t n = 0;
    const char *s = rc ? NULL : wh_json_strv(wh_json_get(ans, "Id"), &n);
    if(!rc && (!s || n >= cap))
        rc = wh_err_set(err, WH_E_ENGINE, "", "create: the engine answered without an Id");
    if(!rc) {
        memcpy(id, s, n);
        id[n] = '\0';
        *warnings = wh_json_copy(wh_json_get(ans, "Warnings"));
    }
    wh_json_free(ans);
    return rc;
}

static wh_json *id_result(const char *id, wh_json *warnings)
{
    wh_json *r = wh_json_object();
    wh_json_setc(r, "id", wh_json_str(id));
    wh_json_setc(r, "warnings", warnings && wh_json_kind_of(warnings) == WH_JSON_ARRAY ? warnings : wh_json_array());
    if(warnings && wh_json_kind_of(warnings) != WH_JSON_ARRAY)
        wh_json_free(warnings);
    return r;
}

wk_run rt_create_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    char id[80];
    wh_json *w = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = create(job, &c, id, sizeof(id), &w, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wk_job_set_result(job, id_result(id, w));
    return WK_RUN_OK;
}

/* Collect the last lines of the container's output for the run result. */
typedef struct tail_ctx {
    rt_demux dm;
    rt_lines ln;
    wh_json *arr;
} tail_ctx;

static wh_code tail_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)s, (void)cut;
    tail_ctx *t = ud;
    wh_json *v = wh_json_strn(line, len);
    wh_json_push(t->arr, v ? v : wh_json_str("(not UTF-8)"));
    return WH_OK;
}

static wh_code tail_sink(void *ud, const char *data, size_t len)
{
    tail_ctx *t = ud;
    return rt_demux_feed(&t->dm, data, len, NULL);
}

wk_run rt_run_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    rt_conn c;
    wh_err err;
    char id[80], path[RT_PATH_MAX];
    wh_json *w = NULL, *ans = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = create(job, &c, id, sizeof(id), &w, &err);
    if(rc == WH_E_NOT_FOUND && strcasestr(err.msg, "No such image")) { /* Podman: "no such image" */
        /* Missing image: pull it with the inventory's credentials, then create again. */
        size_t n;
        const char *image = wh_args_str(a, "image", "", &n);
        rc = rt_pull_image(&c, wk_job_cfg(job)->inv, image, n, rt_say, job, NULL, 0, &err);
        if(!rc)
            rc = create(job, &c, id, sizeof(id), &w, &err);
    }
    if(!rc) {
        snprintf(path, sizeof(path), "/containers/%s/start", id);
        rc = rt_call(&c, "POST", path, NULL, "start", NULL, &err);
    }
    if(rc) {
        wh_json_free(w);
        return wk_job_fail_err(job, rc, &err);
    }
    wh_json *r = id_result(id, w);
    const wh_mp_obj *health = wh_mp_map_get(a, "health");
    if(health && (rc = rt_health_wait(job, &c, id, health, r, &err)) != WH_OK) {
        wh_json_free(r);
        return wk_job_fail_err(job, rc, &err); /* `unhealthy` names itself */
    }
    size_t wn;
    const char *wait = wh_args_str(a, "wait", "none", &wn);
    if(wn == 4 && !memcmp(wait, "exit", 4)) {
        snprintf(path, sizeof(path), "/containers/%s/wait", id);
        rc = rt_call(&c, "POST", path, NULL, "wait", &ans, &err);
        if(rc) {
            wh_json_free(r);
            return wk_job_fail_err(job, rc, &err);
        }
        wh_json_setc(r, "exit_code", wh_json_int(wh_json_intv(wh_json_get(ans, "StatusCode"))));
        wh_json_free(ans);
        tail_ctx t = {.arr = wh_json_array()};
        rt_demux_init(&t.dm, false, rt_lines_feed, &t.ln);
        rt_lines_init(&t.ln, tail_line, &t);
        long st = 0;
        snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1&tail=%lld", id,
                 (long long)wh_args_int(a, "tail", 50));
        if(rt_request_stream(&c, "GET", path, NULL, 30000, tail_sink, &t, &st, &err) == WH_OK)
            rt_lines_flush(&t.ln);
        wh_json_setc(r, "log_tail", t.arr);
    }
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
