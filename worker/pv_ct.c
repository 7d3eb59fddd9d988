/* pv_ct: provision.validate, provision.container and provision.destroy.
 *
 * provision.container turns its args into a recipe for the chosen driver
 * (pv_drv.h) and runs it with pv_recipe_run, so it resumes and rolls back
 * like provision.run: clone (rollback: destroy), tag, start, wait until
 * running, install the public key for root, lock root's password, write
 * /root/app/.env (0600) from `env`, run `setup` then `services` commands
 * inside. Before that, everything is validated (every problem reported at
 * once) and the hostname and http port are reserved in the port map; after
 * it, the entry is marked ready. A job that ends without success has
 * destroyed what it created and released its reservation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv.h"
#include "pv_drv.h"
#include "wh_shq.h"
#include "wh_text.h"
#include <stdarg.h>

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define PV_CMDS_MAX 64

static const char *const allowed_protocols[] = {"http", "https", "ssh"};

const wh_arg_spec pv_ct_args[PV_CT_NARGS] = {
    {"driver", WH_ARG_STR, false, 1, 8, NULL, NULL},
    {"template", WH_ARG_STR, false, 1, 64, NULL, NULL},
    {"hostname", WH_ARG_STR, false, 1, 63, NULL, NULL},
    {"ssh_public_key", WH_ARG_STR, false, 1, 16384, NULL, NULL},
    {"protocols", WH_ARG_ARRAY, false, 0, 16, NULL, NULL},
    {"http_port", WH_ARG_INT, false, 1, 65535, NULL, NULL},
    {"vmid", WH_ARG_INT, false, 100, 999999999, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, 128, NULL, NULL},
    {"setup", WH_ARG_ARRAY, false, 0, PV_CMDS_MAX, NULL, NULL},
    {"services", WH_ARG_ARRAY, false, 0, PV_CMDS_MAX, NULL, NULL},
};

/* ---- validation ---------------------------------------------------------- */

static void problem(wh_json *list, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(wh_json *list, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wh_json *p = wh_json_object();
    wh_json_setc(p, "field", wh_json_str(field));
    wh_json_setc(p, "message", wh_json_str(msg));
    wh_json_push(list, p);
}

/* RFC 1123 label, lowercase: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
static bool label_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 63 && wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyz0123456789-") && s[0] != '-' &&
           s[n - 1] != '-';
}

static bool cmd_list_ok(const wh_mp_obj *list)
{
    for(uint32_t i = 0; list && i < wh_mp_size(list); i++) {
        const wh_mp_obj *c = wh_mp_arr_at(list, i);
        if(wh_mp_kind_of(c) != WH_MP_ARRAY || wh_mp_size(c) == 0 || wh_mp_size(c) > 48)
            return false;
        for(uint32_t j = 0; j < wh_mp_size(c); j++)
            if(wh_mp_kind_of(wh_mp_arr_at(c, j)) != WH_MP_STR)
                return false;
    }
    return true;
}

static void check_protocols(const wh_mp_obj *a, wh_json *problems, wh_json *clean)
{
    const wh_mp_obj *pr = wh_mp_map_get(a, "protocols");
    for(uint32_t i = 0; pr && i < wh_mp_size(pr); i++) {
        const char *s;
        size_t n;
        bool ok = false, dup = false;
        if(wh_mp_str(wh_mp_arr_at(pr, i), &s, &n))
            for(int k = 0; k < N(allowed_protocols); k++)
                ok = ok || (strlen(allowed_protocols[k]) == n && memcmp(allowed_protocols[k], s, n) == 0);
        if(!ok) {
            problem(problems, "args.protocols", "args.protocols[%u]: not in the allow list (http, https, ssh)", i);
            continue;
        }
        for(size_t k = 0; k < wh_json_size(clean); k++) {
            size_t cn;
            const char *c = wh_json_strv(wh_json_at(clean, k), &cn);
            dup = dup || (cn == n && memcmp(c, s, n) == 0);
        }
        if(!dup)
            wh_json_push(clean, wh_json_strn(s, n));
    }
}

/* Checks that need no I/O; every problem goes into `problems`. */
static void check_static(const wh_mp_obj *a, wh_json *problems, wh_json *protocols)
{
    size_t n;
    const char *s = wh_args_str(a, "hostname", NULL, &n);
    if(!s || !label_ok(s, n))
        problem(problems, "args.hostname", "args.hostname: %s", s ? "must be an RFC 1123 label in lowercase" : "required");
    s = wh_args_str(a, "driver", "lxc", &n);
    const pv_driver *d = pv_drv_find(s, n);
    if(!d)
        problem(problems, "args.driver", "args.driver: must be lxc or pct");
    bool pct = d && n == 3 && memcmp(s, "pct", 3) == 0;
    s = wh_args_str(a, "template", NULL, &n);
    if(!s || !wh_text_only(s, n, pct ? "0123456789" : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"))
        problem(problems, "args.template", "args.template: %s", s ? "not a container name (pct: a VMID)" : "required");
    if(pct && !wh_mp_map_get(a, "vmid"))
        problem(problems, "args.vmid", "args.vmid: required by the pct driver");
    wh_err err;
    s = wh_args_str(a, "ssh_public_key", NULL, &n);
    if(!s)
        problem(problems, "args.ssh_public_key", "args.ssh_public_key: required");
    else if(wh_ssh_pubkey_check(s, n, "args.ssh_public_key", &err))
        problem(problems, "args.ssh_public_key", "%s", err.msg);
    check_protocols(a, problems, protocols);
    const wh_mp_obj *env = wh_mp_map_get(a, "env");
    for(uint32_t i = 0; env && i < wh_mp_size(env); i++) {
        const char *k, *v;
        size_t kn, vn;
        if(!wh_mp_str(wh_mp_map_key(env, i), &k, &kn) || !wh_shq_env_name(k, kn) ||
           !wh_mp_str(wh_mp_map_val(env, i), &v, &vn) || memchr(v, '\n', vn) || memchr(v, '\0', vn))
            problem(problems, "args.env", "args.env: names must be [A-Za-z_][A-Za-z0-9_]* and values one line of text");
    }
    if(!cmd_list_ok(wh_mp_map_get(a, "setup")))
        problem(problems, "args.setup", "args.setup: must be a list of argv arrays of strings");
    if(!cmd_list_ok(wh_mp_map_get(a, "services")))
        problem(problems, "args.services", "args.services: must be a list of argv arrays of strings");
}

/* The container's name on its host: the hostname (lxc) or the VMID (pct). */
static void ct_name(const wh_mp_obj *a, char *out, size_t cap)
{
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    if(n == 3 && memcmp(drv, "pct", 3) == 0) {
        snprintf(out, cap, "%lld", (long long)wh_args_int(a, "vmid", 0));
    } else {
        const char *h = wh_args_str(a, "hostname", "", &n);
        snprintf(out, cap, "%.*s", (int)n, h);
    }
}

static void vals_of(wk_job *job, const wh_mp_obj *a, pv_drv_vals *v, char *name, size_t ncap, char *tmpl, size_t tcap)
{
    size_t n;
    const char *t = wh_args_str(a, "template", "", &n);
    snprintf(tmpl, tcap, "%.*s", (int)n, t);
    ct_name(a, name, ncap);
    memset(v, 0, sizeof(*v));
    v->lxc_path = wk_job_host(job)->lxc_path;
    v->name = name;
    v->template_ = tmpl;
    v->tags = "wharf";
    v->description = name;
}

/* Run one driver action on the host; *exit_code gets its status. */
static wh_code drv_run(wk_job *job, const pv_driver *d, pv_action act, const pv_drv_vals *v, int *exit_code,
                       wh_err *err)
{
    pv_drv_line line;
    if(pv_drv_argv(d, act, v, &line))
        return wh_err_set(err, WH_E_INTERNAL, NULL, "driver has no command for action %d", (int)act);
    wh_shq_str argv[PV_DRV_ARGV_MAX];
    for(int i = 0; i < line.n; i++)
        argv[i] = (wh_shq_str){line.v[i], strlen(line.v[i])};
    wh_shq_cmd c = {argv, line.n, NULL, NULL, NULL, 0};
    char *cmd = NULL;
    wh_code rc = wh_shq_build(&c, &cmd, err);
    pv_cmd pc = {.command = cmd, .timeout_ms = 120000, .log = true, .rollback = false};
    if(!rc)
        rc = pv_exec(job, &pc, exit_code, NULL, err);
    free(cmd);
    return rc;
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

/* Checks with I/O: the hostname is free, the host answers, the template exists. */
static void check_live(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *h = wh_args_str(a, "hostname", NULL, &n);
    char host[64];
    snprintf(host, sizeof(host), "%.*s", h ? (int)n : 0, h ? h : "");
    if(host[0] && holder(job, host) < 0)
        problem(problems, "args.hostname", "args.hostname: %s is taken in the port map", host);
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    const pv_driver *d = pv_drv_find(drv, n);
    if(!d)
        return;
    char name[64], tmpl[80];
    pv_drv_vals v;
    vals_of(job, a, &v, name, sizeof(name), tmpl, sizeof(tmpl));
    v.name = tmpl; /* does the template exist? */
    int code = -1;
    wh_err err;
    wh_code rc = drv_run(job, d, PV_EXISTS, &v, &code, &err);
    if(rc)
        problem(problems, "target", "target: %s", err.msg);
    else if(code != 0)
        problem(problems, "args.template", "args.template: %s does not exist on host.%s", tmpl,
                wk_job_host(job)->name);
}

/* Every problem in one message: "2 problems: a: x; b: y". */
static void join_problems(const wh_json *problems, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "%zu problem(s): ", wh_json_size(problems));
    for(size_t i = 0; i < wh_json_size(problems) && o < cap; i++) {
        size_t mn;
        const char *m = wh_json_strv(wh_json_get(wh_json_at(problems, i), "message"), &mn);
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? "; " : "", (int)mn, m);
    }
}

wh_code pv_ct_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    check_static(a, problems, protocols);
    wh_code rc = WH_OK;
    if(wh_json_size(problems)) {
        char msg[sizeof(err->msg)];
        join_problems(problems, msg, sizeof(msg));
        rc = wh_err_set(err, WH_E_BAD_ARGS, wh_json_strv(wh_json_get(wh_json_at(problems, 0), "field"), NULL), "%s",
                        msg);
    }
    wh_json_free(problems);
    wh_json_free(protocols);
    return rc;
}

wk_run pv_validate_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    check_static(a, problems, protocols);
    check_live(job, a, problems);
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

/* ---- provision.container ---------------------------------------------------- */

/* Pack {"kind":"exec","name":..,"argv":[driver line],"stdin"?:..,"rollback"?:{..}}. */
static void pack_step(wh_mp_pack *p, const char *name, const pv_driver *d, pv_action act, const pv_drv_vals *v,
                      const char *stdin_data, size_t stdin_len, bool undo)
{
    pv_drv_line line;
    if(pv_drv_argv(d, act, v, &line))
        return;
    wh_mp_pack_map(p, 3 + (stdin_data != NULL) + undo);
    wh_mp_pack_cstr(p, "kind");
    wh_mp_pack_cstr(p, "exec");
    wh_mp_pack_cstr(p, "name");
    wh_mp_pack_cstr(p, name);
    wh_mp_pack_cstr(p, "argv");
    wh_mp_pack_array(p, (uint32_t)line.n);
    for(int i = 0; i < line.n; i++)
        wh_mp_pack_cstr(p, line.v[i]);
    if(stdin_data) {
        wh_mp_pack_cstr(p, "stdin");
        wh_mp_pack_str(p, stdin_data, stdin_len);
    }
    if(undo) {
        pv_drv_argv(d, PV_DESTROY, v, &line);
        wh_mp_pack_cstr(p, "rollback");
        wh_mp_pack_map(p, 2);
        wh_mp_pack_cstr(p, "kind");
        wh_mp_pack_cstr(p, "exec");
        wh_mp_pack_cstr(p, "argv");
        wh_mp_pack_array(p, (uint32_t)line.n);
        for(int i = 0; i < line.n; i++)
            wh_mp_pack_cstr(p, line.v[i]);
    }
}

static void pack_inside(wh_mp_pack *p, const char *name, const pv_driver *d, pv_drv_vals *v, const wh_mp_obj *cmd,
                        const char *const *fixed, int nfixed, const char *stdin_data, size_t stdin_len)
{
    const char *argv[PV_DRV_ARGV_MAX];
    char *owned[PV_DRV_ARGV_MAX];
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
    v->cmd = argv;
    v->ncmd = n;
    pack_step(p, name, d, PV_EXEC, v, stdin_data, stdin_len, false);
    for(int i = nfixed; i < n; i++)
        free(owned[i]);
    v->cmd = NULL;
    v->ncmd = 0;
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

static uint32_t size_of(const wh_mp_obj *o)
{
    return o ? wh_mp_size(o) : 0;
}

static uint32_t count_steps(const wh_mp_obj *a, bool tag)
{
    return 5u + tag + (wh_mp_map_get(a, "env") != NULL) + size_of(wh_mp_map_get(a, "setup")) +
           size_of(wh_mp_map_get(a, "services"));
}

/* The recipe for `a` as a msgpack array of steps. */
static wh_mp_doc *ct_recipe(wk_job *job, const wh_mp_obj *a, const pv_driver *d, wh_mp_pack **packer, wh_err *err)
{
    char name[64], tmpl[80];
    pv_drv_vals v;
    vals_of(job, a, &v, name, sizeof(name), tmpl, sizeof(tmpl));
    pv_drv_line probe;
    bool tag = pv_drv_argv(d, PV_TAG, &v, &probe) == 0;
    wh_mp_pack *p = wh_mp_pack_new(4u << 20);
    if(!p) {
        wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
        return NULL;
    }
    wh_mp_pack_array(p, count_steps(a, tag));
    pack_step(p, "clone", d, PV_CLONE, &v, NULL, 0, true);
    if(tag)
        pack_step(p, "tag", d, PV_TAG, &v, NULL, 0, false);
    pack_step(p, "start", d, PV_START, &v, NULL, 0, false);
    pack_step(p, "wait running", d, PV_WAIT, &v, NULL, 0, false);
    size_t kn;
    const char *key = wh_args_str(a, "ssh_public_key", "", &kn);
    char *keyline = malloc(kn + 2);
    if(keyline)
        snprintf(keyline, kn + 2, "%.*s\n", (int)kn, key);
    static const char *const auth[] = {"sh", "-c",
                                       "umask 077; mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys"};
    pack_inside(p, "authorized_keys", d, &v, NULL, auth, 3, keyline ? keyline : "", keyline ? kn + 1 : 0);
    free(keyline);
    static const char *const lock[] = {"passwd", "-l", "root"};
    pack_inside(p, "lock root password", d, &v, NULL, lock, 3, NULL, 0);
    if(wh_mp_map_get(a, "env")) {
        size_t en;
        char *text = env_text(wh_mp_map_get(a, "env"), &en);
        static const char *const envw[] = {"sh", "-c", "umask 077; mkdir -p /root/app && cat > /root/app/.env"};
        pack_inside(p, "write .env", d, &v, NULL, envw, 3, text ? text : "", text ? en : 0);
        free(text);
    }
    const char *lists[] = {"setup", "services"};
    for(int l = 0; l < 2; l++) {
        const wh_mp_obj *cmds = wh_mp_map_get(a, lists[l]);
        for(uint32_t i = 0; cmds && i < wh_mp_size(cmds); i++) {
            char nm[32];
            snprintf(nm, sizeof(nm), "%s[%u]", lists[l], i);
            pack_inside(p, nm, d, &v, wh_mp_arr_at(cmds, i), NULL, 0, NULL, 0);
        }
    }
    size_t len;
    const char *data = wh_mp_pack_data(p, &len);
    *packer = p;
    if(wh_mp_pack_failed(p)) {
        wh_err_set(err, WH_E_TOO_LARGE, "args", "args: the container recipe is too large");
        return NULL;
    }
    return wh_mp_parse(data, len, 16, err);
}

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
    check_static(a, problems, protocols);
    check_live(job, a, problems);
    wh_err err;
    wh_code rc = WH_OK;
    if(wk_job_interrupted(job)) {
        wh_json_free(problems);
        wh_json_free(protocols);
        return WK_RUN_INTERRUPTED;
    }
    if(wh_json_size(problems)) {
        char msg[sizeof(err.msg)];
        join_problems(problems, msg, sizeof(msg));
        wh_json_free(problems);
        wh_json_free(protocols);
        return wk_job_fail(job, WH_E_BAD_ARGS, NULL, false, "%s", msg);
    }
    wh_json_free(problems);
    char *json = entry_json(job, a, name, protocols);
    rc = json ? pv_portmap_reserve(job, hostname, json, (int)wh_args_int(a, "http_port", 0), &err)
              : wh_err_set(&err, WH_E_NOMEM, NULL, "out of memory");
    free(json);
    return rc ? pv_fail(job, rc, &err) : WK_RUN_OK;
}

wk_run pv_ct_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t n;
    const char *h = wh_args_str(a, "hostname", "", &n);
    char hostname[64], name[64];
    snprintf(hostname, sizeof(hostname), "%.*s", (int)n, h);
    ct_name(a, name, sizeof(name));
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    const pv_driver *d = pv_drv_find(drv, n);
    wk_job_progress(job, 0, "validate");
    wk_run r = ct_prepare(job, a, hostname, name);
    if(r != WK_RUN_OK)
        return r;
    wh_err err;
    wh_mp_pack *packer = NULL;
    wh_mp_doc *doc = ct_recipe(job, a, d, &packer, &err);
    bool ended = true;
    if(!doc) {
        r = pv_fail(job, err.code, &err);
    } else {
        pv_recipe rp = {wh_mp_root(doc), NULL, NULL, "container"};
        r = pv_recipe_run(job, &rp, &ended);
    }
    wh_mp_doc_free(doc);
    wh_mp_pack_free(packer);
    if(r == WK_RUN_OK && pv_portmap_update(job, hostname, false, "ready", NULL, &err) == WH_OK) {
        wk_job_progress(job, 100, "ready");
        wh_json *res = wh_json_object();
        wh_json_setc(res, "hostname", wh_json_str(hostname));
        wh_json_setc(res, "container", wh_json_str(name));
        wh_json_setc(res, "driver", wh_json_strn(drv, n));
        wh_json_setc(res, "host", wh_json_str(wk_job_host(job)->name));
        wh_json_setc(res, "state", wh_json_str("ready"));
        wk_job_set_result(job, res);
        return WK_RUN_OK;
    }
    if(r == WK_RUN_OK)
        return pv_fail(job, err.code, &err);
    if(ended) /* rolled back: give the hostname and ports back */
        pv_portmap_update(job, hostname, false, "", NULL, &err);
    return r;
}

/* ---- provision.destroy -------------------------------------------------------- */

const wh_arg_spec pv_destroy_args[PV_DESTROY_NARGS] = {
    {"hostname", WH_ARG_STR, true, 1, 63, label_ok, "an RFC 1123 label in lowercase"},
    {"driver", WH_ARG_STR, false, 1, 8, NULL, NULL},
    {"vmid", WH_ARG_INT, false, 100, 999999999, NULL, NULL},
};

wh_code pv_destroy_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    if(!pv_drv_find(drv, n))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.driver", "args.driver: must be lxc or pct");
    if(n == 3 && memcmp(drv, "pct", 3) == 0 && !wh_mp_map_get(a, "vmid"))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.vmid", "args.vmid: required by the pct driver");
    return WH_OK;
}

wk_run pv_destroy_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t n;
    const char *h = wh_args_str(a, "hostname", "", &n);
    char hostname[64], name[64], tmpl[8];
    snprintf(hostname, sizeof(hostname), "%.*s", (int)n, h);
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    const pv_driver *d = pv_drv_find(drv, n);
    pv_drv_vals v;
    vals_of(job, a, &v, name, sizeof(name), tmpl, sizeof(tmpl));
    wh_err err;
    int code = -1, gone = -1;
    wh_code rc = drv_run(job, d, PV_EXISTS, &v, &code, &err);
    bool existed = !rc && code == 0;
    if(!rc && existed)
        rc = drv_run(job, d, PV_DESTROY, &v, &code, &err);
    if(!rc && existed && code != 0)
        rc = wh_err_set(&err, WH_E_COMMAND_FAILED, NULL, "destroying %s failed with exit status %d", name, code);
    if(!rc)
        rc = pv_portmap_update(job, hostname, true, "", &gone, &err);
    if(rc)
        return pv_fail(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "hostname", wh_json_str(hostname));
    wh_json_setc(r, "destroyed", wh_json_bool(existed));
    wh_json_setc(r, "released", wh_json_bool(gone == 1));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
