/* provision_container: the args of provision.validate, provision.container
 * and provision.destroy, and the checks without I/O that both the
 * admission and the worker's validation run (the worker adds the checks
 * with I/O: worker/families/provision/container_check.c). Every problem is
 * reported at once as {field, message}, a field naming the element at
 * fault ("args.protocols[1]", "args.env.NAME"): first those of the args
 * table (types, sizes, unknown keys), then these, each for a field the
 * table accepted:
 *   hostname    an RFC 1123 label in lowercase
 *   driver      lxc, docker or pct; template a name (lxc), an image
 *               reference (docker) or a VMID (pct)
 *   protocols   lowercase names, each in the worker's allow list when one
 *               is given ([provision] protocols); duplicates are removed
 *               (the result's `protocols`)
 *   ssh_public_key  one public key line, not a private key; whether it
 *               parses is the key checker's (libssh in the worker)
 *   env         names [A-Za-z_][A-Za-z0-9_]*, one-line values
 *   setup, services  lists of argv arrays of strings
 *   hooks       names without '/' or ".."
 *   root_password   "random" or "lock"
 *   repo        http(s):// or file:// URL without credentials */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "provision_args.h"
#include "wh_shq.h"
#include "wh_text.h"

#define PV_CMDS_MAX 64
#define PV_HOOKS_MAX 16

static bool repo_ok(const char *s, size_t n);

const wh_arg_spec pv_ct_args[PV_CT_NARGS] = {
    {"driver", WH_ARG_STR, false, 1, 8, NULL, NULL},
    {"template", WH_ARG_STR, false, 1, 255, NULL, NULL},
    {"hostname", WH_ARG_STR, false, 1, 63, NULL, NULL},
    {"ssh_public_key", WH_ARG_STR, false, 1, 16384, NULL, NULL},
    {"protocols", WH_ARG_ARRAY, false, 0, 16, NULL, NULL},
    {"http_port", WH_ARG_INT, false, 1, 65535, NULL, NULL},
    {"vmid", WH_ARG_INT, false, 100, 999999999, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, 128, NULL, NULL},
    {"setup", WH_ARG_ARRAY, false, 0, PV_CMDS_MAX, NULL, NULL},
    {"services", WH_ARG_ARRAY, false, 0, PV_CMDS_MAX, NULL, NULL},
    {"hooks", WH_ARG_ARRAY, false, 0, PV_HOOKS_MAX, NULL, NULL},
    {"root_password", WH_ARG_STR, false, 4, 6, NULL, NULL},
    {"repo", WH_ARG_STR, false, 8, 1024, repo_ok, "an http://, https:// or file:// URL"},
};

const char *const pv_ct_ssh_drivers[] = {"lxc", "pct", NULL};

static bool ssh_driver(const char *s, size_t n)
{
    for(const char *const *d = pv_ct_ssh_drivers; *d; d++)
        if(strlen(*d) == n && memcmp(*d, s, n) == 0)
            return true;
    return false;
}

bool pv_ct_is_docker(const wh_mp_obj *a)
{
    return wh_mp_str_eq(wh_mp_map_get(a, "driver"), "docker");
}

/* Without libssh: the shape of the key line only (wh_text_pubkey_split). */
static wh_code key_shape(const char *s, size_t n, const char *field, wh_err *err)
{
    size_t tn, bn;
    const char *b;
    return wh_text_pubkey_split(s, n, field, &tn, &b, &bn, err);
}

void pv_problem(wh_json *list, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wh_json *p = wh_json_object();
    if(field)
        wh_json_setc(p, "field", wh_json_str(field));
    else /* the path the message starts with: "args.hooks[1]: ..." */
        wh_json_setc(p, "field", wh_json_strn(msg, strstr(msg, ": ") ? (size_t)(strstr(msg, ": ") - msg) : 0));
    wh_json_setc(p, "message", wh_json_str(msg));
    wh_json_push(list, p);
}

const wh_mp_obj *pv_ct_accepted(const wh_mp_obj *a, const char *key, const wh_json *problems)
{
    char field[64];
    snprintf(field, sizeof(field), "args.%s", key);
    return pv_ct_unflagged(problems, field) ? wh_mp_map_get(a, key) : NULL;
}

bool pv_ct_unflagged(const wh_json *problems, const char *field)
{
    size_t fn = strlen(field);
    for(size_t i = 0; i < wh_json_size(problems); i++) {
        size_t n = 0;
        const char *f = wh_json_strv(wh_json_get(wh_json_at(problems, i), "field"), &n);
        if(f && n >= fn && memcmp(f, field, fn) == 0 && (n == fn || f[fn] == '[' || f[fn] == '.'))
            return false;
    }
    return true;
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n > k && memcmp(s, p, k) == 0;
}

/* A URL git can fetch: a scheme we allow, then printable ASCII without
 * blanks or quotes (it is only ever one argv word, never a shell word). */
static bool repo_ok(const char *s, size_t n)
{
    if(!has_prefix(s, n, "https://") && !has_prefix(s, n, "http://") && !has_prefix(s, n, "file:///"))
        return false;
    for(size_t i = 0; i < n; i++)
        if(s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\'' || s[i] == '\\')
            return false;
    /* no user:password@ in the authority: only public repositories */
    const char *auth = (const char *)memchr(s, ':', n) + 3, *slash = memchr(auth, '/', n - (size_t)(auth - s));
    const char *at = memchr(auth, '@', n - (size_t)(auth - s));
    return !at || (slash && at > slash);
}

/* setup and services: each element an argv array of 1..48 strings. */
static void check_cmds(const wh_mp_obj *a, const char *key, wh_json *problems)
{
    const wh_mp_obj *list = pv_ct_accepted(a, key, problems);
    for(uint32_t i = 0; i < wh_mp_size(list); i++) {
        const wh_mp_obj *c = wh_mp_arr_at(list, i);
        bool ok = wh_mp_kind_of(c) == WH_MP_ARRAY && wh_mp_size(c) > 0 && wh_mp_size(c) <= 48;
        for(uint32_t j = 0; ok && j < wh_mp_size(c); j++)
            ok = wh_mp_kind_of(wh_mp_arr_at(c, j)) == WH_MP_STR;
        if(!ok)
            pv_problem(problems, NULL, "args.%s[%u]: must be an argv array of 1..48 strings", key, i);
    }
}

/* Is s[0..n) an item of the comma list `allow` (blanks around items ignored)? */
static bool in_list(const char *allow, const char *s, size_t n)
{
    for(const char *p = allow; *p;) {
        while(*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while(*e && *e != ',')
            e++;
        const char *t = e;
        while(t > p && t[-1] == ' ')
            t--;
        if((size_t)(t - p) == n && n && memcmp(p, s, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static void check_protocols(const wh_mp_obj *a, const char *allow, wh_json *problems, wh_json *clean)
{
    const wh_mp_obj *pr = pv_ct_accepted(a, "protocols", problems);
    for(uint32_t i = 0; i < wh_mp_size(pr); i++) {
        const char *s;
        size_t n;
        if(!wh_mp_str(wh_mp_arr_at(pr, i), &s, &n) || !n || n > 32 ||
           !wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyz0123456789+.-")) {
            pv_problem(problems, NULL, "args.protocols[%u]: must be a protocol name in lowercase", i);
            continue;
        }
        if(allow && !in_list(allow, s, n)) {
            pv_problem(problems, NULL, "args.protocols[%u]: %.*s is not in the allow list (%s)", i, (int)n, s, allow);
            continue;
        }
        bool dup = false;
        for(size_t k = 0; k < wh_json_size(clean); k++) {
            size_t cn;
            const char *c = wh_json_strv(wh_json_at(clean, k), &cn);
            dup = dup || (cn == n && memcmp(c, s, n) == 0);
        }
        if(!dup)
            wh_json_push(clean, wh_json_strn(s, n));
    }
}

/* driver, template and (pct) vmid. */
static void check_template(const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    bool pct = n == 3 && memcmp(drv, "pct", 3) == 0, docker = pv_ct_is_docker(a);
    if(!ssh_driver(drv, n) && !docker && pv_ct_unflagged(problems, "args.driver"))
        pv_problem(problems, "args.driver", "args.driver: must be lxc, docker or pct");
    /* with a driver we do not know, the template is named as for lxc */
    const char *s = wh_args_str(a, "template", NULL, &n);
    bool ok = s && (docker ? pv_dock_image_ok(s, n)
                           : n <= 64 && s[0] != '.' && s[0] != '-' && wh_text_only(s, n, pct ? "0123456789"
                                                               : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                                                                 "YZ0123456789_.-"));
    if(!ok && pv_ct_unflagged(problems, "args.template"))
        pv_problem(problems, "args.template", "args.template: %s",
                   !s ? "required" : docker ? "not an image reference" : pct ? "not a VMID" : "not a container name");
    if(pct && !wh_mp_map_get(a, "vmid"))
        pv_problem(problems, "args.vmid", "args.vmid: required by the pct driver");
}

static void check_hooks(const wh_mp_obj *a, wh_json *problems)
{
    const wh_mp_obj *hk = pv_ct_accepted(a, "hooks", problems);
    for(uint32_t i = 0; i < wh_mp_size(hk); i++) {
        const char *s;
        size_t n;
        if(!wh_mp_str(wh_mp_arr_at(hk, i), &s, &n) || !pv_hook_name_ok(s, n))
            pv_problem(problems, NULL,
                       "args.hooks[%u]: a hook is a file name in the worker's hook directory "
                       "([A-Za-z0-9_][A-Za-z0-9_.-]*, no '/' and no \"..\")", i);
    }
}

/* Each variable of env, named by its key when that is printable. */
static void check_env(const wh_mp_obj *a, wh_json *problems)
{
    const wh_mp_obj *env = pv_ct_accepted(a, "env", problems);
    for(uint32_t i = 0; i < wh_mp_size(env); i++) {
        const char *k, *v;
        size_t kn = 0, vn;
        bool named = wh_mp_str(wh_mp_map_key(env, i), &k, &kn);
        if(named && wh_shq_env_name(k, kn) && wh_mp_str(wh_mp_map_val(env, i), &v, &vn) && !memchr(v, '\n', vn) &&
           !memchr(v, '\0', vn))
            continue;
        bool printable = named && kn > 0 && kn <= 40;
        for(size_t j = 0; printable && j < kn; j++)
            printable = k[j] > ' ' && k[j] <= '~';
        pv_problem(problems, NULL, "args.env%s%.*s: names must be [A-Za-z_][A-Za-z0-9_]* and values one line of text",
                   printable ? "." : "", printable ? (int)kn : 0, printable ? k : "");
    }
}

/* The key: read by `key` (the worker's libssh), else only its line's shape. */
static void check_key(const wh_mp_obj *a, pv_key_check *key, wh_json *problems)
{
    if(!pv_ct_unflagged(problems, "args.ssh_public_key"))
        return;
    size_t n;
    const char *s = wh_args_str(a, "ssh_public_key", NULL, &n);
    pv_key_check *read_key = key ? key : key_shape;
    wh_err err;
    if(!s)
        pv_problem(problems, "args.ssh_public_key", "args.ssh_public_key: required");
    else if(read_key(s, n, "args.ssh_public_key", &err))
        pv_problem(problems, "args.ssh_public_key", "%s", err.msg);
}

/* wh_args_problems' note: the args table's problems into the list. */
static bool table_problem(void *ud, const wh_err *problem)
{
    pv_problem(ud, problem->field, "%s", problem->msg);
    return true;
}

void pv_ct_check_static(const wh_mp_obj *a, const char *allow, pv_key_check *key, wh_json *problems,
                        wh_json *protocols)
{
    wh_args_problems(a, pv_ct_args, PV_CT_NARGS, false, table_problem, problems);
    size_t n;
    const char *s = wh_args_str(a, "hostname", NULL, &n);
    if((!s || !pv_label_ok(s, n)) && pv_ct_unflagged(problems, "args.hostname"))
        pv_problem(problems, "args.hostname", "args.hostname: %s",
                   s ? "must be an RFC 1123 label in lowercase" : "required");
    check_template(a, problems);
    check_key(a, key, problems);
    check_protocols(a, allow, problems, protocols);
    check_env(a, problems);
    check_cmds(a, "setup", problems);
    check_cmds(a, "services", problems);
    check_hooks(a, problems);
    s = wh_args_str(a, "root_password", NULL, &n);
    if(s && !(n == 6 && memcmp(s, "random", 6) == 0) && !(n == 4 && memcmp(s, "lock", 4) == 0) &&
       pv_ct_unflagged(problems, "args.root_password"))
        pv_problem(problems, "args.root_password", "args.root_password: must be \"random\" or \"lock\"");
}

void pv_ct_join(const wh_json *problems, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "%zu problem(s): ", wh_json_size(problems));
    for(size_t i = 0; i < wh_json_size(problems) && o < cap; i++) {
        size_t mn;
        const char *m = wh_json_strv(wh_json_get(wh_json_at(problems, i), "message"), &mn);
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? "; " : "", (int)mn, m);
    }
}

wh_code pv_ct_check_with(const wh_mp_obj *a, pv_key_check *key, wh_err *err)
{
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    pv_ct_check_static(a, NULL, key, problems, protocols); /* the allow list is the worker's */
    wh_code rc = WH_OK;
    if(wh_json_size(problems)) {
        char msg[sizeof(err->msg)];
        pv_ct_join(problems, msg, sizeof(msg));
        rc = wh_err_set(err, WH_E_BAD_ARGS, wh_json_strv(wh_json_get(wh_json_at(problems, 0), "field"), NULL), "%s",
                        msg);
    }
    wh_json_free(problems);
    wh_json_free(protocols);
    return rc;
}

wh_code pv_ct_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    return pv_ct_check_with(a, NULL, err);
}

const wh_arg_spec pv_destroy_args[PV_DESTROY_NARGS] = {
    {"hostname", WH_ARG_STR, true, 1, 63, pv_label_ok, "an RFC 1123 label in lowercase"},
    {"driver", WH_ARG_STR, false, 1, 8, NULL, NULL},
    {"vmid", WH_ARG_INT, false, 100, 999999999, NULL, NULL},
};

wh_code pv_destroy_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    if(!ssh_driver(drv, n) && !pv_ct_is_docker(a))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.driver", "args.driver: must be lxc, docker or pct");
    if(n == 3 && memcmp(drv, "pct", 3) == 0 && !wh_mp_map_get(a, "vmid"))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.vmid", "args.vmid: required by the pct driver");
    return WH_OK;
}
