/* host_stats: host.stats, one sample of every running container into
 * per-minute and per-hour rollups in Redis.
 *
 * CPU % is the Docker CLI's: (container CPU time delta / host CPU time
 * delta) x online CPUs x 100, where online CPUs is cpu_stats.online_cpus
 * (or the length of percpu_usage when the engine gives none). The delta is
 * taken against the previous sweep's sample (kept in Redis), so a
 * once-a-minute schedule gives the average over that minute; a container
 * seen for the first time has no CPU value until the next sweep (cpu_pct
 * null, cpu_n not counted). Samples are one-shot (stream=false&one-shot=true,
 * API >= 1.41; older engines ignore it and prime a second sample), yet the
 * engine still answers each one at its collector's next tick (~1 s): so a
 * sweep samples up to RT_STATS_PAR containers at once (RT_STATS_PAR_SSH over
 * ssh://, where each request holds an SSH session), each sampler thread on
 * its own keep-alive client, and a sweep of 100 takes a few ticks, not 100.
 * Memory is usage minus the page cache, as the CLI computes it:
 * total_inactive_file (cgroup v1), else inactive_file (v2), else cache.
 *
 * Keys (<p> = redis prefix, <h> = host, <c> = container name or _host):
 *   <p>host:<h>:stats:<c>:1m:<unix minute start>   hash, expires after 48 h
 *   <p>host:<h>:stats:<c>:1h:<unix hour start>     hash, expires after 30 days
 *     n, cpu_n, cpu_sum, cpu_max (percent), mem_sum, mem_max, mem_limit (bytes),
 *     rx, tx, blk_r, blk_w (the last cumulative byte counters)
 *   <p>host:<h>:stats:<c>:last    hash: the previous CPU sample (1 h)
 *   <p>host:<h>:stats:names       set of the names with rollups (30 days)
 *   <p>host:<h>:reach             stats_at: when the last sweep was written (rt_reach_note)
 * _host sums the containers of one sweep (cpu in percent of one CPU). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "runtime.h"

#define RT_STATS_MAX_CTRS 1000  /* containers sampled per sweep */
#define RT_TTL_1M (48 * 3600)
#define RT_TTL_1H (30 * 86400)
#define RT_STATS_PAR 16         /* stats requests in flight (unix://, tcp://) */
#define RT_STATS_PAR_SSH 6      /* the same over ssh:// (one session each) */

/* One bucket update: counts, sums, maxima, last counters and TTL. */
static const char ROLLUP_LUA[] =
    "local k=KEYS[1] redis.call('HINCRBY',k,'n',1) "
    "if ARGV[2]~='' then redis.call('HINCRBYFLOAT',k,'cpu_sum',ARGV[2]) redis.call('HINCRBY',k,'cpu_n',1) "
    "local m=tonumber(redis.call('HGET',k,'cpu_max') or '-1') "
    "if tonumber(ARGV[2])>m then redis.call('HSET',k,'cpu_max',ARGV[2]) end end "
    "redis.call('HINCRBY',k,'mem_sum',ARGV[3]) "
    "local mm=tonumber(redis.call('HGET',k,'mem_max') or '-1') "
    "if tonumber(ARGV[3])>mm then redis.call('HSET',k,'mem_max',ARGV[3]) end "
    "redis.call('HSET',k,'mem_limit',ARGV[4],'rx',ARGV[5],'tx',ARGV[6],'blk_r',ARGV[7],'blk_w',ARGV[8]) "
    "redis.call('EXPIRE',k,ARGV[1]) return 1";

typedef struct sample {
    char name[RT_NAME_MAX + 1];
    bool has_cpu;
    double cpu;            /* percent */
    int64_t mem, limit, rx, tx, br, bw;
    int64_t total, system; /* CPU counters for the next sweep */
    bool prev;             /* pt, ps hold the previous sweep's counters */
    int64_t pt, ps;
    bool ok;               /* sampled (else it stopped since the list) */
} sample;

static int64_t num(const wh_json *o, const char *k)
{
    wh_json *v = wh_json_get(o, k);
    if(!v)
        return 0;
    return wh_json_kind_of(v) == WH_JSON_REAL ? (int64_t)wh_json_realv(v) : wh_json_intv(v);
}

int64_t rt_stats_mem(const wh_json *ms)
{
    int64_t usage = num(ms, "usage");
    wh_json *st = wh_json_get(ms, "stats");
    static const char *const keys[] = {"total_inactive_file", "inactive_file", "cache"};
    for(int i = 0; i < 3; i++) {
        wh_json *v = wh_json_get(st, keys[i]);
        if(v) {
            int64_t c = num(st, keys[i]);
            return c < usage ? usage - c : usage;
        }
    }
    return usage;
}

static void io_totals(const wh_json *s, sample *o)
{
    wh_json *nets = wh_json_get(s, "networks");
    for(wh_json_iter *it = wh_json_iter_first(nets); it; it = wh_json_iter_next(nets, it)) {
        o->rx += num(wh_json_iter_val(it), "rx_bytes");
        o->tx += num(wh_json_iter_val(it), "tx_bytes");
    }
    wh_json *io = wh_json_get(wh_json_get(s, "blkio_stats"), "io_service_bytes_recursive");
    for(size_t i = 0; io && i < wh_json_size(io); i++) {
        size_t n = 0;
        const char *op = wh_json_strv(wh_json_get(wh_json_at(io, i), "op"), &n);
        if(op && n == 4 && !strncasecmp(op, "read", 4))
            o->br += num(wh_json_at(io, i), "value");
        else if(op && n == 5 && !strncasecmp(op, "write", 5))
            o->bw += num(wh_json_at(io, i), "value");
    }
}

bool rt_stats_cpu(const wh_json *cpu, int64_t pt, int64_t ps, double *pct)
{
    int64_t online = num(cpu, "online_cpus");
    if(online <= 0) {
        wh_json *per = wh_json_get(wh_json_get(cpu, "cpu_usage"), "percpu_usage");
        online = per ? (int64_t)wh_json_size(per) : 0;
    }
    int64_t dc = num(wh_json_get(cpu, "cpu_usage"), "total_usage") - pt, ds = num(cpu, "system_cpu_usage") - ps;
    if(ds <= 0 || dc < 0 || online <= 0)
        return false;
    *pct = (double)dc / (double)ds * (double)online * 100.0;
    return true;
}

/* Previous CPU sample of `name` from Redis: false when there is none. */
static bool prev_sample(wh_redis *r, const char *base, int64_t *pt, int64_t *ps)
{
    char key[1024];
    snprintf(key, sizeof(key), "%.900s:last", base);
    const char *argv[] = {"HMGET", key, "total", "system"};
    wh_redis_reply *rep = NULL;
    wh_err e;
    if(wh_redis_cmdv(r, &rep, &e, 4, argv) != WH_OK)
        return false;
    size_t n1 = 0, n2 = 0;
    const char *a = wh_redis_reply_len(rep) == 2 ? wh_redis_reply_str(wh_redis_reply_at(rep, 0), &n1) : NULL;
    const char *b = wh_redis_reply_len(rep) == 2 ? wh_redis_reply_str(wh_redis_reply_at(rep, 1), &n2) : NULL;
    bool ok = a && b && n1 && n2 && n1 < 24 && n2 < 24;
    if(ok) {
        char x[24], y[24];
        snprintf(x, sizeof(x), "%.*s", (int)n1, a);
        snprintf(y, sizeof(y), "%.*s", (int)n2, b);
        *pt = strtoll(x, NULL, 10);
        *ps = strtoll(y, NULL, 10);
    }
    wh_redis_reply_free(rep);
    return ok;
}

/* Sample one container (its prev fields already read). */
static wh_code sample_one(rt_conn *c, sample *o, wh_err *err)
{
    char esc[3 * RT_NAME_MAX + 1], path[RT_PATH_MAX];
    wh_curl_escape(o->name, strlen(o->name), esc, sizeof(esc));
    snprintf(path, sizeof(path), "/containers/%s/stats?stream=false&one-shot=true", esc);
    wh_json *s = NULL;
    wh_code rc = rt_call(c, "GET", path, NULL, esc, &s, err);
    if(rc)
        return rc;
    wh_json *cpu = wh_json_get(s, "cpu_stats");
    o->total = num(wh_json_get(cpu, "cpu_usage"), "total_usage");
    o->system = num(cpu, "system_cpu_usage");
    /* first sight: no CPU value until the next sweep */
    o->has_cpu = o->prev && rt_stats_cpu(cpu, o->pt, o->ps, &o->cpu);
    o->mem = rt_stats_mem(wh_json_get(s, "memory_stats"));
    o->limit = num(wh_json_get(s, "memory_stats"), "limit");
    io_totals(s, o);
    wh_json_free(s);
    return WH_OK;
}

/* The samplers' shared queue: each takes the next index until none is left. */
typedef struct sweep {
    wk_job *job;
    sample *all;
    size_t n;
    size_t next;           /* under mu */
    pthread_mutex_t mu;
} sweep;

static void *sampler(void *ud)
{
    sweep *w = ud;
    rt_conn c;
    wh_err e;
    if(rt_open(w->job, &c, &e) != WH_OK)
        return NULL; /* the others (the job's thread at least) go on */
    for(;;) {
        pthread_mutex_lock(&w->mu);
        size_t i = w->next++;
        pthread_mutex_unlock(&w->mu);
        if(i >= w->n || wk_job_interrupted(w->job))
            return NULL;
        w->all[i].ok = sample_one(&c, &w->all[i], &e) == WH_OK;
    }
}

/* Sample all[0..n) with up to `par` requests in flight, the calling
 * thread being one of the samplers. */
static void sample_all(wk_job *job, sample *all, size_t n, int par)
{
    sweep w = {.job = job, .all = all, .n = n};
    pthread_mutex_init(&w.mu, NULL);
    pthread_t th[RT_STATS_PAR];
    int started = 0;
    for(int k = 1; k < par && (size_t)k < n; k++)
        if(pthread_create(&th[started], NULL, sampler, &w) == 0)
            started++;
    sampler(&w);
    for(int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    pthread_mutex_destroy(&w.mu);
}

/* Queue the rollup updates of one name (and its last CPU sample). */
static void queue_rollups(wh_redis *r, const char *base, const sample *o, time_t now, int *pending)
{
    char cpu[32] = "", mem[24], lim[24], rx[24], tx[24], br[24], bw[24];
    if(o->has_cpu)
        snprintf(cpu, sizeof(cpu), "%.3f", o->cpu);
    snprintf(mem, sizeof(mem), "%lld", (long long)o->mem);
    snprintf(lim, sizeof(lim), "%lld", (long long)o->limit);
    snprintf(rx, sizeof(rx), "%lld", (long long)o->rx);
    snprintf(tx, sizeof(tx), "%lld", (long long)o->tx);
    snprintf(br, sizeof(br), "%lld", (long long)o->br);
    snprintf(bw, sizeof(bw), "%lld", (long long)o->bw);
    for(int h = 0; h < 2; h++) {
        char key[1024], ttl[16];
        snprintf(key, sizeof(key), "%.900s:%s:%lld", base, h ? "1h" : "1m",
                 (long long)(now - now % (h ? 3600 : 60)));
        snprintf(ttl, sizeof(ttl), "%d", h ? RT_TTL_1H : RT_TTL_1M);
        const char *argv[] = {"EVAL", ROLLUP_LUA, "1", key, ttl, cpu, mem, lim, rx, tx, br, bw};
        size_t lens[12];
        for(int i = 0; i < 12; i++)
            lens[i] = strlen(argv[i]);
        if(wh_redis_append(r, 12, argv, lens, NULL) == WH_OK)
            (*pending)++;
    }
}

static void queue_last(wh_redis *r, const char *base, const sample *o, int *pending)
{
    char key[1024], t[24], s[24];
    snprintf(key, sizeof(key), "%.900s:last", base);
    snprintf(t, sizeof(t), "%lld", (long long)o->total);
    snprintf(s, sizeof(s), "%lld", (long long)o->system);
    const char *hset[] = {"HSET", key, "total", t, "system", s};
    const char *exp[] = {"EXPIRE", key, "3600"};
    size_t l1[6], l2[3];
    for(int i = 0; i < 6; i++)
        l1[i] = strlen(hset[i]);
    for(int i = 0; i < 3; i++)
        l2[i] = strlen(exp[i]);
    if(wh_redis_append(r, 6, hset, l1, NULL) == WH_OK)
        (*pending)++;
    if(wh_redis_append(r, 3, exp, l2, NULL) == WH_OK)
        (*pending)++;
}

static wh_json *sample_json(const sample *o)
{
    wh_json *j = wh_json_object();
    wh_json_setc(j, "name", wh_json_str(o->name));
    wh_json_setc(j, "cpu_pct", o->has_cpu ? wh_json_real(o->cpu) : wh_json_null());
    wh_json_setc(j, "mem", wh_json_int(o->mem));
    wh_json_setc(j, "mem_limit", wh_json_int(o->limit));
    wh_json_setc(j, "rx", wh_json_int(o->rx));
    wh_json_setc(j, "tx", wh_json_int(o->tx));
    wh_json_setc(j, "blk_r", wh_json_int(o->br));
    wh_json_setc(j, "blk_w", wh_json_int(o->bw));
    return j;
}

/* Names of the running containers ("/web" -> "web"). */
static wh_code running(rt_conn *c, wh_json **list, wh_err *err)
{
    return rt_call(c, "GET", "/containers/json", NULL, "list", list, err);
}

wk_run rt_stats_run(wk_job *job)
{
    rt_conn c;
    wh_err err;
    wh_json *list = NULL;
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = running(&c, &list, &err);
    if(rc) {
        rt_reach_note(job, true, rc, &err);
        return wk_job_fail_err(job, rc, &err);
    }
    wk_job_flush(job);
    wh_redis *r = wk_job_redis(job);
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%shost:%s:stats", wk_job_prefix(job), wk_job_host(job)->name);
    time_t now = time(NULL);
    sample host = {.name = "_host", .has_cpu = true};
    wh_json *items = wh_json_array();
    int pending = 0;
    size_t n = wh_json_size(list), m = 0;
    if(n > RT_STATS_MAX_CTRS)
        n = RT_STATS_MAX_CTRS;
    sample *all = calloc(n ? n : 1, sizeof(*all));
    /* The previous samples are read first with plain commands, which must
     * not interleave with the pipelined writes below. */
    for(size_t i = 0; all && i < n; i++) {
        sample *o = &all[m];
        size_t nn = 0;
        const char *nm = wh_json_strv(wh_json_at(wh_json_get(wh_json_at(list, i), "Names"), 0), &nn);
        if(!nm || nn < 2 || nn > RT_NAME_MAX)
            continue;
        snprintf(o->name, sizeof(o->name), "%.*s", (int)nn - 1, nm + 1);
        char base[1024];
        snprintf(base, sizeof(base), "%s:%s", prefix, o->name);
        o->prev = prev_sample(r, base, &o->pt, &o->ps);
        m++;
    }
    if(all)
        sample_all(job, all, m, c.host->docker_kind == WH_DOCKER_SSH ? RT_STATS_PAR_SSH : RT_STATS_PAR);
    size_t k = 0; /* keep the ones sampled, in order */
    for(size_t i = 0; i < m; i++)
        if(all[i].ok)
            all[k++] = all[i];
    m = k;
    for(size_t i = 0; all && i < m; i++) {
        const sample *o = &all[i];
        char base[1024], names[600];
        snprintf(base, sizeof(base), "%s:%s", prefix, o->name);
        queue_rollups(r, base, o, now, &pending);
        queue_last(r, base, o, &pending);
        snprintf(names, sizeof(names), "%s:names", prefix);
        const char *sadd[] = {"SADD", names, o->name};
        size_t sl[3] = {4, strlen(names), strlen(o->name)};
        if(wh_redis_append(r, 3, sadd, sl, NULL) == WH_OK)
            pending++;
        host.cpu += o->has_cpu ? o->cpu : 0;
        host.mem += o->mem;
        host.rx += o->rx;
        host.tx += o->tx;
        host.br += o->br;
        host.bw += o->bw;
        wh_json_push(items, sample_json(o));
    }
    free(all);
    wh_json_free(list);
    if(wk_job_interrupted(job)) {
        wh_redis_drain(r, pending, NULL);
        wh_json_free(items);
        return WK_RUN_INTERRUPTED;
    }
    char base[1024], names[600];
    snprintf(base, sizeof(base), "%s:_host", prefix);
    queue_rollups(r, base, &host, now, &pending);
    snprintf(names, sizeof(names), "%s:names", prefix);
    const char *exp[] = {"EXPIRE", names, "2592000"};
    size_t el[3] = {6, strlen(names), 7};
    if(wh_redis_append(r, 3, exp, el, NULL) == WH_OK)
        pending++;
    rc = wh_redis_drain(r, pending, &err);
    if(rc) {
        wh_json_free(items);
        return wk_job_fail_err(job, rc, &err);
    }
    rt_reach_note(job, true, WH_OK, &err);
    wh_json *res = wh_json_object();
    wh_json_setc(res, "sampled_at", wh_json_int((int64_t)now));
    wh_json_setc(res, "containers", wh_json_int((int64_t)wh_json_size(items)));
    wh_json_setc(res, "host", sample_json(&host));
    wh_json_setc(res, "items", items);
    wk_job_set_result(job, res);
    return WK_RUN_OK;
}
