/* client_read: the client library's reads beyond status (see wharf.h): the
 * options from the environment, wait with the final job, result, logs (all,
 * the tail, or followed) and events. The Python and TypeScript clients
 * offer the same operations; docs/clients.md has the table.
 *
 * Following a log pages through the capped stream with wh_xpage, as `wharf
 * logs -f` does, so lines the cap removed are reported as a gap. Events
 * have a Redis connection of their own: a subscribed connection can do
 * nothing else. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "wh_keys.h"
#include "wh_status.h"
#include "wh_time.h"
#include "wh_xpage.h"

#define LOG_MAX 10000      /* lines wharf_logs_json returns at most, as the HTTP API */
#define FOLLOW_PAGE 1000   /* stream entries fetched per request while following */

/* WHARF_<SECTION>_<KEY>, as wh_cfg reads the environment. */
static const struct {
    const char *var;
    size_t off;        /* of a const char * in wharf_client_opts */
} env_strs[] = {
    {"WHARF_AMQP_URL", offsetof(wharf_client_opts, amqp_url)},
    {"WHARF_REDIS_URL", offsetof(wharf_client_opts, redis_url)},
    {"WHARF_REDIS_PREFIX", offsetof(wharf_client_opts, redis_prefix)},
    {"WHARF_AMQP_QUEUE_TYPE", offsetof(wharf_client_opts, queue_type)},
};

void wharf_client_opts_from_env(wharf_client_opts *o)
{
    for(size_t i = 0; i < sizeof(env_strs) / sizeof(env_strs[0]); i++) {
        const char **field = (const char **)((char *)o + env_strs[i].off);
        const char *v = getenv(env_strs[i].var);
        if(!*field && v && *v)
            *field = v;
    }
    const char *v = getenv("WHARF_AMQP_MAX_PRIORITY");
    if(!o->max_priority && v && *v)
        o->max_priority = (int)strtol(v, NULL, 10);
    v = getenv("WHARF_JOBS_MAX_ATTEMPTS");
    if(!o->max_attempts && v && *v)
        o->max_attempts = (int)strtol(v, NULL, 10);
}

int wharf_wait_json(wharf_client *c, const char *id, int timeout_ms, char **json, wharf_error *err)
{
    char state[16];
    int rc = wharf_wait(c, id, timeout_ms, state, err);
    return rc ? rc : wharf_status_json(c, id, json, err);
}

int wharf_result_json(wharf_client *c, const char *id, char **json, wharf_error *err)
{
    wh_err e;
    wh_json *j = wh_status_json(c->redis, c->cfg.redis_prefix, id, &e);
    if(!j)
        return client_fail(err, &e);
    wh_json *r = wh_json_get(j, "result");
    wh_json *out = r ? wh_json_copy(r) : wh_json_null();
    wh_json_free(j);
    if(!out)
        wh_err_set(&e, WH_E_NOMEM, "", "out of memory");
    return client_json_out(out, &e, json, err);
}

/* The lines of an XRANGE (or, with `reverse`, XREVRANGE) reply in stream order. */
static wh_json *lines_json(const wh_redis_reply *rep, bool reverse)
{
    wh_json *lines = wh_json_array();
    size_t n = wh_redis_reply_len(rep);
    for(size_t i = 0; lines && i < n; i++) {
        wh_json *e = wh_xpage_entry_json(wh_redis_reply_at(rep, reverse ? n - 1 - i : i), NULL);
        if(e)
            wh_json_push(lines, e);
    }
    wh_json *o = lines ? wh_json_object() : NULL;
    if(o)
        wh_json_setc(o, "lines", lines);
    else
        wh_json_free(lines);
    return o;
}

int wharf_logs_json(wharf_client *c, const char *id, int tail, char **json, wharf_error *err)
{
    char job[WH_KEY_MAX], log[WH_KEY_MAX], count[16];
    wh_key_job(job, c->cfg.redis_prefix, id ? id : "");
    wh_key_log(log, c->cfg.redis_prefix, id ? id : "");
    snprintf(count, sizeof(count), "%d", tail > 0 && tail < LOG_MAX ? tail : LOG_MAX);
    const char *exists[] = {"EXISTS", job};
    const char *rev[] = {"XREVRANGE", log, "+", "-", "COUNT", count};
    const char *fwd[] = {"XRANGE", log, "-", "+", "COUNT", count};
    wh_err e;
    wh_redis_reply *found = NULL, *rep = NULL;
    wh_code rc = wh_redis_append(c->redis, 2, exists, NULL, &e);
    if(!rc)
        rc = wh_redis_append(c->redis, 6, tail > 0 ? rev : fwd, NULL, &e);
    if(!rc)
        rc = wh_redis_read(c->redis, &found, &e);
    if(!rc)
        rc = wh_redis_read(c->redis, &rep, &e);
    bool missing = !rc && wh_redis_reply_int(found) == 0 && wh_redis_reply_len(rep) == 0;
    wh_json *j = rc || missing ? NULL : lines_json(rep, tail > 0);
    wh_redis_reply_free(found);
    wh_redis_reply_free(rep);
    if(missing)
        wh_err_set(&e, WH_E_NOT_FOUND, "id", "no job with id \"%s\"", id);
    else if(!rc && !j)
        wh_err_set(&e, WH_E_NOMEM, "", "out of memory");
    return client_json_out(j, &e, json, err);
}

/* ---- following a log ---- */

/* Hand one stream entry to fn; its id becomes x->last. */
static int deliver_line(const wh_redis_reply *entry, wh_xpage *x, wharf_log_fn fn, void *ud)
{
    wh_xpage_entry f;
    if(!wh_xpage_entry_parse(entry, &f))
        return 0;
    char stream[8];
    snprintf(x->last, sizeof(x->last), "%.*s", (int)f.idn, f.id);
    snprintf(stream, sizeof(stream), "%.*s", (int)f.sn, f.s);
    /* hiredis strings are NUL-terminated past their length. */
    wharf_log_entry e = {x->last, stream, f.l, f.ln, 0};
    return fn(ud, &e);
}

/* One page: a gap first when the cap removed lines, then the lines. Returns
 * the lines delivered (in *n), and fn's nonzero value if it stopped. */
static int follow_page(wharf_client *c, const char *key, wh_xpage *x, wharf_log_fn fn, void *ud, long *n,
                       wh_err *err)
{
    wh_redis_reply *rep;
    const wh_redis_reply *entries;
    long long missing;
    *n = 0;
    wh_code rc = wh_xpage_fetch(c->redis, key, x, FOLLOW_PAGE, &rep, &entries, &missing, err);
    if(rc)
        return -(int)rc;
    int stop = 0;
    if(missing) {
        wharf_log_entry gap = {"", "gap", "", 0, missing > 0 ? missing : -1};
        stop = fn(ud, &gap);
    }
    size_t count = entries ? wh_redis_reply_len(entries) : 0;
    for(size_t i = 0; !stop && i < count; i++, (*n)++)
        stop = deliver_line(wh_redis_reply_at(entries, i), x, fn, ud);
    wh_xpage_done(x, *n);
    wh_redis_reply_free(rep);
    return stop;
}

int wharf_logs_follow(wharf_client *c, const char *id, wharf_log_fn fn, void *ud, wharf_error *err)
{
    char key[WH_KEY_MAX], state[16];
    wh_err e;
    wh_key_log(key, c->cfg.redis_prefix, id ? id : "");
    if(wh_status_state(c->redis, c->cfg.redis_prefix, id ? id : "", state, NULL, NULL, 0, &e))
        return client_fail(err, &e);
    wh_xpage x = {0};
    wh_xpage_init(&x, NULL);
    int block_ms = c->timeout_ms / 2 < 1000 ? c->timeout_ms / 2 + 1 : 1000;
    for(;;) {
        long n;
        int stop = follow_page(c, key, &x, fn, ud, &n, &e);
        if(stop < 0)
            return client_fail(err, &e);
        if(stop)
            return stop;
        if(n > 0)
            continue;
        /* The state is read before the next page, so a line written before
         * the job turned terminal is always in the pages that follow. */
        if(wh_status_terminal(state))
            return 0;
        if(wh_xpage_wait(c->redis, key, &x, block_ms, &e) ||
           wh_status_state(c->redis, c->cfg.redis_prefix, id, state, NULL, NULL, 0, &e))
            return client_fail(err, &e);
    }
}

/* ---- events ---- */

struct wharf_events {
    wh_redis *r;                  /* the subscribed connection */
    char channel[WH_KEY_MAX];     /* <prefix>events */
    bool subscribed;              /* SUBSCRIBE confirmed on this connection */
    size_t n;                     /* ids to pass; 0: all */
    char (*ids)[WH_ID_MAX + 1];
};

/* (Re)connect and subscribe when the connection was lost. */
static wh_code subscribe(wharf_events *ev, wh_err *err)
{
    if(ev->subscribed && wh_redis_connected(ev->r))
        return WH_OK;
    ev->subscribed = false;
    const char *argv[] = {"SUBSCRIBE", ev->channel};
    wh_redis_reply *rep = NULL;
    wh_code rc = wh_redis_connect(ev->r, err);
    if(!rc)
        rc = wh_redis_append(ev->r, 2, argv, NULL, err);
    if(!rc)
        rc = wh_redis_read(ev->r, &rep, err);
    wh_redis_reply_free(rep);
    ev->subscribed = rc == WH_OK;
    return rc;
}

wharf_events *wharf_events_new(wharf_client *c, const char *const *ids, size_t n, wharf_error *err)
{
    wh_err e;
    wharf_events *ev = calloc(1, sizeof(*ev));
    if(ev && n)
        ev->ids = calloc(n, sizeof(*ev->ids));
    if(!ev || (n && !ev->ids)) {
        wharf_events_free(ev);
        wh_err_set(&e, WH_E_NOMEM, "", "out of memory");
        client_fail(err, &e);
        return NULL;
    }
    for(size_t i = 0; i < n; i++)
        snprintf(ev->ids[i], sizeof(ev->ids[i]), "%s", ids[i] ? ids[i] : "");
    ev->n = n;
    wh_key_events(ev->channel, c->cfg.redis_prefix);
    if(!(ev->r = wh_redis_new(c->cfg.redis_url, c->timeout_ms, &e))) {
        wharf_events_free(ev);
        client_fail(err, &e);
        return NULL;
    }
    if(subscribe(ev, &e)) {
        wharf_events_free(ev);
        client_fail(err, &e);
        return NULL;
    }
    return ev;
}

/* A pushed ["message", channel, "<id> <state>"] as an event; false when it
 * is something else or a job not asked for. */
static bool parse_event(const wharf_events *ev, const wh_redis_reply *rep, wharf_event *out)
{
    size_t kn, dn;
    const char *kind = wh_redis_reply_str(wh_redis_reply_at(rep, 0), &kn);
    const char *data = wh_redis_reply_len(rep) == 3 ? wh_redis_reply_str(wh_redis_reply_at(rep, 2), &dn) : NULL;
    const char *sp = data ? memchr(data, ' ', dn) : NULL;
    if(!kind || kn != 7 || memcmp(kind, "message", 7) != 0 || !sp || sp == data)
        return false;
    snprintf(out->id, sizeof(out->id), "%.*s", (int)(sp - data), data);
    snprintf(out->state, sizeof(out->state), "%.*s", (int)(dn - (size_t)(sp - data) - 1), sp + 1);
    bool wanted = ev->n == 0;
    for(size_t i = 0; !wanted && i < ev->n; i++)
        wanted = strcmp(ev->ids[i], out->id) == 0;
    return wanted;
}

int wharf_events_next(wharf_events *ev, int timeout_ms, wharf_event *out, wharf_error *err)
{
    wh_err e;
    int64_t deadline = wh_mono_ms() + timeout_ms;
    for(;;) {
        int left = timeout_ms < 0 ? -1 : (int)(deadline - wh_mono_ms());
        bool ready = false;
        wh_redis_reply *rep = NULL;
        if(subscribe(ev, &e) || wh_redis_poll(ev->r, left < 0 && timeout_ms >= 0 ? 0 : left, &ready, &e))
            return client_fail(err, &e);
        if(!ready) {
            if(timeout_ms >= 0 && wh_mono_ms() >= deadline) {
                wh_err_set(&e, WH_E_TIMEOUT, "", "no event in %d ms", timeout_ms);
                return client_fail(err, &e);
            }
            continue;
        }
        if(wh_redis_read(ev->r, &rep, &e))
            return client_fail(err, &e);
        bool got = parse_event(ev, rep, out);
        wh_redis_reply_free(rep);
        if(got)
            return 0;
    }
}

void wharf_events_free(wharf_events *ev)
{
    if(!ev)
        return;
    wh_redis_free(ev->r);
    free(ev->ids);
    free(ev);
}
