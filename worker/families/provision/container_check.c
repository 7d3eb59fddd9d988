/* container_check: the checks of provision.validate, also run by
 * provision.container before it reserves anything: the catalogue's checks
 * without I/O (pv_ct_check_static, common/catalog/provision_container.c),
 * with the SSH public key read by libssh, then the checks with I/O here,
 * each for a field that has no problem yet (nothing is fetched for a value
 * known to be bad). Every problem is reported at once as {field, message}:
 *   hostname    free in the port map
 *   hooks       present in [provision] hook_dir
 *   repo        answers, and without credentials
 *   template    exists on the target
 *   target      reachable (SSH for lxc and pct, the engine for docker) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision.h"
#include "docker_driver.h"
#include "drivers.h"
#include "wh_curl.h"

#define PV_HOOK_MAX_BYTES (256 * 1024) /* bytes of one hook file */

wh_code pv_hook_read(wk_job *job, const char *name, const char *field, pv_blob *out, wh_err *err)
{
    const char *dir = wk_job_cfg(job)->pv_hook_dir;
    memset(out, 0, sizeof(*out));
    if(!dir[0])
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: this worker has no hook directory ([provision] hook_dir)",
                          field);
    if(!pv_hook_name_ok(name, strlen(name)))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: %s is not a hook name", field, name);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat stt;
    if(fd < 0 || fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode) || stt.st_size > PV_HOOK_MAX_BYTES) {
        if(fd >= 0)
            close(fd);
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: no hook %s in the hook directory%s", field, name,
                          fd >= 0 && stt.st_size > PV_HOOK_MAX_BYTES ? " (larger than 256 KiB)" : "");
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->data = malloc((size_t)stt.st_size + 1);
    size_t got = 0;
    while(out->data && got < (size_t)stt.st_size) {
        ssize_t r = read(fd, out->data + got, (size_t)stt.st_size - got);
        if(r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if(!out->data || got != (size_t)stt.st_size) {
        free(out->data);
        out->data = NULL;
        return wh_err_set(err, WH_E_IO, field, "%s: cannot read hook %s", field, name);
    }
    out->len = got;
    return WH_OK;
}

/* Who holds `hostname` in the port map: 0 nobody, 1 this job, -1 another. */
static int holder(wk_job *job, const char *hostname)
{
    if(!pv_portmap_taken(job, hostname))
        return 0;
    int found = 0;
    wh_err err;
    /* "reserved" again is a no-op on our own entry and refused on others' */
    if(pv_portmap_update(job, hostname, false, "reserved", &found, &err))
        return -1;
    return found == 1 ? 1 : -1;
}

static bool repo_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

/* The repository answers without credentials: git's smart-HTTP discovery
 * (which a dumb server answers with its static info/refs), or a readable
 * directory for file://. */
static void check_repo(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *s = wh_args_str(a, "repo", NULL, &n);
    if(!s)
        return;
    char url[1200];
    snprintf(url, sizeof(url), "%.*s", (int)n, s);
    if(n > 7 && memcmp(url, "file://", 7) == 0) {
        struct stat st;
        if(stat(url + 7, &st) != 0 || !S_ISDIR(st.st_mode))
            pv_problem(problems, "args.repo", "args.repo: %s is not a directory on the worker", url + 7);
        return;
    }
    snprintf(url + n, sizeof(url) - n, "%sinfo/refs?service=git-upload-pack", url[n - 1] == '/' ? "" : "/");
    wh_err err;
    wh_curl *c = wh_curl_thread(&err);
    wh_curl_req r = {.url = url, .timeout_ms = 15000, .connect_timeout_ms = 5000, .max_body = 1 << 20,
                     .abort = repo_abort, .abort_ud = job};
    wh_curl_resp resp;
    wh_code rc = c ? wh_curl_do(c, &r, &resp, &err) : err.code;
    if(rc) {
        if(rc != WH_E_INTERRUPTED)
            pv_problem(problems, "args.repo", "args.repo: %.*s does not answer: %s", (int)n, s, err.msg);
        return;
    }
    long st = resp.status;
    wh_curl_resp_clear(&resp);
    if(st == 401 || st == 403)
        pv_problem(problems, "args.repo", "args.repo: %.*s asks for credentials (%ld): only public repositories", (int)n,
                s, st);
    else if(st != 200)
        pv_problem(problems, "args.repo", "args.repo: %.*s is not a git repository (HTTP %ld)", (int)n, s, st);
}

/* Each hook named in a valid name is in the hook directory. */
static void check_hooks(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    const wh_mp_obj *hk = pv_ct_accepted(a, "hooks", problems);
    for(uint32_t i = 0; i < wh_mp_size(hk); i++) {
        char name[64], field[32];
        const char *s;
        size_t n;
        snprintf(field, sizeof(field), "args.hooks[%u]", i);
        if(!wh_mp_str(wh_mp_arr_at(hk, i), &s, &n) || !pv_hook_name_ok(s, n) || !pv_ct_unflagged(problems, field))
            continue; /* reported by the static checks */
        snprintf(name, sizeof(name), "%.*s", (int)n, s);
        pv_blob b;
        wh_err err;
        if(pv_hook_read(job, name, field, &b, &err))
            pv_problem(problems, field, "%s", err.msg);
        free(b.data);
    }
}

/* The template (image) exists on the target, which answers. */
static void check_template(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    if(!pv_ct_unflagged(problems, "args.driver") || !pv_ct_unflagged(problems, "args.template"))
        return;
    char name[64], tmpl[256];
    pv_drv_vals v;
    pv_ct_vals(job, a, &v, name, sizeof(name), tmpl, sizeof(tmpl));
    int code = -1;
    wh_err err;
    wh_code rc;
    size_t n;
    if(pv_ct_is_docker(a)) {
        pv_dock_op op = {.act = PV_EXISTS, .image = tmpl};
        rc = pv_dock_run(job, &op, &code, NULL, &err);
    } else {
        const char *drv = wh_args_str(a, "driver", "lxc", &n);
        const pv_driver *d = pv_drv_find(drv, n);
        if(!d)
            return;
        v.name = tmpl; /* does the template exist? */
        rc = pv_ct_drv_run(job, d, PV_EXISTS, &v, &code, &err);
    }
    if(rc)
        pv_problem(problems, "target", "target: %s", err.msg);
    else if(code != 0)
        pv_problem(problems, "args.template", "args.template: %s does not exist on host.%s", tmpl,
                   wk_job_host(job)->name);
}

void pv_ct_check_live(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *h = wh_args_str(a, "hostname", NULL, &n);
    char host[64];
    snprintf(host, sizeof(host), "%.*s", h ? (int)n : 0, h ? h : "");
    if(host[0] && pv_ct_unflagged(problems, "args.hostname") && holder(job, host) < 0)
        pv_problem(problems, "args.hostname", "args.hostname: %s is taken in the port map", host);
    check_hooks(job, a, problems);
    if(pv_ct_unflagged(problems, "args.repo"))
        check_repo(job, a, problems);
    check_template(job, a, problems);
}

/* See provision.h: the run's ct_prepare checks everything at once. */
wh_code pv_ct_admit(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)a;
    (void)result;
    (void)err;
    return WH_OK;
}

wk_run pv_validate_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    pv_ct_check_static(a, wk_job_cfg(job)->pv_protocols, wh_ssh_pubkey_check, problems, protocols);
    pv_ct_check_live(job, a, problems);
    if(wk_job_interrupted(job)) {
        wh_json_free(problems);
        wh_json_free(protocols);
        return WK_RUN_INTERRUPTED;
    }
    wh_json *r = wh_json_object();
    wh_json_setc(r, "ok", wh_json_bool(wh_json_size(problems) == 0));
    wh_json_setc(r, "problems", problems);
    wh_json_setc(r, "protocols", protocols);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
