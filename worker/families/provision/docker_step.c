/* docker_step: running the `docker` recipe step of provision.run (and of
 * provision.container's recipes for the docker driver; its checks are the
 * catalogue's, provision_recipe.c):
 *   {kind: docker, action: create|start|wait|exec|stop|destroy,
 *    container, image? (create), argv? (exec), stdin? (exec), timeout_s?}
 * argv elements are {{var}} templates; stdin is sent as given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "docker_driver.h"

#define PV_DSTEP_ARGV 48

wh_code pv_dstep_run(wk_job *job, const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, bool rollback,
                     int64_t default_timeout_s, wh_err *err)
{
    char name[65], image[256];
    size_t n;
    const char *s = wh_args_str(st, "container", "", &n);
    snprintf(name, sizeof(name), "%.*s", (int)n, s);
    s = wh_args_str(st, "image", "", &n);
    snprintf(image, sizeof(image), "%.*s", (int)n, s);
    pv_action act;
    const char *aname;
    if(pv_docker_action(st, &act, &aname))
        return wh_err_set(err, WH_E_BAD_ARGS, fp, "%s.action: unknown", fp);
    const char *argv[PV_DSTEP_ARGV];
    char *owned[PV_DSTEP_ARGV] = {0};
    const wh_mp_obj *av = wh_mp_map_get(st, "argv");
    int argc = 0;
    wh_code r = WH_OK;
    for(uint32_t i = 0; !r && av && i < wh_mp_size(av) && argc < PV_DSTEP_ARGV; i++) {
        s = "";
        n = 0;
        wh_mp_str(wh_mp_arr_at(av, i), &s, &n);
        r = pv_tpl_render(s, n, vars, &owned[argc], &n, fp, err);
        argv[argc] = owned[argc] ? owned[argc] : "";
        argc++;
    }
    pv_dock_op op = {.act = act, .name = name, .image = image, .argv = argv, .argc = argc,
                     .timeout_ms = wh_args_int(st, "timeout_s", default_timeout_s) * 1000, .rollback = rollback};
    op.stdin_data = wh_args_str(st, "stdin", NULL, &op.stdin_len);
    int code = 0;
    pv_tail tail = {0};
    if(!r)
        r = pv_dock_run(job, &op, &code, &tail, err);
    for(int i = 0; i < argc; i++)
        free(owned[i]);
    if(r && err->msg[0] && strncmp(err->msg, fp, strlen(fp)) != 0) {
        char m[2 * sizeof(err->msg)];
        int k = snprintf(m, sizeof(m), "%s: docker %s %s: %s", fp, aname, name, err->msg);
        size_t len = k < 0 ? 0 : (size_t)k < sizeof(err->msg) ? (size_t)k : sizeof(err->msg) - 1;
        memcpy(err->msg, m, len);
        err->msg[len] = '\0';
        snprintf(err->field, sizeof(err->field), "%s", fp);
    }
    if(!r && code != 0) {
        char last[PV_TAIL_LINES * (PV_TAIL_BYTES + 3) + 1];
        pv_tail_text(&tail, last, sizeof(last));
        r = wh_err_set(err, WH_E_COMMAND_FAILED, fp, "%s: docker %s %s: exit status %d%s%s", fp, aname,
                       name, code, last[0] ? ": " : "", last);
    }
    return r;
}
