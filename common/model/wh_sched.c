/* wh_sched: schedules and the leader's loop. See wh_sched.h. */
#include "wh_sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wh_amqp.h"
#include "wh_conv.h"
#include "wh_cron.h"
#include "wh_env.h"
#include "wh_jobctl.h"
#include "wh_keys.h"
#include "wh_log.h"
#include "wh_status.h"
#include "wh_text.h"
#include "wh_time.h"
#include "wh_topo.h"

#define CH 1
#define DUE_BATCH 500     /* due jobs moved per tick */
#define REAP_BATCH 100    /* expired leases swept per second */
#define FIRE_BATCH 100    /* schedules fired per tick */
#define CONFIRM_MS 5000   /* wait for the broker's confirms */
#define UNSENT_RETRY_MS 2000 /* a job the broker never got is published again after this */

/* ---- the schedule store ---- */

static bool name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= WH_SCHED_NAME_MAX && wh_text_only(s, n, WH_CS_ALNUM "_-");
}

int64_t wh_sched_next_fire(const wh_json *spec, int64_t after_ms)
{
    const wh_json *every = wh_json_get(spec, "every_s"), *cron = wh_json_get(spec, "cron");
    if(every && wh_json_intv(every) > 0) {
        /* Firings fall on multiples of the period since the epoch, so every
         * scheduler computes the same instants. */
        int64_t p = wh_json_intv(every) * 1000;
        return (after_ms / p + 1) * p;
    }
    const char *expr = cron ? wh_json_strv(cron, NULL) : NULL;
    wh_cron c;
    if(!expr || wh_cron_parse(expr, &c, NULL) != WH_OK)
        return -1;
    int64_t t = wh_cron_next(&c, after_ms / 1000);
    return t < 0 ? -1 : t * 1000;
}

/* The spec as stored: a JSON object of the given fields. */
static wh_json *spec_json(const wh_sched_spec *s, wh_err *err)
{
    wh_json *args = s->args_json ? wh_json_parse(s->args_json, strlen(s->args_json), NULL) : wh_json_object();
    if(!args || wh_json_kind_of(args) != WH_JSON_OBJECT) {
        wh_json_free(args);
        wh_err_set(err, WH_E_BAD_ARGS, "args", "args: must be a JSON object");
        return NULL;
    }
    wh_json *j = wh_json_object();
    wh_json_setc(j, "name", wh_json_str(s->name));
    wh_json_setc(j, "type", wh_json_str(s->type));
    if(s->target && s->target[0])
        wh_json_setc(j, "target", wh_json_str(s->target));
    wh_json_setc(j, "args", args);
    if(s->every_s > 0)
        wh_json_setc(j, "every_s", wh_json_int(s->every_s));
    else
        wh_json_setc(j, "cron", wh_json_str(s->cron));
    if(s->max_attempts)
        wh_json_setc(j, "max_attempts", wh_json_int(s->max_attempts));
    if(s->timeout_s)
        wh_json_setc(j, "timeout_s", wh_json_int(s->timeout_s));
    wh_json_setc(j, "created_at", wh_json_int(wh_now_ms()));
    return j;
}

wh_code wh_sched_add(wh_redis *r, const char *prefix, const wh_sched_spec *s, wh_err *err)
{
    if(!name_valid(s->name))
        return wh_err_set(err, WH_E_BAD_ARGS, "name", "name: must be 1..%d of A-Z a-z 0-9 _ -", WH_SCHED_NAME_MAX);
    if(!s->type || !wh_env_type_valid(s->type, strlen(s->type)))
        return wh_err_set(err, WH_E_BAD_ARGS, "type", "type: must look like \"family.action\"");
    if(s->target && s->target[0] && !wh_env_target_valid(s->target, strlen(s->target)))
        return wh_err_set(err, WH_E_BAD_ARGS, "target", "target: not a valid host name");
    if((s->every_s > 0) == (s->cron && s->cron[0]))
        return wh_err_set(err, WH_E_BAD_ARGS, "every_s", "every_s: give exactly one of every_s and cron");
    if(s->every_s < 0 || s->every_s > 31536000)
        return wh_err_set(err, WH_E_BAD_ARGS, "every_s", "every_s: must be 1..31536000");
    if(s->max_attempts < 0 || s->max_attempts > 100)
        return wh_err_set(err, WH_E_BAD_ARGS, "max_attempts", "max_attempts: must be 1..100");
    if(s->timeout_s < 0 || s->timeout_s > 2592000)
        return wh_err_set(err, WH_E_BAD_ARGS, "timeout_s", "timeout_s: must be 1..2592000");
    wh_cron c;
    if(s->cron && s->cron[0] && wh_cron_parse(s->cron, &c, err) != WH_OK)
        return WH_E_BAD_ARGS;
    wh_json *j = spec_json(s, err);
    if(!j)
        return err ? err->code : WH_E_BAD_ARGS;
    int64_t next = wh_sched_next_fire(j, wh_now_ms());
    char *text = wh_json_dump(j);
    wh_json_free(j);
    if(!text)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    if(next < 0) {
        free(text);
        return wh_err_set(err, WH_E_BAD_ARGS, "cron", "cron: never fires");
    }
    char key[WH_KEY_MAX], nkey[WH_KEY_MAX], nexts[24];
    wh_key_schedules(key, prefix);
    wh_key_schedules_next(nkey, prefix);
    snprintf(nexts, sizeof(nexts), "%lld", (long long)next);
    const char *hset[] = {"HSET", key, s->name, text};
    const char *zadd[] = {"ZADD", nkey, nexts, s->name};
    wh_code rc = wh_redis_cmdv(r, NULL, err, 4, hset);
    if(!rc)
        rc = wh_redis_cmdv(r, NULL, err, 4, zadd);
    free(text);
    return rc;
}

wh_code wh_sched_rm(wh_redis *r, const char *prefix, const char *name, wh_err *err)
{
    char key[WH_KEY_MAX], nkey[WH_KEY_MAX];
    wh_key_schedules(key, prefix);
    wh_key_schedules_next(nkey, prefix);
    const char *hdel[] = {"HDEL", key, name};
    const char *zrem[] = {"ZREM", nkey, name};
    wh_redis_reply *rep;
    wh_code rc = wh_redis_cmdv(r, &rep, err, 3, hdel);
    if(rc)
        return rc;
    long long n = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    if((rc = wh_redis_cmdv(r, NULL, err, 3, zrem)))
        return rc;
    return n ? WH_OK : wh_err_set(err, WH_E_NOT_FOUND, "name", "no schedule named \"%s\"", name);
}

wh_json *wh_sched_list(wh_redis *r, const char *prefix, wh_err *err)
{
    char key[WH_KEY_MAX], nkey[WH_KEY_MAX];
    wh_key_schedules(key, prefix);
    wh_key_schedules_next(nkey, prefix);
    const char *all[] = {"HGETALL", key};
    wh_redis_reply *rep;
    if(wh_redis_cmdv(r, &rep, err, 2, all))
        return NULL;
    wh_json *out = wh_json_array();
    for(size_t i = 0; out && i + 1 < wh_redis_reply_len(rep); i += 2) {
        size_t n;
        const char *v = wh_redis_reply_str(wh_redis_reply_at(rep, i + 1), &n);
        wh_json *j = v ? wh_json_parse(v, n, NULL) : NULL;
        if(!j)
            continue;
        const char *name = wh_json_strv(wh_json_get(j, "name"), NULL);
        const char *zs[] = {"ZSCORE", nkey, name ? name : ""};
        wh_redis_reply *sc;
        if(wh_redis_cmdv(r, &sc, NULL, 3, zs) == WH_OK) {
            size_t sn;
            const char *s = wh_redis_reply_str(sc, &sn);
            if(s)
                wh_json_setc(j, "next_at", wh_json_int(strtoll(s, NULL, 10)));
            wh_redis_reply_free(sc);
        }
        wh_json_push(out, j);
    }
    wh_redis_reply_free(rep);
    return out;
}

/* ---- the loop ---- */

/* One message the leader must publish this tick. */
typedef struct outmsg {
    char id[WH_ID_MAX + 1];
    char family[40];
    char type[WH_TYPE_MAX + 1];
    bool dead;
    char *body;
    size_t len;
    uint64_t seq;
    bool confirmed, failed;
} outmsg;

struct wh_sched {
    const wh_cfg *cfg;
    wh_sched_attempts *attempts;  /* a type's default max_attempts, or NULL */
    char me[160];
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    wh_redis *redis;
    wh_amqp *amqp;
    wh_mp_pack *pack;
    outmsg *out;
    size_t nout, capout;
    bool leader;
    int64_t next_reap;
    int64_t lease;    /* the lease this tick's sweeps gave the jobs in `out` */
};

static void collect(void *ud, const char *id, const char *type, const char *action, const char *body, size_t len)
{
    wh_sched *s = ud;
    if(s->nout == s->capout) {
        size_t cap = s->capout ? s->capout * 2 : 64;
        outmsg *o = realloc(s->out, cap * sizeof(*o));
        if(!o)
            return; /* stays under its lease: the reaper tries again */
        s->out = o;
        s->capout = cap;
    }
    outmsg *m = &s->out[s->nout];
    memset(m, 0, sizeof(*m));
    if(!(m->body = malloc(len ? len : 1)))
        return;
    memcpy(m->body, body, len);
    m->len = len;
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->type, sizeof(m->type), "%s", type);
    m->dead = strcmp(action, "dead") == 0;
    /* The due script does not return the type: read it from the envelope. */
    if(!m->type[0]) {
        wh_env env;
        if(wh_env_decode(body, len, (size_t)-1, &env, NULL) == WH_OK)
            snprintf(m->type, sizeof(m->type), "%s", env.type);
        wh_env_release(&env);
    }
    snprintf(m->family, sizeof(m->family), "%.*s", (int)strcspn(m->type, "."), m->type);
    s->nout++;
}

static void drop_out(wh_sched *s)
{
    for(size_t i = 0; i < s->nout; i++)
        free(s->out[i].body);
    s->nout = 0;
}

static bool amqp_ready(wh_sched *s, wh_err *err)
{
    if(s->amqp && wh_amqp_alive(s->amqp))
        return true;
    wh_amqp_free(s->amqp);
    char name[200];
    snprintf(name, sizeof(name), "wharf scheduler %s", s->me);
    wh_amqp_opts o = {s->cfg->amqp_url, s->cfg->amqp_heartbeat_s, 10000, name, (size_t)s->cfg->max_body};
    s->amqp = wh_amqp_connect(&o, err);
    if(s->amqp && (wh_topo_declare(s->amqp, CH, s->cfg, err) != WH_OK ||
                   wh_amqp_confirm_select(s->amqp, CH, err) != WH_OK)) {
        wh_amqp_free(s->amqp);
        s->amqp = NULL;
    }
    return s->amqp != NULL;
}

/* The jobs of `out` the broker certainly does not have (never written, or
 * nacked) get a short lease, so the reaper publishes them again in
 * UNSENT_RETRY_MS rather than jobs.republish_s. One written but not
 * confirmed may be in the queue: it keeps its long lease, as a second copy
 * would run a second time. Dead-letter copies have no lease. */
static void retry_unsent(wh_sched *s)
{
    const char *ids[256];
    int n = 0;
    for(size_t i = 0; i < s->nout; i++) {
        const outmsg *m = &s->out[i];
        if(!m->dead && (!m->seq || (m->confirmed && m->failed)))
            ids[n++] = m->id;
        if(n == (int)(sizeof(ids) / sizeof(ids[0])) || (n && i + 1 == s->nout)) {
            wh_err err;
            if(wh_jobctl_unsent(s->redis, s->cfg->redis_prefix, ids, n, s->lease, wh_now_ms() + UNSENT_RETRY_MS,
                                &err) != WH_OK)
                wh_log(WH_LOG_WARN, NULL, "scheduler: unsent jobs wait for their lease", "error", err.msg);
            n = 0;
        }
    }
}

/* Publish everything collected and wait for the confirms. A message that is
 * not confirmed stays under its lease and is published again later: soon
 * when the broker never had it (retry_unsent). */
static void publish_out(wh_sched *s)
{
    wh_err err;
    if(!s->nout || !amqp_ready(s, &err)) {
        if(s->nout) {
            wh_log(WH_LOG_WARN, NULL, "scheduler cannot reach the broker; due jobs wait", "error", err.msg);
            retry_unsent(s);
        }
        drop_out(s);
        return;
    }
    for(size_t i = 0; i < s->nout; i++) {
        outmsg *m = &s->out[i];
        wh_amqp_field h[4];
        int n = 0;
        h[n++] = (wh_amqp_field){WH_HDR_SCHEMA, NULL, 1};
        if(m->dead) {
            h[n++] = (wh_amqp_field){"wharf-reason", wh_code_name(WH_E_ABANDONED), 0};
            h[n++] = (wh_amqp_field){"wharf-job-id", m->id, 0};
            h[n++] = (wh_amqp_field){"wharf-family", m->family, 0};
        }
        wh_amqp_msg msg = {m->body, m->len, WH_CONTENT_TYPE, m->id, m->type, h, n, 0};
        if(wh_amqp_publish(s->amqp, CH, m->dead ? "" : WH_EXCHANGE_JOBS, m->dead ? WH_QUEUE_DEAD : m->family, &msg,
                           true, &m->seq, &err) != WH_OK) {
            wh_log(WH_LOG_WARN, m->id, "scheduler publish failed", "error", err.msg);
            break;
        }
    }
    int64_t deadline = wh_mono_ms() + CONFIRM_MS;
    size_t open = s->nout;
    while(open && s->amqp && wh_mono_ms() < deadline) {
        wh_amqp_event ev;
        if(wh_amqp_next(s->amqp, (int)(deadline - wh_mono_ms()), &ev, &err) != WH_OK)
            break;
        if(ev.kind == WH_AMQP_EV_CONFIRM)
            for(size_t i = 0; i < s->nout; i++) {
                outmsg *m = &s->out[i];
                if(m->seq && !m->confirmed && (ev.multiple ? m->seq <= ev.tag : m->seq == ev.tag)) {
                    m->confirmed = true;
                    m->failed = ev.nack;
                    open--;
                }
            }
        else if(ev.kind == WH_AMQP_EV_RETURN)
            wh_log(WH_LOG_ERROR, ev.message_id, "scheduled job unroutable: no queue for its family");
        wh_amqp_event_clear(&ev);
    }
    if(open)
        wh_log(WH_LOG_WARN, NULL, "scheduler: some publishes unconfirmed; the reaper republishes them");
    retry_unsent(s);
    drop_out(s);
}

/* The attempts of a firing whose schedule sets none: its type's default,
 * else jobs.max_attempts (as the worker would apply them). */
static int default_attempts(const wh_sched *s, const char *type)
{
    int n = s->attempts && type ? s->attempts(type) : 0;
    return n > 0 ? n : s->cfg->max_attempts;
}

/* Fire every due schedule: one `scheduled` job per firing. */
static void fire_schedules(wh_sched *s, int64_t now)
{
    char key[WH_KEY_MAX], nkey[WH_KEY_MAX], nows[24];
    const char *p = s->cfg->redis_prefix;
    wh_key_schedules(key, p);
    wh_key_schedules_next(nkey, p);
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    const char *due[] = {"ZRANGEBYSCORE", nkey, "-inf", nows, "WITHSCORES", "LIMIT", "0", "100"};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(s->redis, &rep, &err, 8, due) != WH_OK)
        return;
    for(size_t i = 0; i + 1 < wh_redis_reply_len(rep) && i < 2 * FIRE_BATCH; i += 2) {
        size_t nn, sn;
        const char *nm = wh_redis_reply_str(wh_redis_reply_at(rep, i), &nn);
        const char *sc = wh_redis_reply_str(wh_redis_reply_at(rep, i + 1), &sn);
        char name[WH_SCHED_NAME_MAX + 1];
        if(!nm || !sc || nn > WH_SCHED_NAME_MAX)
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)nn, nm);
        int64_t fire = strtoll(sc, NULL, 10);
        const char *get[] = {"HGET", key, name};
        wh_redis_reply *sp;
        if(wh_redis_cmdv(s->redis, &sp, &err, 3, get) != WH_OK)
            continue;
        size_t tn;
        const char *text = wh_redis_reply_str(sp, &tn);
        wh_json *j = text ? wh_json_parse(text, tn, NULL) : NULL;
        wh_redis_reply_free(sp);
        if(j) {
            char id[WH_ID_MAX + 1];
            snprintf(id, sizeof(id), "%s-%lld", name, (long long)(fire / 1000));
            const wh_json *a = wh_json_get(j, "args");
            wh_mp_pack_reset(s->pack);
            size_t alen = 0;
            const char *args = NULL;
            if(a && wh_conv_to_mp(a, s->pack, NULL) == WH_OK)
                args = wh_mp_pack_data(s->pack, &alen);
            char *argcopy = args ? malloc(alen) : NULL;
            if(argcopy)
                memcpy(argcopy, args, alen);
            const wh_json *tg = wh_json_get(j, "target");
            wh_env_spec es = {.id = id, .type = wh_json_strv(wh_json_get(j, "type"), NULL),
                              .target = tg ? wh_json_strv(tg, NULL) : NULL, .created_at = now, .run_at = fire,
                              .max_attempts = (int)wh_json_intv(wh_json_get(j, "max_attempts")),
                              .timeout_s = (int)wh_json_intv(wh_json_get(j, "timeout_s")), .args = argcopy,
                              .args_len = alen};
            if(es.type && wh_env_encode(&es, s->pack, &err) == WH_OK) {
                size_t blen, jlen = 0;
                const char *body = wh_mp_pack_data(s->pack, &blen);
                char *ajson = wh_status_args_json(&es, &jlen); /* NULL: kept without args */
                es.args = NULL;
                wh_enqueue q = {.spec = &es, .max_attempts = es.max_attempts ? es.max_attempts
                                                                               : default_attempts(s, es.type),
                                .body = body, .body_len = blen, .park = true, .args = ajson, .args_len = jlen};
                if(wh_status_enqueue(s->redis, p, &q, &err) != WH_OK)
                    wh_log(WH_LOG_WARN, id, "schedule firing not enqueued", "schedule", name, "error", err.msg);
                else if(q.created)
                    wh_log(WH_LOG_INFO, id, "schedule fired", "schedule", name);
                free(ajson);
            } else {
                wh_log(WH_LOG_WARN, NULL, "schedule cannot fire", "schedule", name, "error", err.msg);
            }
            free(argcopy);
            /* Missed firings (no leader ran at them) are not made up: the
             * earliest fired just now, late, and the next is the first one
             * after now (schemas/README.md 15, Schedules). */
            int64_t next = wh_sched_next_fire(j, fire > now ? fire : now);
            char nexts[24];
            snprintf(nexts, sizeof(nexts), "%lld", (long long)next);
            const char *zadd[] = {"ZADD", nkey, nexts, name};
            const char *zrem[] = {"ZREM", nkey, name};
            wh_redis_cmdv(s->redis, NULL, &err, next < 0 ? 3 : 4, next < 0 ? zrem : zadd);
            wh_json_free(j);
        }
    }
    wh_redis_reply_free(rep);
}

static void tick(wh_sched *s)
{
    const wh_cfg *c = s->cfg;
    wh_err err;
    bool leader = false;
    if(wh_jobctl_lead(s->redis, c->redis_prefix, s->me, c->leader_ttl_ms, &leader, &err) != WH_OK)
        return;
    if(leader != s->leader)
        wh_log(WH_LOG_INFO, NULL, leader ? "scheduler: leading" : "scheduler: following", "id", s->me);
    s->leader = leader;
    if(!leader)
        return;
    int64_t now = wh_now_ms(), lease = now + (int64_t)c->republish_s * 1000;
    s->lease = lease;
    int n = 0;
    fire_schedules(s, now);
    if(wh_jobctl_due(s->redis, c->redis_prefix, DUE_BATCH, lease, collect, s, &n, &err) != WH_OK)
        wh_log(WH_LOG_WARN, NULL, "scheduler: moving due jobs failed", "error", err.msg);
    if(wh_mono_ms() >= s->next_reap) {
        s->next_reap = wh_mono_ms() + 1000;
        if(wh_jobctl_reap(s->redis, c->redis_prefix, REAP_BATCH, lease, c->job_ttl_s, collect, s, &n, &err) != WH_OK)
            wh_log(WH_LOG_WARN, NULL, "reaper sweep failed", "error", err.msg);
        else if(n)
            wh_logf(WH_LOG_WARN, NULL, "reaper: %d abandoned job(s) requeued or buried", n);
        if(wh_jobctl_trim_recent(s->redis, c->redis_prefix, c->recent_max, &err) != WH_OK)
            wh_log(WH_LOG_WARN, NULL, "trimming the recent-jobs index failed", "error", err.msg);
    }
    publish_out(s);
}

static void *sched_main(void *arg)
{
    wh_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    while(!s->stop) {
        pthread_mutex_unlock(&s->mu);
        tick(s);
        pthread_mutex_lock(&s->mu);
        struct timespec until = wh_mono_deadline(s->cfg->scheduler_tick_ms);
        int rc = 0;
        while(!s->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&s->cond, &s->mu, &until);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

wh_sched *wh_sched_start(const wh_cfg *cfg, const char *me, wh_sched_attempts *attempts, wh_err *err)
{
    wh_sched *s = calloc(1, sizeof(*s));
    if(!s || !(s->pack = wh_mp_pack_new((size_t)cfg->max_body))) {
        free(s);
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->attempts = attempts;
    snprintf(s->me, sizeof(s->me), "%s", me);
    pthread_mutex_init(&s->mu, NULL);
    wh_cond_init_mono(&s->cond);
    s->redis = wh_redis_new(cfg->redis_url, 5000, err);
    if(!s->redis || pthread_create(&s->tid, NULL, sched_main, s) != 0) {
        wh_redis_free(s->redis);
        wh_mp_pack_free(s->pack);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void wh_sched_stop(wh_sched *s)
{
    if(!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->tid, NULL);
    if(s->leader) { /* hand over at once rather than after the lease */
        char key[WH_KEY_MAX];
        wh_key_leader(key, s->cfg->redis_prefix);
        const char *get[] = {"GET", key};
        wh_redis_reply *rep;
        if(wh_redis_cmdv(s->redis, &rep, NULL, 2, get) == WH_OK) {
            size_t n;
            const char *v = wh_redis_reply_str(rep, &n);
            if(v && n == strlen(s->me) && memcmp(v, s->me, n) == 0) {
                const char *del[] = {"DEL", key};
                wh_redis_cmdv(s->redis, NULL, NULL, 2, del);
            }
            wh_redis_reply_free(rep);
        }
    }
    drop_out(s);
    free(s->out);
    wh_amqp_free(s->amqp);
    wh_redis_free(s->redis);
    wh_mp_pack_free(s->pack);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
