/* wharf-bench: the two sides of tests/bench/throughput.
 *
 *   wharf-bench floor  -n N   the raw pipe floor: one thread publishes N
 *                             persistent messages with publisher confirms
 *                             (a window of WINDOW in flight); another consumes
 *                             them with manual acks and writes one HSET per
 *                             message, pipelined. Same broker, same queue type.
 *   wharf-bench submit -n N   submits N system.noop jobs (or WHARF_BENCH_TYPE
 *                             with WHARF_BENCH_ARGS JSON) through the client
 *                             library (idempotent enqueue, publish, confirm)
 *                             and waits until workers have recorded all N as
 *                             succeeded: it counts "<id> succeeded" messages
 *                             on <prefix>events, subscribed before the first
 *                             submit. (Not the stats rollup: workers flush it
 *                             once a second, which would add up to 1 s.)
 *
 *   wharf-bench enqueue -n N  the producer alone: submits N jobs (confirmed)
 *                             and exits without waiting for workers.
 *
 *   wharf-bench latency -n N  submits N system.noop jobs at a fixed offered
 *                             load (WHARF_BENCH_RATE jobs/s, default 1000, in
 *                             batches every 10 ms), waits for all, then reads
 *                             each job's created_at and finished_at and prints
 *                             the enqueue -> succeeded p50, p99 and max (ms).
 *   wharf-bench xadd -n N     the log-tail floor: N lines of 100 bytes into
 *                             one stream with pipelined XADD MAXLEN ~ 10000,
 *                             as workers write job logs.
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

#include "wh_amqp.h"
#include "wh_cfg.h"
#include "wh_keys.h"
#include "wh_redis.h"
#include "wh_time.h"
#include "wharf.h"

#define WINDOW 1000 /* confirms in flight for the floor publisher */
#define BATCH 2000  /* most jobs per wharf_submit_many call (WHARF_BENCH_BATCH, default 500) */
#define FLOOR_QUEUE "bench.floor"

static wh_cfg cfg;
static long n_total;
static bool enqueue_only; /* `enqueue`: submit, do not wait for workers */

static void die(const char *what, const wh_err *e)
{
    fprintf(stderr, "wharf-bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static wh_amqp *connect_or_die(void)
{
    wh_amqp_opts o = {cfg.amqp_url, 30, 10000, "wharf-bench", 1u << 20};
    wh_err e;
    wh_amqp *a = wh_amqp_connect(&o, &e);
    if(!a)
        die("connect", &e);
    return a;
}

static void *floor_publisher(void *arg)
{
    (void)arg;
    wh_amqp *a = connect_or_die();
    wh_err e;
    if(wh_amqp_confirm_select(a, 1, &e))
        die("confirm.select", &e);
    char body[64];
    memset(body, 'x', sizeof(body));
    wh_amqp_msg m = {body, sizeof(body), "application/msgpack", NULL, "system.noop", NULL, 0, 0};
    uint64_t sent = 0, confirmed = 0;
    while(confirmed < (uint64_t)n_total) {
        while(sent < (uint64_t)n_total && sent - confirmed < WINDOW) {
            uint64_t seq;
            if(wh_amqp_publish(a, 1, "", FLOOR_QUEUE, &m, true, &seq, &e))
                die("publish", &e);
            sent++;
        }
        wh_amqp_event ev;
        if(wh_amqp_next(a, 1000, &ev, &e))
            die("confirms", &e);
        if(ev.kind == WH_AMQP_EV_CONFIRM && ev.tag > confirmed)
            confirmed = ev.multiple ? ev.tag : confirmed + 1;
        wh_amqp_event_clear(&ev);
    }
    wh_amqp_free(a);
    return NULL;
}

/* Consume with manual acks; one HSET per message, replies read in batches. */
static void floor_consume(void)
{
    wh_amqp *a = connect_or_die();
    wh_err e;
    wh_redis *r = wh_redis_new(cfg.redis_url, 10000, &e);
    if(!r || wh_amqp_qos(a, 1, 1000, &e) || wh_amqp_consume(a, 1, FLOOR_QUEUE, &e))
        die("consume", &e);
    long done = 0, pending = 0;
    const char *dl = getenv("WHARF_FLOOR_DELAY_US");
    long delay_us = dl ? strtol(dl, NULL, 10) : 0;
    const char *ae = getenv("WHARF_FLOOR_ACK_EVERY");
    long ack_every = ae ? strtol(ae, NULL, 10) : 1;
    char key[WH_KEY_MAX], val[24];
    while(done < n_total) {
        wh_amqp_event ev;
        if(wh_amqp_next(a, pending ? 0 : 1000, &ev, &e))
            die("consume", &e);
        if(ev.kind == WH_AMQP_EV_DELIVERY) {
            snprintf(key, sizeof(key), "%sfloor:%ld", cfg.redis_prefix, done);
            snprintf(val, sizeof(val), "%lld", (long long)wh_now_ms());
            const char *argv[] = {"HSET", key, "state", val};
            if(wh_redis_append(r, 4, argv, NULL, &e))
                die("hset", &e);
            pending++;
            done++;
            if(delay_us)
                usleep((useconds_t)delay_us);
            if((done % ack_every == 0 || done == n_total) && wh_amqp_ack(a, 1, ev.tag, ack_every > 1, &e))
                die("ack", &e);
        }
        wh_amqp_event_clear(&ev);
        if(pending >= 256 || (pending && ev.kind == WH_AMQP_EV_NONE) || done == n_total) {
            if(wh_redis_drain(r, (int)pending, &e))
                die("hset replies", &e);
            pending = 0;
        }
    }
    wh_redis_free(r);
    wh_amqp_free(a);
}

static int run_floor(void)
{
    wh_amqp *a = connect_or_die();
    wh_err e;
    wh_amqp_field args[1] = {{"x-queue-type", cfg.queue_type, 0}};
    uint32_t purged;
    if(wh_amqp_declare_queue(a, 1, FLOOR_QUEUE, args, 1, NULL, &e) || wh_amqp_purge(a, 1, FLOOR_QUEUE, &purged, &e))
        die("declare", &e);
    wh_amqp_free(a);
    int64_t t0 = wh_mono_us();
    pthread_t pub;
    pthread_create(&pub, NULL, floor_publisher, NULL);
    floor_consume();
    pthread_join(pub, NULL);
    double s = (double)(wh_mono_us() - t0) / 1e6;
    printf("floor n=%ld seconds=%.3f rate=%.0f\n", n_total, s, (double)n_total / s);
    return 0;
}

/* Counts "<id> succeeded" events; `ready` once subscribed. */
typedef struct watch {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool ready, failed;
    long succeeded;
} watch;

static void watch_set(watch *w, bool ready, bool failed)
{
    pthread_mutex_lock(&w->mu);
    w->ready |= ready;
    w->failed |= failed;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static void *watch_events(void *arg)
{
    watch *w = arg;
    wh_err e;
    char chan[WH_KEY_MAX];
    wh_key_events(chan, cfg.redis_prefix);
    wh_redis *r = wh_redis_new(cfg.redis_url, 600000, &e);
    const char *argv[] = {"SUBSCRIBE", chan};
    if(!r || wh_redis_cmdv(r, NULL, &e, 2, argv) != WH_OK) {
        fprintf(stderr, "wharf-bench: subscribe: %s\n", e.msg);
        watch_set(w, true, true);
        wh_redis_free(r);
        return NULL;
    }
    watch_set(w, true, false);
    long n = 0;
    while(n < n_total) {
        wh_redis_reply *rep;
        if(wh_redis_read(r, &rep, &e) != WH_OK) {
            fprintf(stderr, "wharf-bench: events: %s\n", e.msg);
            watch_set(w, false, true);
            break;
        }
        size_t len = 0;
        const char *msg = wh_redis_reply_len(rep) == 3 ? wh_redis_reply_str(wh_redis_reply_at(rep, 2), &len) : NULL;
        if(msg && len > 10 && memcmp(msg + len - 10, " succeeded", 10) == 0)
            n++;
        wh_redis_reply_free(rep);
    }
    pthread_mutex_lock(&w->mu);
    w->succeeded = n;
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
    watch w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t watcher;
    pthread_create(&watcher, NULL, watch_events, &w);
    pthread_mutex_lock(&w.mu);
    while(!w.ready)
        pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    static wharf_job jobs[BATCH];
    static wharf_submitted out[BATCH];
    /* Other job types can be measured the same way (tests/bench/registry_digest). */
    const char *type = getenv("WHARF_BENCH_TYPE"), *args = getenv("WHARF_BENCH_ARGS");
    for(int i = 0; i < BATCH; i++)
        jobs[i] = (wharf_job){.type = type ? type : "system.noop", .args_json = args ? args : "{\"i\":1}"};
    const char *bs = getenv("WHARF_BENCH_BATCH");
    long batch = rate > 0 ? (rate / 100 > 0 ? rate / 100 : 1) : bs ? strtol(bs, NULL, 10) : 500; /* paced: one per 10 ms */
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
    int64_t *lat = calloc((size_t)n_total, sizeof(*lat));
    double submit_s, s = ids && lat ? submit_and_wait(ids, rate > 0 ? rate : 1000, &submit_s) : -1;
    if(s < 0)
        return 1;
    wh_err e;
    wh_redis *rd = wh_redis_new(cfg.redis_url, 30000, &e);
    for(long i = 0; rd && i < n_total; i += 256) {
        long n = n_total - i < 256 ? n_total - i : 256;
        for(long j = 0; j < n; j++) {
            char key[WH_KEY_MAX];
            wh_key_job(key, cfg.redis_prefix, ids[i + j]);
            const char *argv[] = {"HMGET", key, "created_at", "finished_at"};
            if(wh_redis_append(rd, 4, argv, NULL, &e))
                die("HMGET", &e);
        }
        for(long j = 0; j < n; j++) {
            wh_redis_reply *rep;
            if(wh_redis_read(rd, &rep, &e))
                die("HMGET", &e);
            size_t l1, l2;
            const char *c = wh_redis_reply_str(wh_redis_reply_at(rep, 0), &l1);
            const char *f = wh_redis_reply_str(wh_redis_reply_at(rep, 1), &l2);
            lat[i + j] = c && f ? strtoll(f, NULL, 10) - strtoll(c, NULL, 10) : INT64_MAX;
            wh_redis_reply_free(rep);
        }
    }
    wh_redis_free(rd);
    qsort(lat, (size_t)n_total, sizeof(*lat), cmp_i64);
    printf("latency n=%ld seconds=%.3f rate=%.0f offered=%ld p50_ms=%lld p99_ms=%lld max_ms=%lld\n", n_total, s,
           (double)n_total / s, rate, (long long)lat[n_total / 2], (long long)lat[n_total * 99 / 100],
           (long long)lat[n_total - 1]);
    free(ids);
    free(lat);
    return 0;
}

static int run_xadd(void)
{
    wh_err e;
    wh_redis *r = wh_redis_new(cfg.redis_url, 30000, &e);
    if(!r)
        die("redis", &e);
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
                die("XADD", &e);
        }
        if(wh_redis_drain(r, (int)n, &e))
            die("XADD", &e);
    }
    double s = (double)(wh_mono_us() - t0) / 1e6;
    const char *del[] = {"DEL", key};
    wh_redis_cmdv(r, NULL, &e, 2, del);
    wh_redis_free(r);
    printf("xadd n=%ld seconds=%.3f rate=%.0f\n", n_total, s, (double)n_total / s);
    return 0;
}

int main(int argc, char **argv)
{
    if(argc != 4 || strcmp(argv[2], "-n") != 0 || (n_total = strtol(argv[3], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: wharf-bench floor|submit|enqueue|latency|xadd -n N\n");
        return 2;
    }
    wh_err e;
    if(wh_cfg_load(&cfg, NULL, NULL, 0, &e))
        die("config", &e);
    if(strcmp(argv[1], "floor") == 0)
        return run_floor();
    if(strcmp(argv[1], "submit") == 0)
        return run_submit();
    if(strcmp(argv[1], "enqueue") == 0) {
        enqueue_only = true;
        return run_submit();
    }
    if(strcmp(argv[1], "latency") == 0)
        return run_latency();
    if(strcmp(argv[1], "xadd") == 0)
        return run_xadd();
    fprintf(stderr, "usage: wharf-bench floor|submit|enqueue|latency|xadd -n N\n");
    return 2;
}
