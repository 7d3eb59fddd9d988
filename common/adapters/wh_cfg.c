/* wh_cfg: configuration table, INI/env/flag loaders and validation.
 * See wh_cfg.h. This file is the only one that includes <ini.h>. */
#include "wh_cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { K_STR, K_INT, K_I64 } key_kind;

/* One configuration key. Defaults are written as text and applied through the
 * same parser as every other layer, so they obey the same limits. */
typedef struct {
    const char *section;
    const char *key;
    key_kind kind;
    size_t off;  /* offset of the field in wh_cfg */
    size_t size; /* size of the field (strings: buffer size) */
    int64_t min, max;
    const char *def;
    const char *const *choices; /* NULL-terminated allowed values, or NULL */
} key_def;

static const char *const queue_types[] = {"quorum", "classic", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

#define FIELD(f) offsetof(wh_cfg, f), sizeof(((wh_cfg *)0)->f)
#define STR(s, k, f, d, ch) {s, k, K_STR, FIELD(f), 0, 0, d, ch}
#define INT(s, k, f, lo, hi, d) {s, k, K_INT, FIELD(f), lo, hi, d, NULL}
#define I64(s, k, f, lo, hi, d) {s, k, K_I64, FIELD(f), lo, hi, d, NULL}

static const key_def keys[] = {
    STR("amqp", "url", amqp_url, "amqp://guest:guest@127.0.0.1:5672/%2f", NULL),
    STR("amqp", "queue_type", queue_type, "quorum", queue_types),
    INT("amqp", "heartbeat_s", amqp_heartbeat_s, 0, 3600, "10"),
    INT("amqp", "max_priority", max_priority, 0, 9, "0"),
    STR("redis", "url", redis_url, "redis://127.0.0.1:6379/0", NULL),
    STR("redis", "prefix", redis_prefix, "wharf:", NULL),
    STR("redis", "sentinels", redis_sentinels, "", NULL),
    STR("redis", "master_name", redis_master, "", NULL),
    INT("redis", "wait_replicas", redis_wait_replicas, 0, 16, "0"),
    INT("redis", "wait_timeout_ms", redis_wait_ms, 10, 60000, "1000"),
    STR("worker", "id", worker_id, "", NULL),
    INT("worker", "concurrency", concurrency, 1, 1024, "8"),
    INT("worker", "prefetch", prefetch, 0, 65535, "0"),
    STR("worker", "families", families, "system,runtime,registry,provision", NULL),
    INT("worker", "grace_s", grace_s, 0, 86400, "30"),
    INT("worker", "heartbeat_s", worker_heartbeat_s, 1, 3600, "5"),
    I64("jobs", "ttl_s", job_ttl_s, 60, 31536000, "604800"),
    I64("jobs", "max_body", max_body, 1024, 134217728, "1048576"),
    INT("jobs", "log_max_lines", log_max_lines, 10, 10000000, "10000"),
    INT("jobs", "recent_max", recent_max, 1000, 10000000, "100000"),
    INT("jobs", "max_attempts", max_attempts, 1, 100, "3"),
    INT("jobs", "max_redeliveries", max_redeliveries, 1, 1000, "5"),
    INT("jobs", "timeout_s", job_timeout_s, 0, 2592000, "900"),
    INT("jobs", "max_hold_s", max_hold_s, 1, 86400, "1500"),
    INT("jobs", "lease_s", lease_s, 3, 3600, "30"),
    INT("jobs", "republish_s", republish_s, 5, 86400, "600"),
    INT("retry", "base_ms", retry_base_ms, 1, 86400000, "1000"),
    INT("retry", "cap_ms", retry_cap_ms, 1, 86400000, "600000"),
    STR("retry", "tiers", retry_tiers, "1000,5000,30000,120000,600000", NULL),
    INT("scheduler", "enabled", scheduler_on_int, 0, 1, "1"),
    INT("scheduler", "tick_ms", scheduler_tick_ms, 10, 60000, "200"),
    INT("scheduler", "leader_ttl_ms", leader_ttl_ms, 1000, 600000, "5000"),
    STR("log", "format", log_format, "logfmt", log_formats),
    STR("log", "level", log_level, "info", log_levels),
    STR("serve", "listen", serve_listen, "127.0.0.1:8080", NULL),
    STR("serve", "token", serve_token, "", NULL),
    STR("serve", "token_file", serve_token_file, "", NULL),
    STR("serve", "read_token_file", serve_read_token_file, "", NULL),
    I64("serve", "max_body", serve_max_body, 1024, 134217728, "1048576"),
    INT("serve", "timeout_s", serve_timeout_s, 1, 3600, "30"),
    INT("serve", "max_connections", serve_max_connections, 1, 10000, "64"),
    INT("serve", "max_per_ip", serve_max_per_ip, 0, 10000, "32"),
    INT("serve", "header_timeout_s", serve_header_timeout_s, 1, 600, "10"),
    INT("serve", "session_ttl_s", serve_session_ttl_s, 5, 2592000, "43200"),
    STR("provision", "hook_dir", pv_hook_dir, "", NULL),
    STR("provision", "protocols", pv_protocols, "http,https,ssh", NULL),
    INT("provision", "secret_ttl_s", pv_secret_ttl_s, 60, 86400, "900"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= WH_CFG_KEYS_MAX, "wh_cfg.src has a slot per key");

static const char *const family_names[WH_FAM__COUNT] = {"system", "runtime", "registry", "provision"};

const char *wh_family_name(wh_family f)
{
    return (f >= 0 && f < WH_FAM__COUNT) ? family_names[f] : "";
}

int wh_family_parse(const char *name, size_t n)
{
    for(int i = 0; i < WH_FAM__COUNT; i++)
        if(strlen(family_names[i]) == n && memcmp(family_names[i], name, n) == 0)
            return i;
    return -1;
}

static const key_def *find_key(const char *section, const char *key)
{
    for(size_t i = 0; i < NKEYS; i++)
        if(strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

/* Parse a whole decimal integer; no sign games, no trailing junk. */
static bool parse_i64(const char *s, int64_t *out)
{
    if(!*s || isspace((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if(errno || *end)
        return false;
    *out = v;
    return true;
}

static wh_code apply(wh_cfg *c, const key_def *k, const char *value, wh_err *err)
{
    char *field = (char *)c + k->off;
    if(k->kind == K_STR) {
        if(strlen(value) >= k->size)
            return wh_err_set(err, WH_E_BAD_CONFIG, k->key, "%s.%s: longer than %zu bytes", k->section,
                              k->key, k->size - 1);
        for(const char *const *ch = k->choices; ch && *ch; ch++)
            if(strcmp(*ch, value) == 0)
                goto ok;
        if(k->choices)
            return wh_err_set(err, WH_E_BAD_CONFIG, k->key, "%s.%s: \"%s\" is not one of the allowed values",
                              k->section, k->key, value);
    ok:
        memcpy(field, value, strlen(value) + 1);
        return WH_OK;
    }
    int64_t v;
    if(!parse_i64(value, &v) || v < k->min || v > k->max)
        return wh_err_set(err, WH_E_BAD_CONFIG, k->key, "%s.%s: must be an integer in %lld..%lld",
                          k->section, k->key, (long long)k->min, (long long)k->max);
    if(k->kind == K_INT)
        *(int *)(void *)field = (int)v;
    else
        *(int64_t *)(void *)field = v;
    return WH_OK;
}

/* apply(), remembering `src` as where the value came from. */
static wh_code apply_from(wh_cfg *c, const key_def *k, const char *value, wh_src src, wh_err *err)
{
    wh_code rc = apply(c, k, value, err);
    if(!rc)
        c->src[k - keys] = (unsigned char)src;
    return rc;
}

static wh_code set_kv(wh_cfg *c, const char *section, const char *key, const char *value, wh_src src, wh_err *err)
{
    if(wh_inv_section(section)) {
        if(!c->inv && !(c->inv = wh_inv_new()))
            return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return wh_inv_set(c->inv, section, key, value, src, err);
    }
    const key_def *k = find_key(section, key);
    if(!k)
        return wh_err_set(err, WH_E_BAD_CONFIG, key, "%s.%s: unknown configuration key", section, key);
    return apply_from(c, k, value, src, err);
}

wh_code wh_cfg_set_kv(wh_cfg *c, const char *section, const char *key, const char *value, wh_err *err)
{
    return set_kv(c, section, key, value, WH_SRC_FLAG, err);
}

void wh_cfg_defaults(wh_cfg *c)
{
    memset(c, 0, sizeof(*c));
    for(size_t i = 0; i < NKEYS; i++)
        apply(c, &keys[i], keys[i].def, NULL);
}

void wh_cfg_free(wh_cfg *c)
{
    wh_inv_free(c->inv);
    c->inv = NULL;
}

/* inih state: the config plus the first error. */
typedef struct {
    wh_cfg *c;
    wh_err err;
    bool failed;
    const key_def *last; /* the key of the previous line */
} ini_ctx;

/* List keys (amqp.url, redis.sentinels) may span lines in a file: an
 * indented continuation line, or the key given again right after, adds to
 * the list, so a cluster's URLs need not fit one INI line. */
static bool list_key(const key_def *k)
{
    return k && k->kind == K_STR && ((strcmp(k->section, "amqp") == 0 && strcmp(k->key, "url") == 0) ||
                                     (strcmp(k->section, "redis") == 0 && strcmp(k->key, "sentinels") == 0));
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *ctx = user;
    if(ctx->failed)
        return 0;
    const key_def *k = find_key(section, name);
    wh_code rc;
    if(list_key(k) && k == ctx->last) {
        char joined[WH_CFG_URL_MAX];
        const char *cur = (const char *)ctx->c + k->off;
        size_t cl = strlen(cur);
        int n = snprintf(joined, sizeof(joined), "%s%s%s", cur, cl && cur[cl - 1] != ',' ? "," : "", value);
        rc = n < 0 || (size_t)n >= sizeof(joined) ? wh_err_set(&ctx->err, WH_E_BAD_CONFIG, k->key,
                                                               "%s.%s: longer than %zu bytes", k->section, k->key,
                                                               k->size - 1)
                                                  : apply_from(ctx->c, k, joined, WH_SRC_FILE, &ctx->err);
        memset(joined, 0, sizeof(joined)); /* it may hold passwords */
    } else {
        rc = set_kv(ctx->c, section, name, value, WH_SRC_FILE, &ctx->err);
    }
    ctx->last = k;
    if(rc != WH_OK) {
        ctx->failed = true;
        return 0;
    }
    return 1;
}

/* inih reads each line into a fixed INI_MAX_LINE buffer and would split a
 * longer line, parsing its tail as a line of its own (and echoing part of a
 * password back in the error). Refuse such files first, naming the line but
 * never its text. */
static wh_code check_line_lengths(const char *path, wh_err *err)
{
    FILE *f = fopen(path, "r");
    if(!f)
        return WH_OK; /* ini_parse reports the open error */
    char buf[INI_MAX_LINE];
    int line = 0;
    wh_code rc = WH_OK;
    while(!rc && fgets(buf, sizeof(buf), f)) {
        size_t n = strlen(buf);
        line++;
        if(n == sizeof(buf) - 1 && buf[n - 1] != '\n') {
            int next = getc(f);
            if(next != EOF && next != '\n')
                rc = wh_err_set(err, WH_E_BAD_CONFIG, "", "%s:%d: line longer than %d bytes (give long values "
                                "such as URLs in the environment or with --set)", path, line, INI_MAX_LINE - 1);
            else if(next == '\n')
                continue;
        }
    }
    fclose(f);
    return rc;
}

wh_code wh_cfg_load_file(wh_cfg *c, const char *path, wh_err *err)
{
    wh_code lrc = check_line_lengths(path, err);
    if(lrc)
        return lrc;
    ini_ctx ctx = {.c = c};
    snprintf(c->src_file, sizeof(c->src_file), "%s", path);
    int r = ini_parse(path, on_ini, &ctx);
    if(r == -1)
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "%s: cannot open: %s", path, strerror(errno));
    if(r == -2)
        return wh_err_set(err, WH_E_NOMEM, "", "%s: out of memory", path);
    if(ctx.failed)
        return wh_err_set(err, WH_E_BAD_CONFIG, ctx.err.field, "%s:%d: %s", path, r, ctx.err.msg);
    if(r > 0)
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "%s:%d: syntax error", path, r);
    return WH_OK;
}

/* The variable that sets key k: WHARF_<SECTION>_<KEY>. */
static void env_name(const key_def *k, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "WHARF_%s_%s", k->section, k->key);
    for(size_t j = 0; j < n && j < cap; j++)
        out[j] = (char)toupper((unsigned char)out[j]);
}

wh_code wh_cfg_load_env(wh_cfg *c, wh_err *err)
{
    for(size_t i = 0; i < NKEYS; i++) {
        char name[96];
        env_name(&keys[i], name, sizeof(name));
        const char *v = getenv(name);
        if(!v)
            continue;
        wh_err e;
        if(apply_from(c, &keys[i], v, WH_SRC_ENV, &e) != WH_OK)
            return wh_err_set(err, WH_E_BAD_CONFIG, e.field, "%s: %s", name, e.msg);
    }
    return WH_OK;
}

wh_code wh_cfg_set(wh_cfg *c, const char *assignment, wh_err *err)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = NULL;
    for(const char *p = assignment; eq && p < eq; p++)
        if(*p == '.')
            dot = p;
    if(!dot || !eq)
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "--set: expected section.key=value");
    char section[WH_INV_NAME_MAX + 16], key[64];
    size_t sn = (size_t)(dot - assignment), kn = (size_t)(eq - dot - 1);
    if(sn >= sizeof(section) || kn >= sizeof(key))
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "--set: key name too long");
    memcpy(section, assignment, sn);
    section[sn] = '\0';
    memcpy(key, dot + 1, kn);
    key[kn] = '\0';
    return set_kv(c, section, key, eq + 1, WH_SRC_FLAG, err);
}

/* Parse "1000,5000" into ascending positive tiers. */
static wh_code parse_tiers(wh_cfg *c, wh_err *err)
{
    c->ntiers = 0;
    const char *p = c->retry_tiers;
    while(*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if(errno || end == p || v < 1 || v > 86400000 || (*end && *end != ','))
            return wh_err_set(err, WH_E_BAD_CONFIG, "tiers", "retry.tiers: expected comma-separated ms values");
        if(c->ntiers == WH_CFG_MAX_TIERS)
            return wh_err_set(err, WH_E_BAD_CONFIG, "tiers", "retry.tiers: at most %d tiers", WH_CFG_MAX_TIERS);
        if(c->ntiers && v <= c->tiers[c->ntiers - 1])
            return wh_err_set(err, WH_E_BAD_CONFIG, "tiers", "retry.tiers: must be strictly ascending");
        c->tiers[c->ntiers++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if(!c->ntiers)
        return wh_err_set(err, WH_E_BAD_CONFIG, "tiers", "retry.tiers: at least one tier is required");
    return WH_OK;
}

static wh_code parse_families(wh_cfg *c, wh_err *err)
{
    memset(c->family_on, 0, sizeof(c->family_on));
    const char *p = c->families;
    bool any = false;
    while(*p) {
        size_t n = strcspn(p, ",");
        int f = wh_family_parse(p, n);
        if(f < 0)
            return wh_err_set(err, WH_E_BAD_CONFIG, "families", "worker.families: unknown family \"%.*s\"",
                              (int)n, p);
        c->family_on[f] = any = true;
        p += n + (p[n] == ',');
    }
    if(!any)
        return wh_err_set(err, WH_E_BAD_CONFIG, "families", "worker.families: name at least one family");
    return WH_OK;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

#define URL_SEPS ", \t\r\n" /* separators of the amqp.url list */

/* amqp.url: one URL or several (a cluster's nodes), each amqp[s]://. */
static wh_code check_amqp_urls(const char *p, wh_err *err)
{
    int n = 0;
    for(;;) {
        p += strspn(p, URL_SEPS);
        size_t len = strcspn(p, URL_SEPS);
        if(!len)
            break;
        if(!has_prefix(p, "amqp://") && !has_prefix(p, "amqps://"))
            return wh_err_set(err, WH_E_BAD_CONFIG, "url", "amqp.url: URL %d must start with amqp:// or amqps:// "
                              "(separate several with commas)", n + 1);
        n++;
        p += len;
    }
    if(!n)
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "amqp.url: must start with amqp:// or amqps://");
    return WH_OK;
}

/* "host:port,host:port" with plain host characters and a port each. */
static bool sentinels_valid(const char *p)
{
    int n = 0;
    while(*p) {
        size_t len = strcspn(p, ",");
        const char *colon = NULL;
        for(size_t i = 0; i < len; i++)
            if(p[i] == ':')
                colon = p + i;
        if(!colon || colon == p || (size_t)(colon - p) + 1 == len ||
           strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") < len ||
           strspn(colon + 1, "0123456789") != (size_t)(p + len - colon - 1))
            return false;
        n++;
        p += len + (p[len] == ',');
    }
    return n > 0;
}

/* redis.sentinels + redis.master_name become the redis-sentinel:// form of
 * redis.url, keeping its user, password and database (its host is then
 * unused): redis-sentinel://[user:pass@]s1:p1,s2:p2/master[/db]. */
static wh_code derive_sentinel_url(wh_cfg *c, wh_err *err)
{
    bool url_form = has_prefix(c->redis_url, "redis-sentinel://");
    if(!c->redis_sentinels[0] || c->redis_sentinel_derived) {
        if(c->redis_master[0] && !url_form)
            return wh_err_set(err, WH_E_BAD_CONFIG, "master_name", "redis.master_name: needs redis.sentinels");
        return WH_OK;
    }
    if(url_form)
        return wh_err_set(err, WH_E_BAD_CONFIG, "sentinels",
                          "redis.sentinels: give the Sentinels here or in a redis-sentinel:// redis.url, not both");
    if(!has_prefix(c->redis_url, "redis://"))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url", "redis.url: must be redis:// when redis.sentinels is set");
    if(!sentinels_valid(c->redis_sentinels))
        return wh_err_set(err, WH_E_BAD_CONFIG, "sentinels", "redis.sentinels: expected host:port[,host:port...]");
    size_t mn = strlen(c->redis_master);
    if(!mn || strspn(c->redis_master, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != mn)
        return wh_err_set(err, WH_E_BAD_CONFIG, "master_name",
                          "redis.master_name: required with redis.sentinels; letters, digits, '.', '_', '-'");
    const char *auth = c->redis_url + 8;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for(size_t i = 0; i < alen; i++)
        if(auth[i] == '@')
            at = auth + i;
    const char *path = auth + alen; /* "/db" or "" */
    char out[WH_CFG_URL_MAX];
    int n = snprintf(out, sizeof(out), "redis-sentinel://%.*s%s/%s%s", at ? (int)(at - auth + 1) : 0, auth,
                     c->redis_sentinels, c->redis_master, strcmp(path, "/") == 0 ? "" : path);
    if(n < 0 || (size_t)n >= sizeof(out))
        return wh_err_set(err, WH_E_BAD_CONFIG, "sentinels", "redis.sentinels: too long with redis.url");
    memcpy(c->redis_url, out, (size_t)n + 1);
    memset(out, 0, sizeof(out)); /* it held the password */
    c->redis_sentinel_derived = true;
    c->src[find_key("redis", "url") - keys] = WH_SRC_DERIVED;
    return WH_OK;
}

wh_code wh_cfg_validate(wh_cfg *c, wh_err *err)
{
    wh_code rc = check_amqp_urls(c->amqp_url, err);
    if(rc)
        return rc;
    if((rc = derive_sentinel_url(c, err)))
        return rc;
    if(!has_prefix(c->redis_url, "redis://") && !has_prefix(c->redis_url, "unix://") &&
       !has_prefix(c->redis_url, "redis-sentinel://"))
        return wh_err_set(err, WH_E_BAD_CONFIG, "url",
                          "redis.url: must start with redis://, redis-sentinel:// or unix://");
    if(!c->redis_prefix[0] || strcspn(c->redis_prefix, " \t\r\n*?[]") != strlen(c->redis_prefix))
        return wh_err_set(err, WH_E_BAD_CONFIG, "prefix",
                          "redis.prefix: must be non-empty without spaces or glob characters");
    c->scheduler_on = c->scheduler_on_int != 0;
    if(c->max_priority && strcmp(c->queue_type, "classic") != 0)
        return wh_err_set(err, WH_E_BAD_CONFIG, "max_priority",
                          "amqp.max_priority: priorities need amqp.queue_type = classic (quorum queues ignore them)");
    if(c->retry_base_ms > c->retry_cap_ms)
        return wh_err_set(err, WH_E_BAD_CONFIG, "base_ms", "retry.base_ms: must not exceed retry.cap_ms");
    if(strcspn(c->worker_id, " \t\r\n") != strlen(c->worker_id))
        return wh_err_set(err, WH_E_BAD_CONFIG, "id", "worker.id: must not contain spaces");
    if((rc = parse_tiers(c, err)))
        return rc;
    if((rc = parse_families(c, err)))
        return rc;
    if((rc = wh_inv_validate(c->inv, err)))
        return rc;
    /* Like Celery's prefetch multiplier: enough in hand to keep the threads
     * busy between round trips, few enough that one worker does not hoard
     * long jobs. The worker raises it while jobs are short (wk_prefetch). */
    c->prefetch_auto = c->prefetch == 0;
    if(c->prefetch == 0) {
        c->prefetch = c->concurrency * 4 > 65535 ? 65535 : c->concurrency * 4;
        c->src[find_key("worker", "prefetch") - keys] = WH_SRC_DERIVED;
    }
    return WH_OK;
}

wh_code wh_cfg_load(wh_cfg *c, const char *file, const char *const *sets, int nsets, wh_err *err)
{
    wh_cfg_defaults(c);
    wh_code rc = file ? wh_cfg_load_file(c, file, err) : WH_OK;
    if(!rc)
        rc = wh_cfg_load_env(c, err);
    for(int i = 0; !rc && i < nsets; i++)
        rc = wh_cfg_set(c, sets[i], err);
    return rc ? rc : wh_cfg_validate(c, err);
}

/* Mask the password of the one URL url[0..n); returns the bytes written. */
static size_t redact_one(const char *url, size_t n, char *out, size_t cap)
{
    /* The userinfo ends at the *last* '@' of the authority (scheme:// up to
     * the next '/'), so a password holding a raw '@' is masked whole. */
    const char *scheme = strstr(url, "://");
    const char *auth = scheme && scheme < url + n ? scheme + 3 : NULL;
    size_t alen = auth ? strcspn(auth, "/?#") : 0;
    if(auth && auth + alen > url + n)
        alen = (size_t)(url + n - auth);
    const char *at = NULL;
    for(size_t i = 0; i < alen; i++)
        if(auth[i] == '@')
            at = auth + i;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    int w = colon ? snprintf(out, cap, "%.*s:***%.*s", (int)(colon - url), url, (int)(url + n - at), at)
                  : snprintf(out, cap, "%.*s", (int)n, url);
    return w < 0 ? 0 : (size_t)w >= cap ? cap - 1 : (size_t)w;
}

/* True when a new URL ("scheme://") starts at p. */
static bool url_starts(const char *p)
{
    size_t s = strspn(p, "abcdefghijklmnopqrstuvwxyz+.-");
    return s > 0 && strncmp(p + s, "://", 3) == 0;
}

void wh_cfg_redact_url(const char *url, char *out, size_t cap)
{
    /* A list is cut where a separator run is followed by a scheme; text
     * without one (a redis-sentinel:// host list) stays with its URL. */
    size_t o = 0;
    out[0] = '\0';
    const char *p = url;
    while(*p && o + 1 < cap) {
        const char *q = p + strcspn(p, URL_SEPS);
        while(*q && !url_starts(q + strspn(q, URL_SEPS)))
            q += 1 + strcspn(q + 1, URL_SEPS);
        const char *next = q + strspn(q, URL_SEPS);
        o += redact_one(p, (size_t)(q - p), out + o, cap - o);
        if(*next && o + 1 < cap)
            o += (size_t)snprintf(out + o, cap - o, "%.*s", (int)(next - q) < (int)(cap - o - 1) ? (int)(next - q)
                                  : (int)(cap - o - 1), q);
        p = next;
    }
}

/* What a derived key was computed from (wh_cfg_validate). */
static const char *derived_from(const key_def *k)
{
    return strcmp(k->key, "prefetch") == 0 ? "worker.concurrency (4 per job slot)"
                                            : "redis.url, redis.sentinels and redis.master_name";
}

void wh_cfg_print(const wh_cfg *c, FILE *out)
{
    const char *section = "";
    for(size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        const char *field = (const char *)c + k->off;
        if(strcmp(section, k->section) != 0)
            fprintf(out, "%s[%s]\n", i ? "\n" : "", section = k->section);
        char text[WH_CFG_URL_MAX], detail[600];
        if(k->kind == K_INT)
            snprintf(text, sizeof(text), "%d", *(const int *)(const void *)field);
        else if(k->kind == K_I64)
            snprintf(text, sizeof(text), "%lld", (long long)*(const int64_t *)(const void *)field);
        else if(strcmp(k->key, "url") == 0)
            wh_cfg_redact_url(field, text, sizeof(text));
        else /* serve.token is a secret, like URL passwords */
            snprintf(text, sizeof(text), "%s", strcmp(k->key, "token") != 0 ? field : *field ? "***" : "");
        wh_src src = (wh_src)c->src[i];
        if(src == WH_SRC_ENV)
            env_name(k, detail, sizeof(detail));
        else
            snprintf(detail, sizeof(detail), "%s", src == WH_SRC_FILE      ? c->src_file
                                                   : src == WH_SRC_DERIVED ? derived_from(k)
                                                                           : "");
        wh_inv_print_key(out, k->key, text, src, detail);
    }
    wh_inv_print(c->inv, c->src_file, out);
}
