/* steps: the step kinds of a recipe (provision.run, provision.container)
 * bound to the functions that run them: ssh_steps.c (exec, check, upload,
 * wait_port, wait_http, lxc) and docker_step.c (docker). The kinds, their
 * fields and checks are the catalogue's (common/catalog/provision_recipe.c);
 * progress, resume and rollback are recipe.c's, which runs each step here. */
#include <string.h>

#include "provision.h"

typedef wh_code step_fn(pv_step_ctx *rc, const wh_mp_obj *step, wh_err *err);

static wh_code do_docker(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    return pv_dstep_run(rc->job, st, rc->vars, rc->field, rc->rollback, rc->rollback ? PV_ROLLBACK_S : 0, err);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct step_run {
    const char *kind;
    step_fn *run;
} runs[] = {
    {"exec", pv_step_exec},      {"check", pv_step_exec}, {"upload", pv_step_upload}, {"wait_port", pv_step_wait},
    {"wait_http", pv_step_wait}, {"lxc", pv_step_lxc},    {"docker", do_docker},
};

bool pv_step_bound(const char *kind)
{
    for(int i = 0; i < N(runs); i++)
        if(strcmp(runs[i].kind, kind) == 0)
            return true;
    return false;
}

wh_code pv_step_run(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err)
{
    for(int i = 0; i < N(runs); i++)
        if(wh_mp_str_eq(wh_mp_map_get(st, "kind"), runs[i].kind))
            return runs[i].run(rc, st, err);
    return wh_err_set(err, WH_E_INTERNAL, rc->field, "unchecked step");
}
