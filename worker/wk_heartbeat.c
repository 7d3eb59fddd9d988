/* wk_heartbeat: the worker heartbeat. See wk_heartbeat.h. */
#include "wk_heartbeat.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh_jobctl.h"
#include "wh_keys.h"
#include "wh_log.h"
#include "wh_redis.h"
#include "wh_time.h"

struct wk_beat {
    const wh_cfg *cfg;
    const char *worker_id;
    wk_pool *pool;
    wk_stats *stats;
    wh_redis *redis;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    bool kicked;      /* beat now */
    bool started;     /* first kick seen: beat periodically */
    char host[256];
    char started_at[24];
    const char *state;  /* "running", then "quiet" or "draining" once asked */
    char key[WH_KEY_MAX], index[WH_KEY_MAX], control[WH_KEY_MAX];
};

/* Resident set size in bytes: the second field of /proc/self/statm. */
static long long rss_bytes(void)
{
    char buf[128];
    FILE *f = fopen("/proc/self/statm", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if(f)
        fclose(f);
    buf[n] = '\0';
    char *p = strchr(buf, ' ');
    return p ? strtoll(p + 1, NULL, 10) * sysconf(_SC_PAGESIZE) : 0;
}

/* Take a command `wharf workers quiet|drain` left for this worker
 * (<p>worker:<id>:control, deleted as it is read) and hand it to the main
 * loop as the signal it answers to (wk_loop.h): SIGTSTP quiets, SIGTERM
 * drains. The signal is blocked in every thread, so the loop's signalfd
 * gets it. Checked on every beat: the worker acts within one period. */
static void take_control(wk_beat *b)
{
    const char *getdel[] = {"GETDEL", b->control};
    wh_redis_reply *rep = NULL;
    wh_err err;
    if(wh_redis_cmdv(b->redis, &rep, &err, 2, getdel) != WH_OK) {
        wh_log(WH_LOG_WARN, NULL, "cannot read worker control", "error", err.msg);
        return;
    }
    size_t n = 0;
    const char *cmd = wh_redis_reply_str(rep, &n);
    bool quiet = cmd && n == 5 && memcmp(cmd, "quiet", 5) == 0, drain = cmd && n == 5 && memcmp(cmd, "drain", 5) == 0;
    wh_redis_reply_free(rep);
    if(!quiet && !drain)
        return;
    wh_log(WH_LOG_INFO, NULL, "worker control", "command", quiet ? "quiet" : "drain");
    if(drain || strcmp(b->state, "draining") != 0)
        b->state = drain ? "draining" : "quiet";
    kill(getpid(), drain ? SIGTERM : SIGTSTP);
}

static wh_code beat(wk_beat *b, wh_err *err)
{
    take_control(b);
    wk_counts c;
    wk_pool_counts(b->pool, &c);
    char pid[16], conc[16], now[24], running[16], done[24], failed[24], rss[24], ttl[16];
    int64_t now_ms = wh_now_ms();
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    snprintf(conc, sizeof(conc), "%d", b->cfg->concurrency);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(running, sizeof(running), "%d", c.running);
    snprintf(done, sizeof(done), "%lld", c.done);
    snprintf(failed, sizeof(failed), "%lld", c.failed);
    snprintf(rss, sizeof(rss), "%lld", rss_bytes());
    snprintf(ttl, sizeof(ttl), "%d", 3 * b->cfg->worker_heartbeat_s);
    const char *hset[] = {"HSET", b->key, "id", b->worker_id, "host", b->host, "pid", pid, "version", WHARF_VERSION,
                          "queues", b->cfg->families, "concurrency", conc, "started_at", b->started_at,
                          "heartbeat_at", now, "jobs_running", running, "jobs_done", done, "jobs_failed", failed,
                          "rss", rss, "state", b->state};
    const char *expire[] = {"EXPIRE", b->key, ttl};
    const char *zadd[] = {"ZADD", b->index, now, b->worker_id};
    char cutoff[24];
    snprintf(cutoff, sizeof(cutoff), "%lld", (long long)(now_ms - 3000LL * b->cfg->worker_heartbeat_s));
    /* Entries of workers that stopped beating are pruned by whoever beats. */
    const char *prune[] = {"ZREMRANGEBYSCORE", b->index, "-inf", cutoff};
    wh_code rc = wh_redis_cmdv(b->redis, NULL, err, (int)(sizeof(hset) / sizeof(hset[0])), hset);
    if(!rc)
        rc = wh_redis_cmdv(b->redis, NULL, err, 3, expire);
    if(!rc)
        rc = wh_redis_cmdv(b->redis, NULL, err, 4, zadd);
    if(!rc)
        rc = wh_redis_cmdv(b->redis, NULL, err, 4, prune);
    return rc;
}

#define FLUSH_MS 1000 /* stats flush period */

static void flush_stats(wk_beat *b)
{
    wh_err err;
    if(wk_stats_flush(b->stats, b->redis, b->cfg->redis_prefix, &err) != WH_OK)
        wh_log(WH_LOG_WARN, NULL, "stats flush failed; kept for the next one", "error", err.msg);
}

static void on_cancel(void *ud, const char *id)
{
    wk_beat *b = ud;
    wh_log(WH_LOG_INFO, id, "cancel requested; interrupting the job");
    wk_pool_cancel(b->pool, id);
}

/* Renew the leases and locks of the jobs running here and pick up cancel
 * requests for them: one script call a second while jobs run. */
static void renew_running(wk_beat *b)
{
    enum { MAX = 1024 };
    static char ids[MAX][WH_ID_MAX + 1]; /* only the beat thread uses it */
    int n = wk_pool_running_ids(b->pool, ids, MAX);
    if(!n)
        return;
    wh_err err;
    int64_t lease_ms = (int64_t)b->cfg->lease_s * 1000;
    if(wh_jobctl_renew(b->redis, b->cfg->redis_prefix, ids, n, wh_now_ms() + lease_ms, lease_ms, on_cancel, b,
                       &err) != WH_OK)
        wh_log(WH_LOG_WARN, NULL, "lease renewal failed", "error", err.msg);
}

static void *beat_main(void *arg)
{
    wk_beat *b = arg;
    int64_t next_beat = 0;
    pthread_mutex_lock(&b->mu);
    while(!b->stop) {
        struct timespec until = wh_mono_deadline(FLUSH_MS);
        int rc = 0;
        while(!b->stop && !b->kicked && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&b->cond, &b->mu, &until);
        if(b->stop)
            break;
        bool kicked = b->kicked;
        b->started |= kicked;
        b->kicked = false;
        pthread_mutex_unlock(&b->mu);
        flush_stats(b);
        renew_running(b);
        if(b->started && (kicked || wh_mono_ms() >= next_beat)) {
            wh_err err;
            if(beat(b, &err) != WH_OK)
                wh_log(WH_LOG_WARN, NULL, "heartbeat failed", "error", err.msg);
            next_beat = wh_mono_ms() + 1000LL * b->cfg->worker_heartbeat_s;
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

wk_beat *wk_beat_start(const wh_cfg *cfg, const char *worker_id, wk_pool *pool, wk_stats *stats,
                       wh_err *err)
{
    wk_beat *b = calloc(1, sizeof(*b));
    if(!b) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    b->cfg = cfg;
    b->worker_id = worker_id;
    b->pool = pool;
    b->stats = stats;
    if(gethostname(b->host, sizeof(b->host) - 1) != 0)
        snprintf(b->host, sizeof(b->host), "unknown");
    snprintf(b->started_at, sizeof(b->started_at), "%lld", (long long)wh_now_ms());
    wh_key_worker(b->key, cfg->redis_prefix, worker_id);
    wh_key_workers(b->index, cfg->redis_prefix);
    wh_key_worker_control(b->control, cfg->redis_prefix, worker_id);
    b->state = "running";
    pthread_mutex_init(&b->mu, NULL);
    wh_cond_init_mono(&b->cond);
    b->redis = wh_redis_new(cfg->redis_url, 5000, err);
    if(!b->redis || pthread_create(&b->tid, NULL, beat_main, b) != 0) {
        wh_redis_free(b->redis);
        pthread_cond_destroy(&b->cond);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    return b;
}

void wk_beat_kick(void *beat)
{
    wk_beat *b = beat;
    pthread_mutex_lock(&b->mu);
    b->kicked = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

void wk_beat_stop(wk_beat *b)
{
    if(!b || b->stop)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->tid, NULL);
    const char *del[] = {"DEL", b->key};
    const char *zrem[] = {"ZREM", b->index, b->worker_id};
    wh_err err;
    wh_redis_cmdv(b->redis, NULL, &err, 2, del);
    wh_redis_cmdv(b->redis, NULL, &err, 3, zrem);
}

void wk_beat_free(wk_beat *b)
{
    if(!b)
        return;
    wk_beat_stop(b);
    flush_stats(b);
    wh_redis_free(b->redis);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
