/* The drain sides of wharf-bench, for tests/bench/drain: the jobs are all
 * in the queue before anything is timed, and the clock runs from the moment
 * 5% of them are done to the moment the last one is done, so that start-up
 * (connecting, loading scripts, filling the prefetch) is left out for every
 * side alike. Each side prints its progress marks on stdout:
 *
 *   mark <done> <monotonic us>
 *
 * once when it first sees at least 5% of N done and once when all N are
 * done, then one summary line,
 *
 *   <mode> n=<N> counted=<jobs between the marks> seconds=<s> rate=<per s>
 *
 * The harness reads the marks as they come and samples the CPU of the
 * broker, Redis and the worker from /proc at each, so the CPU figures cover
 * the same window as the clock. CLOCK_MONOTONIC is one clock for every
 * process on the machine, so marks from different programs compare.
 *
 *   wharf-bench drain -n N        the floor-drain: consumes the queue that
 *                                 `drain-fill` filled (prefetch 1,000, as
 *                                 the floor), one pipelined HSET per
 *                                 message; after each batch's replies, one
 *                                 `multiple` ack. A message is done when its
 *                                 HSET's reply is in. With
 *                                 WHARF_BENCH_HOLD=1 it exits only when its
 *                                 stdin closes.
 *   wharf-bench drain-watch -n N  the clock of a wharf worker: polls the
 *                                 type's exact stats counts (finish.lua adds
 *                                 to them in the step that records the
 *                                 outcome) on its own connection, every
 *                                 millisecond near the marks (less often
 *                                 in between). A job is done when its outcome
 *                                 is in Redis. Prints "ready" once it has
 *                                 read the counts: start the worker after
 *                                 that. Exits 1 if any job failed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "wh_keys.h"
#include "wh_time.h"

#define DRAIN_BATCH 256      /* the floor-drain's HSETs per round trip and ack */
#define DRAIN_POLL_MS 1      /* the watcher's poll period near a mark: the clock's resolution */
#define DRAIN_POLL_MAX_MS 20 /* its longest sleep, between the marks */

/* The two marks of one drain. */
typedef struct drain_marks {
    long n;           /* jobs in the drain */
    long at5;         /* the 5% mark: ceil(n / 20) */
    long done5;       /* jobs done when the 5% mark was taken, or -1 */
    int64_t t5_us;    /* monotonic time of the 5% mark */
    int64_t t_end_us; /* monotonic time of the last mark */
} drain_marks;

static void marks_init(drain_marks *m, long n)
{
    *m = (drain_marks){.n = n, .at5 = (n + 19) / 20, .done5 = -1};
}

/* Record that `done` jobs are done (a count that only grows); prints the
 * marks it passes. */
static void marks_seen(drain_marks *m, long done)
{
    int64_t now = wh_mono_us();
    if(m->done5 < 0 && done >= m->at5) {
        m->done5 = done;
        m->t5_us = now;
        printf("mark %ld %lld\n", done, (long long)now);
        fflush(stdout);
    }
    if(done >= m->n) {
        m->t_end_us = now;
        printf("mark %ld %lld\n", done, (long long)now);
        fflush(stdout);
    }
}

static void marks_summary(const drain_marks *m, const char *mode)
{
    double s = (double)(m->t_end_us - m->t5_us) / 1e6;
    long counted = m->n - m->done5;
    printf("%s n=%ld counted=%ld seconds=%.3f rate=%.0f\n", mode, m->n, counted, s, s > 0 ? (double)counted / s : 0);
}

/* With WHARF_BENCH_HOLD=1 (tests/bench/drain sets it), stay until stdin
 * closes, so that the harness can still read this process's /proc entries
 * (its peak RSS) after the last mark. */
static void hold_if_asked(void)
{
    const char *h = getenv("WHARF_BENCH_HOLD");
    if(!h || strcmp(h, "1") != 0)
        return;
    fflush(stdout);
    char buf[256];
    while(read(STDIN_FILENO, buf, sizeof(buf)) > 0)
        continue;
}

/* Append the HSET of message number `i`. */
static void drain_hset(const wh_cfg *c, wh_redis *r, long i)
{
    char key[WH_KEY_MAX], val[24];
    snprintf(key, sizeof(key), "%sdrain:%ld", c->redis_prefix, i);
    snprintf(val, sizeof(val), "%lld", (long long)wh_now_ms());
    const char *argv[] = {"HSET", key, "state", val};
    wh_err e;
    if(wh_redis_append(r, 4, argv, NULL, &e))
        bench_die("hset", &e);
}

/* With WHARF_BENCH_DRAIN_RATE=R (jobs/s), hold the floor-drain to R by
 * sleeping after a batch that came ahead of time: the same work per
 * message at a lower rate, to tell what the broker's cost per message owes
 * to the rate alone. */
static void drain_pace(long rate, int64_t t0_us, long done)
{
    if(rate <= 0)
        return;
    int64_t due = t0_us + (int64_t)((double)done * 1e6 / (double)rate), now = wh_mono_us();
    if(due > now)
        usleep((useconds_t)(due - now));
}

int bench_drain_floor(const wh_cfg *c, long n)
{
    wh_amqp *a = bench_connect(c);
    wh_err e;
    wh_redis *r = wh_redis_new(c->redis_url, 10000, &e);
    if(!r || wh_amqp_qos(a, 1, 1000, &e) || wh_amqp_consume(a, 1, BENCH_FLOOR_QUEUE, &e))
        bench_die("consume", &e);
    drain_marks m;
    marks_init(&m, n);
    long done = 0, pending = 0;
    uint64_t last_tag = 0;
    const char *pr = getenv("WHARF_BENCH_DRAIN_RATE");
    long rate = pr ? strtol(pr, NULL, 10) : 0;
    int64_t t0_us = 0;
    while(done < n) {
        wh_amqp_event ev;
        if(wh_amqp_next(a, pending ? 0 : 1000, &ev, &e))
            bench_die("consume", &e);
        wh_amqp_ev_kind kind = ev.kind;
        if(kind == WH_AMQP_EV_DELIVERY) {
            drain_hset(c, r, done + pending);
            pending++;
            last_tag = ev.tag;
        }
        wh_amqp_event_clear(&ev);
        /* A batch ends when it is full or nothing more is waiting: the
         * writes first, the ack after their replies. */
        if(pending >= DRAIN_BATCH || (pending && kind == WH_AMQP_EV_NONE) || done + pending == n) {
            if(wh_redis_drain(r, (int)pending, &e) || wh_amqp_ack(a, 1, last_tag, true, &e))
                bench_die("batch", &e);
            if(!done)
                t0_us = wh_mono_us();
            done += pending;
            pending = 0;
            marks_seen(&m, done);
            drain_pace(rate, t0_us, done);
        }
    }
    marks_summary(&m, "drain");
    wh_redis_free(r);
    wh_amqp_free(a);
    hold_if_asked();
    return 0;
}

/* How long the watcher sleeps before its next poll, `done` jobs done: a
 * millisecond up to the 5% mark and near the end, and in between a quarter
 * of the time the rest would take at the rate seen since the 5% mark (at
 * most DRAIN_POLL_MAX_MS). The end is then still seen within a millisecond
 * unless the rate jumps fourfold, while a drain of seconds costs Redis a few
 * hundred polls instead of thousands: a poll every millisecond alone took
 * about 2.6% of a core of Redis on the bench machine. */
static int64_t drain_poll_ms(const drain_marks *m, long done)
{
    int64_t spent_us = wh_mono_us() - m->t5_us;
    if(m->done5 < 0 || done <= m->done5 || spent_us <= 0)
        return DRAIN_POLL_MS;
    double rest_us = (double)(m->n - done) * (double)spent_us / (double)(done - m->done5);
    int64_t ms = (int64_t)(rest_us / 4000);
    return ms < DRAIN_POLL_MS ? DRAIN_POLL_MS : ms > DRAIN_POLL_MAX_MS ? DRAIN_POLL_MAX_MS : ms;
}

int bench_drain_watch(const wh_cfg *c, long n)
{
    const char *type = getenv("WHARF_BENCH_TYPE");
    type = type ? type : "system.noop";
    wh_err e;
    wh_redis *r = wh_redis_new(c->redis_url, 30000, &e);
    if(!r)
        bench_die("redis", &e);
    /* Jobs finish only after this, so the buckets from this minute on hold
     * every outcome of the drain. */
    int64_t first = wh_now_ms() / 60000 * 60;
    long ok = 0, bad = 0;
    if(bench_stats_count(r, c->redis_prefix, type, first, &ok, &bad, &e))
        bench_die("stats", &e);
    printf("ready\n");
    fflush(stdout);
    drain_marks m;
    marks_init(&m, n);
    while(ok + bad < n) {
        wh_sleep_ms(drain_poll_ms(&m, ok + bad));
        if(bench_stats_count(r, c->redis_prefix, type, first, &ok, &bad, &e))
            bench_die("stats", &e);
        marks_seen(&m, ok + bad);
    }
    marks_summary(&m, "drain-watch");
    wh_redis_free(r);
    if(bad)
        fprintf(stderr, "wharf-bench: %ld jobs failed\n", bad);
    return bad ? 1 : 0;
}
