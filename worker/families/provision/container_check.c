/* container_check: the checks of provision.validate, also run by
 * provision.container before it reserves anything. Every problem is
 * reported at once as {field, message}:
 *   hostname    an RFC 1123 label in lowercase, free in the port map
 *   driver      lxc, docker or pct; template a name (lxc), an image
 *               reference (docker) or a VMID (pct) that exists on the target
 *   protocols   each in the worker's allow list ([provision] protocols);
 *               duplicates are removed (the result's `protocols`)
 *   ssh_public_key  parses as a public key (libssh), not a private one
 *   http_port   1..65535 (the args table)
 *   repo        http(s):// or file:// URL; answers, and without credentials
 *   hooks       names without '/' or "..", present in [provision] hook_dir
 *   root_password   "random" or "lock"
 *   target      reachable (SSH for lxc and pct, the engine for docker) */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision.h"
#include "docker_driver.h"
#include "drivers.h"
#include "wh_curl.h"
#include "wh_shq.h"
#include "wh_text.h"

#define PV_CMDS_MAX 64
#define PV_HOOKS_MAX 16
#define PV_HOOK_MAX_BYTES (256 * 1024)

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
bool pv_label_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 63 && wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyz0123456789-") && s[0] != '-' &&
           s[n - 1] != '-';
}

bool pv_hook_name_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 63 && s[0] != '.' && s[0] != '-' &&
           wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") &&
           !memmem(s, n, "..", 2);
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
    const wh_mp_obj *pr = wh_mp_map_get(a, "protocols");
    for(uint32_t i = 0; pr && i < wh_mp_size(pr); i++) {
        const char *s;
        size_t n;
        char field[40];
        snprintf(field, sizeof(field), "args.protocols[%u]", i);
        if(!wh_mp_str(wh_mp_arr_at(pr, i), &s, &n) || !n || n > 32 ||
           !wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyz0123456789+.-")) {
            problem(problems, "args.protocols", "%s: must be a protocol name in lowercase", field);
            continue;
        }
        if(allow && !in_list(allow, s, n)) {
            problem(problems, "args.protocols", "%s: %.*s is not in the allow list (%s)", field, (int)n, s, allow);
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

static void check_template(const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *drv = wh_args_str(a, "driver", "lxc", &n);
    bool pct = n == 3 && memcmp(drv, "pct", 3) == 0, docker = pv_ct_is_docker(a);
    const char *s = wh_args_str(a, "template", NULL, &n);
    bool ok = s && (docker ? pv_dock_image_ok(s, n)
                           : n <= 64 && s[0] != '.' && s[0] != '-' && wh_text_only(s, n, pct ? "0123456789"
                                                               : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                                                                 "YZ0123456789_.-"));
    if(!ok)
        problem(problems, "args.template", "args.template: %s",
                !s ? "required" : docker ? "not an image reference" : pct ? "not a VMID" : "not a container name");
    if(pct && !wh_mp_map_get(a, "vmid"))
        problem(problems, "args.vmid", "args.vmid: required by the pct driver");
}

static void check_hooks(const wh_mp_obj *a, wh_json *problems)
{
    const wh_mp_obj *hk = wh_mp_map_get(a, "hooks");
    for(uint32_t i = 0; hk && i < wh_mp_size(hk); i++) {
        const char *s;
        size_t n;
        if(!wh_mp_str(wh_mp_arr_at(hk, i), &s, &n) || !pv_hook_name_ok(s, n))
            problem(problems, "args.hooks",
                    "args.hooks[%u]: a hook is a file name in the worker's hook directory "
                    "([A-Za-z0-9_][A-Za-z0-9_.-]*, no '/' and no \"..\")", i);
    }
}

void pv_ct_check_static(const wh_mp_obj *a, const char *allow, wh_json *problems, wh_json *protocols)
{
    size_t n;
    const char *s = wh_args_str(a, "hostname", NULL, &n);
    if(!s || !pv_label_ok(s, n))
        problem(problems, "args.hostname", "args.hostname: %s", s ? "must be an RFC 1123 label in lowercase" : "required");
    s = wh_args_str(a, "driver", "lxc", &n);
    if(!pv_drv_find(s, n) && !pv_ct_is_docker(a))
        problem(problems, "args.driver", "args.driver: must be lxc, docker or pct");
    check_template(a, problems);
    wh_err err;
    s = wh_args_str(a, "ssh_public_key", NULL, &n);
    if(!s)
        problem(problems, "args.ssh_public_key", "args.ssh_public_key: required");
    else if(wh_ssh_pubkey_check(s, n, "args.ssh_public_key", &err))
        problem(problems, "args.ssh_public_key", "%s", err.msg);
    check_protocols(a, allow, problems, protocols);
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
    check_hooks(a, problems);
    s = wh_args_str(a, "root_password", NULL, &n);
    if(s && !(n == 6 && memcmp(s, "random", 6) == 0) && !(n == 4 && memcmp(s, "lock", 4) == 0))
        problem(problems, "args.root_password", "args.root_password: must be \"random\" or \"lock\"");
}

/* ---- checks with I/O ----------------------------------------------------------- */

wh_code pv_hook_read(wk_job *job, const char *name, pv_blob *out, wh_err *err)
{
    const char *dir = wk_job_cfg(job)->pv_hook_dir;
    memset(out, 0, sizeof(*out));
    if(!dir[0])
        return wh_err_set(err, WH_E_BAD_ARGS, "args.hooks", "args.hooks: this worker has no hook directory "
                                                            "([provision] hook_dir)");
    if(!pv_hook_name_ok(name, strlen(name)))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.hooks", "args.hooks: %s is not a hook name", name);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat stt;
    if(fd < 0 || fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode) || stt.st_size > PV_HOOK_MAX_BYTES) {
        if(fd >= 0)
            close(fd);
        return wh_err_set(err, WH_E_BAD_ARGS, "args.hooks", "args.hooks: no hook %s in the hook directory%s", name,
                          fd >= 0 && stt.st_size > PV_HOOK_MAX_BYTES ? " (larger than 256 KiB)" : "");
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->data = malloc((size_t)stt.st_size + 1);
    size_t got = 0;
    while(out->data && got < (size_t)stt.st_size) {
        ssize_t r = read(fd, out->data + got, (size_t)stt.st_size - got);
        if(r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if(!out->data || got != (size_t)stt.st_size) {
        free(out->data);
        out->data = NULL;
        return wh_err_set(err, WH_E_IO, "args.hooks", "args.hooks: cannot read hook %s", name);
    }
    out->len = got;
    return WH_OK;
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

static bool repo_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

/* The repository answers without credentials: git's smart-HTTP discovery
 * (which a dumb server answers with its static info/refs), or a readable
 * directory for file://. */
static void check_repo(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *s = wh_args_str(a, "repo", NULL, &n);
    if(!s)
        return;
    char url[1200];
    snprintf(url, sizeof(url), "%.*s", (int)n, s);
    if(has_prefix(url, n, "file://")) {
        struct stat st;
        if(stat(url + 7, &st) != 0 || !S_ISDIR(st.st_mode))
            problem(problems, "args.repo", "args.repo: %s is not a directory on the worker", url + 7);
        return;
    }
    snprintf(url + n, sizeof(url) - n, "%sinfo/refs?service=git-upload-pack", url[n - 1] == '/' ? "" : "/");
    wh_err err;
    wh_curl *c = wh_curl_thread(&err);
    wh_curl_req r = {.url = url, .timeout_ms = 15000, .connect_timeout_ms = 5000, .max_body = 1 << 20,
                     .abort = repo_abort, .abort_ud = job};
    wh_curl_resp resp;
    wh_code rc = c ? wh_curl_do(c, &r, &resp, &err) : err.code;
    if(rc) {
        if(rc != WH_E_INTERRUPTED)
            problem(problems, "args.repo", "args.repo: %.*s does not answer: %s", (int)n, s, err.msg);
        return;
    }
    long st = resp.status;
    wh_curl_resp_clear(&resp);
    if(st == 401 || st == 403)
        problem(problems, "args.repo", "args.repo: %.*s asks for credentials (%ld): only public repositories", (int)n,
                s, st);
    else if(st != 200)
        problem(problems, "args.repo", "args.repo: %.*s is not a git repository (HTTP %ld)", (int)n, s, st);
}

void pv_ct_check_live(wk_job *job, const wh_mp_obj *a, wh_json *problems)
{
    size_t n;
    const char *h = wh_args_str(a, "hostname", NULL, &n);
    char host[64];
    snprintf(host, sizeof(host), "%.*s", h ? (int)n : 0, h ? h : "");
    if(host[0] && holder(job, host) < 0)
        problem(problems, "args.hostname", "args.hostname: %s is taken in the port map", host);
    const wh_mp_obj *hk = wh_mp_map_get(a, "hooks");
    for(uint32_t i = 0; hk && i < wh_mp_size(hk); i++) {
        char name[64];
        const char *s;
        if(!wh_mp_str(wh_mp_arr_at(hk, i), &s, &n) || !pv_hook_name_ok(s, n))
            continue; /* reported by the static checks */
        snprintf(name, sizeof(name), "%.*s", (int)n, s);
        pv_blob b;
        wh_err err;
        if(pv_hook_read(job, name, &b, &err))
            problem(problems, "args.hooks", "%s", err.msg);
        free(b.data);
    }
    check_repo(job, a, problems);
    char name[64], tmpl[256];
    pv_drv_vals v;
    pv_ct_vals(job, a, &v, name, sizeof(name), tmpl, sizeof(tmpl));
    int code = -1;
    wh_err err;
    wh_code rc;
    if(pv_ct_is_docker(a)) {
        if(!pv_dock_image_ok(tmpl, strlen(tmpl)))
            return;
        pv_dock_op op = {.act = PV_EXISTS, .image = tmpl};
        rc = pv_dock_run(job, &op, &code, NULL, &err);
    } else {
        const char *drv = wh_args_str(a, "driver", "lxc", &n);
        const pv_driver *d = pv_drv_find(drv, n);
        if(!d)
            return;
        v.name = tmpl; /* does the template exist? */
        rc = pv_ct_drv_run(job, d, PV_EXISTS, &v, &code, &err);
    }
    if(rc)
        problem(problems, "target", "target: %s", err.msg);
    else if(code != 0)
        problem(problems, "args.template", "args.template: %s does not exist on host.%s", tmpl,
                wk_job_host(job)->name);
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

wh_code pv_ct_check(const wh_mp_obj *a, wh_json **result, wh_err *err)
{
    (void)result;
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    pv_ct_check_static(a, NULL, problems, protocols); /* the allow list is the worker's */
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

wk_run pv_validate_run(wk_job *job)
{
    const wh_mp_obj *a = wk_job_args(job);
    wh_json *problems = wh_json_array(), *protocols = wh_json_array();
    pv_ct_check_static(a, wk_job_cfg(job)->pv_protocols, problems, protocols);
    pv_ct_check_live(job, a, problems);
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
