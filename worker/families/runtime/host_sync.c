/* host_sync: host.sync, the host's Docker inventory written into Redis.
 *
 *   <p>host:<h>:containers   hash  name -> JSON {Id, Image, State, Status, Created, Labels, Ports}
 *   <p>host:<h>:images       hash  id   -> JSON {RepoTags, RepoDigests, Size, Created}
 *   <p>host:<h>:volumes      hash  name -> JSON {Driver, Mountpoint, Labels, CreatedAt}
 *   <p>host:<h>:networks     hash  name -> JSON {Id, Driver, Scope, Internal}
 *   <p>host:<h>:sync         hash  synced_at (ms), engine ("docker" or "podman"),
 *                                  containers, images, volumes, networks,
 *                                  state_<status> (running, exited, ...)
 *   <p>host:<h>:reach        hash  whether the engine answered (rt_reach_note)
 * Each hash is built under a temporary key and RENAMEd over the old one, so
 * a reader sees either the previous sync or this one, never a mix. Stopped
 * containers are included. The keys do not expire: they describe the host
 * until the next sync. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime.h"

typedef struct kind {
    const char *key;          /* "containers" */
    const char *path;         /* list endpoint */
    const char *items;        /* array key in the answer, or NULL */
    const char *id;           /* field naming the entry ("Names" takes [0] without '/') */
    const char *const *keep;  /* fields of the value */
} kind;

static const char *const k_ctr[] = {"Id", "Image", "State", "Status", "Created", "Labels", "Ports", NULL};
static const char *const k_img[] = {"RepoTags", "RepoDigests", "Size", "Created", NULL};
static const char *const k_vol[] = {"Driver", "Mountpoint", "Labels", "CreatedAt", NULL};
static const char *const k_net[] = {"Id", "Driver", "Scope", "Internal", NULL};

static const kind kinds[] = {
    {"containers", "/containers/json?all=1", NULL, "Names", k_ctr},
    {"images", "/images/json", NULL, "Id", k_img},
    {"volumes", "/volumes", "Volumes", "Name", k_vol},
    {"networks", "/networks", NULL, "Name", k_net},
};
#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

/* The entry's name into out; false when it has none. */
static bool entry_name(const kind *k, const wh_json *e, char *out, size_t cap)
{
    const wh_json *v = wh_json_get(e, k->id);
    if(v && wh_json_kind_of(v) == WH_JSON_ARRAY)
        v = wh_json_at(v, 0);
    size_t n = 0;
    const char *s = v ? wh_json_strv(v, &n) : NULL;
    if(s && n && s[0] == '/') {
        s++;
        n--;
    }
    if(!s || !n || n >= cap)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static char *entry_value(const kind *k, const wh_json *e)
{
    wh_json *o = wh_json_object();
    for(const char *const *f = k->keep; *f; f++) {
        wh_json *v = wh_json_get(e, *f);
        char *d = v ? wh_json_dump(v) : NULL;
        wh_json *cp = d ? wh_json_parse(d, strlen(d), NULL) : NULL;
        free(d);
        if(cp)
            wh_json_setc(o, *f, cp);
    }
    char *s = wh_json_dump(o);
    wh_json_free(o);
    return s;
}

static void append(wh_redis *r, int argc, const char **argv, int *pending)
{
    size_t lens[8];
    for(int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if(wh_redis_append(r, argc, argv, lens, NULL) == WH_OK)
        (*pending)++;
}

/* Count container states into `states` (a JSON object of counts). */
static void count_state(wh_json *states, const wh_json *e)
{
    size_t n = 0;
    const char *st = wh_json_strv(wh_json_get(e, "State"), &n);
    if(!st || n > 32)
        return;
    char key[48];
    snprintf(key, sizeof(key), "state_%.*s", (int)n, st);
    wh_json *cur = wh_json_get(states, key);
    wh_json_setc(states, key, wh_json_int((cur ? wh_json_intv(cur) : 0) + 1));
}

/* Write one kind under a temp key, then rename it into place. */
static int64_t write_kind(wh_redis *r, const char *base, const kind *k, const wh_json *list, wh_json *states,
                          int *pending)
{
    char tmp[700], key[700];
    snprintf(key, sizeof(key), "%s:%s", base, k->key);
    snprintf(tmp, sizeof(tmp), "%s:%s:syncing", base, k->key);
    const char *del[] = {"DEL", tmp};
    append(r, 2, del, pending);
    const wh_json *arr = k->items ? wh_json_get(list, k->items) : list;
    int64_t n = 0;
    for(size_t i = 0; arr && i < wh_json_size(arr); i++) {
        const wh_json *e = wh_json_at(arr, i);
        char name[300];
        char *val = entry_name(k, e, name, sizeof(name)) ? entry_value(k, e) : NULL;
        if(!val)
            continue;
        const char *hset[] = {"HSET", tmp, name, val};
        append(r, 4, hset, pending);
        free(val);
        if(states)
            count_state(states, e);
        n++;
    }
    if(n) {
        const char *ren[] = {"RENAME", tmp, key};
        append(r, 3, ren, pending);
    } else {
        const char *d2[] = {"DEL", key};
        append(r, 2, d2, pending);
    }
    return n;
}

static void write_summary(wh_redis *r, const char *base, const wh_json *summary, int *pending)
{
    char key[700];
    snprintf(key, sizeof(key), "%s:sync", base);
    const char *del[] = {"DEL", key};
    append(r, 2, del, pending);
    for(wh_json_iter *it = wh_json_iter_first(summary); it; it = wh_json_iter_next(summary, it)) {
        char v[32];
        size_t n = 0;
        const char *str = wh_json_strv(wh_json_iter_val(it), &n); /* the engine's name; counts are ints */
        if(str)
            snprintf(v, sizeof(v), "%.*s", (int)(n < 31 ? n : 31), str);
        else
            snprintf(v, sizeof(v), "%lld", (long long)wh_json_intv(wh_json_iter_val(it)));
        const char *hset[] = {"HSET", key, wh_json_iter_key(it, NULL), v};
        append(r, 4, hset, pending);
    }
}

wk_run rt_sync_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    wh_json *lists[NKINDS] = {0};
    wh_code rc = rt_open(job, &c, &err);
    for(int i = 0; !rc && i < NKINDS; i++)
        rc = rt_call(&c, "GET", kinds[i].path, NULL, kinds[i].key, &lists[i], &err);
    if(rc) {
        rt_reach_note(job, false, rc, &err);
        for(int i = 0; i < NKINDS; i++)
            wh_json_free(lists[i]);
        return wk_job_fail_err(job, rc, &err);
    }
    for(size_t i = 0; i < wh_json_size(lists[1]); i++) /* kinds[1]: the images */
        rt_image_familiar(&c, wh_json_at(lists[1], i));
    wk_job_flush(job);
    wh_redis *r = wk_job_redis(job);
    char base[600];
    snprintf(base, sizeof(base), "%shost:%s", wk_job_prefix(job), wk_job_host(job)->name);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    wh_json *summary = wh_json_object();
    wh_json_setc(summary, "synced_at", wh_json_int((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
    wh_json_setc(summary, "engine", wh_json_str(rt_engine_name(c.engine)));
    wh_json *states = wh_json_object();
    int pending = 0;
    for(int i = 0; i < NKINDS; i++) {
        int64_t n = write_kind(r, base, &kinds[i], lists[i], i == 0 ? states : NULL, &pending);
        wh_json_setc(summary, kinds[i].key, wh_json_int(n));
        wh_json_free(lists[i]);
    }
    for(wh_json_iter *it = wh_json_iter_first(states); it; it = wh_json_iter_next(states, it))
        wh_json_setc(summary, wh_json_iter_key(it, NULL), wh_json_int(wh_json_intv(wh_json_iter_val(it))));
    wh_json_free(states);
    write_summary(r, base, summary, &pending);
    rc = wh_redis_drain(r, pending, &err);
    if(rc) {
        wh_json_free(summary);
        return wk_job_fail_err(job, rc, &err);
    }
    rt_reach_note(job, false, WH_OK, &err);
    wk_job_set_result(job, summary);
    return WK_RUN_OK;
}
