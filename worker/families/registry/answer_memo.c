/* answer_memo: per-job memo of registry answers. See answer_memo.h. */
#include "answer_memo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr.h"

/* One remembered answer: a HEAD (head) or a tag list (tags). */
typedef struct memo_ent {
    const wh_inv_registry *reg;
    char key[WH_REF_MAX + 64];    /* "path:tag@digest" or "path" */
    wh_code rc;
    wh_err err;                   /* when rc != WH_OK */
    rg_head head;
    rg_list tags;
} memo_ent;

struct rg_memo {
    rg_ops ops;
    rg_conn *conns[RG_MEMO_CONNS];
    int nconns;
    memo_ent *heads, *lists;      /* RG_MEMO_MAX each, allocated on first use */
    int nheads, nlists;
    int head_calls, list_calls;   /* lookups that went to a registry */
};

rg_memo *rg_memo_new(const rg_ops *ops)
{
    rg_memo *m = calloc(1, sizeof(*m));
    if(m && ops)
        m->ops = *ops;
    return m;
}

void rg_memo_free(rg_memo *m)
{
    if(!m)
        return;
    for(int i = 0; i < m->nconns; i++) {
        rg_conn_close(m->conns[i]);
        free(m->conns[i]);
    }
    for(int i = 0; i < m->nlists; i++)
        rg_list_free(&m->lists[i].tags);
    free(m->heads);
    free(m->lists);
    free(m);
}

/* Open c for reg; an ECR entry without a password asks AWS for one. */
static wh_code open_conn(rg_memo *m, const wh_inv_registry *reg, rg_conn *c, wh_err *err)
{
    wh_code rc = rg_conn_open(c, reg, &m->ops, err);
    if(!rc && strcmp(reg->provider, "ecr") == 0 && !reg->password[0] && !reg->token[0])
        rc = rg_ecr_login(c, NULL, err);
    return rc;
}

wh_code rg_memo_conn(rg_memo *m, const wh_inv_registry *reg, rg_conn **out, wh_err *err)
{
    for(int i = 0; i < m->nconns; i++)
        if(m->conns[i]->reg == reg) {
            *out = m->conns[i];
            return WH_OK;
        }
    if(m->nconns == RG_MEMO_CONNS) { /* many registries: the last one opened makes room */
        m->nconns--;
        rg_conn_close(m->conns[m->nconns]);
        free(m->conns[m->nconns]);
    }
    rg_conn *c = calloc(1, sizeof(*c));
    if(!c)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    wh_code rc = open_conn(m, reg, c, err);
    if(rc) {
        rg_conn_close(c);
        free(c);
        return rc;
    }
    m->conns[m->nconns++] = c;
    *out = c;
    return WH_OK;
}

/* The remembered entry for (reg, key) in arr, or NULL. */
static memo_ent *find(memo_ent *arr, int n, const wh_inv_registry *reg, const char *key)
{
    for(int i = 0; i < n; i++)
        if(arr[i].reg == reg && strcmp(arr[i].key, key) == 0)
            return &arr[i];
    return NULL;
}

/* A fresh slot in *arr for (reg, key), or NULL when the memo is full. */
static memo_ent *slot(memo_ent **arr, int *n, const wh_inv_registry *reg, const char *key)
{
    if(!*arr)
        *arr = calloc(RG_MEMO_MAX, sizeof(**arr));
    if(!*arr || *n >= RG_MEMO_MAX)
        return NULL;
    memo_ent *e = &(*arr)[(*n)++];
    memset(e, 0, sizeof(*e));
    e->reg = reg;
    snprintf(e->key, sizeof(e->key), "%s", key);
    return e;
}

/* Hand a remembered answer back as the call's own. */
static wh_code replay(const memo_ent *e, wh_err *err)
{
    if(e->rc && err)
        *err = e->err;
    return e->rc;
}

wh_code rg_memo_head(rg_memo *m, const wh_inv_registry *reg, const wh_ref *ref, rg_head *out, wh_err *err)
{
    char key[WH_REF_MAX + 64];
    snprintf(key, sizeof(key), "%s:%s@%s", ref->path, ref->tag, ref->digest);
    const memo_ent *e = find(m->heads, m->nheads, reg, key);
    if(e) {
        *out = e->head;
        return replay(e, err);
    }
    rg_conn *c = NULL;
    wh_code rc = rg_memo_conn(m, reg, &c, err);
    if(rc)
        return rc;
    m->head_calls++;
    rc = rg_api_head(c, ref, out, err);
    memo_ent *s = rc == WH_E_INTERRUPTED ? NULL : slot(&m->heads, &m->nheads, reg, key);
    if(s) {
        s->rc = rc;
        s->head = *out;
        if(rc)
            s->err = *err;
    }
    return rc;
}

wh_code rg_memo_tags(rg_memo *m, const wh_inv_registry *reg, const char *path, const rg_list **out, wh_err *err)
{
    static const rg_list empty = {0};
    const memo_ent *e = find(m->lists, m->nlists, reg, path);
    if(e) {
        *out = &e->tags;
        return replay(e, err);
    }
    rg_conn *c = NULL;
    wh_code rc = rg_memo_conn(m, reg, &c, err);
    if(rc)
        return rc;
    m->list_calls++;
    rg_list l = {0};
    int pages = 0;
    rc = rg_api_tags(c, path, 0, &l, &pages, err);
    memo_ent *s = rc == WH_E_INTERRUPTED ? NULL : slot(&m->lists, &m->nlists, reg, path);
    if(!s) { /* full (or interrupted): the caller gets nothing to keep */
        rg_list_free(&l);
        *out = &empty;
        return rc ? rc : wh_err_set(err, WH_E_TOO_LARGE, NULL, "more than %d repositories in one job", RG_MEMO_MAX);
    }
    s->rc = rc;
    if(rc) {
        s->err = *err;
        rg_list_free(&l);
    } else {
        s->tags = l;
    }
    *out = &s->tags;
    return rc;
}

void rg_memo_counts(const rg_memo *m, int *heads, int *tag_lists)
{
    *heads = m->head_calls;
    *tag_lists = m->list_calls;
}
