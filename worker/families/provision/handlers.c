/* handlers: the `provision` family, commands and files on inventory
 * hosts over SSH (wh_ssh), and recipes built from them.
 *   provision.host.exec     {argv | script, env?, cwd?, stdin?, timeout_s?}
 *   provision.host.upload   {path, content | content_b64, mode?, owner?}
 *   provision.host.download {path, max_bytes?}
 * Every type needs a target host; paths must lie inside its `roots`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "wh_crypto.h"
#include "wh_shq.h"
#include "wh_text.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define PV_ARGV_MAX 4096
#define PV_ENV_MAX 128

/* ---- host.exec ---------------------------------------------------------- */

static const wh_arg_spec exec_args[] = {
    {"argv", WH_ARG_ARRAY, false, 1, PV_ARGV_MAX, NULL, NULL},
    {"script", WH_ARG_STR, false, 1, 256 * 1024, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, PV_ENV_MAX, NULL, NULL},
    {"cwd", WH_ARG_STR, false, 1, 512, NULL, NULL},
    {"stdin", WH_ARG_STR, false, 0, WH_SSH_STDIN_MAX, NULL, NULL},
    {"timeout_s", WH_ARG_INT, false, 1, 86400, NULL, NULL},
};

static wh_code exec_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    if(wh_mp_map_get(args, "script") && wh_mp_map_get(args, "stdin"))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.stdin", "args.stdin: a script is sent on stdin; not both");
    char *line = NULL;
    wh_code rc = pv_cmd_build(args, false, NULL, "args", &line, err);
    free(line);
    return rc;
}

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

/* Absolute, without empty, "." or ".." components, no trailing slash. */
bool pv_path_clean(const char *s, size_t n)
{
    if(n < 2 || s[0] != '/' || s[n - 1] == '/' || memchr(s, '\0', n))
        return false;
    for(size_t i = 0; i < n;) {
        size_t j = i + 1;
        while(j < n && s[j] != '/')
            j++;
        size_t len = j - i - 1;
        if(len == 0 || (len == 1 && s[i + 1] == '.') || (len == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
            return false;
        i = j;
    }
    return true;
}

wh_code pv_path_allowed(wk_job *job, const char *path, const char *field, wh_err *err)
{
    const wh_inv_host *h = wk_job_host(job);
    if(!pv_path_clean(path, strlen(path)) || !wh_inv_path_allowed(h, path))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: %s is outside the roots of host.%s", field, path, h->name);
    return WH_OK;
}

/* Copy args.path into out and check it against the host's roots. */
static wh_code job_path(wk_job *job, char *out, size_t cap, wh_err *err)
{
    size_t n;
    const char *s = wh_args_str(wk_job_args(job), "path", "", &n);
    snprintf(out, cap, "%.*s", (int)n, s);
    return pv_path_allowed(job, out, "args.path", err);
}

/* ---- host.upload -------------------------------------------------------------- */

static const wh_arg_spec upload_args[] = {
    {"path", WH_ARG_STR, true, 2, WH_INV_PATH_MAX - 1, pv_path_clean, "an absolute path without . or .. parts"},
    {"content", WH_ARG_STR, false, 0, 64 << 20, NULL, NULL},
    {"content_b64", WH_ARG_STR, false, 0, 88 << 20, NULL, NULL},
    {"mode", WH_ARG_INT, false, 0, 07777, NULL, NULL},
    {"owner", WH_ARG_STR, false, 1, 65, pv_owner_ok, "user[:group], each a name or a number"},
};

static wh_code upload_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    if(!wh_mp_map_get(a, "content") == !wh_mp_map_get(a, "content_b64"))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.content", "args: give exactly one of content and content_b64");
    size_t n;
    const char *b = wh_args_str(a, "content_b64", NULL, &n);
    unsigned char *data = NULL;
    size_t len;
    wh_code rc = b ? wh_base64_decode(b, n, &data, &len, "args.content_b64", err) : WH_OK;
    free(data);
    return rc;
}

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

#define PV_DOWNLOAD_MAX (512 * 1024) /* the result (1 MiB of JSON) must hold it as base64 */

static const wh_arg_spec download_args[] = {
    {"path", WH_ARG_STR, true, 2, WH_INV_PATH_MAX - 1, pv_path_clean, "an absolute path without . or .. parts"},
    {"max_bytes", WH_ARG_INT, false, 0, PV_DOWNLOAD_MAX, NULL, NULL},
};

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

static const wk_type provision_types[] = {
    {.name = "provision.host.exec", .args = exec_args, .nargs = N(exec_args), .check = exec_check, .run = exec_run,
     .needs_host = true},
    {.name = "provision.host.upload", .args = upload_args, .nargs = N(upload_args), .check = upload_check, .run = upload_run,
     .needs_host = true},
    {.name = "provision.run", .args = pv_run_args, .nargs = PV_RUN_NARGS, .check = pv_run_check, .run = pv_run,
     .needs_host = true},
    {.name = "provision.validate", .args = pv_ct_args, .nargs = PV_CT_NARGS, .run = pv_validate_run,
     .needs_host = true},
    {.name = "provision.container", .args = pv_ct_args, .nargs = PV_CT_NARGS, .check = pv_ct_check,
     .run = pv_ct_run, .needs_host = true, .timeout_s = 1800},
    {.name = "provision.destroy", .args = pv_destroy_args, .nargs = PV_DESTROY_NARGS, .check = pv_destroy_check,
     .run = pv_destroy_run, .needs_host = true},
    {.name = "provision.host.download", .args = download_args, .nargs = N(download_args), .run = download_run,
     .needs_host = true},
};

const wk_family wk_family_provision = {"provision", provision_types, N(provision_types)};
