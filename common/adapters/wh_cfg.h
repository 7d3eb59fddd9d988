/* wh_cfg: the one configuration struct and its loaders (inih adapter).
 *
 * Order of precedence, lowest first: built-in defaults, the INI file, the
 * environment (WHARF_<SECTION>_<KEY>), then `--set section.key=value` flags.
 * A single table (wh_cfg.c) names every key, its type, default and limits, so
 * the file, env and flag paths cannot drift apart. wh_cfg_validate() runs once
 * after all layers and derives the parsed fields (tiers, families, prefetch).
 * Errors name the key and the reason: "worker.concurrency: must be 1..1024". */
#ifndef WH_CFG_H
#define WH_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wh_err.h"
#include "wh_inv.h"

#define WH_CFG_MAX_TIERS 16
#define WH_CFG_URL_MAX 1024
#define WH_CFG_KEYS_MAX 64   /* keys of the table in wh_cfg.c, for the per-key sources */

/* Job families, in routing-key order. Index is the family id. */
typedef enum wh_family {
    WH_FAM_SYSTEM,
    WH_FAM_RUNTIME,
    WH_FAM_REGISTRY,
    WH_FAM_PROVISION,
    WH_FAM__COUNT
} wh_family;

typedef struct wh_cfg {
    /* [amqp] */
    char amqp_url[WH_CFG_URL_MAX]; /* may hold a password: never log it raw. One
                                    * URL, or the nodes of a cluster separated by
                                    * commas or spaces, tried in order */
    char queue_type[16];           /* "quorum" or "classic" */
    int amqp_heartbeat_s;          /* AMQP heartbeat, seconds; 0 disables */
    int max_priority;              /* x-max-priority of classic family queues; 0: none */
    /* [redis] */
    char redis_url[WH_CFG_URL_MAX]; /* may hold a password: never log it raw */
    char redis_prefix[64];          /* key prefix, e.g. "wharf:" */
    char redis_sentinels[512];      /* "host:port,host:port": Sentinels to ask for the
                                     * master; empty: redis.url names the server */
    char redis_master[128];         /* redis.master_name: the master the Sentinels watch */
    bool redis_sentinel_derived;    /* derived: redis_url was built from the two above */
    int redis_wait_replicas;        /* workers WAIT for this many replicas after a job's
                                     * status writes, before acking; 0: off */
    int redis_wait_ms;              /* longest such WAIT, ms; then the write is redone */
    /* [worker] */
    char worker_id[128];      /* empty: derived from host and pid */
    int concurrency;          /* jobs run at once by one worker */
    int prefetch;             /* AMQP prefetch; 0 means 4 * concurrency, adapted */
    bool prefetch_auto;       /* derived: the worker may adapt it (wk_prefetch) */
    char families[128];       /* comma list of families to consume */
    int grace_s;              /* shutdown grace for running jobs, seconds */
    int worker_heartbeat_s;   /* worker registry refresh period, seconds */
    /* [jobs] */
    int64_t job_ttl_s;        /* finished job hash + log expiry, seconds */
    int64_t max_body;         /* message body cap, bytes */
    int log_max_lines;        /* job log stream MAXLEN ~ */
    int recent_max;           /* ids kept in <p>recent and its per-type/target indexes */
    int max_attempts;         /* default when neither job nor type sets it */
    int max_redeliveries;     /* interrupted deliveries before a job is dead */
    int job_timeout_s;        /* default run-time limit; 0: none */
    int max_hold_s;           /* longest a delivery is held unacked; jobs whose
                               * timeout is longer (or none) are acked at start
                               * and kept under a Redis lease instead */
    int lease_s;              /* lease of an early-acked job; renewed every second */
    int republish_s;          /* a message handed to the broker from Redis that
                               * no worker has started by then is published again */
    /* [retry] */
    int retry_base_ms;        /* first retry delay before jitter, ms */
    int retry_cap_ms;         /* largest retry delay, ms */
    char retry_tiers[256];    /* comma list of delay-queue TTLs, ms */
    /* [scheduler] */
    int scheduler_on_int;     /* scheduler.enabled as read: 0 or 1 */
    bool scheduler_on;        /* derived: run the scheduler/reaper loop (leader-elected) */
    int scheduler_tick_ms;    /* how often the leader looks for due work */
    int leader_ttl_ms;        /* leader lease; a new leader takes over after it */
    /* [log] */
    char log_format[16];      /* "logfmt" or "json" */
    char log_level[16];       /* "debug", "info", "warn", "error" */
    /* [serve] (`wharf serve`, the HTTP API) */
    char serve_listen[128];     /* "host:port" or "[v6]:port" */
    char serve_token[256];      /* one bearer token; a secret: never printed */
    char serve_token_file[512]; /* file of bearer tokens, one per line */
    char serve_read_token_file[512]; /* file of read-only bearer tokens (GET routes only) */
    int64_t serve_max_body;     /* HTTP request body cap, bytes */
    int serve_timeout_s;        /* idle HTTP connection timeout, s */
    int serve_max_connections;  /* HTTP connections at once */
    int serve_max_per_ip;       /* HTTP connections at once from one address; 0: no limit */
    int serve_header_timeout_s; /* a request head must arrive within this, s */
    int serve_session_ttl_s;    /* a dashboard session's life, s */
    /* [provision] (the provision family) */
    char pv_hook_dir[512];      /* hooks[] of provision.container are looked up only here; "" none */
    char pv_protocols[256];     /* comma list: the protocols a container may ask for */
    int pv_secret_ttl_s;        /* expiry of a job record whose result holds a secret */

    /* [host.NAME] and [registry.NAME] sections; NULL until one is given. */
    wh_inv *inv;

    /* Where each value came from (--check-config says it). */
    unsigned char src[WH_CFG_KEYS_MAX]; /* wh_src (wh_inv.h) of each key, in the key table's order */
    char src_file[512];                 /* the INI file applied last; "" none */

    /* Derived by wh_cfg_validate(). */
    int tiers[WH_CFG_MAX_TIERS]; /* ascending, ms */
    int ntiers;
    bool family_on[WH_FAM__COUNT];
} wh_cfg;

/* Fill `c` with the built-in defaults (an empty inventory). */
void wh_cfg_defaults(wh_cfg *c);

/* Free what the loaders allocated (the inventory). `c` stays usable as a
 * config without inventory. */
void wh_cfg_free(wh_cfg *c);

/* Apply an INI file. Unknown sections or keys are errors naming file:line. */
wh_code wh_cfg_load_file(wh_cfg *c, const char *path, wh_err *err);

/* Apply every WHARF_<SECTION>_<KEY> variable present in the environment. */
wh_code wh_cfg_load_env(wh_cfg *c, wh_err *err);

/* Apply one "section.key=value" assignment (the --set flag). Inventory
 * sections contain a dot themselves: "host.web1.address=..."; the key is
 * the part after the last dot before '='. */
wh_code wh_cfg_set(wh_cfg *c, const char *assignment, wh_err *err);

/* Apply one key by section and name, as a flag (its source is WH_SRC_FLAG). */
wh_code wh_cfg_set_kv(wh_cfg *c, const char *section, const char *key, const char *value, wh_err *err);

/* Check cross-field rules and derive tiers, families and prefetch. Call once
 * after all layers. */
wh_code wh_cfg_validate(wh_cfg *c, wh_err *err);

/* All layers at once: defaults, then `file` (NULL for none), then the
 * environment, then each "section.key=value" of `sets`, then validate. */
wh_code wh_cfg_load(wh_cfg *c, const char *file, const char *const *sets, int nsets, wh_err *err);

/* Print the effective configuration as INI, with URL passwords and tokens
 * masked, each key followed by where its value came from as an INI comment
 * ("; default", "; file PATH", "; env WHARF_..", "; flag", "; derived from
 * KEYS"): see wh_inv_print_key. */
void wh_cfg_print(const wh_cfg *c, FILE *out);

/* Copy `url` to `out` with any password replaced by "***". `url` may be a
 * list of URLs separated by commas or white space (amqp.url): every one is
 * masked. */
void wh_cfg_redact_url(const char *url, char *out, size_t cap);

/* Family name ("system") by id, and id by name (-1 if unknown; `n` bytes). */
const char *wh_family_name(wh_family f);
int wh_family_parse(const char *name, size_t n);

#endif
