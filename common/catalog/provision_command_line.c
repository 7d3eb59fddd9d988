/* provision_command_line: remote command lines from job maps, and {{var}} templates.
 *
 * A command map is {argv | script, env?, cwd?} (host.exec args, or an exec or
 * check step of a recipe). argv elements, env values and cwd may hold
 * {{name}} references to the recipe's vars, rendered here and then quoted
 * by wh_shq like any other job string. A script is never rendered (that
 * would splice data into shell text): the vars reach it as environment
 * variables of the same names instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision_args.h"
#include "wh_shq.h"

#define PV_ARGV_MAX 4096
#define PV_ENV_MAX 192 /* env entries plus exported vars */

/* True for [A-Za-z_][A-Za-z0-9_]* of n bytes. */
static bool var_name(const char *s, size_t n)
{
    return wh_shq_env_name(s, n) && n <= 64;
}

static const wh_mp_obj *var_get(const wh_mp_obj *vars, const char *s, size_t n)
{
    for(uint32_t i = 0; vars && i < wh_mp_size(vars); i++) {
        const char *k;
        size_t kn;
        if(wh_mp_str(wh_mp_map_key(vars, i), &k, &kn) && kn == n && memcmp(k, s, n) == 0)
            return wh_mp_map_val(vars, i);
    }
    return NULL;
}

wh_code pv_tpl_render(const char *s, size_t n, const wh_mp_obj *vars, char **out, size_t *outn, const char *field,
                      wh_err *err)
{
    size_t cap = n + 1, len = 0;
    char *buf = malloc(cap);
    if(!buf)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    for(size_t i = 0; i < n;) {
        const char *close = i + 2 < n && s[i] == '{' && s[i + 1] == '{' ? memchr(s + i + 2, '}', n - i - 2) : NULL;
        const wh_mp_obj *v = NULL;
        const char *val = s + i;
        size_t vn = 1, used = 1;
        if(close && close + 1 < s + n && close[1] == '}' && var_name(s + i + 2, (size_t)(close - s - i - 2))) {
            size_t nn = (size_t)(close - s - i - 2);
            if(!(v = var_get(vars, s + i + 2, nn)) || !wh_mp_str(v, &val, &vn)) {
                free(buf);
                return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: {{%.*s}} is not a string in args.vars", field,
                                  (int)nn, s + i + 2);
            }
            used = nn + 4;
        }
        if(len + vn + 1 > cap) {
            if(len + vn + 1 > PV_TPL_MAX) {
                free(buf);
                return wh_err_set(err, WH_E_TOO_LARGE, field, "%s: rendered text over %d bytes", field, PV_TPL_MAX);
            }
            cap = (len + vn + 1) * 2;
            char *nb = realloc(buf, cap);
            if(!nb) {
                free(buf);
                return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
            }
            buf = nb;
        }
        memcpy(buf + len, val, vn);
        len += vn;
        i += used;
    }
    buf[len] = '\0';
    *out = buf;
    *outn = len;
    return WH_OK;
}

/* Rendered strings live until the command is built. */
typedef struct plan {
    wh_shq_str argv[PV_ARGV_MAX];
    wh_shq_str names[PV_ENV_MAX], values[PV_ENV_MAX];
    wh_shq_str cwd;
    char *owned[PV_ARGV_MAX + PV_ENV_MAX + 1];
    int nowned;
    bool render;
} plan;

/* s as-is, or rendered (owned by the plan) when vars are given. */
static wh_code str_of(plan *p, const wh_mp_obj *o, const wh_mp_obj *vars, wh_shq_str *out, const char *field,
                      wh_err *err)
{
    if(!wh_mp_str(o, &out->p, &out->n))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: must be a string", field);
    if(!p->render)
        return WH_OK;
    char *r;
    wh_code rc = pv_tpl_render(out->p, out->n, vars, &r, &out->n, field, err);
    if(rc)
        return rc;
    p->owned[p->nowned++] = r;
    out->p = r;
    return WH_OK;
}

static wh_code fill(plan *p, wh_shq_cmd *c, const wh_mp_obj *m, const wh_mp_obj *vars, const char *fp, wh_err *err)
{
    char field[96];
    const wh_mp_obj *argv = wh_mp_map_get(m, "argv"), *env = wh_mp_map_get(m, "env");
    const wh_mp_obj *script = wh_mp_map_get(m, "script"), *cwd = wh_mp_map_get(m, "cwd");
    if(!argv == !script)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.argv", "%s: give exactly one of argv and script", fp);
    snprintf(field, sizeof(field), "%s.argv", fp);
    for(uint32_t i = 0; argv && i < wh_mp_size(argv) && i < PV_ARGV_MAX; i++) {
        wh_code rc = str_of(p, wh_mp_arr_at(argv, i), vars, &p->argv[c->argc++], field, err);
        if(rc)
            return rc;
    }
    c->argv = p->argv;
    snprintf(field, sizeof(field), "%s.env", fp);
    uint32_t ne = env ? wh_mp_size(env) : 0, nv = script && p->render && vars ? wh_mp_size(vars) : 0;
    if(ne + nv > PV_ENV_MAX)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.env", "%s: too many variables", field);
    for(uint32_t i = 0; i < ne + nv; i++) {
        const wh_mp_obj *map = i < ne ? env : vars;
        uint32_t k = i < ne ? i : i - ne;
        if(!wh_mp_str(wh_mp_map_key(map, k), &p->names[c->nenv].p, &p->names[c->nenv].n))
            return wh_err_set(err, WH_E_BAD_ARGS, "args.env", "%s: names must be strings", field);
        /* exported vars are passed as they are, never rendered again */
        bool render = p->render;
        p->render = render && i < ne;
        wh_code rc = str_of(p, wh_mp_map_val(map, k), vars, &p->values[c->nenv], field, err);
        p->render = render;
        if(rc)
            return rc;
        c->nenv++;
    }
    c->env_names = p->names;
    c->env_values = p->values;
    if(cwd) {
        snprintf(field, sizeof(field), "%s.cwd", fp);
        wh_code rc = str_of(p, cwd, vars, &p->cwd, field, err);
        if(rc)
            return rc;
        c->cwd = &p->cwd;
    }
    return WH_OK;
}

wh_code pv_cmd_build(const wh_mp_obj *m, bool render, const wh_mp_obj *vars, const char *fp, char **line,
                     wh_err *err)
{
    plan *p = calloc(1, sizeof(*p));
    if(!p)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    p->render = render;
    wh_shq_cmd c = {0};
    wh_code rc = fill(p, &c, m, vars, fp, err);
    if(!rc)
        rc = wh_shq_build(&c, line, err);
    for(int i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p);
    return rc;
}
