/* container: provision.container and provision.destroy.
 *
 * provision.container: the checks of provision.validate (container_check.c;
 * every problem at once, bad_args: the args table's too, for the admission
 * leaves them all to this step), then the hostname and http port are reserved
 * in the port map (port_map.c), hooks are read from the hook directory,
 * the repo is fetched (git_fetch.c), a random root password made when asked
 * for, and the recipe (container_plan.c) runs with pv_recipe_run, so it resumes
 * and rolls back like provision.run. Then the entry is marked ready. A job
 * that ends without success has destroyed what it created and released
 * its reservation.
 *
 * With root_password "random" the result carries `root_password`, and the
 * job's record expires after [provision] secret_ttl_s instead of
 * jobs.ttl_s; the password is in no log line, step text or other key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "docker_driver.h"
#include "drivers.h"
#include "wh_id.h"

#define PV_PASSWORD_LEN 20

static char *entry_json(wk_job *job, const wh_mp_obj *a, const char *name, wh_json *protocols)
{
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    wh_json *e = wh_json_object(), *ports = wh_json_object();
    wh_json_setc(e, "host", wh_json_str(wk_job_host(job)->name));
    wh_json_setc(e, "container", wh_json_str(name));
    wh_json_setc(e, "driver", wh_json_strn(drv, n));
    wh_json_setc(e, "ip", wh_json_str(""));
    if(wh_mp_map_get(a, "http_port"))
        wh_json_setc(ports, "http", wh_json_int(wh_args_int(a, "http_port", 0)));
    wh_json_setc(e, "ports", ports);
    wh_json_setc(e, "protocols", protocols);
    wh_json_setc(e, "job", wh_json_str(wk_job_env(job)->id));
    wh_json_setc(e, "state", wh_json_str("reserved"));
    char *text = wh_json_dump(e);
    wh_json_free(e);
    return text;
}

/* Validate with I/O, then reserve. WK_RUN_OK to go on. */
static wk_run ct_prepare(wk_job *job, const wh_mp_obj *a, const char *hostname, const char *name)
{
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    pv_ct_check_static(a, wk_job_cfg(job)->pv_protocols, wh_ssh_pubkey_check, problems, protocols);
    pv_ct_check_live(job, a, problems);
    wh_err err;
    wh_code rc = WH_OK;
    if(wk_job_interrupted(job)) {
        wh_json_free(problems);
        wh_json_free(protocols);
        return WK_RUN_INTERRUPTED;
    }
    if(wh_json_size(problems)) {
        char msg[sizeof(err.msg)];
        pv_ct_join(problems, msg, sizeof(msg));
        wh_json_free(problems);
        wh_json_free(protocols);
        return wk_job_fail(job, WH_E_BAD_ARGS, NULL, false, "%s", msg);
    }
    wh_json_free(problems);
    char *json = entry_json(job, a, name, protocols);
    rc = json ? pv_portmap_reserve(job, hostname, json, (int)wh_args_int(a, "http_port", 0), &err)
              : wh_err_set(&err, WH_E_NOMEM, NULL, "out of memory");
    free(json);
    return rc ? wk_job_fail_err(job, rc, &err) : WK_RUN_OK;
}

/* What the recipe needs from outside the args: hook files, the repo
 * archive, a password. Freed (and wiped) by inputs_free. */
typedef struct inputs {
    pv_blob hooks[16];
    int nhooks;
    pv_blob repo;
    bool has_repo;
    char password[PV_PASSWORD_LEN + 1];
} inputs;

static void inputs_free(inputs *in)
{
    for(int i = 0; i < in->nhooks; i++)
        free(in->hooks[i].data);
    if(in->repo.data)
        memset(in->repo.data, 0, in->repo.len);
    free(in->repo.data);
    memset(in, 0, sizeof(*in));
}

static wh_code inputs_load(wk_job *job, const wh_mp_obj *a, inputs *in, wh_err *err)
{
    const wh_mp_obj *hk = wh_mp_map_get(a, "hooks");
    for(uint32_t i = 0; hk && i < wh_mp_size(hk) && i < 16; i++) {
        const char *s;
        size_t n;
        char name[64], field[32];
        snprintf(field, sizeof(field), "args.hooks[%u]", i);
        if(!wh_mp_str(wh_mp_arr_at(hk, i), &s, &n) || n >= sizeof(name))
            return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: not a hook name", field);
        snprintf(name, sizeof(name), "%.*s", (int)n, s);
        wh_code rc = pv_hook_read(job, name, field, &in->hooks[in->nhooks], err);
        if(rc)
            return rc;
        in->nhooks++;
    }
    size_t n;
    const char *url = wh_args_str(a, "repo", NULL, &n);
    if(url) {
        char u[1100];
        snprintf(u, sizeof(u), "%.*s", (int)n, url);
        wh_code rc = pv_git_archive(job, u, &in->repo.data, &in->repo.len, err);
        if(rc)
            return rc;
        in->has_repo = true;
    }
    if(wh_mp_str_eq(wh_mp_map_get(a, "root_password"), "random")) {
        static const char abc[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"; /* 57, no look-alikes */
        for(int i = 0; i < PV_PASSWORD_LEN; i++)
            in->password[i] = abc[wh_random_u64() % (sizeof(abc) - 1)];
        in->password[PV_PASSWORD_LEN] = '\0';
    }
    return WH_OK;
}

static wh_json *ct_result(wk_job *job, const wh_mp_obj *a, const char *hostname, const char *name,
                          const inputs *in)
{
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    wh_json *res = wh_json_object();
    wh_json_setc(res, "hostname", wh_json_str(hostname));
    wh_json_setc(res, "container", wh_json_str(name));
    wh_json_setc(res, "driver", wh_json_strn(drv, n));
    wh_json_setc(res, "host", wh_json_str(wk_job_host(job)->name));
    wh_json_setc(res, "state", wh_json_str("ready"));
    if(in->nhooks) {
        wh_json *h = wh_json_array();
        for(int i = 0; i < in->nhooks; i++)
            wh_json_push(h, wh_json_str(in->hooks[i].name));
        wh_json_setc(res, "hooks", h);
    }
    if(in->has_repo)
        wh_json_setc(res, "repo_bytes", wh_json_int((int64_t)in->repo.len));
    if(in->password[0]) {
        /* the only place the password goes; the record then expires soon */
        wh_json_setc(res, "root_password", wh_json_str(in->password));
        wk_job_set_ttl(job, wk_job_cfg(job)->pv_secret_ttl_s);
    }
    return res;
}

wk_run pv_ct_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t n;
    const char *h = wh_args_str(a, "hostname", "", &n);
    char hostname[64], name[64];
    snprintf(hostname, sizeof(hostname), "%.*s", (int)n, h);
    pv_ct_name(a, name, sizeof(name));
    wk_job_progress(job, 0, "validate");
    wk_run r = ct_prepare(job, a, hostname, name);
    if(r != WK_RUN_OK)
        return r;
    wh_err err;
    inputs *in = calloc(1, sizeof(*in));
    wh_mp_pack *packer = NULL;
    wh_mp_doc *doc = NULL;
    int rerun = -1;
    wh_code rc = in ? inputs_load(job, a, in, &err) : wh_err_set(&err, WH_E_NOMEM, NULL, "out of memory");
    if(!rc) {
        pv_plan_in pi = {a, in->password[0] ? in->password : NULL, in->hooks, in->nhooks,
                         in->has_repo ? &in->repo : NULL};
        doc = pv_ct_plan(job, &pi, &packer, &rerun, &err);
    }
    bool ended = true;
    if(!doc) {
        r = wk_job_fail_err(job, err.code, &err);
    } else {
        pv_recipe rp = {wh_mp_root(doc), NULL, NULL, "container", rerun};
        r = pv_recipe_run(job, &rp, &ended);
    }
    wh_mp_doc_free(doc);
    if(packer) { /* the packed recipe held the password and the hooks: wipe it */
        size_t len;
        char *data = (char *)wh_mp_pack_data(packer, &len);
        if(data)
            memset(data, 0, len);
    }
    wh_mp_pack_free(packer);
    if(r == WK_RUN_OK && pv_portmap_update(job, hostname, false, "ready", NULL, &err) == WH_OK) {
        wk_job_progress(job, 100, "ready");
        wk_job_set_result(job, ct_result(job, a, hostname, name, in));
        inputs_free(in);
        free(in);
        return WK_RUN_OK;
    }
    if(in)
        inputs_free(in);
    free(in);
    if(r == WK_RUN_OK) /* the recipe ran but the port map did not take "ready" */
        return wk_job_fail_err(job, err.code, &err);
    if(ended) /* rolled back: give the hostname and ports back */
        pv_portmap_update(job, hostname, false, "", NULL, &err);
    return r;
}

/* ---- provision.destroy -------------------------------------------------------- */

wk_run pv_destroy_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t n;
    const char *h = wh_args_str(a, "hostname", "", &n);
    char hostname[64], name[64], tmpl[8];
    snprintf(hostname, sizeof(hostname), "%.*s", (int)n, h);
    pv_drv_vals v;
    pv_ct_vals(job, a, &v, name, sizeof(name), tmpl, sizeof(tmpl));
    wh_err err;
    int code = -1, gone = -1;
    wh_code rc;
    bool existed;
    if(pv_ct_is_docker(a)) {
        pv_dock_op op = {.act = PV_EXISTS, .name = name};
        rc = pv_dock_run(job, &op, &code, NULL, &err);
        existed = !rc && code == 0;
        op.act = PV_DESTROY;
        if(!rc && existed)
            rc = pv_dock_run(job, &op, &code, NULL, &err);
    } else {
        const char *drv = wh_args_str(a, "driver", "lxc", &n);
        const pv_driver *d = pv_drv_find(drv, n);
        rc = pv_ct_drv_run(job, d, PV_EXISTS, &v, &code, &err);
        existed = !rc && code == 0;
        if(!rc && existed)
            rc = pv_ct_drv_run(job, d, PV_DESTROY, &v, &code, &err);
    }
    if(!rc && existed && code != 0)
        rc = wh_err_set(&err, WH_E_COMMAND_FAILED, NULL, "destroying %s failed with exit status %d", name, code);
    if(!rc)
        rc = pv_portmap_update(job, hostname, true, "", &gone, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "hostname", wh_json_str(hostname));
    wh_json_setc(r, "destroyed", wh_json_bool(existed));
    wh_json_setc(r, "released", wh_json_bool(gone == 1));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
