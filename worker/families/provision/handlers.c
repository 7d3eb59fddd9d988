/* handlers: the `provision` family's run functions and binding table:
 * commands and files on inventory hosts over SSH (wh_ssh), and recipes
 * built from them (args and checks: common/catalog/provision*.c).
 *   provision.host.exec     {argv | script, env?, cwd?, stdin?, timeout_s?}
 *   provision.host.upload   {path, content | content_b64, mode?, owner?}
 *   provision.host.download {path, max_bytes?}
 * Every type needs a target host; paths must lie inside its `roots`.
 * provision.container is admitted with pv_ct_admit, which leaves every
 * check to the run (container.c), so that all problems are reported
 * together; the catalogue's check (the producer's) reads only the shape of
 * the SSH key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "wh_crypto.h"
#include "wh_utf8.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- host.exec ---------------------------------------------------------- */

static wk_run exec_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    char *line = NULL;
    wh_err err;
    wh_code rc = pv_cmd_build(a, false, NULL, "args", &line, &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    pv_cmd cmd = {.command = line, .timeout_ms = wh_args_int(a, "timeout_s", 0) * 1000, .log = true};
    cmd.stdin_data = wh_args_str(a, wh_mp_map_get(a, "script") ? "script" : "stdin", "", &cmd.stdin_len);
    int code = -1;
    pv_tail tail = {0};
    rc = pv_exec(job, &cmd, &code, &tail, &err);
    free(line);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "exit_code", wh_json_int(code));
    wk_job_set_result(job, r);
    if(code != 0) {
        char last[PV_TAIL_LINES * (PV_TAIL_BYTES + 3) + 1];
        pv_tail_text(&tail, last, sizeof(last));
        return wk_job_fail(job, WH_E_COMMAND_FAILED, NULL, false, "exit status %d%s%s", code, last[0] ? ": " : "",
                           last);
    }
    return WK_RUN_OK;
}

/* ---- paths ------------------------------------------------------------------ */

/* Copy args.path into out and check it against the host's roots. */
static wh_code job_path(wk_job *job, char *out, size_t cap, wh_err *err)
{
    size_t n;
    const char *s = wh_args_str(wk_job_args(job), "path", "", &n);
    snprintf(out, cap, "%.*s", (int)n, s);
    return pv_path_allowed(job, out, "args.path", err);
}

/* ---- host.upload -------------------------------------------------------------- */

static wk_run upload_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    char path[WH_INV_PATH_MAX];
    wh_err err;
    wh_code rc = job_path(job, path, sizeof(path), &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    size_t n;
    unsigned char *decoded = NULL;
    wh_ssh_put put = {.path = path, .mode = (int)wh_args_int(a, "mode", 0644), .abort = pv_abort, .ud = job};
    const char *b = wh_args_str(a, "content_b64", NULL, &n);
    if(b) {
        rc = wh_base64_decode(b, n, &decoded, &put.len, "args.content_b64", &err);
        put.data = decoded;
    } else {
        put.data = wh_args_str(a, "content", "", &put.len);
    }
    const char *own = wh_args_str(a, "owner", "", &n);
    put.uid = put.gid = -1;
    if(!rc && n)
        rc = pv_owner_resolve(job, own, n, "args.owner", &put.uid, &put.gid, &err);
    char sha[WH_SSH_SHA256_HEX];
    wh_ssh_conn *c = NULL;
    if(!rc)
        rc = pv_conn_get(job, &c, &err);
    if(!rc)
        rc = wh_ssh_upload(c, &put, sha, &err);
    pv_conn_put(c);
    free(decoded);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wk_job_logf(job, WK_SYS, "uploaded %zu bytes to %s (sha256 %s)", put.len, path, sha);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "path", wh_json_str(path));
    wh_json_setc(r, "bytes", wh_json_int((int64_t)put.len));
    wh_json_setc(r, "sha256", wh_json_str(sha));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

/* ---- host.download ------------------------------------------------------------ */

static wk_run download_run(wk_job *job)
{
    char path[WH_INV_PATH_MAX];
    wh_err err;
    wh_code rc = job_path(job, path, sizeof(path), &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    size_t max = (size_t)wh_args_int(wk_job_args(job), "max_bytes", 65536);
    unsigned char *data = NULL;
    size_t len = 0;
    char sha[WH_SSH_SHA256_HEX];
    wh_ssh_conn *c = NULL;
    rc = pv_conn_get(job, &c, &err);
    if(!rc)
        rc = wh_ssh_download(c, path, max, pv_abort, job, &data, &len, sha, &err);
    pv_conn_put(c);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "path", wh_json_str(path));
    wh_json_setc(r, "bytes", wh_json_int((int64_t)len));
    wh_json_setc(r, "sha256", wh_json_str(sha));
    if(wh_utf8_valid((const char *)data, len)) {
        wh_json_setc(r, "content", wh_json_strn((const char *)data, len));
    } else {
        char *b64 = wh_base64_encode(data, len);
        wh_json_setc(r, "content_b64", b64 ? wh_json_str(b64) : NULL);
        free(b64);
    }
    free(data);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

/* ---- provision.run ------------------------------------------------------------ */

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

static const wk_bind provision_binds[] = {
    {"provision.host.exec", exec_run, NULL},
    {"provision.host.upload", upload_run, NULL},
    {"provision.run", pv_run, NULL},
    {"provision.validate", pv_validate_run, NULL},
    {"provision.container", pv_ct_run, pv_ct_admit},
    {"provision.destroy", pv_destroy_run, NULL},
    {"provision.host.download", download_run, NULL},
};

const wk_family wk_family_provision = {"provision", provision_binds, N(provision_binds)};
