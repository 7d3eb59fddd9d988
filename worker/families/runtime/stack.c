/* stack: stack.deploy and stack.remove.
 *
 *   stack.deploy {name, networks: [{name, subnet?}], volumes: [{name}],
 *                 containers: [{<container.run args>, depends_on: [names]}]}
 * creates what is missing, in this order: networks, volumes, then containers
 * in dependency order (each started, and waited on when it has `health`;
 * with wait=exit it must exit 0, and its output goes to the job log).
 * Everything it creates carries the label wharf.stack=<name>. On any failure
 * it removes exactly what this job created, newest first, and fails with
 * the first error. Objects that already existed are left alone.
 *
 *   stack.remove {name, volumes?}
 * removes the stack's containers (by label), then its networks, and its
 * volumes only with volumes=true.
 *
 * The args and their checks, and the dependency order, are the catalogue's
 * (common/catalog/runtime_stack.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_demux.h"
#include "runtime.h"

#define STACK_LABEL "wharf.stack"

/* What this job created, for the rollback. */
typedef struct made {
    char kind;                 /* 'n' network, 'v' volume, 'c' container */
    char name[RT_NAME_MAX + 1];
} made;

typedef struct deploy {
    wk_job *job;
    rt_conn c;
    made made[3 * RT_STACK_MAX];
    int nmade;
    wh_json *created, *existing;
    char stack[80];
} deploy;

static bool exists(deploy *d, const char *kind, const char *name, const char *suffix)
{
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/%s/%s%s", kind, name, suffix);
    long st = 0;
    wh_err e;
    return rt_request(&d->c, "GET", path, NULL, &st, NULL, &e) == WH_OK && st == 200;
}

static void record(deploy *d, char kind, const char *name, bool created)
{
    char tag[RT_NAME_MAX + 16];
    snprintf(tag, sizeof(tag), "%s:%s", kind == 'n' ? "network" : kind == 'v' ? "volume" : "container", name);
    wh_json_push(created ? d->created : d->existing, wh_json_str(tag));
    if(created) {
        d->made[d->nmade].kind = kind;
        snprintf(d->made[d->nmade++].name, RT_NAME_MAX + 1, "%s", name);
    }
}

static wh_json *labels(const char *stack)
{
    wh_json *l = wh_json_object();
    wh_json_setc(l, STACK_LABEL, wh_json_str(stack));
    return l;
}

static wh_code make_network(deploy *d, const wh_mp_obj *e, wh_err *err)
{
    char name[RT_NAME_MAX + 1], subnet[64];
    rt_mp_cstr(wh_mp_map_get(e, "name"), name, sizeof(name));
    if(exists(d, "networks", name, "")) {
        record(d, 'n', name, false);
        return WH_OK;
    }
    wh_json *b = wh_json_object();
    wh_json_setc(b, "Name", wh_json_str(name));
    wh_json_setc(b, "CheckDuplicate", wh_json_bool(true));
    wh_json_setc(b, "Labels", labels(d->stack));
    const wh_mp_obj *sn = wh_mp_map_get(e, "subnet");
    if(sn && rt_mp_cstr(sn, subnet, sizeof(subnet))) {
        wh_json *cfg = wh_json_object(), *arr = wh_json_array(), *ipam = wh_json_object();
        wh_json_setc(cfg, "Subnet", wh_json_str(subnet));
        wh_json_push(arr, cfg);
        wh_json_setc(ipam, "Config", arr);
        wh_json_setc(b, "IPAM", ipam);
    }
    wh_code rc = rt_call(&d->c, "POST", "/networks/create", b, name, NULL, err);
    wh_json_free(b);
    if(!rc)
        record(d, 'n', name, true);
    return rc;
}

static wh_code make_volume(deploy *d, const wh_mp_obj *e, wh_err *err)
{
    char name[RT_NAME_MAX + 1];
    rt_mp_cstr(wh_mp_map_get(e, "name"), name, sizeof(name));
    if(exists(d, "volumes", name, "")) {
        record(d, 'v', name, false);
        return WH_OK;
    }
    wh_json *b = wh_json_object();
    wh_json_setc(b, "Name", wh_json_str(name));
    wh_json_setc(b, "Labels", labels(d->stack));
    wh_code rc = rt_call(&d->c, "POST", "/volumes/create", b, name, NULL, err);
    wh_json_free(b);
    if(!rc)
        record(d, 'v', name, true);
    return rc;
}

typedef struct joblog {
    wk_job *job;
    rt_demux dm;
    rt_lines ln;
} joblog;

static wh_code joblog_line(void *ud, rt_stream s, const char *line, size_t len, bool cut)
{
    (void)cut;
    joblog *j = ud;
    wk_job_log(j->job, s == RT_STDERR ? WK_ERR : WK_OUT, line, len);
    return WH_OK;
}

static wh_code joblog_sink(void *ud, const char *data, size_t len)
{
    joblog *j = ud;
    return rt_demux_feed(&j->dm, data, len, NULL);
}

/* wait=exit: wait for the container, copy its output to the job log, and
 * fail (command_failed) on a non-zero exit code. */
static wh_code run_to_exit(deploy *d, const char *name, wh_err *err)
{
    char path[RT_PATH_MAX];
    wh_json *ans = NULL;
    snprintf(path, sizeof(path), "/containers/%s/wait", name);
    wh_code rc = rt_call(&d->c, "POST", path, NULL, name, &ans, err);
    int64_t code = rc ? -1 : wh_json_intv(wh_json_get(ans, "StatusCode"));
    wh_json_free(ans);
    if(rc)
        return rc;
    joblog *j = calloc(1, sizeof(*j));
    if(j) {
        j->job = d->job;
        rt_demux_init(&j->dm, false, rt_lines_feed, &j->ln);
        rt_lines_init(&j->ln, joblog_line, j);
        long st = 0;
        snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1", name);
        if(rt_request_stream(&d->c, "GET", path, NULL, 60000, joblog_sink, j, &st, err) == WH_OK)
            rt_lines_flush(&j->ln);
        free(j);
    }
    if(code != 0)
        return wh_err_set(err, WH_E_COMMAND_FAILED, "", "container %s exited with %lld", name, (long long)code);
    return WH_OK;
}

static wh_code make_container(deploy *d, const wh_mp_obj *e, wh_err *err)
{
    char name[RT_NAME_MAX + 1], path[RT_PATH_MAX];
    rt_mp_cstr(wh_mp_map_get(e, "name"), name, sizeof(name));
    if(exists(d, "containers", name, "/json")) {
        record(d, 'c', name, false);
        return WH_OK;
    }
    wh_json *body = NULL, *ans = NULL;
    wh_code rc = rt_create_body(e, wk_job_host(d->job), &body, err);
    if(rc)
        return rc;
    wh_json_setc(wh_json_get(body, "Labels"), STACK_LABEL, wh_json_str(d->stack));
    snprintf(path, sizeof(path), "/containers/create?name=%s", name);
    rc = rt_create_call(&d->c, path, body, name, &ans, err);
    wh_json_free(body);
    wh_json_free(ans);
    if(rc)
        return rc;
    record(d, 'c', name, true);
    snprintf(path, sizeof(path), "/containers/%s/start", name);
    rc = rt_call(&d->c, "POST", path, NULL, name, NULL, err);
    const wh_mp_obj *health = wh_mp_map_get(e, "health");
    if(!rc && health) {
        wh_json *tmp = wh_json_object();
        rc = rt_health_wait(d->job, &d->c, name, health, tmp, err);
        wh_json_free(tmp);
    }
    const wh_mp_obj *wait = wh_mp_map_get(e, "wait");
    if(!rc && wait && wh_mp_str_eq(wait, "exit"))
        rc = run_to_exit(d, name, err);
    return rc;
}

/* Remove what this job made, newest first. Returns how many went. */
static int rollback(deploy *d)
{
    int n = 0;
    d->c.abort = NULL; /* finish the rollback even when the job was interrupted */
    for(int i = d->nmade - 1; i >= 0; i--) {
        char path[RT_PATH_MAX];
        const made *m = &d->made[i];
        snprintf(path, sizeof(path), "/%s/%s%s", m->kind == 'c' ? "containers" : m->kind == 'v' ? "volumes" : "networks",
                 m->name, m->kind == 'c' ? "?force=1" : "");
        wh_err e;
        if(rt_call(&d->c, "DELETE", path, NULL, m->name, NULL, &e) == WH_OK)
            n++;
        else
            wk_job_logf(d->job, WK_SYS, "rollback: %s", e.msg);
    }
    return n;
}

wk_run rt_stack_deploy_run(wk_job *job)
{
    return rt_stack_deploy_args(job, wk_job_args(job));
}

wk_run rt_stack_deploy_args(wk_job *job, const wh_mp_obj *a)
{
    deploy *d = calloc(1, sizeof(*d));
    if(!d)
        return wk_job_fail(job, WH_E_NOMEM, NULL, true, "out of memory");
    d->job = job;
    size_t sn;
    const char *s = wh_args_str(a, "name", "", &sn);
    snprintf(d->stack, sizeof(d->stack), "%.*s", (int)sn, s);
    d->created = wh_json_array();
    d->existing = wh_json_array();
    wh_err err;
    int order[RT_STACK_MAX];
    const wh_mp_obj *nets = wh_mp_map_get(a, "networks"), *vols = wh_mp_map_get(a, "volumes"),
                    *ctrs = wh_mp_map_get(a, "containers");
    wh_code rc = rt_stack_order(ctrs, order, &err);
    if(!rc)
        rc = rt_open(job, &d->c, &err);
    for(uint32_t i = 0; !rc && nets && i < wh_mp_size(nets); i++)
        rc = make_network(d, wh_mp_arr_at(nets, i), &err);
    for(uint32_t i = 0; !rc && vols && i < wh_mp_size(vols); i++)
        rc = make_volume(d, wh_mp_arr_at(vols, i), &err);
    for(uint32_t i = 0; !rc && ctrs && i < wh_mp_size(ctrs); i++)
        rc = make_container(d, wh_mp_arr_at(ctrs, (uint32_t)order[i]), &err);
    wk_run out;
    if(rc) {
        int undone = rollback(d); /* also on interruption: a requeued deploy starts clean */
        wh_err_append(&err, " (rolled back %d objects)", undone);
        out = wk_job_fail_err(job, rc, &err);
        wh_json_free(d->created);
        wh_json_free(d->existing);
    } else {
        wh_json *r = wh_json_object();
        wh_json_setc(r, "stack", wh_json_str(d->stack));
        wh_json_setc(r, "created", d->created);
        wh_json_setc(r, "existing", d->existing);
        wk_job_set_result(job, r);
        out = WK_RUN_OK;
    }
    free(d);
    return out;
}

/* Remove every object of `kind` carrying the stack's label. */
static wh_code remove_labelled(rt_conn *c, const char *stack, const char *list, const char *items, const char *idkey,
                               const char *kind, const char *suffix, int *count, wh_err *err)
{
    char filt[200], esc[600], path[RT_PATH_MAX];
    snprintf(filt, sizeof(filt), "{\"label\":[\"" STACK_LABEL "=%s\"]}", stack);
    wh_curl_escape(filt, strlen(filt), esc, sizeof(esc));
    snprintf(path, sizeof(path), "%s%sfilters=%s", list, strchr(list, '?') ? "&" : "?", esc);
    wh_json *ans = NULL;
    wh_code rc = rt_call(c, "GET", path, NULL, "list", &ans, err);
    wh_json *arr = items ? wh_json_get(ans, items) : ans;
    for(size_t i = 0; !rc && arr && i < wh_json_size(arr); i++) {
        size_t n = 0;
        const char *id = wh_json_strv(wh_json_get(wh_json_at(arr, i), idkey), &n);
        if(!id || n > 128)
            continue;
        snprintf(path, sizeof(path), "/%s/%.*s%s", kind, (int)n, id, suffix);
        rc = rt_call(c, "DELETE", path, NULL, "remove", NULL, err);
        if(!rc)
            (*count)++;
    }
    wh_json_free(ans);
    return rc;
}

/* template.deploy: the template's translation, deployed as a stack. */
wk_run rt_tmpl_run(wk_job *job)
{
    wh_mp_pack *pk = NULL;
    wh_mp_doc *doc = NULL;
    wh_err err;
    wh_code rc = rt_tmpl_stack_doc(wk_job_args(job), &pk, &doc, &err);
    wk_run out = rc ? wk_job_fail_err(job, rc, &err) : rt_stack_deploy_args(job, wh_mp_root(doc));
    wh_mp_doc_free(doc);
    wh_mp_pack_free(pk);
    return out;
}

wk_run rt_stack_remove_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t sn;
    const char *s = wh_args_str(a, "name", "", &sn);
    char stack[80];
    snprintf(stack, sizeof(stack), "%.*s", (int)sn, s);
    rt_conn c;
    wh_err err;
    int nc = 0, nn = 0, nv = 0;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = remove_labelled(&c, stack, "/containers/json?all=1", NULL, "Id", "containers", "?force=1", &nc, &err);
    if(!rc)
        rc = remove_labelled(&c, stack, "/networks", NULL, "Id", "networks", "", &nn, &err);
    if(!rc && wh_args_bool(a, "volumes", false))
        rc = remove_labelled(&c, stack, "/volumes", "Volumes", "Name", "volumes", "", &nv, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "stack", wh_json_str(stack));
    wh_json_setc(r, "containers", wh_json_int(nc));
    wh_json_setc(r, "networks", wh_json_int(nn));
    wh_json_setc(r, "volumes", wh_json_int(nv));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
