/* wharf-bench: the raw sides of tests/bench/throughput and tests/bench/drain.
 *
 *   wharf-bench floor  -n N   the raw pipe floor: one thread publishes N
 *                             persistent messages with publisher confirms
 *                             (a window of WINDOW in flight); another consumes
 *                             them with manual acks and writes one HSET per
 *                             message, pipelined. Same broker, same queue type.
 *   wharf-bench trail  -n N   the floor plus the least Redis work that wharf's
 *                             status trail needs, as plain pipelined commands
 *                             with no checks: queued (hash, recent index,
 *                             event) before each publish; running, the
 *                             outcome, its expiry, two stats counters and
 *                             two events before the ack (a multiple ack per
 *                             batch, after the replies). A bound for any
 *                             implementation that keeps the trail.
 *   wharf-bench scripts -n N  the same through wharf's own status scripts
 *                             (enqueue.lua before the publish; before the
 *                             ack, the starts and then the finishes of the
 *                             floor's batch as two moves.lua calls, as the
 *                             worker's group commit sends them): the best a
 *                             worker can do with the atomic, forward-only
 *                             state moves.
 *   wharf-bench submit -n N   submits N system.noop jobs (or WHARF_BENCH_TYPE
 *                             with WHARF_BENCH_ARGS JSON) through the client
 *                             library (idempotent enqueue, publish, confirm)
 *                             and waits until workers have recorded all N as
 *                             succeeded: it polls the type's `ok` count in
 *                             the stats minute buckets every 2 ms, which
 *                             finish.lua writes with each outcome, exactly
 *                             once. (Subscribing to <prefix>events instead
 *                             would cost Redis three messages per job that
 *                             the floor does not pay.)
 *
 *   wharf-bench enqueue -n N  the producer alone: submits N jobs (confirmed)
 *                             and exits without waiting for workers.
 *
 *   wharf-bench latency -n N  submits N system.noop jobs at a fixed offered
 *                             load (WHARF_BENCH_RATE jobs/s, default 1000, in
 *                             bursts of WHARF_BENCH_BURST jobs, default one
 *                             burst every 10 ms; 1: one job at a time), waits
 *                             for all, then reads each job's created_at,
 *                             started_at and finished_at and prints the
 *                             enqueue -> succeeded p50, p99 and max (ms) and
 *                             the p50 of enqueue -> started.
 *   wharf-bench xadd -n N     the log-tail floor: N lines of 100 bytes into
 *                             one stream with pipelined XADD MAXLEN ~ 10000,
 *                             as workers write job logs.
 *
 * The drain sides of tests/bench/drain (drain.c says how they are timed):
 *   wharf-bench drain-fill -n N   the floor's publisher alone: N messages
 *                             into the emptied floor queue, with confirms.
 *   wharf-bench drain -n N    the floor-drain consumer of that queue.
 *   wharf-bench drain-watch -n N  the clock of a wharf worker draining N
 *                             prefilled jobs (from `enqueue`).
 *
 * Knobs: WHARF_BENCH_BATCH (jobs per wharf_submit_many call, default 500,
 * at most 2000); for the floor, WHARF_FLOOR_DELAY_US (the consumer sleeps
 * this long per message, to see the broker at a lower rate) and
 * WHARF_FLOOR_ACK_EVERY (ack with `multiple` every N messages).
 *
 * Each prints one line: "<mode> n=<N> seconds=<s> rate=<per second> ...".
 * Configuration comes from WHARF_AMQP_URL, WHARF_REDIS_URL,
 * WHARF_REDIS_PREFIX and WHARF_AMQP_QUEUE_TYPE, like the binaries. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "wh_keys.h"
#include "wh_status.h"
#include "wh_time.h"
#include "wharf.h"

#define WINDOW 1000 /* confirms in flight for the floor publisher */
#define BATCH 2000  /* most jobs per wharf_submit_many call (WHARF_BENCH_BATCH, default 500) */

static wh_cfg cfg;
static long n_total;
static bool enqueue_only; /* `enqueue`: submit, do not wait for workers */
static bool trail;        /* `trail`: the floor plus the status trail's writes */
static bool scripts;      /* `scripts`: the trail through wharf's own status scripts */

void bench_die(const char *what, const wh_err *e)
{
    fprintf(stderr, "wharf-bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

/* The trail's writes for `n` messages from `first`: what a job system that
 * keeps wharf's status trail must write at least, as plain pipelined
 * commands without any check (no script, no lock, no redelivery logic).
 * `queued` before the publish; `running` and the outcome with its stats
 * and event before the ack. Replies are read before returning. */
static void trail_queued(wh_redis *r, long first, long n)
{
    char key[WH_KEY_MAX], id[32], now[24], ev[48], recent[WH_KEY_MAX], chan[WH_KEY_MAX];
    wh_key_recent(recent, cfg.redis_prefix);
    wh_key_events(chan, cfg.redis_prefix);
    snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
    wh_err e;
    for(long i = first; i < first + n; i++) {
        snprintf(id, sizeof(id), "trail-%ld", i);
        wh_key_job(key, cfg.redis_prefix, id);
        snprintf(ev, sizeof(ev), "%s queued", id);
        const char *hset[] = {"HSET", key, "id", id, "type", "system.noop", "state", "queued", "attempt", "0",
                              "max_attempts", "3", "created_at", now, "queued_at", now, "progress", "0"};
        const char *zadd[] = {"ZADD", recent, now, id};
        const char *pub[] = {"PUBLISH", chan, ev};
        if(wh_redis_append(r, 18, hset, NULL, &e) || wh_redis_append(r, 4, zadd, NULL, &e) ||
           wh_redis_append(r, 3, pub, NULL, &e))
            bench_die("trail queued", &e);
    }
    if(wh_redis_drain(r, (int)(3 * n), &e))
        bench_die("trail queued replies", &e);
}

/* Append the running and succeeded writes of message `id`; 7 replies. */
static void trail_done(wh_redis *r, const char *id)
{
    char key[WH_KEY_MAX], now[24], ev1[160], ev2[160], m1[WH_KEY_MAX], h1[WH_KEY_MAX], chan[WH_KEY_MAX];
    wh_key_job(key, cfg.redis_prefix, id);
    wh_key_events(chan, cfg.redis_prefix);
    int64_t ms = wh_now_ms(), minute = ms / 60000 * 60;
    wh_key_stats(m1, cfg.redis_prefix, "system.noop", "1m", minute);
    wh_key_stats(h1, cfg.redis_prefix, "system.noop", "1h", minute - minute % 3600);
    snprintf(now, sizeof(now), "%lld", (long long)ms);
    snprintf(ev1, sizeof(ev1), "%s running", id);
    snprintf(ev2, sizeof(ev2), "%s succeeded", id);
    const char *run[] = {"HSET", key, "state", "running", "worker", "bench", "started_at", now, "attempt", "1"};
    const char *pub1[] = {"PUBLISH", chan, ev1};
    const char *fin[] = {"HSET", key, "state", "succeeded", "finished_at", now, "progress", "100"};
    const char *exp[] = {"EXPIRE", key, "604800"};
    const char *inc1[] = {"HINCRBY", m1, "ok", "1"};
    const char *inc2[] = {"HINCRBY", h1, "ok", "1"};
    const char *pub2[] = {"PUBLISH", chan, ev2};
    wh_err e;
    if(wh_redis_append(r, 10, run, NULL, &e) || wh_redis_append(r, 3, pub1, NULL, &e) ||
       wh_redis_append(r, 8, fin, NULL, &e) || wh_redis_append(r, 3, exp, NULL, &e) ||
       wh_redis_append(r, 4, inc1, NULL, &e) || wh_redis_append(r, 4, inc2, NULL, &e) ||
       wh_redis_append(r, 3, pub2, NULL, &e))
        bench_die("trail writes", &e);
}

/* The same trail through wharf's own scripts, in batches as large as the
 * floor's: enqueue.lua before the publish, then one moves.lua call (a
 * start and a finish per job, as a worker's group commit sends them)
 * before the ack. What the atomic, forward-only state moves cost Redis at
 * best. */
static void scripts_queued(wh_redis *r, long first, long n)
{
    static wh_enqueue reqs[256];
    static wh_env_spec specs[256];
    static char ids[256][32];
    wh_err e;
    int64_t now = wh_now_ms();
    for(long i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "trail-%ld", first + i);
        specs[i] = (wh_env_spec){.id = ids[i], .type = "system.noop", .created_at = now};
        reqs[i] = (wh_enqueue){.spec = &specs[i], .max_attempts = 3};
    }
    if(wh_status_enqueue_many(r, cfg.redis_prefix, reqs, (size_t)n, &e))
        bench_die("enqueue.lua", &e);
}

#define SCRIPT_BATCH 256 /* the floor's reply batch */

static struct {
    wh_move *moves[SCRIPT_BATCH];
    wh_env env[SCRIPT_BATCH];
    wh_start_opts o;
    wh_finish f[SCRIPT_BATCH];
    char ids[SCRIPT_BATCH][sizeof(((wh_amqp_event *)0)->message_id)];
} sb;

/* Queue job `id`'s start and finish as move number i of the batch. */
static void scripts_done(long i, const char *id)
{
    if(!sb.moves[i] && !(sb.moves[i] = wh_move_new()))
        bench_die("out of memory", NULL);
    snprintf(sb.ids[i], sizeof(sb.ids[i]), "%s", id);
    sb.env[i] = (wh_env){.family = WH_FAM_SYSTEM, .created_at = wh_now_ms()};
    snprintf(sb.env[i].id, sizeof(sb.env[i].id), "%.*s", (int)sizeof(sb.env[i].id) - 1, id);
    snprintf(sb.env[i].type, sizeof(sb.env[i].type), "system.noop");
    sb.o = (wh_start_opts){.max_attempts = 3, .worker = "bench", .max_redeliveries = 5};
    sb.f[i] = (wh_finish){.id = sb.ids[i], .type = "system.noop", .state = WH_STATE_SUCCEEDED,
                          .ttl_s = cfg.job_ttl_s, .count = true};
    /* The start now; the finish once the batch's starts are back. */
    wh_move_set(sb.moves[i], cfg.redis_prefix, NULL, &sb.env[i], &sb.o);
}

/* Send the n queued jobs: their starts in one batch, then their finishes
 * in another, as a worker's threads would (each job's start before its
 * run, its finish after). */
static void scripts_replies(wh_redis *r, long n)
{
    wh_err e;
    if(wh_moves_commit(r, sb.moves, (int)n, &e))
        bench_die("moves.lua (starts)", &e);
    for(long i = 0; i < n; i++) {
        wh_start st;
        bool started;
        if(wh_move_result(sb.moves[i], NULL, &st, &started, &e) || !started || st.kind != WH_START_RUN)
            bench_die("start.lua did not say run", NULL);
        wh_move_set(sb.moves[i], cfg.redis_prefix, &sb.f[i], NULL, NULL);
    }
    if(wh_moves_commit(r, sb.moves, (int)n, &e))
        bench_die("moves.lua (finishes)", &e);
    for(long i = 0; i < n; i++)
        if(wh_move_result(sb.moves[i], NULL, NULL, &(bool){false}, &e))
            bench_die("finish.lua", &e);
}

wh_amqp *bench_connect(const wh_cfg *c)
{
    wh_amqp_opts o = {c->amqp_url, 30, 10000, "wharf-bench", 1u << 20};
    wh_err e;
    wh_amqp *a = wh_amqp_connect(&o, &e);
    if(!a)
        bench_die("connect", &e);
    return a;
}

static void *floor_publisher(void *arg)
{
    (void)arg;
    wh_amqp *a = bench_connect(&cfg);
    wh_err e;
    if(wh_amqp_confirm_select(a, 1, &e))
        bench_die("confirm.select", &e);
    char body[64];
    memset(body, 'x', sizeof(body));
    wh_amqp_msg m = {body, sizeof(body), "application/msgpack", NULL, "system.noop", NULL, 0, 0};
    wh_redis *r = trail ? wh_redis_new(cfg.redis_url, 10000, &e) : NULL;
    if(trail && (!r || (scripts && wh_status_load(r, &e))))
        bench_die("redis", &e);
    uint64_t sent = 0, confirmed = 0;
    char msgid[32];
    while(confirmed < (uint64_t)n_total) {
        while(sent < (uint64_t)n_total && sent - confirmed < WINDOW) {
            long chunk = (long)((uint64_t)n_total - sent < 256 ? (uint64_t)n_total - sent : 256);
            if(chunk > (long)(WINDOW - (sent - confirmed)))
                chunk = (long)(WINDOW - (sent - confirmed));
            if(scripts)
                scripts_queued(r, (long)sent, chunk);
            else if(trail)
                trail_queued(r, (long)sent, chunk);
            for(long k = 0; k < chunk; k++) {
                uint64_t seq;
                snprintf(msgid, sizeof(msgid), "trail-%llu", (unsigned long long)sent);
                m.message_id = trail ? msgid : NULL;
                if(wh_amqp_publish(a, 1, "", BENCH_FLOOR_QUEUE, &m, true, &seq, &e))
                    bench_die("publish", &e);
                sent++;
            }
        }
        wh_amqp_event ev;
        if(wh_amqp_next(a, 1000, &ev, &e))
            bench_die("confirms", &e);
        if(ev.kind == WH_AMQP_EV_CONFIRM && ev.tag > confirmed)
            confirmed = ev.multiple ? ev.tag : confirmed + 1;
        wh_amqp_event_clear(&ev);
    }
    wh_redis_free(r);
    wh_amqp_free(a);
    return NULL;
}

/* Consume with manual acks; one HSET per message, replies read in batches. */
static void floor_consume(void)
{
    wh_amqp *a = bench_connect(&cfg);
    wh_err e;
    wh_redis *r = wh_redis_new(cfg.redis_url, 10000, &e);
    if(!r || (scripts && wh_status_load(r, &e)) || wh_amqp_qos(a, 1, 1000, &e) ||
       wh_amqp_consume(a, 1, BENCH_FLOOR_QUEUE, &e))
        bench_die("consume", &e);
    long done = 0, pending = 0;
    uint64_t last_tag = 0;
    const char *dl = getenv("WHARF_FLOOR_DELAY_US");
    long delay_us = dl ? strtol(dl, NULL, 10) : 0;
    const char *ae = getenv("WHARF_FLOOR_ACK_EVERY");
    long ack_every = ae ? strtol(ae, NULL, 10) : 1;
    char key[WH_KEY_MAX], val[24];
    while(done < n_total) {
        wh_amqp_event ev;
        if(wh_amqp_next(a, pending ? 0 : 1000, &ev, &e))
            bench_die("consume", &e);
        if(ev.kind == WH_AMQP_EV_DELIVERY && trail) {
            /* Status first, ack after its replies (multiple, per batch). */
            if(scripts)
                scripts_done(pending, ev.message_id);
            else
                trail_done(r, ev.message_id);
            pending++;
            done++;
            last_tag = ev.tag;
        } else if(ev.kind == WH_AMQP_EV_DELIVERY) {
            snprintf(key, sizeof(key), "%sfloor:%ld", cfg.redis_prefix, done);
            snprintf(val, sizeof(val), "%lld", (long long)wh_now_ms());
            const char *argv[] = {"HSET", key, "state", val};
            if(wh_redis_append(r, 4, argv, NULL, &e))
                bench_die("hset", &e);
            pending++;
            done++;
            if(delay_us)
                usleep((useconds_t)delay_us);
            if((done % ack_every == 0 || done == n_total) && wh_amqp_ack(a, 1, ev.tag, ack_every > 1, &e))
                bench_die("ack", &e);
        }
        wh_amqp_event_clear(&ev);
        if(pending >= 256 || (pending && ev.kind == WH_AMQP_EV_NONE) || done == n_total) {
            if(scripts)
                scripts_replies(r, pending);
            else if(wh_redis_drain(r, (int)(trail ? 7 * pending : pending), &e))
                bench_die("hset replies", &e);
            pending = 0;
            if(trail && wh_amqp_ack(a, 1, last_tag, true, &e))
                bench_die("ack", &e);
        }
    }
    wh_redis_free(r);
    wh_amqp_free(a);
}

/* Declare the floor's queue with the configured type and empty it. */
static void floor_declare(void)
{
    wh_amqp *a = bench_connect(&cfg);
    wh_err e;
    wh_amqp_field args[1] = {{"x-queue-type", cfg.queue_type, 0}};
    uint32_t purged;
    if(wh_amqp_declare_queue(a, 1, BENCH_FLOOR_QUEUE, args, 1, NULL, &e) ||
       wh_amqp_purge(a, 1, BENCH_FLOOR_QUEUE, &purged, &e))
        bench_die("declare", &e);
    wh_amqp_free(a);
}

/* `drain-fill`: the floor's publisher alone, into an emptied queue, for
 * `drain` (drain.c) to consume later. */
static int run_drain_fill(void)
{
    floor_declare();
    int64_t t0 = wh_mono_us();
    floor_publisher(NULL);
    double s = (double)(wh_mono_us() - t0) / 1e6;
    printf("drain-fill n=%ld seconds=%.3f rate=%.0f\n", n_total, s, (double)n_total / s);
    return 0;
}

static int run_floor(void)
{
    floor_declare();
    int64_t t0 = wh_mono_us();
    pthread_t pub;
    pthread_create(&pub, NULL, floor_publisher, NULL);
    floor_consume();
    pthread_join(pub, NULL);
    double s = (double)(wh_mono_us() - t0) / 1e6;
    printf("%s n=%ld seconds=%.3f rate=%.0f\n", scripts ? "scripts" : trail ? "trail" : "floor", n_total, s,
           (double)n_total / s);
    return 0;
}

/* Waits until the type's stats count n_total jobs `ok`: finish.lua counts
 * each outcome exactly once, with the state change, in the minute buckets
 * (summed from the minute the run began). Polled every 2 ms on its own
 * connection, so the watcher costs Redis a few reads per poll, not a
 * message per job. `failed` when any job ended failed or dead instead. */
typedef struct watch {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool ready, failed;
    long succeeded;
    const char *type;
} watch;

static void watch_set(watch *w, bool ready, bool failed)
{
    pthread_mutex_lock(&w->mu);
    w->ready |= ready;
    w->failed |= failed;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

wh_code bench_stats_count(wh_redis *r, const char *prefix, const char *type, int64_t first_s, long *ok, long *bad,
                          wh_err *e)
{
    int64_t last = wh_now_ms() / 60000 * 60;
    long sum[3] = {0, 0, 0}; /* ok, failed, dead */
    for(int64_t m = first_s; m <= last; m += 60) {
        char key[WH_KEY_MAX];
        wh_key_stats(key, prefix, type, "1m", m);
        const char *argv[] = {"HMGET", key, "ok", "failed", "dead"};
        wh_redis_reply *rep;
        wh_code rc = wh_redis_cmdv(r, &rep, e, 5, argv);
        if(rc)
            return rc;
        for(size_t i = 0; i < 3; i++) {
            size_t len;
            const char *v = wh_redis_reply_str(wh_redis_reply_at(rep, i), &len);
            sum[i] += v ? strtol(v, NULL, 10) : 0;
        }
        wh_redis_reply_free(rep);
    }
    *ok = sum[0];
    *bad = sum[1] + sum[2];
    return WH_OK;
}

static void *watch_stats(void *arg)
{
    watch *w = arg;
    wh_err e;
    wh_redis *r = wh_redis_new(cfg.redis_url, 30000, &e);
    if(!r) {
        fprintf(stderr, "wharf-bench: redis: %s\n", e.msg);
        watch_set(w, true, true);
        return NULL;
    }
    int64_t first = wh_now_ms() / 60000 * 60;
    watch_set(w, true, false);
    long ok = 0, bad = 0;
    while(ok + bad < n_total) {
        wh_sleep_ms(2);
        if(bench_stats_count(r, cfg.redis_prefix, w->type, first, &ok, &bad, &e) != WH_OK) {
            fprintf(stderr, "wharf-bench: stats: %s\n", e.msg);
            watch_set(w, false, true);
            wh_redis_free(r);
            return NULL;
        }
    }
    if(bad)
        fprintf(stderr, "wharf-bench: %ld jobs failed\n", bad);
    pthread_mutex_lock(&w->mu);
    w->succeeded = ok;
    w->failed |= bad > 0;
    pthread_mutex_unlock(&w->mu);
    wh_redis_free(r);
    return NULL;
}

/* Submit n_total jobs (ids into ids[] when not NULL), paced at `rate` jobs
 * per second when rate > 0, and wait until the watcher counted them all
 * succeeded. Returns the seconds from the first submit, or -1. */
static double submit_and_wait(char (*ids)[65], long rate, double *submit_s)
{
    wharf_client_opts o = {cfg.amqp_url, cfg.redis_url, cfg.redis_prefix, cfg.queue_type, 30000, 0, 0};
    wharf_error err;
    wharf_client *c = wharf_client_new(&o, &err);
    if(!c) {
        fprintf(stderr, "wharf-bench: %s\n", err.message);
        return -1;
    }
    /* Other job types can be measured the same way (tests/bench/registry_digest). */
    const char *type = getenv("WHARF_BENCH_TYPE"), *args = getenv("WHARF_BENCH_ARGS");
    watch w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
               .type = type ? type : "system.noop"};
    pthread_t watcher;
    if(!enqueue_only)
        pthread_create(&watcher, NULL, watch_stats, &w);
    else
        w.ready = true;
    pthread_mutex_lock(&w.mu);
    while(!w.ready)
        pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    static wharf_job jobs[BATCH];
    static wharf_submitted out[BATCH];
    for(int i = 0; i < BATCH; i++)
        jobs[i] = (wharf_job){.type = type ? type : "system.noop", .args_json = args ? args : "{\"i\":1}"};
    const char *bs = getenv("WHARF_BENCH_BATCH");
    const char *burst = getenv("WHARF_BENCH_BURST");
    long batch = rate > 0 ? (burst ? strtol(burst, NULL, 10) : rate / 100 > 0 ? rate / 100 : 1) /* paced */
                          : bs ? strtol(bs, NULL, 10) : 500;
    if(batch < 1)
        batch = 1;
    if(batch > BATCH)
        batch = BATCH;
    int64_t t0 = wh_mono_us();
    for(long sent = 0; sent < n_total && !w.failed; sent += batch) {
        size_t n = (size_t)(n_total - sent < batch ? n_total - sent : batch);
        if(rate > 0) { /* the offered load: batch k leaves at t0 + k * batch / rate */
            int64_t due = t0 + sent * 1000000 / rate;
            int64_t now = wh_mono_us();
            if(due > now)
                wh_sleep_ms((due - now + 999) / 1000);
        }
        if(wharf_submit_many(c, jobs, n, out, NULL) != 0) {
            fprintf(stderr, "wharf-bench: submit failed\n");
            return -1;
        }
        for(size_t i = 0; ids && i < n; i++)
            memcpy(ids[sent + (long)i], out[i].id, sizeof(ids[0]));
    }
    *submit_s = (double)(wh_mono_us() - t0) / 1e6;
    if(enqueue_only) {
        printf("enqueue n=%ld seconds=%.3f rate=%.0f\n", n_total, *submit_s, (double)n_total / *submit_s);
        exit(0);
    }
    pthread_join(watcher, NULL);
    wharf_client_free(c);
    if(w.failed || w.succeeded < n_total)
        return -1;
    return (double)(wh_mono_us() - t0) / 1e6;
}

static int run_submit(void)
{
    double submit_s, s = submit_and_wait(NULL, 0, &submit_s);
    if(s < 0)
        return 1;
    printf("wharf n=%ld seconds=%.3f rate=%.0f submit_seconds=%.3f\n", n_total, s, (double)n_total / s, submit_s);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_latency(void)
{
    const char *r = getenv("WHARF_BENCH_RATE");
    long rate = r ? strtol(r, NULL, 10) : 1000;
    char (*ids)[65] = calloc((size_t)n_total, sizeof(*ids));
    int64_t *lat = calloc((size_t)n_total, sizeof(*lat)), *wait = calloc((size_t)n_total, sizeof(*wait));
    double submit_s, s = ids && lat && wait ? submit_and_wait(ids, rate > 0 ? rate : 1000, &submit_s) : -1;
    if(s < 0)
        return 1;
    wh_err e;
    wh_redis *rd = wh_redis_new(cfg.redis_url, 30000, &e);
    for(long i = 0; rd && i < n_total; i += 256) {
        long n = n_total - i < 256 ? n_total - i : 256;
        for(long j = 0; j < n; j++) {
            char key[WH_KEY_MAX];
            wh_key_job(key, cfg.redis_prefix, ids[i + j]);
            const char *argv[] = {"HMGET", key, "created_at", "finished_at", "started_at"};
            if(wh_redis_append(rd, 5, argv, NULL, &e))
                bench_die("HMGET", &e);
        }
        for(long j = 0; j < n; j++) {
            wh_redis_reply *rep;
            if(wh_redis_read(rd, &rep, &e))
                bench_die("HMGET", &e);
            size_t l1, l2, l3;
            const char *c = wh_redis_reply_str(wh_redis_reply_at(rep, 0), &l1);
            const char *f = wh_redis_reply_str(wh_redis_reply_at(rep, 1), &l2);
            const char *st = wh_redis_reply_str(wh_redis_reply_at(rep, 2), &l3);
            lat[i + j] = c && f ? strtoll(f, NULL, 10) - strtoll(c, NULL, 10) : INT64_MAX;
            wait[i + j] = c && st ? strtoll(st, NULL, 10) - strtoll(c, NULL, 10) : INT64_MAX;
            wh_redis_reply_free(rep);
        }
    }
    wh_redis_free(rd);
    qsort(lat, (size_t)n_total, sizeof(*lat), cmp_i64);
    qsort(wait, (size_t)n_total, sizeof(*wait), cmp_i64);
    printf("latency n=%ld seconds=%.3f rate=%.0f offered=%ld p50_ms=%lld p99_ms=%lld max_ms=%lld started_p50_ms=%lld\n",
           n_total, s, (double)n_total / s, rate, (long long)lat[n_total / 2], (long long)lat[n_total * 99 / 100],
           (long long)lat[n_total - 1], (long long)wait[n_total / 2]);
    free(ids);
    free(lat);
    free(wait);
    return 0;
}

static int run_xadd(void)
{
    wh_err e;
    wh_redis *r = wh_redis_new(cfg.redis_url, 30000, &e);
    if(!r)
        bench_die("redis", &e);
    char key[WH_KEY_MAX], line[101];
    snprintf(key, sizeof(key), "%sbench:xadd", cfg.redis_prefix);
    memset(line, 'x', 100);
    line[100] = '\0';
    int64_t t0 = wh_mono_us();
    for(long i = 0; i < n_total; i += 256) {
        long n = n_total - i < 256 ? n_total - i : 256;
        for(long j = 0; j < n; j++) {
            const char *argv[] = {"XADD", key, "MAXLEN", "~", "10000", "*", "s", "out", "l", line};
            if(wh_redis_append(r, 10, argv, NULL, &e))
                bench_die("XADD", &e);
        }
        if(wh_redis_drain(r, (int)n, &e))
            bench_die("XADD", &e);
    }
    double s = (double)(wh_mono_us() - t0) / 1e6;
    const char *del[] = {"DEL", key};
    wh_redis_cmdv(r, NULL, &e, 2, del);
    wh_redis_free(r);
    printf("xadd n=%ld seconds=%.3f rate=%.0f\n", n_total, s, (double)n_total / s);
    return 0;
}

static int run_trail(void)
{
    trail = true;
    return run_floor();
}

static int run_scripts(void)
{
    trail = scripts = true;
    return run_floor();
}

static int run_enqueue(void)
{
    enqueue_only = true;
    return run_submit();
}

static int run_drain(void) { return bench_drain_floor(&cfg, n_total); }
static int run_drain_watch(void) { return bench_drain_watch(&cfg, n_total); }

/* The modes, by the name on the command line. */
static const struct {
    const char *name;
    int (*run)(void);
} modes[] = {
    {"floor", run_floor},     {"trail", run_trail},         {"scripts", run_scripts}, {"submit", run_submit},
    {"enqueue", run_enqueue}, {"latency", run_latency},     {"xadd", run_xadd},       {"drain-fill", run_drain_fill},
    {"drain", run_drain},     {"drain-watch", run_drain_watch},
};

int main(int argc, char **argv)
{
    if(argc != 4 || strcmp(argv[2], "-n") != 0 || (n_total = strtol(argv[3], NULL, 10)) <= 0)
        argc = 0;
    for(size_t i = 0; argc && i < sizeof(modes) / sizeof(modes[0]); i++) {
        if(strcmp(argv[1], modes[i].name) != 0)
            continue;
        wh_err e;
        if(wh_cfg_load(&cfg, NULL, NULL, 0, &e))
            bench_die("config", &e);
        return modes[i].run();
    }
    fprintf(stderr, "usage: wharf-bench floor|trail|scripts|submit|enqueue|latency|xadd|drain-fill|drain|drain-watch"
                    " -n N\n");
    return 2;
}
