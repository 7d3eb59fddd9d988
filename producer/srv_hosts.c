/* srv_hosts: the fleet's reads. GET /v1/hosts, /v1/hosts/{host}/containers
 * [?refresh=1], /v1/hosts/{host}/containers/{name}, /v1/hosts/{host}/stats
 * and /v1/hosts/{host}/updates.
 *
 * `wharf serve` never talks to a Docker engine itself (it links no HTTP or
 * SSH client: tests/integration/test_linkage.py); it reads what the workers'
 * runtime.host.sync, runtime.host.stats and registry.update_check jobs left
 * in Redis (fleet.h), and a refresh is one more runtime.host.sync job. The
 * host must be in serve's own inventory ([host.NAME] sections of its config
 * file, as the workers'), so a path cannot name keys of hosts nobody runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"
#include "srv.h"
#include "wh_env.h"
#include "wh_keys.h"

#define REFRESH_WAIT_S 10     /* default wait of ?refresh=1, s */
#define REFRESH_WAIT_MAX_S 60 /* longest wait_s accepted */

const wh_inv_host *srv_host(srv_call *c)
{
    const wh_inv *inv = c->s->cfg->inv;
    const wh_inv_host *h = inv ? wh_inv_host_find(inv, c->param) : NULL;
    if(!h)
        srv_error(c, 404, "not_found", "host", "no host \"%s\" in the inventory", c->param);
    return h;
}

/* True (after answering 400 naming `field`) unless `name` is a container
 * name as the runtime family accepts it. */
static bool bad_name(srv_call *c, const char *name, const char *field)
{
    size_t n = strlen(name);
    if(n <= 128 && wh_env_target_valid(name, n))
        return false;
    srv_error(c, 400, "usage", field, "a container name matches [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    return true;
}

bool srv_bad_ctr(srv_call *c)
{
    return bad_name(c, c->param2, "name");
}

/* What the inventory entry lets the families do there. */
static wh_json *families_of(const wh_inv_host *h)
{
    wh_json *a = wh_json_array();
    if(h->docker_kind != WH_DOCKER_NONE) {
        wh_json_push(a, wh_json_str("runtime"));
        wh_json_push(a, wh_json_str("registry"));
    }
    if(h->address[0])
        wh_json_push(a, wh_json_str("provision"));
    return a;
}

/* The sync hash {synced_at, containers, ..., state_running: N} reshaped as
 * {synced_at, containers, images, volumes, networks, states: {running: N}}. */
static wh_json *sync_summary(wh_json *raw)
{
    if(wh_json_kind_of(raw) != WH_JSON_OBJECT)
        return raw;
    wh_json *o = wh_json_object(), *states = wh_json_object();
    for(wh_json_iter *it = wh_json_iter_first(raw); it; it = wh_json_iter_next(raw, it)) {
        size_t kn;
        const char *k = wh_json_iter_key(it, &kn);
        wh_json *v = wh_json_copy(wh_json_iter_val(it));
        if(kn > 6 && strncmp(k, "state_", 6) == 0)
            wh_json_set(states, k + 6, kn - 6, v);
        else
            wh_json_set(o, k, kn, v);
    }
    wh_json_setc(o, "states", states);
    wh_json_free(raw);
    return o;
}

/* One host of the list from its sync and reach hashes (stolen). */
static wh_json *host_json(const wh_inv_host *h, wh_json *sync, wh_json *reach)
{
    static const char *const kinds[] = {NULL, "unix", "tcp", "ssh"};
    wh_json *o = wh_json_object();
    wh_json_setc(o, "name", wh_json_str(h->name));
    wh_json_setc(o, "docker", kinds[h->docker_kind] ? wh_json_str(kinds[h->docker_kind]) : wh_json_null());
    wh_json_setc(o, "ssh", wh_json_bool(h->address[0] != '\0'));
    wh_json_setc(o, "families", families_of(h));
    wh_json_setc(o, "sync", sync_summary(sync));
    const wh_json *ok = wh_json_get(reach, "ok"), *st = wh_json_get(reach, "stats_at");
    wh_json_setc(o, "reachable", ok ? wh_json_bool(wh_json_intv(ok) == 1) : wh_json_null());
    wh_json_setc(o, "stats_at", st ? wh_json_copy(st) : wh_json_null());
    wh_json_setc(o, "reach", reach);
    return o;
}

/* Queue HGETALL of <p>host:<h>:sync and :reach for every host. */
static wh_code queue_reads(srv_call *c, wh_redis *r, const wh_inv *inv, int *queued, wh_err *err)
{
    static const char *const what[] = {"sync", "reach"};
    for(int i = 0; i < inv->nhosts; i++)
        for(int k = 0; k < 2; k++) {
            char key[WH_KEY_MAX];
            wh_key_host(key, c->s->cfg->redis_prefix, inv->hosts[i].name, what[k]);
            const char *argv[] = {"HGETALL", key};
            size_t lens[] = {7, strlen(key)};
            if(wh_redis_append(r, 2, argv, lens, err) != WH_OK)
                return err->code;
            (*queued)++;
        }
    return WH_OK;
}

void srv_hosts_list(srv_call *c)
{
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    const wh_inv *inv = c->s->cfg->inv;
    wh_json *all = wh_json_array();
    int queued = 0;
    wh_err err;
    wh_code rc = inv ? queue_reads(c, r, inv, &queued, &err) : WH_OK;
    /* Two replies per host, in inventory order; every one is read. */
    for(int i = 0; i < queued / 2; i++) {
        wh_redis_reply *sync = NULL, *reach = NULL;
        wh_code a = wh_redis_read(r, &sync, rc ? NULL : &err);
        rc = rc ? rc : a;
        wh_code b = wh_redis_read(r, &reach, rc ? NULL : &err);
        rc = rc ? rc : b;
        if(!rc)
            wh_json_push(all, host_json(&inv->hosts[i], fleet_reply_ints(sync), fleet_reply_ints(reach)));
        wh_redis_reply_free(sync);
        wh_redis_reply_free(reach);
    }
    if(queued % 2) /* a failed queue_reads: keep the connection in step */
        wh_redis_drain(r, 1, NULL);
    if(rc) {
        wh_json_free(all);
        return srv_error_wh(c, &err);
    }
    wh_json *o = wh_json_object();
    wh_json_setc(o, "hosts", all);
    srv_reply_json(c, 200, o);
}

/* One container of the sync hash in the API's shape. */
static wh_json *ctr_json(const char *name, size_t n, const wh_json *v)
{
    static const char *const map[][2] = {{"Id", "id"},         {"Image", "image"},   {"State", "state"},
                                         {"Status", "status"}, {"Created", "created"}, {"Labels", "labels"},
                                         {"Ports", "ports"}};
    wh_json *o = wh_json_object();
    wh_json_setc(o, "name", wh_json_strn(name, n));
    for(size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        const wh_json *f = wh_json_get(v, map[i][0]);
        wh_json_setc(o, map[i][1], f ? wh_json_copy(f) : wh_json_null());
    }
    const char *health = fleet_health_of(wh_json_strv(wh_json_get(v, "Status"), NULL));
    wh_json_setc(o, "health", health ? wh_json_str(health) : wh_json_null());
    return o;
}

static int by_name(const void *a, const void *b)
{
    const char *x = wh_json_strv(wh_json_get(*(wh_json *const *)a, "name"), NULL);
    const char *y = wh_json_strv(wh_json_get(*(wh_json *const *)b, "name"), NULL);
    return strcmp(x ? x : "", y ? y : "");
}

/* The containers of the last sync, sorted by name; NULL with err. */
static wh_json *containers_of(srv_call *c, wh_redis *r, wh_err *err)
{
    char key[WH_KEY_MAX];
    wh_key_host(key, c->s->cfg->redis_prefix, c->param, "containers");
    wh_json *raw = fleet_hash_json(r, key, err);
    if(!raw)
        return NULL;
    size_t n = wh_json_size(raw), k = 0;
    wh_json **v = calloc(n ? n : 1, sizeof(*v));
    for(wh_json_iter *it = wh_json_iter_first(raw); v && it; it = wh_json_iter_next(raw, it)) {
        size_t kn;
        const char *name = wh_json_iter_key(it, &kn);
        v[k++] = ctr_json(name, kn, wh_json_iter_val(it));
    }
    wh_json_free(raw);
    if(!v)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory"), NULL;
    qsort(v, k, sizeof(*v), by_name);
    wh_json *arr = wh_json_array();
    for(size_t i = 0; i < k; i++)
        wh_json_push(arr, v[i]);
    free(v);
    return arr;
}

/* ?refresh=1: submit a runtime.host.sync (one shared by concurrent
 * refreshes: unique for 60 s; one attempt, so an unreachable engine ends it
 * at once) and wait for it up to wait_s. Its id, state and error go to
 * "refresh" (done: false when the wait ran out); false after answering an
 * error. */
static bool refresh(srv_call *c, wh_json *out)
{
    long wait_s;
    if(!srv_query_int(c, "wait_s", 1, REFRESH_WAIT_MAX_S, REFRESH_WAIT_S, &wait_s))
        return false;
    wharf_client *wc = srv_client(c);
    if(!wc)
        return false;
    wharf_job job = {.type = "runtime.host.sync", .target = c->param, .args_json = "{}", .max_attempts = 1,
                     .unique_for_s = 60};
    wharf_submitted sub;
    wharf_error err;
    if(wharf_submit(wc, &job, &sub, &err) != 0)
        return srv_error_client(c, &err), false;
    char *json = NULL;
    int rc = wharf_wait_json(wc, sub.id, (int)wait_s * 1000, &json, &err);
    if(rc != 0 && rc != WHARF_TIMEOUT)
        return srv_error_client(c, &err), false;
    wh_json *job_now = json ? wh_json_parse(json, strlen(json), NULL) : NULL;
    free(json);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "job", wh_json_str(sub.id));
    static const char *const keep[] = {"state", "error", "error_message"};
    for(int i = 0; i < 3; i++) {
        const wh_json *v = wh_json_get(job_now, keep[i]);
        if(v)
            wh_json_setc(o, keep[i], wh_json_copy(v));
    }
    if(!job_now) /* still waiting for a worker, or running */
        wh_json_setc(o, "state", wh_json_str(sub.state));
    wh_json_free(job_now);
    wh_json_setc(o, "done", wh_json_bool(rc == 0));
    wh_json_setc(out, "refresh", o);
    return true;
}

void srv_hosts_containers(srv_call *c)
{
    long want;
    if(!srv_host(c) || !srv_query_int(c, "refresh", 0, 1, 0, &want))
        return;
    wh_json *o = wh_json_object();
    wh_json_setc(o, "host", wh_json_str(c->param));
    if(want && !refresh(c, o))
        return wh_json_free(o);
    wh_redis *r = srv_redis(c);
    if(!r)
        return wh_json_free(o);
    wh_err err;
    char key[WH_KEY_MAX];
    wh_key_host(key, c->s->cfg->redis_prefix, c->param, "sync");
    wh_json *sync = fleet_hash_ints(r, key, &err);
    wh_json *list = sync ? containers_of(c, r, &err) : NULL;
    if(!list) {
        wh_json_free(sync);
        wh_json_free(o);
        return srv_error_wh(c, &err);
    }
    const wh_json *at = wh_json_get(sync, "synced_at");
    wh_json_setc(o, "synced_at", at ? wh_json_copy(at) : wh_json_null());
    wh_json_free(sync);
    wh_json_setc(o, "containers", list);
    srv_reply_json(c, 200, o);
}

void srv_hosts_container(srv_call *c)
{
    if(!srv_host(c) || srv_bad_ctr(c))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    char key[WH_KEY_MAX];
    wh_key_host(key, c->s->cfg->redis_prefix, c->param, "containers");
    const char *argv[] = {"HGET", key, c->param2};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(r, &rep, &err, 3, argv) != WH_OK)
        return srv_error_wh(c, &err);
    size_t n = 0;
    const char *s = wh_redis_reply_str(rep, &n);
    wh_json *v = s ? wh_json_parse(s, n, NULL) : NULL;
    wh_redis_reply_free(rep);
    if(!v)
        return srv_error(c, 404, "not_found", "name", "no container \"%s\" on host %s in its last sync", c->param2,
                         c->param);
    wh_json *o = ctr_json(c->param2, strlen(c->param2), v);
    wh_json_free(v);
    wh_json_setc(o, "host", wh_json_str(c->param));
    srv_reply_json(c, 200, o);
}

/* One bucket as a point of the series; cpu_avg is null without CPU values. */
static wh_json *point_json(const fleet_bucket *b)
{
    wh_json *p = wh_json_object();
    wh_json_setc(p, "t", wh_json_int(b->t));
    wh_json_setc(p, "n", wh_json_int((int64_t)b->n));
    wh_json_setc(p, "cpu_avg", b->cpu_n > 0 ? wh_json_real(b->cpu_sum / b->cpu_n) : wh_json_null());
    wh_json_setc(p, "cpu_max", b->cpu_n > 0 ? wh_json_real(b->cpu_max) : wh_json_null());
    wh_json_setc(p, "mem_avg", wh_json_int((int64_t)(b->mem_sum / b->n)));
    wh_json_setc(p, "mem_max", wh_json_int((int64_t)b->mem_max));
    wh_json_setc(p, "mem_limit", wh_json_int((int64_t)b->mem_limit));
    static const char *const ctr[] = {"rx", "tx", "blk_r", "blk_w"};
    const double v[] = {b->rx, b->tx, b->blk_r, b->blk_w};
    for(int i = 0; i < 4; i++)
        wh_json_setc(p, ctr[i], wh_json_int((int64_t)v[i]));
    return p;
}

void srv_hosts_stats(srv_call *c)
{
    long minutes, hours;
    if(!srv_host(c) || !srv_query_int(c, "minutes", 1, 2880, 0, &minutes) ||
       !srv_query_int(c, "hours", 1, 720, 0, &hours))
        return;
    if(minutes && hours)
        return srv_error(c, 400, "usage", "hours", "give minutes or hours, not both");
    const char *name = wh_mhd_query(c->req, "container");
    if(name && bad_name(c, name, "container"))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    int step = hours ? 3600 : 60, count = hours ? (int)hours : minutes ? (int)minutes : 60, nb = 0;
    fleet_bucket *b = NULL;
    wh_err err;
    if(fleet_stats_read(r, c->s->cfg->redis_prefix, c->param, name ? name : "_host", step, count,
                        (int64_t)time(NULL), &b, &nb, &err) != WH_OK)
        return srv_error_wh(c, &err);
    wh_json *points = wh_json_array();
    for(int i = 0; i < nb; i++)
        wh_json_push(points, point_json(&b[i]));
    free(b);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "host", wh_json_str(c->param));
    wh_json_setc(o, "container", name ? wh_json_str(name) : wh_json_null());
    wh_json_setc(o, "step_s", wh_json_int(step));
    wh_json_setc(o, "points", points);
    srv_reply_json(c, 200, o);
}

void srv_hosts_updates(srv_call *c)
{
    if(!srv_host(c))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    char key[WH_KEY_MAX];
    wh_key_updates(key, c->s->cfg->redis_prefix, c->param);
    wh_err err;
    wh_json *all = fleet_hash_json(r, key, &err);
    if(!all)
        return srv_error_wh(c, &err);
    wh_json *list = wh_json_array();
    int64_t checked = 0;
    for(wh_json_iter *it = wh_json_iter_first(all); it; it = wh_json_iter_next(all, it)) {
        const wh_json *t = wh_json_get(wh_json_iter_val(it), "checked_at");
        if(t && wh_json_intv(t) > checked)
            checked = wh_json_intv(t);
        wh_json_push(list, wh_json_copy(wh_json_iter_val(it)));
    }
    wh_json_free(all);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "host", wh_json_str(c->param));
    wh_json_setc(o, "checked_at", checked ? wh_json_int(checked) : wh_json_null());
    wh_json_setc(o, "containers", list);
    srv_reply_json(c, 200, o);
}
