/* wh_xpage: paging a capped stream, noticing trimmed entries. See wh_xpage.h. */
#include "wh_xpage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wh_xpage_init(wh_xpage *x, const char *after)
{
    snprintf(x->last, sizeof(x->last), "%s", after && after[0] ? after : "0-0");
    x->next = 0;
}

/* From an XINFO STREAM reply: length, entries-added and the first entry's
 * id. False when it is not one (an error: no such stream yet). */
static bool stream_info(const wh_redis_reply *info, long long *len, long long *added, char *first, size_t cap)
{
    if(wh_redis_reply_kind(info) != WH_REDIS_ARRAY)
        return false;
    *len = *added = -1;
    first[0] = '\0';
    for(size_t i = 0; i + 1 < wh_redis_reply_len(info); i += 2) {
        size_t kn;
        const char *k = wh_redis_reply_str(wh_redis_reply_at(info, i), &kn);
        const wh_redis_reply *v = wh_redis_reply_at(info, i + 1);
        if(!k)
            continue;
        if(kn == 6 && memcmp(k, "length", 6) == 0)
            *len = wh_redis_reply_int(v);
        else if(kn == 13 && memcmp(k, "entries-added", 13) == 0)
            *added = wh_redis_reply_int(v);
        else if(kn == 11 && memcmp(k, "first-entry", 11) == 0 && wh_redis_reply_kind(v) == WH_REDIS_ARRAY) {
            size_t n;
            const char *id = wh_redis_reply_str(wh_redis_reply_at(v, 0), &n);
            if(id)
                snprintf(first, cap, "%.*s", (int)n, id);
        }
    }
    return *len >= 0 && *added >= 0;
}

/* Stream ids "ms-seq" in order. */
static int id_cmp(const char *a, const char *b)
{
    unsigned long long am = 0, as = 0, bm = 0, bs = 0;
    sscanf(a, "%llu-%llu", &am, &as);
    sscanf(b, "%llu-%llu", &bm, &bs);
    return am != bm ? (am < bm ? -1 : 1) : as != bs ? (as < bs ? -1 : 1) : 0;
}

wh_code wh_xpage_fetch(wh_redis *r, const char *key, wh_xpage *x, int count, wh_redis_reply **rep,
                       const wh_redis_reply **entries, long long *missing, wh_err *err)
{
    char from[80], cnt[16];
    snprintf(from, sizeof(from), "(%s", x->last);
    snprintf(cnt, sizeof(cnt), "%d", count);
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *info[] = {"XINFO", "STREAM", key};
    const char *range[] = {"XRANGE", key, from, "+", "COUNT", cnt};
    *rep = NULL;
    *entries = NULL;
    *missing = 0;
    wh_code rc = wh_redis_append(r, 1, multi, NULL, err);
    if(!rc)
        rc = wh_redis_append(r, 3, info, NULL, err);
    if(!rc)
        rc = wh_redis_append(r, 6, range, NULL, err);
    if(!rc)
        rc = wh_redis_append(r, 1, exec, NULL, err);
    if(!rc)
        rc = wh_redis_drain(r, 3, err); /* OK, QUEUED, QUEUED */
    if(!rc)
        rc = wh_redis_read(r, rep, err);
    if(rc)
        return rc;
    long long len, added;
    char first[64];
    if(wh_redis_reply_kind(*rep) != WH_REDIS_ARRAY || wh_redis_reply_len(*rep) != 2 ||
       !stream_info(wh_redis_reply_at(*rep, 0), &len, &added, first, sizeof(first)))
        return WH_OK; /* no stream (yet): nothing to read */
    *entries = wh_redis_reply_at(*rep, 1);
    long long oldest = added - len + 1; /* the number of the oldest entry kept */
    bool behind = first[0] && id_cmp(x->last, first) < 0;
    if(x->next) {
        if(behind && x->next < oldest) {
            *missing = oldest - x->next;
            x->next = oldest;
        }
    } else if(strcmp(x->last, "0-0") == 0) {
        *missing = oldest - 1;
        x->next = oldest;
    } else if(behind) { /* resumed after an id the cap has removed */
        *missing = -1;
        x->next = oldest;
    } else { /* resumed inside the stream: the page's first entry is unknown by number */
        x->next = 0;
    }
    return WH_OK;
}

void wh_xpage_done(wh_xpage *x, long n)
{
    if(x->next)
        x->next += n;
}

wh_code wh_xpage_wait(wh_redis *r, const char *key, const wh_xpage *x, int ms, wh_err *err)
{
    char t[16];
    snprintf(t, sizeof(t), "%d", ms);
    const char *xread[] = {"XREAD", "COUNT", "1", "BLOCK", t, "STREAMS", key, x->last};
    return wh_redis_cmdv(r, NULL, err, 8, xread);
}

/* A line value as JSON; bytes that are not UTF-8 become '?'. */
static wh_json *line_str(const char *s, size_t n)
{
    wh_json *j = wh_json_strn(s, n);
    if(j)
        return j;
    char *copy = malloc(n + 1);
    if(!copy)
        return NULL;
    for(size_t i = 0; i < n; i++)
        copy[i] = (unsigned char)s[i] < 0x80 && s[i] ? s[i] : '?';
    j = wh_json_strn(copy, n);
    free(copy);
    return j;
}

bool wh_xpage_entry_parse(const wh_redis_reply *e, wh_xpage_entry *out)
{
    *out = (wh_xpage_entry){.s = "out", .sn = 3, .l = "", .ln = 0};
    if(wh_redis_reply_len(e) < 2)
        return false;
    out->id = wh_redis_reply_str(wh_redis_reply_at(e, 0), &out->idn);
    const wh_redis_reply *f = wh_redis_reply_at(e, 1);
    for(size_t k = 0; k + 1 < wh_redis_reply_len(f); k += 2) {
        size_t kn;
        const char *key = wh_redis_reply_str(wh_redis_reply_at(f, k), &kn);
        if(key && kn == 1 && key[0] == 's')
            out->s = wh_redis_reply_str(wh_redis_reply_at(f, k + 1), &out->sn);
        else if(key && kn == 1 && key[0] == 'l')
            out->l = wh_redis_reply_str(wh_redis_reply_at(f, k + 1), &out->ln);
        else if(key && kn == 1 && key[0] == 't')
            out->t = wh_redis_reply_str(wh_redis_reply_at(f, k + 1), &out->tn);
    }
    return out->id && out->s && out->l;
}

wh_json *wh_xpage_entry_json(const wh_redis_reply *e, char *last)
{
    wh_xpage_entry x;
    if(!wh_xpage_entry_parse(e, &x))
        return NULL;
    if(last)
        snprintf(last, 64, "%.*s", (int)(x.idn < 63 ? x.idn : 63), x.id);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "id", wh_json_strn(x.id, x.idn));
    wh_json_setc(o, "s", line_str(x.s, x.sn));
    wh_json_setc(o, "l", line_str(x.l, x.ln));
    if(x.t)
        wh_json_setc(o, "t", line_str(x.t, x.tn));
    return o;
}
