/* client: the wharf C client library. See wharf.h for the contract.
 *
 * A submit is: encode the envelope, run enqueue.lua (creates the `queued`
 * hash only for a new id), publish with mandatory routing on a confirm
 * channel, and wait for the confirm. A nack, a return or a lost connection
 * runs unenqueue.lua, so a failed submit leaves nothing behind and the same
 * id can be submitted again. Batches keep their confirms in flight together. */
#include "wharf.h"
#include "client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "wh_amqp.h"
#include "wh_conv.h"
#include "wh_jobctl.h"
#include "wh_sched.h"
#include "wh_redis.h"
#include "wh_status.h"
#include "wh_utf8.h"
#include "wh_time.h"
#include "wh_topo.h"

#define CH 1                /* the one channel, in confirm mode */
#define DRAIN_EVERY 256     /* publishes between non-blocking confirm reads */


/* Per job state of a batch. */
typedef struct slot {
    uint64_t seq;           /* publish sequence; 0 when not published */
    bool confirmed, nack, returned;
} slot;

int client_fail(wharf_error *out, const wh_err *e)
{
    if(out) {
        out->code = e->code;
        snprintf(out->name, sizeof(out->name), "%s", wh_err_name(e));
        snprintf(out->field, sizeof(out->field), "%s", e->field);
        /* message[] is part of the ABI and shorter than e->msg: cut it
         * between characters. */
        size_t n = wh_utf8_cut(e->msg, strlen(e->msg), sizeof(out->message) - 1);
        memcpy(out->message, e->msg, n);
        out->message[n] = '\0';
    }
    return e->code ? (int)e->code : (int)WH_E_INTERNAL;
}

static wh_code connect_amqp(wharf_client *c, wh_err *err)
{
    if(c->amqp && wh_amqp_alive(c->amqp))
        return WH_OK;
    wh_amqp_free(c->amqp);
    c->blocked = false; /* a new connection learns of an alarm anew */
    wh_amqp_opts o = {c->cfg.amqp_url, 30, c->timeout_ms, "wharf producer", (size_t)c->cfg.max_body};
    c->amqp = wh_amqp_connect(&o, err);
    if(!c->amqp)
        return err->code;
    wh_code rc = wh_topo_declare(c->amqp, CH, &c->cfg, err);
    if(!rc)
        rc = wh_amqp_confirm_select(c->amqp, CH, err);
    if(rc) {
        wh_amqp_free(c->amqp);
        c->amqp = NULL;
    }
    return rc;
}

wharf_client *wharf_client_new(const wharf_client_opts *o, wharf_error *err)
{
    wh_err e;
    wharf_client *c = calloc(1, sizeof(*c));
    if(!c) {
        wh_err_set(&e, WH_E_NOMEM, "", "out of memory");
        client_fail(err, &e);
        return NULL;
    }
    wh_cfg_defaults(&c->cfg);
    wh_code rc = WH_OK;
    if(o->amqp_url)
        rc = wh_cfg_set_kv(&c->cfg, "amqp", "url", o->amqp_url, &e);
    if(!rc && o->redis_url)
        rc = wh_cfg_set_kv(&c->cfg, "redis", "url", o->redis_url, &e);
    if(!rc && o->redis_prefix)
        rc = wh_cfg_set_kv(&c->cfg, "redis", "prefix", o->redis_prefix, &e);
    if(!rc && o->queue_type)
        rc = wh_cfg_set_kv(&c->cfg, "amqp", "queue_type", o->queue_type, &e);
    if(!rc && o->max_attempts)
        c->cfg.max_attempts = o->max_attempts;
    if(!rc && o->max_priority > 0 && o->max_priority <= 9)
        c->cfg.max_priority = o->max_priority;
    if(!rc)
        rc = wh_cfg_validate(&c->cfg, &e);
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    if(!rc && (!(c->args = wh_mp_pack_new((size_t)c->cfg.max_body)) ||
               !(c->env = wh_mp_pack_new((size_t)c->cfg.max_body)) || !(c->meta = wh_mp_pack_new(1u << 20))))
        rc = wh_err_set(&e, WH_E_NOMEM, "", "out of memory");
    if(!rc && !(c->redis = wh_redis_new(c->cfg.redis_url, c->timeout_ms, &e)))
        rc = e.code;
    if(!rc && wh_redis_connect(c->redis, &e) != WH_OK)
        rc = e.code;
    if(!rc)
        rc = connect_amqp(c, &e);
    if(rc) {
        wharf_client_free(c);
        client_fail(err, &e);
        return NULL;
    }
    return c;
}

void wharf_client_free(wharf_client *c)
{
    if(!c)
        return;
    wh_amqp_free(c->amqp);
    wh_redis_free(c->redis);
    wh_mp_pack_free(c->args);
    wh_mp_pack_free(c->env);
    wh_mp_pack_free(c->meta);
    free(c);
}

/* Fill spec from job, converting JSON args into c->args. */
static wh_code make_spec(wharf_client *c, const wharf_job *j, char *id, wh_env_spec *s, wh_err *err)
{
    memset(s, 0, sizeof(*s));
    if(j->id)
        snprintf(id, WH_ID_MAX + 1, "%s", j->id);
    else
        wh_id_new(id);
    s->id = j->id ? j->id : id; /* the caller's id as given: encode validates it */
    s->type = j->type;
    s->target = j->target;
    s->created_at = wh_now_ms();
    s->max_attempts = j->max_attempts;
    s->timeout_s = j->timeout_s;
    s->run_at = j->run_at;
    s->priority = j->priority > 0 ? j->priority : 0;
    s->unique_for_s = j->unique_for_s;
    s->lock = j->lock;
    if(j->meta_json) {
        wh_err perr;
        wh_json *m = wh_json_parse(j->meta_json, strlen(j->meta_json), &perr);
        if(!m || wh_json_kind_of(m) != WH_JSON_OBJECT) {
            wh_json_free(m);
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "meta", "meta: must be a JSON object of strings");
        }
        wh_mp_pack_reset(c->meta);
        wh_code rc = wh_conv_to_mp(m, c->meta, err);
        wh_json_free(m);
        if(rc)
            return wh_err_set(err, WH_E_BAD_ENVELOPE, "meta", "meta: must be a JSON object of strings");
        s->meta = wh_mp_pack_data(c->meta, &s->meta_len);
    }
    if(j->args_msgpack) {
        s->args = j->args_msgpack;
        s->args_len = j->args_msgpack_len;
    } else if(j->args_json) {
        wh_err perr;
        wh_json *a = wh_json_parse(j->args_json, strlen(j->args_json), &perr);
        if(!a) /* perr is separate: err->msg must not be formatted into itself */
            return wh_err_set(err, WH_E_BAD_ARGS, "args", "args: %s", perr.msg);
        wh_code rc = wh_json_kind_of(a) == WH_JSON_OBJECT
                         ? WH_OK
                         : wh_err_set(err, WH_E_BAD_ARGS, "args", "args: must be a JSON object");
        wh_mp_pack_reset(c->args);
        if(!rc)
            rc = wh_conv_to_mp(a, c->args, err);
        wh_json_free(a);
        if(rc)
            return rc;
        s->args = wh_mp_pack_data(c->args, &s->args_len);
    }
    if(!s->type || !wh_env_type_valid(s->type, strlen(s->type)) ||
       wh_family_parse(s->type, strcspn(s->type, ".")) < 0)
        return wh_err_set(err, WH_E_UNKNOWN_TYPE, "type", "type: \"%s\" is not family.action of a known family",
                          s->type ? s->type : "");
    return WH_OK;
}

/* Publish job i's encoded body; the confirm is awaited by the caller. On
 * failure the fresh hash is removed again. */
static wh_code publish_one(wharf_client *c, const wh_env_spec *s, const char *body, size_t len,
                           wharf_submitted *out, slot *sl, wh_err *err)
{
    wh_amqp_field h[1] = {{WH_HDR_SCHEMA, NULL, 1}};
    wh_amqp_msg m = {body, len, WH_CONTENT_TYPE, out->id, s->type, h, 1, s->priority};
    char family[40];
    snprintf(family, sizeof(family), "%.*s", (int)strcspn(s->type, "."), s->type);
    wh_code rc = connect_amqp(c, err);
    if(!rc)
        rc = wh_amqp_publish(c->amqp, CH, WH_EXCHANGE_JOBS, family, &m, true, &sl->seq, err);
    if(rc) {
        wh_err ignored;
        wh_status_unenqueue(c->redis, c->cfg.redis_prefix, out->id, &ignored);
        out->created = 0;
    }
    return rc;
}

static slot *find_by_id(slot *slots, wharf_submitted *out, size_t n, const char *id)
{
    for(size_t i = 0; i < n; i++)
        if(slots[i].seq && strcmp(out[i].id, id) == 0)
            return &slots[i];
    return NULL;
}

/* Follow connection.blocked / unblocked (RabbitMQ's resource alarms), so a
 * confirm that does not come can be blamed on the alarm. */
static void note_blocked(wharf_client *c, const wh_amqp_event *ev)
{
    if(ev->kind == WH_AMQP_EV_BLOCKED) {
        c->blocked = true;
        const char *why = ev->reply_text[0] ? ev->reply_text : "resource alarm";
        snprintf(c->blocked_why, sizeof(c->blocked_why), "%.60s", why);
    } else if(ev->kind == WH_AMQP_EV_UNBLOCKED) {
        c->blocked = false;
    }
}

/* Read confirms until every published slot is confirmed or time runs out.
 * With timeout_ms 0 only what has already arrived is read. Out of time while
 * the broker blocks publishers, the error is broker_blocked (the messages
 * may still be published when the alarm clears; their jobs are unenqueued
 * like any other unconfirmed job, so a retry with the same id is safe). */
static wh_code await_confirms(wharf_client *c, slot *slots, wharf_submitted *out, size_t n, int timeout_ms,
                              wh_err *err)
{
    int64_t deadline = wh_mono_ms() + timeout_ms;
    for(;;) {
        size_t open = 0;
        for(size_t i = 0; i < n; i++)
            open += slots[i].seq && !slots[i].confirmed;
        int64_t left = deadline - wh_mono_ms();
        if(!open || (timeout_ms && left <= 0) || !c->amqp) {
            if(!open || !timeout_ms)
                return WH_OK;
            if(c->blocked)
                return wh_err_set(err, WH_E_BROKER_BLOCKED, "",
                                  "the broker blocks publishers (%s): no confirm in %d ms", c->blocked_why,
                                  timeout_ms);
            return wh_err_set(err, WH_E_TIMEOUT, "", "no confirm from the broker in %d ms", timeout_ms);
        }
        wh_amqp_event ev;
        wh_code rc = wh_amqp_next(c->amqp, timeout_ms ? (int)left : 0, &ev, err);
        if(rc)
            return rc;
        if(ev.kind == WH_AMQP_EV_NONE && !timeout_ms)
            return WH_OK;
        note_blocked(c, &ev);
        if(ev.kind == WH_AMQP_EV_RETURN) {
            slot *s = find_by_id(slots, out, n, ev.message_id);
            if(s)
                s->returned = true;
        } else if(ev.kind == WH_AMQP_EV_CONFIRM) {
            for(size_t i = 0; i < n; i++)
                if(slots[i].seq && (ev.multiple ? slots[i].seq <= ev.tag : slots[i].seq == ev.tag)) {
                    slots[i].confirmed = true;
                    slots[i].nack = ev.nack;
                }
        }
        wh_amqp_event_clear(&ev);
    }
}

/* Turn a slot's confirm into the job's outcome, undoing the enqueue on
 * failure. */
static wh_code settle(wharf_client *c, slot *s, wharf_submitted *out, wh_code batch_rc, const wh_err *batch_err,
                      wh_err *err)
{
    wh_code rc = WH_OK;
    if(!s->seq)
        return WH_OK;
    if(!s->confirmed)
        rc = batch_rc ? wh_err_set(err, batch_rc, "", "%s", batch_err->msg)
                      : wh_err_set(err, WH_E_TIMEOUT, "", "no confirm from the broker");
    else if(s->returned)
        rc = wh_err_set(err, WH_E_UNROUTABLE, "type", "no queue is bound for this job's family");
    else if(s->nack)
        rc = wh_err_set(err, WH_E_BROKER, "", "the broker refused the message (nack)");
    if(rc) {
        wh_err ignored;
        wh_status_unenqueue(c->redis, c->cfg.redis_prefix, out->id, &ignored);
        out->created = 0;
    }
    return rc;
}

/* A batch in flight, one entry per job (all indexed alike): the encoded
 * job, its enqueue request (no spec when it did not encode) and its confirm
 * slot (a separate array: await_confirms and settle walk slots). */
typedef struct item {
    wh_env_spec spec;
    char *body;
    size_t len;
    char *unique;           /* uniqueness material, or NULL */
    char *args;             /* the args as canonical JSON, kept in the hash */
} item;

typedef struct batch {
    item *items;
    wh_enqueue *reqs;
    slot *slots;
} batch;

static void batch_free(batch *b, size_t n)
{
    for(size_t i = 0; b->items && i < n; i++) {
        free(b->items[i].body);
        free(b->items[i].unique);
        free(b->items[i].args);
    }
    free(b->items);
    free(b->reqs);
    free(b->slots);
}

static bool batch_alloc(batch *b, size_t n)
{
    n = n ? n : 1;
    b->items = calloc(n, sizeof(*b->items));
    b->reqs = calloc(n, sizeof(*b->reqs));
    b->slots = calloc(n, sizeof(*b->slots));
    return b->items && b->reqs && b->slots;
}

/* The request's texts made from the args: the args as canonical JSON (the
 * hash keeps them for the dashboard) and, with unique_for_s, the
 * uniqueness material. Owned by the item. */
static wh_code attach_json(item *it, wh_enqueue *q, wh_err *err)
{
    if(!(it->args = wh_status_args_json(&it->spec, &q->args_len)))
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    q->args = it->args;
    if(it->spec.unique_for_s) {
        size_t ulen;
        if(!(it->unique = wh_status_unique_material(&it->spec, &ulen)))
            return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        q->unique = it->unique; /* NUL-separated parts; the length is what counts */
        q->unique_len = ulen;
    }
    return WH_OK;
}

/* Encode job i into its own body buffer and make its enqueue request. */
static wh_code encode_one(wharf_client *c, const wharf_job *j, batch *b, size_t i, wharf_submitted *out, wh_err *err)
{
    item *it = &b->items[i];
    memset(out, 0, sizeof(*out));
    wh_code rc = make_spec(c, j, out->id, &it->spec, err);
    if(!rc)
        rc = wh_env_encode(&it->spec, c->env, err);
    if(rc)
        return rc;
    const char *data = wh_mp_pack_data(c->env, &it->len);
    if(!(it->body = malloc(it->len)))
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    memcpy(it->body, data, it->len);
    wh_enqueue *q = &b->reqs[i];
    if((rc = attach_json(it, q, err)))
        return rc;
    if(it->spec.run_at) { /* a future job waits in Redis with its message */
        q->body = it->body;
        q->body_len = it->len;
    }
    it->spec.args = NULL; /* pointed into scratch; enqueue does not need it */
    it->spec.meta = NULL;
    it->spec.id = out->id;
    q->spec = &it->spec;
    /* The job's own value, then its type's default, then the configuration's:
     * the order the worker applies, so a type's default holds for jobs
     * submitted here too (the recorded value is the one that counts). */
    int type_default = wh_cat_max_attempts(it->spec.type);
    q->max_attempts = it->spec.max_attempts ? it->spec.max_attempts
                      : type_default        ? type_default
                                            : c->cfg.max_attempts;
    return WH_OK;
}

/* Record job i's failure in errs[i] (when errs is given), so every failed
 * job is described, and return the batch's code: that of its first failure. */
static int note_fail(int first, wharf_error *errs, size_t i, const wh_err *e)
{
    int rc = client_fail(errs ? &errs[i] : NULL, e);
    return first ? first : rc;
}

/* Enqueue every encoded job in one round trip, then publish the new ones;
 * confirms are read as we go so no buffer fills up. */
static int enqueue_and_publish(wharf_client *c, batch *b, size_t n, wharf_submitted *out, wharf_error *errs)
{
    wh_err e, batch_err;
    int first = 0;
    wh_code rc = wh_status_enqueue_many(c->redis, c->cfg.redis_prefix, b->reqs, n, &e);
    for(size_t i = 0, sent = 0; i < n; i++) {
        if(!b->reqs[i].spec)
            continue;
        if(rc) {
            first = note_fail(first, errs, i, &e);
            continue;
        }
        snprintf(out[i].state, sizeof(out[i].state), "%s", b->reqs[i].state);
        if(b->reqs[i].id[0]) /* uniqueness may name an equal live job */
            snprintf(out[i].id, sizeof(out[i].id), "%s", b->reqs[i].id);
        if(!(out[i].created = b->reqs[i].created) || wh_state_parse(b->reqs[i].state) != WH_STATE_QUEUED)
            continue; /* existing, or scheduled: the scheduler publishes it when due */
        if(publish_one(c, &b->items[i].spec, b->items[i].body, b->items[i].len, &out[i], &b->slots[i], &e))
            first = note_fail(first, errs, i, &e);
        if(++sent % DRAIN_EVERY == 0 && c->amqp)
            await_confirms(c, b->slots, out, n, 0, &batch_err);
    }
    return first;
}

/* Between batches no confirm is outstanding, so anything waiting on the
 * socket is news: typically a close the broker sent while we were idle.
 * Reading it now lets the batch reconnect first instead of failing. */
static void notice_idle_close(wharf_client *c)
{
    wh_amqp_event ev;
    wh_err ignored;
    while(c->amqp && wh_amqp_alive(c->amqp) && wh_amqp_next(c->amqp, 0, &ev, &ignored) == WH_OK &&
          ev.kind != WH_AMQP_EV_NONE) {
        note_blocked(c, &ev);
        wh_amqp_event_clear(&ev);
    }
}

int wharf_submit_many(wharf_client *c, const wharf_job *jobs, size_t n, wharf_submitted *out, wharf_error *errs)
{
    batch b = {0};
    wh_err e, batch_err;
    int first = 0;
    if(!batch_alloc(&b, n)) {
        batch_free(&b, n);
        wh_err_set(&e, WH_E_NOMEM, "", "out of memory");
        return client_fail(errs, &e);
    }
    notice_idle_close(c);
    for(size_t i = 0; i < n; i++) /* a job that does not encode fails alone */
        if(encode_one(c, &jobs[i], &b, i, &out[i], &e))
            first = note_fail(first, errs, i, &e);
    int rc = enqueue_and_publish(c, &b, n, out, errs);
    first = first ? first : rc;
    /* Wait for every confirm; undo the enqueue of any job not confirmed. */
    wh_code brc = await_confirms(c, b.slots, out, n, c->timeout_ms, &batch_err);
    if(brc && c->amqp && !wh_amqp_alive(c->amqp)) {
        wh_amqp_free(c->amqp);
        c->amqp = NULL;
    }
    bool nacked = false;
    for(size_t i = 0; i < n; i++) {
        nacked = nacked || (b.slots[i].confirmed && b.slots[i].nack);
        if(settle(c, &b.slots[i], &out[i], brc, &batch_err, &e))
            first = note_fail(first, errs, i, &e);
    }
    /* A nack mostly means a quorum queue lost its leader (a cluster node
     * died). The channel may keep refusing after a new leader is elected,
     * so the next submit starts on a fresh connection (through amqp.url's
     * list again). */
    if(nacked && c->amqp) {
        wh_amqp_free(c->amqp);
        c->amqp = NULL;
    }
    batch_free(&b, n);
    return first;
}

int wharf_submit(wharf_client *c, const wharf_job *job, wharf_submitted *out, wharf_error *err)
{
    return wharf_submit_many(c, job, 1, out, err);
}

int client_json_out(wh_json *j, wh_err *e, char **json, wharf_error *err)
{
    if(!j)
        return client_fail(err, e);
    *json = wh_json_dump(j);
    wh_json_free(j);
    if(!*json) {
        wh_err_set(e, WH_E_NOMEM, "", "out of memory");
        return client_fail(err, e);
    }
    return 0;
}

int wharf_status_json(wharf_client *c, const char *id, char **json, wharf_error *err)
{
    wh_err e;
    return client_json_out(wh_status_json(c->redis, c->cfg.redis_prefix, id, &e), &e, json, err);
}

int wharf_wait(wharf_client *c, const char *id, int timeout_ms, char *state, wharf_error *err)
{
    wh_err e;
    int64_t deadline = wh_mono_ms() + timeout_ms;
    for(;;) {
        if(wh_status_state(c->redis, c->cfg.redis_prefix, id, state, NULL, NULL, 0, &e) != WH_OK)
            return client_fail(err, &e);
        if(wh_status_terminal(state))
            return 0;
        if(timeout_ms >= 0 && wh_mono_ms() >= deadline) {
            wh_err_set(&e, WH_E_TIMEOUT, "", "job %s is still %s after %d ms", id, state, timeout_ms);
            return client_fail(err, &e);
        }
        wh_sleep_ms(20);
    }
}

/* ---- job control ---- */

int wharf_cancel(wharf_client *c, const char *id, char *state, wharf_error *err)
{
    wh_err e;
    char st[16];
    wh_code rc = wh_jobctl_cancel(c->redis, c->cfg.redis_prefix, id ? id : "", c->cfg.job_ttl_s, st, &e);
    if(state)
        snprintf(state, 16, "%s", st);
    return rc ? client_fail(err, &e) : 0;
}

int wharf_schedule_add(wharf_client *c, const wharf_schedule *s, wharf_error *err)
{
    wh_sched_spec sp = {s->name, s->type, s->target, s->args_json, s->every_s, s->cron, s->max_attempts,
                        s->timeout_s};
    wh_err e;
    if(s->type && wh_family_parse(s->type, strcspn(s->type, ".")) < 0) {
        wh_err_set(&e, WH_E_UNKNOWN_TYPE, "type", "type: \"%s\" is not family.action of a known family", s->type);
        return client_fail(err, &e);
    }
    return wh_sched_add(c->redis, c->cfg.redis_prefix, &sp, &e) ? client_fail(err, &e) : 0;
}

int wharf_schedule_rm(wharf_client *c, const char *name, wharf_error *err)
{
    wh_err e;
    return wh_sched_rm(c->redis, c->cfg.redis_prefix, name ? name : "", &e) ? client_fail(err, &e) : 0;
}

int wharf_schedule_list_json(wharf_client *c, char **json, wharf_error *err)
{
    wh_err e;
    return client_json_out(wh_sched_list(c->redis, c->cfg.redis_prefix, &e), &e, json, err);
}
