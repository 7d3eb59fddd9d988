/* wh_shq: quoting for the remote POSIX shell (see wh_shq.h). */
#include <stdlib.h>
#include <string.h>

#include "wh_shq.h"

size_t wh_shq_word_len(const char *s, size_t n)
{
    size_t len = 2;
    for(size_t i = 0; i < n; i++)
        len += s[i] == '\'' ? 4 : 1;
    return len;
}

size_t wh_shq_word(const char *s, size_t n, char *out)
{
    size_t o = 0;
    out[o++] = '\'';
    for(size_t i = 0; i < n; i++) {
        if(s[i] == '\'') {
            /* end the quoted run, add an escaped quote, start a new run */
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = s[i];
        }
    }
    out[o++] = '\'';
    return o;
}

bool wh_shq_env_name(const char *s, size_t n)
{
    if(n == 0 || n > 128)
        return false;
    for(size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        if(!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
            return false;
    }
    return true;
}

/* A growable line with a hard cap. */
typedef struct line {
    char *buf;
    size_t len;
    bool over;
} line;

static void put(line *l, const char *s, size_t n)
{
    if(l->over || l->len + n + 1 > WH_SHQ_LINE_MAX) {
        l->over = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_word(line *l, const wh_shq_str *w)
{
    size_t need = wh_shq_word_len(w->p, w->n);
    if(l->over || l->len + need + 1 > WH_SHQ_LINE_MAX) {
        l->over = true;
        return;
    }
    l->len += wh_shq_word(w->p, w->n, l->buf + l->len);
}

static wh_code check_input(const wh_shq_cmd *c, wh_err *err)
{
    for(int i = 0; i < c->argc; i++)
        if(memchr(c->argv[i].p, '\0', c->argv[i].n))
            return wh_err_at(err, WH_E_BAD_ARGS, "args.argv[%d]: contains a NUL byte", i);
    if(c->argc < 0)
        return wh_err_set(err, WH_E_BAD_ARGS, "args.argv", "args.argv: bad count");
    if(c->cwd && memchr(c->cwd->p, '\0', c->cwd->n))
        return wh_err_set(err, WH_E_BAD_ARGS, "args.cwd", "args.cwd: contains a NUL byte");
    for(int i = 0; i < c->nenv; i++) {
        if(!wh_shq_env_name(c->env_names[i].p, c->env_names[i].n))
            return wh_err_set(err, WH_E_BAD_ARGS, "args.env",
                              "args.env: names must match [A-Za-z_][A-Za-z0-9_]{0,127}");
        if(memchr(c->env_values[i].p, '\0', c->env_values[i].n))
            return wh_err_at(err, WH_E_BAD_ARGS, "args.env.%.*s: contains a NUL byte", (int)c->env_names[i].n,
                             c->env_names[i].p);
    }
    return WH_OK;
}

wh_code wh_shq_build(const wh_shq_cmd *c, char **out, wh_err *err)
{
    wh_code rc = check_input(c, err);
    if(rc)
        return rc;
    line l = {.buf = malloc(WH_SHQ_LINE_MAX)};
    if(!l.buf)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    if(c->cwd && c->cwd->n) {
        put(&l, "cd -- ", 6);
        put_word(&l, c->cwd);
        put(&l, " && ", 4);
    }
    for(int i = 0; i < c->nenv; i++) {
        /* the name was checked: it is plain [A-Za-z0-9_] */
        put(&l, c->env_names[i].p, c->env_names[i].n);
        put(&l, "=", 1);
        put_word(&l, &c->env_values[i]);
        put(&l, " ", 1);
    }
    put(&l, "exec", 4);
    if(c->argc == 0)
        put(&l, " sh -s", 6);
    for(int i = 0; i < c->argc; i++) {
        put(&l, " ", 1);
        put_word(&l, &c->argv[i]);
    }
    if(l.over) {
        free(l.buf);
        return wh_err_set(err, WH_E_TOO_LARGE, "args.argv", "args: the command line exceeds %u bytes",
                          WH_SHQ_LINE_MAX);
    }
    l.buf[l.len] = '\0';
    *out = l.buf;
    return WH_OK;
}
