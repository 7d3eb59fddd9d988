/* provision: the `provision` family, commands and files on inventory hosts
 * over SSH, recipes built from them, and containers (run functions in
 * worker/families/provision/).
 *   provision.host.exec     {argv | script, env?, cwd?, stdin?, timeout_s?}
 *   provision.host.upload   {path, content | content_b64, mode?, owner?}
 *   provision.host.download {path, max_bytes?}
 *   provision.run           a recipe (provision_recipe.c)
 *   provision.validate, provision.container, provision.destroy
 *                           containers (provision_container.c)
 * Every type needs a target host; whether a path lies inside its `roots`
 * is the worker's check, when the job runs. */
#include <stdlib.h>

#include "provision_args.h"
#include "wh_inv.h"
#include "wh_text.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define PV_ARGV_MAX 4096
#define PV_ENV_MAX 128
#define PV_DOWNLOAD_MAX (512 * 1024) /* the result (1 MiB of JSON) must hold it as base64 */

/* ---- host.exec ---- */

static const wh_arg_spec exec_args[] = {
    {"argv", WH_ARG_ARRAY, false, 1, PV_ARGV_MAX, NULL, NULL},
    {"script", WH_ARG_STR, false, 1, 256 * 1024, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, PV_ENV_MAX, NULL, NULL},
    {"cwd", WH_ARG_STR, false, 1, 512, NULL, NULL},
    {"stdin", WH_ARG_STR, false, 0, PV_STDIN_MAX, NULL, NULL},
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

/* ---- host.upload ---- */

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
    return b ? wh_text_base64_check(b, n, NULL, "args.content_b64", err) : WH_OK; /* decodes as the upload will */
}

/* ---- host.download ---- */

static const wh_arg_spec download_args[] = {
    {"path", WH_ARG_STR, true, 2, WH_INV_PATH_MAX - 1, pv_path_clean, "an absolute path without . or .. parts"},
    {"max_bytes", WH_ARG_INT, false, 0, PV_DOWNLOAD_MAX, NULL, NULL},
};

static const wh_job_type provision_types[] = {
    {.name = "provision.host.exec", .args = exec_args, .nargs = N(exec_args), .check = exec_check,
     .needs_host = true},
    {.name = "provision.host.upload", .args = upload_args, .nargs = N(upload_args), .check = upload_check,
     .needs_host = true},
    {.name = "provision.run", .args = pv_run_args, .nargs = PV_RUN_NARGS, .check = pv_run_check, .needs_host = true},
    /* Both report every problem at once: validate's are its result, so
     * nothing is refused before it runs. */
    {.name = "provision.validate", .args = pv_ct_args, .nargs = PV_CT_NARGS, .all_problems = true,
     .needs_host = true},
    {.name = "provision.container", .args = pv_ct_args, .nargs = PV_CT_NARGS, .check = pv_ct_check,
     .all_problems = true, .needs_host = true, .timeout_s = 1800},
    {.name = "provision.destroy", .args = pv_destroy_args, .nargs = PV_DESTROY_NARGS, .check = pv_destroy_check,
     .needs_host = true},
    {.name = "provision.host.download", .args = download_args, .nargs = N(download_args), .needs_host = true},
};

const wh_job_family wh_cat_provision = {"provision", provision_types, N(provision_types)};
