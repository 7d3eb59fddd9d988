/* provision_recipe: provision.run's args, a recipe of steps run in order on
 * the target (worker/families/provision/recipe.c runs them), and the checks
 * of every step kind.
 *
 *   {steps: [step...], rollback: [step...]?, vars: {name: "text"}?}
 *   step = {kind, name?, rollback: step?, ...kind fields}
 *     exec      {argv | script, env?, cwd?, stdin?, timeout_s?}
 *     check     same as exec, plus message?: a failing check fails the job
 *               with that message
 *     upload    {path, content, mode?, owner?}: content is a {{var}} template
 *     wait_port {port, host?, timeout_s?}: a TCP connect from the target
 *     wait_http {port, host?, path?, status?, timeout_s?}: a GET from the target
 *     lxc       {action, container, template?, argv?, timeout_s?}
 *     docker    {action, container, image?, argv?, stdin?, timeout_s?} on the
 *               target's Docker Engine
 * A step is checked whole before the job starts: its table, its {{var}}
 * references, its command line; a rollback step has none of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision_args.h"
#include "wh_inv.h"
#include "wh_text.h"

#define PV_STEPS_MAX 256

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
            {"stdin", WH_ARG_STR, false, 0, PV_STDIN_MAX, NULL, NULL},                                             \
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
    return n && wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") && s[0] != '-' &&
           s[0] != '.';
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
    {"stdin", WH_ARG_STR, false, 0, PV_STDIN_MAX, NULL, NULL},
    {"timeout_s", WH_ARG_INT, false, 1, 86400, NULL, NULL},
};
static const wh_arg_spec wait_port_spec[] = {COMMON, WAIT};
static const wh_arg_spec wait_http_spec[] = {
    COMMON, WAIT,
    {"path", WH_ARG_STR, false, 1, 1024, NULL, NULL},
    {"status", WH_ARG_INT, false, 100, 599, NULL, NULL},
};

/* ---- what each kind checks beyond its table ---- */

typedef wh_code step_check(const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, wh_err *err);

/* exec and check: the command line builds, with the vars rendered. */
static wh_code cmd_check(const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, wh_err *err)
{
    if(wh_mp_map_get(st, "script") && wh_mp_map_get(st, "stdin"))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.stdin: a script is sent on stdin; not both", fp);
    char *out = NULL;
    wh_code rc = pv_cmd_build(st, true, vars, fp, &out, err);
    free(out);
    return rc;
}

/* Every element of args `argv` a string whose {{vars}} render. */
static wh_code argv_check(const wh_mp_obj *argv, const wh_mp_obj *vars, const char *fp, wh_err *err)
{
    for(uint32_t i = 0; argv && i < wh_mp_size(argv); i++) {
        const char *s;
        size_t n;
        char *out = NULL;
        if(!wh_mp_str(wh_mp_arr_at(argv, i), &s, &n))
            return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.argv: every element must be a string", fp);
        wh_code rc = pv_tpl_render(s, n, vars, &out, &n, fp, err);
        free(out);
        if(rc)
            return rc;
    }
    return WH_OK;
}

static wh_code lxc_check(const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, wh_err *err)
{
    pv_action act;
    if(pv_lxc_action(st, &act, NULL))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.action: must be clone, start, wait, exec, stop or destroy", fp);
    if((act == PV_EXEC) != (wh_mp_map_get(st, "argv") != NULL))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.argv: required by exec and only there", fp);
    if(act == PV_CLONE && !wh_mp_map_get(st, "template"))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.template: required by clone", fp);
    return argv_check(wh_mp_map_get(st, "argv"), vars, fp, err);
}

static wh_code docker_check(const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, wh_err *err)
{
    pv_action act;
    if(pv_docker_action(st, &act, NULL))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.action: must be create, start, wait, exec, stop or destroy", fp);
    bool exec = act == PV_EXEC;
    if(exec != (wh_mp_map_get(st, "argv") != NULL))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.argv: required by exec and only there", fp);
    if(!exec && wh_mp_map_get(st, "stdin"))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.stdin: only for exec", fp);
    size_t n;
    const char *s = wh_args_str(st, "image", NULL, &n);
    if((act == PV_CLONE) != (s != NULL))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.image: required by create and only there", fp);
    if(s && !pv_dock_image_ok(s, n))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.image: not an image reference ([A-Za-z0-9_.:/@-])", fp);
    return argv_check(wh_mp_map_get(st, "argv"), vars, fp, err);
}

/* upload: the content template renders. */
static wh_code upload_check(const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, wh_err *err)
{
    size_t n;
    char *out = NULL;
    const char *s = wh_args_str(st, "content", "", &n);
    wh_code rc = pv_tpl_render(s, n, vars, &out, &n, fp, err);
    free(out);
    return rc;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct step_kind {
    const char *kind;
    const wh_arg_spec *spec;
    int nspec;
    step_check *check;  /* NULL: the table says it all */
} kinds[] = {
    {"exec", exec_spec, N(exec_spec), cmd_check},
    {"check", check_spec, N(check_spec), cmd_check},
    {"upload", upload_spec, N(upload_spec), upload_check},
    {"wait_port", wait_port_spec, N(wait_port_spec), NULL},
    {"wait_http", wait_http_spec, N(wait_http_spec), NULL},
    {"lxc", lxc_spec, N(lxc_spec), lxc_check},
    {"docker", docker_spec, N(docker_spec), docker_check},
};

static const struct step_kind *kind_of(const wh_mp_obj *step)
{
    for(int i = 0; i < N(kinds); i++)
        if(wh_mp_str_eq(wh_mp_map_get(step, "kind"), kinds[i].kind))
            return &kinds[i];
    return NULL;
}

const char *pv_step_kind(int i)
{
    return i >= 0 && i < N(kinds) ? kinds[i].kind : NULL;
}

/* ---- actions of the lxc and docker steps ---- */

typedef struct action_name {
    const char *name;
    pv_action act;
} action_name;

static const action_name lxc_actions[] = {{"clone", PV_CLONE}, {"start", PV_START}, {"wait", PV_WAIT},
                                          {"exec", PV_EXEC},   {"stop", PV_STOP},   {"destroy", PV_DESTROY}};
static const action_name docker_actions[] = {{"create", PV_CLONE}, {"start", PV_START}, {"wait", PV_WAIT},
                                             {"exec", PV_EXEC},    {"stop", PV_STOP},   {"destroy", PV_DESTROY}};

static int action_in(const action_name *t, int n, const wh_mp_obj *st, pv_action *act, const char **name)
{
    for(int i = 0; i < n; i++)
        if(wh_mp_str_eq(wh_mp_map_get(st, "action"), t[i].name)) {
            *act = t[i].act;
            if(name)
                *name = t[i].name;
            return 0;
        }
    return -1;
}

int pv_lxc_action(const wh_mp_obj *st, pv_action *act, const char **name)
{
    return action_in(lxc_actions, N(lxc_actions), st, act, name);
}

int pv_docker_action(const wh_mp_obj *st, pv_action *act, const char **name)
{
    return action_in(docker_actions, N(docker_actions), st, act, name);
}

/* ---- recipes ---- */

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
        return err ? wh_args_rebase(err, fp) : WH_E_BAD_ARGS; /* "args.steps[2].argv: ..." */
    wh_code rc = k->check ? k->check(st, vars, fp, err) : WH_OK;
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
