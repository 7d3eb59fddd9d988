/* runtime: the `runtime` family, Docker Engine hosts of the inventory (run
 * functions in worker/families/runtime/).
 *
 * This file holds the args tables and the type rows. Every type needs a
 * target host (needs_host) and takes a lock per object ("ctr:<name>",
 * "vol:<name>", "net:<name>", "img:<ref>", "stack:<name>") so jobs on one
 * container never overlap. Names are runtime_names.c's, the create body and
 * container.exec's shapes runtime_create_body.c's, stacks runtime_stack.c's,
 * templates runtime_template.c's. */
#include <stdio.h>
#include <string.h>

#include "runtime_args.h"
#include "wh_inv.h"
#include "wh_ref.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Lock keys: one per named object. */
static bool lock_of(const wh_mp_obj *args, const char *kind, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(args, key, NULL, &n);
    if(!s)
        return false;
    int k = snprintf(out, cap, "%s:%.*s", kind, (int)n, s);
    return k > 0 && (size_t)k < cap;
}
static bool ctr_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "ctr", "name", o, c); }
static bool vol_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "vol", "name", o, c); }
static bool net_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "net", "name", o, c); }
static bool img_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "img", "image", o, c); }
static bool stack_lock(const wh_mp_obj *a, char *o, size_t c) { return lock_of(a, "stack", "name", o, c); }

/* ---- args tables ---- */

static const wh_arg_spec logs_args[] = {
    {"name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"},
    {"tail", WH_ARG_INT, false, 0, 10000000, NULL, NULL},
    {"since", WH_ARG_INT, false, 0, INT64_C(1) << 40, NULL, NULL},
    {"follow_s", WH_ARG_INT, false, 0, 86400, NULL, NULL},
    {"timestamps", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
};

static const wh_arg_spec prune_args[] = {
    {"all", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
};

static const wh_arg_spec pull_args[] = {
    {"image", WH_ARG_STR, true, 1, WH_REF_MAX, NULL, NULL},
};

static wh_code pull_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    size_t n;
    const char *s = wh_args_str(args, "image", "", &n);
    wh_ref r;
    return wh_ref_parse(s, n, &r, "args.image", err);
}

static bool path_ok(const char *s, size_t n)
{
    return n >= 2 && s[0] == '/';
}

static const wh_arg_spec backup_args[] = {
    {"name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"},
    {"image", WH_ARG_STR, true, 1, 255, NULL, NULL},
    {"dest", WH_ARG_STR, false, 2, WH_INV_PATH_MAX - 8, path_ok, "must be an absolute path"},
    {"src", WH_ARG_STR, false, 2, WH_INV_PATH_MAX - 8, path_ok, "must be an absolute path"},
};

#define NAME_ARG(req) {"name", WH_ARG_STR, req, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"}
#define REF_ARG {"image", WH_ARG_STR, true, 1, 255, rt_ref_ok, "must be an image reference name[:tag][@digest]"}

static const wh_arg_spec no_args[] = {{"_", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec name_args[] = {NAME_ARG(true)};
static const wh_arg_spec stop_args[] = {NAME_ARG(true), {"timeout_s", WH_ARG_INT, false, 0, 3600, NULL, NULL}};
static const wh_arg_spec kill_args[] = {
    NAME_ARG(true),
    {"signal", WH_ARG_STR, false, 1, 16, rt_name_ok, "must be a signal name or number (KILL, TERM, 9)"}};
static const wh_arg_spec remove_args[] = {NAME_ARG(true),
                                          {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
                                          {"volumes", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec rename_args[] = {
    NAME_ARG(true),
    {"new_name", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"}};
static bool restart_ok(const char *s, size_t n)
{
    static const char *const ok[] = {"no", "always", "on-failure", "unless-stopped"};
    for(int i = 0; i < 4; i++)
        if(strlen(ok[i]) == n && memcmp(ok[i], s, n) == 0)
            return true;
    return false;
}
static const wh_arg_spec update_args[] = {
    NAME_ARG(true),
    {"restart", WH_ARG_STR, false, 2, 14, restart_ok, "must be no, always, on-failure or unless-stopped"},
    {"restart_max", WH_ARG_INT, false, 0, 1000, NULL, NULL},
    {"memory", WH_ARG_INT, false, 6291456, INT64_C(1) << 50, NULL, NULL},
    {"cpu_millis", WH_ARG_INT, false, 1, 1024000, NULL, NULL}};
static const wh_arg_spec image_args[] = {REF_ARG};
static const wh_arg_spec image_remove_args[] = {REF_ARG, {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec vol_create_args[] = {NAME_ARG(true),
                                              {"driver", WH_ARG_STR, false, 1, 64, rt_name_ok, "must be a driver name"},
                                              {"options", WH_ARG_MAP, false, 0, 64, NULL, NULL},
                                              {"labels", WH_ARG_MAP, false, 0, 64, NULL, NULL}};
static const wh_arg_spec vol_remove_args[] = {NAME_ARG(true), {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};
static const wh_arg_spec net_create_args[] = {NAME_ARG(true),
                                              {"driver", WH_ARG_STR, false, 1, 64, rt_name_ok, "must be a driver name"},
                                              {"internal", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
                                              {"subnet", WH_ARG_STR, false, 9, 43, NULL, NULL},
                                              {"labels", WH_ARG_MAP, false, 0, 64, NULL, NULL}};
static const wh_arg_spec net_connect_args[] = {
    NAME_ARG(true),
    {"container", WH_ARG_STR, true, 1, RT_NAME_MAX, rt_name_ok, "must be a container name or id"},
    {"aliases", WH_ARG_ARRAY, false, 0, 16, NULL, NULL},
    {"force", WH_ARG_BOOL, false, 0, 0, NULL, NULL}};

/* Shapes the table cannot express: map values must be strings. */
static wh_code str_maps_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    static const char *const keys[] = {"options", "labels", "aliases"};
    for(int k = 0; k < 3; k++) {
        const wh_mp_obj *m = wh_mp_map_get(args, keys[k]);
        bool arr = k == 2;
        for(uint32_t i = 0; m && i < wh_mp_size(m); i++) {
            const char *s;
            size_t n;
            if(!wh_mp_str(arr ? wh_mp_arr_at(m, i) : wh_mp_map_val(m, i), &s, &n) || n > 1024)
                return arr ? wh_err_at(err, WH_E_BAD_ARGS, "args.%s[%u]: must be a string of at most 1024 bytes",
                                       keys[k], i)
                           : wh_err_at(err, WH_E_BAD_ARGS, "args.%s: values must be strings of at most 1024 bytes",
                                       keys[k]);
        }
    }
    return WH_OK;
}

#define T(nm, a, lk) {.name = nm, .args = a, .nargs = N(a), .needs_host = true, .lock_key = lk}

static const wh_job_type runtime_types[] = {
    {.name = "runtime.host.ping", .args = no_args, .nargs = 0, .needs_host = true, .max_attempts = 0},
    {.name = "runtime.host.info", .args = no_args, .nargs = 0, .needs_host = true},
    {.name = "runtime.stack.deploy", .args = rt_stack_args, .nargs = RT_STACK_NARGS, .check = rt_stack_check,
     .needs_host = true, .lock_key = stack_lock, .max_attempts = 1},
    {.name = "runtime.stack.remove", .args = rt_unstack_args, .nargs = RT_UNSTACK_NARGS, .needs_host = true,
     .lock_key = stack_lock},
    {.name = "runtime.template.deploy", .args = rt_tmpl_args, .nargs = RT_TMPL_NARGS, .check = rt_tmpl_check,
     .needs_host = true, .lock_key = stack_lock, .max_attempts = 1},
    {.name = "runtime.host.sync", .args = no_args, .nargs = 0, .needs_host = true},
    {.name = "runtime.host.stats", .args = no_args, .nargs = 0, .needs_host = true, .max_attempts = 1},
    {.name = "runtime.container.create", .args = rt_create_args, .nargs = RT_CREATE_NARGS, .check = rt_create_check,
     .needs_host = true, .lock_key = ctr_lock},
    {.name = "runtime.container.run", .args = rt_create_args, .nargs = RT_CREATE_NARGS, .check = rt_create_check,
     .needs_host = true, .lock_key = ctr_lock},
    T("runtime.container.start", name_args, ctr_lock),
    T("runtime.container.stop", stop_args, ctr_lock),
    T("runtime.container.restart", stop_args, ctr_lock),
    T("runtime.container.pause", name_args, ctr_lock),
    T("runtime.container.unpause", name_args, ctr_lock),
    T("runtime.container.kill", kill_args, ctr_lock),
    T("runtime.container.remove", remove_args, ctr_lock),
    T("runtime.container.rename", rename_args, ctr_lock),
    T("runtime.container.update", update_args, ctr_lock),
    T("runtime.container.inspect", name_args, NULL),
    {.name = "runtime.container.list", .args = no_args, .nargs = 0, .needs_host = true},
    {.name = "runtime.container.exec", .args = rt_exec_args, .nargs = RT_EXEC_NARGS, .check = rt_exec_check,
     .needs_host = true, .lock_key = ctr_lock},
    T("runtime.container.logs", logs_args, NULL),
    {.name = "runtime.image.pull", .args = pull_args, .nargs = N(pull_args), .check = pull_check,
     .needs_host = true, .lock_key = img_lock},
    {.name = "runtime.image.list", .args = no_args, .nargs = 0, .needs_host = true},
    T("runtime.image.inspect", image_args, NULL),
    T("runtime.image.remove", image_remove_args, img_lock),
    T("runtime.image.prune", prune_args, NULL),
    {.name = "runtime.volume.create", .args = vol_create_args, .nargs = N(vol_create_args), .check = str_maps_check,
     .needs_host = true, .lock_key = vol_lock},
    T("runtime.volume.remove", vol_remove_args, vol_lock),
    T("runtime.volume.inspect", name_args, NULL),
    T("runtime.volume.backup", backup_args, vol_lock),
    T("runtime.volume.restore", backup_args, vol_lock),
    {.name = "runtime.volume.list", .args = no_args, .nargs = 0, .needs_host = true},
    {.name = "runtime.volume.prune", .args = no_args, .nargs = 0, .needs_host = true},
    {.name = "runtime.network.create", .args = net_create_args, .nargs = N(net_create_args), .check = str_maps_check,
     .needs_host = true, .lock_key = net_lock},
    T("runtime.network.remove", name_args, net_lock),
    {.name = "runtime.network.list", .args = no_args, .nargs = 0, .needs_host = true},
    {.name = "runtime.network.connect", .args = net_connect_args, .nargs = N(net_connect_args), .check = str_maps_check,
     .needs_host = true, .lock_key = net_lock},
    {.name = "runtime.network.disconnect", .args = net_connect_args, .nargs = N(net_connect_args),
     .check = str_maps_check, .needs_host = true, .lock_key = net_lock},
};

const wh_job_family wh_cat_runtime = {"runtime", runtime_types, N(runtime_types)};

