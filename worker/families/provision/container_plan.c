/* container_plan: provision.container's recipe, built from its args for the
 * chosen driver and run by pv_recipe_run (so it resumes and rolls back like
 * provision.run). Steps, with the step numbers:
 *   4  clone (rollback: destroy)    5  tag (pct)    6  start, wait running
 *   7  authorized_keys for root (0600 in a 0700 /root/.ssh)
 *   8  lock root's password, or set a random one (chpasswd on stdin)
 *   9  each hook: uploaded to /root/.wharf/hooks/NAME (0700) and run there
 *      with the hostname as $1
 *   10 the repo archive unpacked in /root/app, /root/app/.env (0600), the
 *      setup commands, then the services
 * lxc and pct steps are `exec` steps of the driver's argv (drivers.h) over
 * SSH; docker steps are `docker` steps on the target's engine (docker_driver.h).
 * Data (keys, passwords, hooks, archives) travels as the step's stdin and
 * never on a command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "docker_driver.h"
#include "drivers.h"

typedef struct plan {
    wh_mp_pack *p;
    const pv_driver *d;   /* NULL: docker */
    pv_drv_vals v;
    uint32_t count;       /* steps packed so far */
} plan;

void pv_ct_name(const wh_mp_obj *a, char *out, size_t cap)
{
    size_t n;
    if(wh_mp_str_eq(wh_mp_map_get(a, "driver"), "pct")) {
        snprintf(out, cap, "%lld", (long long)wh_args_int(a, "vmid", 0));
    } else {
        const char *h = wh_args_str(a, "hostname", "", &n);
        snprintf(out, cap, "%.*s", (int)n, h);
    }
}

void pv_ct_vals(wk_job *job, const wh_mp_obj *a, pv_drv_vals *v, char *name, size_t ncap, char *tmpl, size_t tcap)
{
    size_t n;
    const char *t = wh_args_str(a, "template", "", &n);
    snprintf(tmpl, tcap, "%.*s", (int)n, t);
    pv_ct_name(a, name, ncap);
    memset(v, 0, sizeof(*v));
    v->lxc_path = wk_job_host(job)->lxc_path;
    v->name = name;
    v->template_ = tmpl;
    v->tags = "wharf";
    v->description = name;
}

static void pack_words(wh_mp_pack *p, const char *const *w, int n)
{
    wh_mp_pack_array(p, (uint32_t)n);
    for(int i = 0; i < n; i++)
        wh_mp_pack_cstr(p, w[i]);
}

/* A driver action as one step; `undo` adds the destroy rollback. */
static void pack_action(plan *pl, const char *name, pv_action act, bool undo)
{
    wh_mp_pack *p = pl->p;
    if(!pl->d) {
        static const char *const verbs[PV_ACTION_COUNT] = {
            [PV_CLONE] = "create", [PV_START] = "start", [PV_WAIT] = "wait", [PV_STOP] = "stop",
            [PV_DESTROY] = "destroy"};
        if(!verbs[act])
            return; /* labels are set at create: nothing to tag */
        wh_mp_pack_map(p, 4 + (act == PV_CLONE) + undo);
        wh_mp_pack_cstr(p, "kind");
        wh_mp_pack_cstr(p, "docker");
        wh_mp_pack_cstr(p, "name");
        wh_mp_pack_cstr(p, name);
        wh_mp_pack_cstr(p, "action");
        wh_mp_pack_cstr(p, verbs[act]);
        wh_mp_pack_cstr(p, "container");
        wh_mp_pack_cstr(p, pl->v.name);
        if(act == PV_CLONE) {
            wh_mp_pack_cstr(p, "image");
            wh_mp_pack_cstr(p, pl->v.template_);
        }
        if(undo) {
            wh_mp_pack_cstr(p, "rollback");
            wh_mp_pack_map(p, 3);
            wh_mp_pack_cstr(p, "kind");
            wh_mp_pack_cstr(p, "docker");
            wh_mp_pack_cstr(p, "action");
            wh_mp_pack_cstr(p, "destroy");
            wh_mp_pack_cstr(p, "container");
            wh_mp_pack_cstr(p, pl->v.name);
        }
        pl->count++;
        return;
    }
    pv_drv_line line;
    if(pv_drv_argv(pl->d, act, &pl->v, &line))
        return; /* nothing to do for this driver */
    wh_mp_pack_map(p, 3 + undo);
    wh_mp_pack_cstr(p, "kind");
    wh_mp_pack_cstr(p, "exec");
    wh_mp_pack_cstr(p, "name");
    wh_mp_pack_cstr(p, name);
    wh_mp_pack_cstr(p, "argv");
    pack_words(p, line.v, line.n);
    if(undo) {
        pv_drv_argv(pl->d, PV_DESTROY, &pl->v, &line);
        wh_mp_pack_cstr(p, "rollback");
        wh_mp_pack_map(p, 2);
        wh_mp_pack_cstr(p, "kind");
        wh_mp_pack_cstr(p, "exec");
        wh_mp_pack_cstr(p, "argv");
        pack_words(p, line.v, line.n);
    }
    pl->count++;
}

/* A command run inside the container: `fixed` words then the strings of
 * the msgpack array `cmd` (either may be empty), with optional stdin. */
static void pack_inside(plan *pl, const char *name, const char *const *fixed, int nfixed, const wh_mp_obj *cmd,
                        const void *stdin_data, size_t stdin_len)
{
    const char *argv[PV_DRV_ARGV_MAX];
    char *owned[PV_DRV_ARGV_MAX] = {0};
    int n = 0;
    for(int i = 0; fixed && i < nfixed; i++)
        argv[n++] = fixed[i];
    for(uint32_t i = 0; cmd && i < wh_mp_size(cmd) && n < PV_DRV_ARGV_MAX - 8; i++) {
        const char *s = "";
        size_t sn = 0;
        if(!wh_mp_str(wh_mp_arr_at(cmd, i), &s, &sn)) /* validated as strings; be safe anyway */
            s = "", sn = 0;
        /* msgpack strings are not NUL-terminated: copy exactly sn bytes. */
        if((owned[n] = malloc(sn + 1))) {
            memcpy(owned[n], s, sn);
            owned[n][sn] = '\0';
        }
        argv[n] = owned[n] ? owned[n] : "";
        n++;
    }
    wh_mp_pack *p = pl->p;
    bool in = stdin_data != NULL;
    if(!pl->d) {
        wh_mp_pack_map(p, 5 + in);
        wh_mp_pack_cstr(p, "kind");
        wh_mp_pack_cstr(p, "docker");
        wh_mp_pack_cstr(p, "action");
        wh_mp_pack_cstr(p, "exec");
        wh_mp_pack_cstr(p, "container");
        wh_mp_pack_cstr(p, pl->v.name);
        wh_mp_pack_cstr(p, "argv");
        pack_words(p, argv, n);
    } else {
        pl->v.cmd = argv;
        pl->v.ncmd = n;
        pv_drv_line line;
        pv_drv_argv(pl->d, PV_EXEC, &pl->v, &line);
        pl->v.cmd = NULL;
        pl->v.ncmd = 0;
        wh_mp_pack_map(p, 3 + in);
        wh_mp_pack_cstr(p, "kind");
        wh_mp_pack_cstr(p, "exec");
        wh_mp_pack_cstr(p, "argv");
        pack_words(p, line.v, line.n);
    }
    wh_mp_pack_cstr(p, "name");
    wh_mp_pack_cstr(p, name);
    if(in) {
        wh_mp_pack_cstr(p, "stdin");
        wh_mp_pack_str(p, stdin_data, stdin_len);
    }
    for(int i = 0; i < n; i++)
        free(owned[i]);
    pl->count++;
}

/* The .env file: NAME=value lines (values were checked to be one line). */
static char *env_text(const wh_mp_obj *env, size_t *len)
{
    size_t cap = 1;
    for(uint32_t i = 0; env && i < wh_mp_size(env); i++) {
        size_t kn = 0, vn = 0;
        const char *k, *v;
        wh_mp_str(wh_mp_map_key(env, i), &k, &kn);
        wh_mp_str(wh_mp_map_val(env, i), &v, &vn);
        cap += kn + vn + 2;
    }
    char *out = malloc(cap);
    size_t o = 0;
    for(uint32_t i = 0; out && env && i < wh_mp_size(env); i++) {
        size_t kn = 0, vn = 0;
        const char *k = "", *v = "";
        wh_mp_str(wh_mp_map_key(env, i), &k, &kn);
        wh_mp_str(wh_mp_map_val(env, i), &v, &vn);
        o += (size_t)snprintf(out + o, cap - o, "%.*s=%.*s\n", (int)kn, k, (int)vn, v);
    }
    if(out)
        out[o] = '\0';
    *len = o;
    return out;
}

static void pack_key_and_password(plan *pl, const wh_mp_obj *a, const char *password, int *rerun)
{
    size_t kn;
    const char *key = wh_args_str(a, "ssh_public_key", "", &kn);
    char *keyline = malloc(kn + 2);
    if(keyline)
        snprintf(keyline, kn + 2, "%.*s\n", (int)kn, key);
    static const char *const auth[] = {"sh", "-c",
                                       "umask 077; mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys"};
    pack_inside(pl, "authorized_keys", auth, 3, NULL, keyline ? keyline : "", keyline ? kn + 1 : 0);
    free(keyline);
    if(password) {
        /* "root:<pw>\n" on stdin: never on a command line, never logged.
         * A resumed job has a new password, so this step runs again. */
        char line[128];
        int n = snprintf(line, sizeof(line), "root:%s\n", password);
        /* chpasswd where there is one; else (busybox) passwd, fed by the
         * shell's printf builtin so the password is in no process's argv */
        static const char *const chpw[] = {
            "sh", "-c",
            ("if command -v chpasswd >/dev/null 2>&1; then exec chpasswd; fi; "
             "IFS=: read -r u pw && printf '%s\\n%s\\n' \"$pw\" \"$pw\" | passwd \"$u\" >/dev/null")};
        *rerun = (int)pl->count;
        pack_inside(pl, "set root password", chpw, 3, NULL, line, (size_t)n);
        memset(line, 0, sizeof(line));
    } else {
        static const char *const lock[] = {"passwd", "-l", "root"};
        pack_inside(pl, "lock root password", lock, 3, NULL, NULL, 0);
    }
}

static void pack_hooks(plan *pl, const pv_blob *hooks, int nhooks, const char *hostname)
{
    static const char *const run[] = {
        "sh", "-c", "umask 077; mkdir -p /root/.wharf/hooks && cat > \"$1\" && chmod 0700 \"$1\" && exec \"$1\" \"$2\"",
        "sh"};
    for(int i = 0; i < nhooks; i++) {
        char path[160], name[128];
        snprintf(path, sizeof(path), "/root/.wharf/hooks/%s", hooks[i].name);
        snprintf(name, sizeof(name), "hook %s", hooks[i].name);
        const char *argv[] = {run[0], run[1], run[2], run[3], path, hostname};
        pack_inside(pl, name, argv, 6, NULL, hooks[i].data, hooks[i].len);
    }
}

static void pack_app(plan *pl, const wh_mp_obj *a, const pv_blob *repo)
{
    if(repo) {
        static const char *const untar[] = {"sh", "-c", "mkdir -p /root/app && tar -x -f - -C /root/app"};
        pack_inside(pl, "deploy repo", untar, 3, NULL, repo->data, repo->len);
    }
    if(wh_mp_map_get(a, "env")) {
        size_t en;
        char *text = env_text(wh_mp_map_get(a, "env"), &en);
        static const char *const envw[] = {"sh", "-c",
                                           "umask 077; mkdir -p /root/app && cat > /root/app/.env && chmod 0600 /root/app/.env"};
        pack_inside(pl, "write .env", envw, 3, NULL, text ? text : "", text ? en : 0);
        free(text);
    }
    const char *lists[] = {"setup", "services"};
    for(int l = 0; l < 2; l++) {
        const wh_mp_obj *cmds = wh_mp_map_get(a, lists[l]);
        for(uint32_t i = 0; cmds && i < wh_mp_size(cmds); i++) {
            char nm[32];
            snprintf(nm, sizeof(nm), "%s[%u]", lists[l], i);
            pack_inside(pl, nm, NULL, 0, wh_mp_arr_at(cmds, i), NULL, 0);
        }
    }
}

wh_mp_doc *pv_ct_plan(wk_job *job, const pv_plan_in *in, wh_mp_pack **packer, int *rerun, wh_err *err)
{
    const wh_mp_obj *a = in->args;
    char name[64], tmpl[256];
    plan pl = {.d = NULL};
    pv_ct_vals(job, a, &pl.v, name, sizeof(name), tmpl, sizeof(tmpl));
    if(!pv_ct_is_docker(a)) {
        size_t n;
        const char *drv = wh_args_str(a, "driver", "lxc", &n);
        pl.d = pv_drv_find(drv, n);
    }
    *rerun = -1;
    *packer = NULL;
    /* Pack the steps into a scratch buffer first to count them, then again
     * behind the array header. */
    for(int pass = 0; pass < 2; pass++) {
        wh_mp_pack_free(pl.p);
        pl.p = wh_mp_pack_new(8u << 20);
        if(!pl.p) {
            wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
            return NULL;
        }
        if(pass == 1)
            wh_mp_pack_array(pl.p, pl.count);
        pl.count = 0;
        pack_action(&pl, "clone", PV_CLONE, true);
        pack_action(&pl, "tag", PV_TAG, false);
        pack_action(&pl, "start", PV_START, false);
        pack_action(&pl, "wait running", PV_WAIT, false);
        pack_key_and_password(&pl, a, in->password, rerun);
        pack_hooks(&pl, in->hooks, in->nhooks, name);
        pack_app(&pl, a, in->repo);
    }
    *packer = pl.p;
    if(wh_mp_pack_failed(pl.p)) {
        wh_err_set(err, WH_E_TOO_LARGE, "args", "args: the container recipe is larger than 8 MiB");
        return NULL;
    }
    size_t len;
    const char *data = wh_mp_pack_data(pl.p, &len);
    return wh_mp_parse(data, len, 16, err);
}
