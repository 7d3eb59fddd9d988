/* wh_inv: the worker's inventory of hosts and registries, the second half
 * of the configuration adapter (wh_cfg reads the file and hands the
 * [host.*] and [registry.*] sections here). It sits with the adapters
 * because the SSH and HTTP adapters take its entries to connect.
 *
 * A job's `target` is only ever a name looked up here; the address, port,
 * credentials and Docker endpoint come from the inventory, never from the
 * job, so a job cannot point a worker anywhere else. Entries are INI
 * sections in the worker's config file:
 *
 *   [host.web1]                        [registry.local]
 *   address = 127.0.0.11               provider = custom
 *   user = wharf                       url = http://127.0.0.1:5000
 *   key_file = /etc/wharf/id_ed25519   username = ci
 *   known_hosts = /etc/wharf/known     password_file = /run/secrets/reg
 *   docker = ssh://                    insecure = false
 *
 * and can also be given as `--set host.web1.address=...`. Secrets are only
 * ever named by file here (key_file, passphrase_file, password_file) or held
 * in fields that wh_inv_print masks; nothing in this module logs them.
 * Every key and its limits are listed in one table per entry kind
 * (wh_inv.c). */
#ifndef WH_INV_H
#define WH_INV_H

#include <stdbool.h>
#include <stdio.h>

#include "wh_err.h"

#define WH_INV_MAX_HOSTS 1024
#define WH_INV_MAX_REGISTRIES 256
#define WH_INV_NAME_MAX 253  /* same as an envelope target */
#define WH_INV_PATH_MAX 512
#define WH_INV_SECRET_MAX 4096
#define WH_INV_KEYS_MAX 24   /* keys of one entry kind (the tables in wh_inv.c) */

/* Where a configuration value came from, lowest precedence first: the layers
 * wh_cfg_load applies in this order. WH_SRC_DERIVED: filled in from other
 * keys when the configuration was validated (a secret read from its *_file,
 * the SSH user of docker = ssh://user@host). Printed by --check-config. */
typedef enum wh_src { WH_SRC_DEFAULT, WH_SRC_FILE, WH_SRC_ENV, WH_SRC_FLAG, WH_SRC_DERIVED } wh_src;

typedef enum wh_docker_kind {
    WH_DOCKER_NONE,  /* no engine on this host */
    WH_DOCKER_UNIX,  /* unix:///path/to/docker.sock */
    WH_DOCKER_TCP,   /* tcp://host:port, TLS with tls_ca/tls_cert/tls_key */
    WH_DOCKER_SSH    /* ssh:// : `docker system dial-stdio` over this host's SSH settings */
} wh_docker_kind;

typedef struct wh_inv_host {
    char name[WH_INV_NAME_MAX + 1];
    /* SSH */
    char address[256];             /* host name or IP; empty: no SSH */
    int port;                      /* default 22 */
    char user[64];
    char key_file[WH_INV_PATH_MAX];
    char passphrase_file[WH_INV_PATH_MAX];
    char password_file[WH_INV_PATH_MAX]; /* discouraged */
    bool agent;                    /* use $SSH_AUTH_SOCK */
    char known_hosts[WH_INV_PATH_MAX];
    char fingerprint[128];         /* pinned "SHA256:..." host key */
    char host_key[16];             /* "strict" (default) or "accept-new" */
    bool accept_new;               /* derived: host_key = accept-new */
    int connect_timeout_s;         /* default 10 */
    int keepalive_s;               /* default 30 */
    int idle_s;                    /* pooled session idle limit, default 300 */
    /* Docker Engine */
    char docker[1024];             /* endpoint as written */
    wh_docker_kind docker_kind;    /* derived */
    char docker_path[WH_INV_PATH_MAX]; /* UNIX: socket path */
    char docker_host[256];         /* TCP: host */
    int docker_port;               /* TCP: port */
    char tls_ca[WH_INV_PATH_MAX];
    char tls_cert[WH_INV_PATH_MAX];
    char tls_key[WH_INV_PATH_MAX];
    char docker_cmd[256];          /* SSH: remote docker binary, default "docker" */
    char docker_socket[WH_INV_PATH_MAX]; /* SSH: the engine's unix socket on the host, forwarded
                                          * instead of running docker_cmd; empty: dial-stdio */
    /* Scope */
    char roots[1024];              /* comma list of host paths that binds, backups and files may touch */
    char lxc_path[WH_INV_PATH_MAX];/* lxc -P; empty: the lxc default */
    unsigned char src[WH_INV_KEYS_MAX]; /* wh_src of each key, in the key table's order */
} wh_inv_host;

typedef struct wh_inv_registry {
    char name[64];
    char provider[16];             /* dockerhub ghcr gcr quay gitlab acr gitea forgejo ecr custom */
    char url[1024];                /* base URL; empty: the provider's public one */
    char username[256];
    char password[WH_INV_SECRET_MAX]; /* secret: from `password` or read from password_file */
    char password_file[WH_INV_PATH_MAX];
    char token[WH_INV_SECRET_MAX];    /* secret: bearer token, from `token` or token_file */
    char token_file[WH_INV_PATH_MAX];
    char auth[16];                 /* custom: "basic" or "bearer" */
    bool insecure;                 /* allow plain http off loopback */
    char region[32];               /* ecr */
    char aws_access_key_id[128];   /* ecr */
    char aws_secret_access_key[WH_INV_SECRET_MAX]; /* ecr, secret */
    char aws_secret_access_key_file[WH_INV_PATH_MAX];
    unsigned char src[WH_INV_KEYS_MAX]; /* wh_src of each key, in the key table's order */
} wh_inv_registry;

typedef struct wh_inv {
    wh_inv_host *hosts;
    int nhosts;
    wh_inv_registry *registries;
    int nregistries;
} wh_inv;

/* An empty inventory. Free with wh_inv_free (NULL is a no-op). */
wh_inv *wh_inv_new(void);
void wh_inv_free(wh_inv *inv);

/* True when `section` belongs to the inventory ("host.NAME" or
 * "registry.NAME"). */
bool wh_inv_section(const char *section);

/* Apply one key of an inventory section, creating the entry on first use,
 * and remember `src` as where it came from. Errors name "host.NAME.key" and
 * the reason, never the value. */
wh_code wh_inv_set(wh_inv *inv, const char *section, const char *key, const char *value, wh_src src,
                   wh_err *err);

/* Derive and check every entry: endpoints parse, files named for TLS exist
 * as a set, `*_file` secrets are read (whole, with trailing newlines and carriage returns trimmed). */
wh_code wh_inv_validate(wh_inv *inv, wh_err *err);

/* Entry by name; NULL when there is none. */
const wh_inv_host *wh_inv_host_find(const wh_inv *inv, const char *name);
const wh_inv_registry *wh_inv_registry_find(const wh_inv *inv, const char *name);

/* True when `path` (absolute, already free of "..") lies inside one of the
 * host's roots. A host without roots allows nothing. */
bool wh_inv_path_allowed(const wh_inv_host *h, const char *path);

/* The API origin of a registry entry: its url, or the provider's public
 * one ("https://registry-1.docker.io" for dockerhub), without trailing
 * slashes. Empty when the provider has none and the entry gives no url. */
void wh_inv_registry_origin(const wh_inv_registry *reg, char *out, size_t cap);

/* The entry serving image host `host` ("docker.io", "127.0.0.1:5000"): the
 * one whose origin has that host[:port] (a dockerhub entry also serves
 * "docker.io"). NULL when none does (or inv is NULL). */
const wh_inv_registry *wh_inv_registry_serving(const wh_inv *inv, const char *host);

/* host[:port] of an http(s) URL into out[cap]; false when the text is not
 * "scheme://authority...", the authority is empty, too long or names a user. */
bool wh_inv_url_authority(const char *url, char *out, size_t cap);

/* Print every entry as INI with secrets masked, each key with its source
 * (wh_inv_print_key); `file` is the configuration file, NULL for none. */
void wh_inv_print(const wh_inv *inv, const char *file, FILE *out);

/* Print one "key = value" line of --check-config with where the value came
 * from as an INI comment in a column of its own, so the output still loads
 * as INI: "; default", "; file PATH", "; env NAME", "; flag" or
 * "; derived from WHAT". `detail` is PATH, NAME or WHAT (NULL for none). */
void wh_inv_print_key(FILE *out, const char *key, const char *value, wh_src src, const char *detail);

#endif
