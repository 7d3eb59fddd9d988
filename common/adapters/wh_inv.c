/* wh_inv: host and registry inventory. See wh_inv.h. */
#include "wh_inv.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef enum { F_STR, F_INT, F_BOOL } field_kind;

/* One key of an entry: where it lives and what it accepts. */
typedef struct {
    const char *key;
    field_kind kind;
    size_t off, size;
    int min, max;
    const char *def;
    const char *const *choices;
    bool secret;                 /* masked by wh_inv_print */
} field_def;

static const char *const host_key_modes[] = {"strict", "accept-new", NULL};
static const char *const providers[] = {"dockerhub", "ghcr", "gcr", "quay", "gitlab", "acr",
                                        "gitea", "forgejo", "ecr", "custom", NULL};
static const char *const auth_modes[] = {"basic", "bearer", NULL};

#define HF(f) offsetof(wh_inv_host, f), sizeof(((wh_inv_host *)0)->f)
#define RF(f) offsetof(wh_inv_registry, f), sizeof(((wh_inv_registry *)0)->f)

static const field_def host_fields[] = {
    {"address", F_STR, HF(address), 0, 0, "", NULL, false},
    {"port", F_INT, HF(port), 1, 65535, "22", NULL, false},
    {"user", F_STR, HF(user), 0, 0, "", NULL, false},
    {"key_file", F_STR, HF(key_file), 0, 0, "", NULL, false},
    {"passphrase_file", F_STR, HF(passphrase_file), 0, 0, "", NULL, false},
    {"password_file", F_STR, HF(password_file), 0, 0, "", NULL, false},
    {"agent", F_BOOL, HF(agent), 0, 1, "false", NULL, false},
    {"known_hosts", F_STR, HF(known_hosts), 0, 0, "", NULL, false},
    {"fingerprint", F_STR, HF(fingerprint), 0, 0, "", NULL, false},
    {"host_key", F_STR, HF(host_key), 0, 0, "strict", host_key_modes, false},
    {"connect_timeout_s", F_INT, HF(connect_timeout_s), 1, 600, "10", NULL, false},
    {"keepalive_s", F_INT, HF(keepalive_s), 0, 3600, "30", NULL, false},
    {"idle_s", F_INT, HF(idle_s), 1, 86400, "300", NULL, false},
    {"docker", F_STR, HF(docker), 0, 0, "", NULL, false},
    {"tls_ca", F_STR, HF(tls_ca), 0, 0, "", NULL, false},
    {"tls_cert", F_STR, HF(tls_cert), 0, 0, "", NULL, false},
    {"tls_key", F_STR, HF(tls_key), 0, 0, "", NULL, false},
    {"docker_cmd", F_STR, HF(docker_cmd), 0, 0, "docker", NULL, false},
    {"socket", F_STR, HF(docker_socket), 0, 0, "", NULL, false},
    {"roots", F_STR, HF(roots), 0, 0, "", NULL, false},
    {"lxc_path", F_STR, HF(lxc_path), 0, 0, "", NULL, false},
};

static const field_def registry_fields[] = {
    {"provider", F_STR, RF(provider), 0, 0, "custom", providers, false},
    {"url", F_STR, RF(url), 0, 0, "", NULL, false},
    {"username", F_STR, RF(username), 0, 0, "", NULL, false},
    {"password", F_STR, RF(password), 0, 0, "", NULL, true},
    {"password_file", F_STR, RF(password_file), 0, 0, "", NULL, false},
    {"token", F_STR, RF(token), 0, 0, "", NULL, true},
    {"token_file", F_STR, RF(token_file), 0, 0, "", NULL, false},
    {"auth", F_STR, RF(auth), 0, 0, "basic", auth_modes, false},
    {"insecure", F_BOOL, RF(insecure), 0, 1, "false", NULL, false},
    {"region", F_STR, RF(region), 0, 0, "", NULL, false},
    {"aws_access_key_id", F_STR, RF(aws_access_key_id), 0, 0, "", NULL, false},
    {"aws_secret_access_key", F_STR, RF(aws_secret_access_key), 0, 0, "", NULL, true},
    {"aws_secret_access_key_file", F_STR, RF(aws_secret_access_key_file), 0, 0, "", NULL, false},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The two entry kinds, described once so set/print share one code path. */
typedef struct {
    const char *prefix;          /* "host." */
    const field_def *fields;
    size_t nfields;
    size_t entry_size;
    size_t name_size;            /* name is the first member */
    size_t src_off;              /* offset of the entry's src[] (wh_src by key) */
    int max;
} kind_def;

_Static_assert(NELEM(host_fields) <= WH_INV_KEYS_MAX, "wh_inv_host.src has a slot per host key");
_Static_assert(NELEM(registry_fields) <= WH_INV_KEYS_MAX, "wh_inv_registry.src has a slot per registry key");

static const kind_def kinds[] = {
    {"host.", host_fields, NELEM(host_fields), sizeof(wh_inv_host), sizeof(((wh_inv_host *)0)->name),
     offsetof(wh_inv_host, src), WH_INV_MAX_HOSTS},
    {"registry.", registry_fields, NELEM(registry_fields), sizeof(wh_inv_registry),
     sizeof(((wh_inv_registry *)0)->name), offsetof(wh_inv_registry, src), WH_INV_MAX_REGISTRIES},
};

/* Record where key `key` of entry `e` (of kind `k`) came from. */
static void set_src(const kind_def *k, char *e, const char *key, wh_src src)
{
    for(size_t i = 0; i < k->nfields; i++)
        if(strcmp(k->fields[i].key, key) == 0)
            ((unsigned char *)e + k->src_off)[i] = (unsigned char)src;
}

wh_inv *wh_inv_new(void)
{
    return calloc(1, sizeof(wh_inv));
}

void wh_inv_free(wh_inv *inv)
{
    if(!inv)
        return;
    /* Secrets live in these arrays: wipe before returning the memory. */
    if(inv->registries)
        memset(inv->registries, 0, sizeof(wh_inv_registry) * (size_t)inv->nregistries);
    free(inv->hosts);
    free(inv->registries);
    free(inv);
}

static const kind_def *kind_of(const char *section)
{
    for(size_t i = 0; i < NELEM(kinds); i++)
        if(strncmp(section, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
            return &kinds[i];
    return NULL;
}

bool wh_inv_section(const char *section)
{
    return kind_of(section) != NULL;
}

static void **entries_of(wh_inv *inv, const kind_def *k, int **count)
{
    if(k == &kinds[0]) {
        *count = &inv->nhosts;
        return (void **)&inv->hosts;
    }
    *count = &inv->nregistries;
    return (void **)&inv->registries;
}

static bool name_valid(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if(n == 0 || n >= cap || !isalnum((unsigned char)s[0]))
        return false;
    for(size_t i = 0; i < n; i++)
        if(!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static wh_code apply(char *entry, const field_def *f, const char *what, const char *value, wh_err *err)
{
    char *field = entry + f->off;
    if(f->kind == F_STR) {
        if(strlen(value) >= f->size)
            return wh_err_set(err, WH_E_BAD_CONFIG, f->key, "%s: longer than %zu bytes", what, f->size - 1);
        bool ok = !f->choices;
        for(const char *const *c = f->choices; c && *c; c++)
            ok = ok || strcmp(*c, value) == 0;
        if(!ok)
            return wh_err_set(err, WH_E_BAD_CONFIG, f->key, "%s: not one of the allowed values", what);
        memcpy(field, value, strlen(value) + 1);
    } else if(f->kind == F_BOOL) {
        bool v;
        if(!strcasecmp(value, "true") || !strcmp(value, "1") || !strcasecmp(value, "yes"))
            v = true;
        else if(!strcasecmp(value, "false") || !strcmp(value, "0") || !strcasecmp(value, "no"))
            v = false;
        else
            return wh_err_set(err, WH_E_BAD_CONFIG, f->key, "%s: must be true or false", what);
        *(bool *)(void *)field = v;
    } else {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if(!*value || errno || *end || v < f->min || v > f->max)
            return wh_err_set(err, WH_E_BAD_CONFIG, f->key, "%s: must be an integer in %d..%d", what, f->min,
                              f->max);
        *(int *)(void *)field = (int)v;
    }
    return WH_OK;
}

/* The entry called `name`, created with defaults when new. */
static char *entry_for(wh_inv *inv, const kind_def *k, const char *name, wh_err *err)
{
    int *count;
    void **arr = entries_of(inv, k, &count);
    for(int i = 0; i < *count; i++) {
        char *e = (char *)*arr + (size_t)i * k->entry_size;
        if(strcmp(e, name) == 0)
            return e;
    }
    if(!name_valid(name, k->name_size)) {
        wh_err_set(err, WH_E_BAD_CONFIG, "", "%s%.64s: the name must be 1..%zu of A-Z a-z 0-9 . _ - starting "
                   "with a letter or digit", k->prefix, name, k->name_size - 1);
        return NULL;
    }
    if(*count >= k->max) {
        wh_err_set(err, WH_E_BAD_CONFIG, "", "%s: at most %d entries", k->prefix, k->max);
        return NULL;
    }
    char *grown = realloc(*arr, (size_t)(*count + 1) * k->entry_size);
    if(!grown) {
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    *arr = grown;
    char *e = grown + (size_t)(*count)++ * k->entry_size;
    memset(e, 0, k->entry_size);
    memcpy(e, name, strlen(name) + 1);
    for(size_t i = 0; i < k->nfields; i++)
        apply(e, &k->fields[i], "", k->fields[i].def, NULL);
    return e;
}

wh_code wh_inv_set(wh_inv *inv, const char *section, const char *key, const char *value, wh_src src,
                   wh_err *err)
{
    const kind_def *k = kind_of(section);
    if(!k)
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "%s: not an inventory section", section);
    const char *name = section + strlen(k->prefix);
    char *e = entry_for(inv, k, name, err);
    if(!e)
        return err ? err->code : WH_E_BAD_CONFIG;
    char what[WH_INV_NAME_MAX + 96];
    snprintf(what, sizeof(what), "%s.%s", section, key);
    for(size_t i = 0; i < k->nfields; i++) {
        if(strcmp(k->fields[i].key, key) != 0)
            continue;
        wh_code rc = apply(e, &k->fields[i], what, value, err);
        if(!rc)
            ((unsigned char *)e + k->src_off)[i] = (unsigned char)src;
        return rc;
    }
    return wh_err_set(err, WH_E_BAD_CONFIG, key, "%s: unknown inventory key", what);
}

/* Read a secret file whole into `out`, dropping every trailing newline and
 * carriage return (inner newlines stay: the whole file is the secret). */
static wh_code read_secret(const char *path, char *out, size_t cap, const char *what, wh_err *err)
{
    FILE *f = fopen(path, "r");
    if(!f)
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "%s: cannot open %s: %s", what, path, strerror(errno));
    size_t n = fread(out, 1, cap, f);
    bool more = n == cap;
    fclose(f);
    if(more) {
        memset(out, 0, cap);
        return wh_err_set(err, WH_E_BAD_CONFIG, "", "%s: %s is larger than %zu bytes", what, path, cap - 1);
    }
    out[n] = '\0';
    while(n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return WH_OK;
}

/* `socket` names the engine's unix socket on an ssh:// host: an absolute
 * path, and nothing else (no docker without ssh://). */
static wh_code check_socket(const wh_inv_host *h, wh_err *err)
{
    if(!h->docker_socket[0])
        return WH_OK;
    if(strncmp(h->docker, "ssh://", 6) != 0)
        return wh_err_set(err, WH_E_BAD_CONFIG, "socket", "host.%s.socket: only for docker = ssh:// endpoints",
                          h->name);
    if(h->docker_socket[0] != '/')
        return wh_err_set(err, WH_E_BAD_CONFIG, "socket", "host.%s.socket: must be an absolute path", h->name);
    return WH_OK;
}

static wh_code check_host(wh_inv_host *h, wh_err *err)
{
    h->accept_new = strcmp(h->host_key, "accept-new") == 0;
    h->docker_kind = WH_DOCKER_NONE;
    const char *d = h->docker;
    wh_code rc = check_socket(h, err);
    if(rc || !*d)
        return rc;
    if(strncmp(d, "unix://", 7) == 0) {
        if(d[7] != '/' || strlen(d + 7) >= sizeof(h->docker_path))
            return wh_err_set(err, WH_E_BAD_CONFIG, "docker", "host.%s.docker: unix:// needs an absolute path",
                              h->name);
        h->docker_kind = WH_DOCKER_UNIX;
        snprintf(h->docker_path, sizeof(h->docker_path), "%s", d + 7);
    } else if(strncmp(d, "tcp://", 6) == 0) {
        const char *hp = d + 6;
        const char *colon = strrchr(hp, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if(!colon || colon == hp || (size_t)(colon - hp) >= sizeof(h->docker_host) || *end || port < 1 ||
           port > 65535)
            return wh_err_set(err, WH_E_BAD_CONFIG, "docker", "host.%s.docker: expected tcp://HOST:PORT", h->name);
        if(!h->tls_ca[0] || !h->tls_cert[0] || !h->tls_key[0])
            return wh_err_set(err, WH_E_BAD_CONFIG, "docker",
                              "host.%s.docker: tcp:// needs tls_ca, tls_cert and tls_key", h->name);
        h->docker_kind = WH_DOCKER_TCP;
        snprintf(h->docker_host, sizeof(h->docker_host), "%.*s", (int)(colon - hp), hp);
        h->docker_port = (int)port;
    } else if(strncmp(d, "ssh://", 6) == 0) {
        /* ssh://[user@]host[:port] overrides the SSH settings; bare ssh://
         * uses them as they are. */
        const char *a = d + 6;
        const char *at = strchr(a, '@');
        if(at) {
            if((size_t)(at - a) >= sizeof(h->user))
                return wh_err_set(err, WH_E_BAD_CONFIG, "docker", "host.%s.docker: user too long", h->name);
            snprintf(h->user, sizeof(h->user), "%.*s", (int)(at - a), a);
            set_src(&kinds[0], (char *)h, "user", WH_SRC_DERIVED);
            a = at + 1;
        }
        if(*a) {
            const char *colon = strrchr(a, ':');
            size_t n = colon ? (size_t)(colon - a) : strlen(a);
            if(colon) {
                char *end;
                long port = strtol(colon + 1, &end, 10);
                if(*end || port < 1 || port > 65535)
                    return wh_err_set(err, WH_E_BAD_CONFIG, "docker", "host.%s.docker: bad ssh port", h->name);
                h->port = (int)port;
                set_src(&kinds[0], (char *)h, "port", WH_SRC_DERIVED);
            }
            if(n == 0 || n >= sizeof(h->address))
                return wh_err_set(err, WH_E_BAD_CONFIG, "docker", "host.%s.docker: bad ssh host", h->name);
            snprintf(h->address, sizeof(h->address), "%.*s", (int)n, a);
            set_src(&kinds[0], (char *)h, "address", WH_SRC_DERIVED);
        }
        if(!h->address[0])
            return wh_err_set(err, WH_E_BAD_CONFIG, "docker", "host.%s.docker: ssh:// needs an address", h->name);
        h->docker_kind = WH_DOCKER_SSH;
    } else {
        return wh_err_set(err, WH_E_BAD_CONFIG, "docker",
                          "host.%s.docker: expected unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]",
                          h->name);
    }
    return WH_OK;
}

/* Fill the secret `key` of `r` from the file `path` names (if any); the
 * key's source becomes derived. */
static wh_code secret_from_file(wh_inv_registry *r, const char *key, const char *path, char *out, size_t cap,
                                wh_err *err)
{
    if(!path[0])
        return WH_OK;
    char what[128];
    snprintf(what, sizeof(what), "registry.%s.%s_file", r->name, key);
    wh_code rc = read_secret(path, out, cap, what, err);
    if(!rc)
        set_src(&kinds[1], (char *)r, key, WH_SRC_DERIVED);
    return rc;
}

static wh_code check_registry(wh_inv_registry *r, wh_err *err)
{
    wh_code rc = secret_from_file(r, "password", r->password_file, r->password, sizeof(r->password), err);
    if(!rc)
        rc = secret_from_file(r, "token", r->token_file, r->token, sizeof(r->token), err);
    if(!rc)
        rc = secret_from_file(r, "aws_secret_access_key", r->aws_secret_access_key_file, r->aws_secret_access_key,
                              sizeof(r->aws_secret_access_key), err);
    if(!rc && r->url[0] && strncmp(r->url, "https://", 8) != 0 && strncmp(r->url, "http://", 7) != 0)
        rc = wh_err_set(err, WH_E_BAD_CONFIG, "url", "registry.%s.url: must start with https:// or http://",
                        r->name);
    /* Self-hosted or per-tenant providers have no public default URL. */
    if(!rc && !r->url[0] && (!strcmp(r->provider, "custom") || !strcmp(r->provider, "gitea") ||
                             !strcmp(r->provider, "forgejo") || !strcmp(r->provider, "gitlab") ||
                             !strcmp(r->provider, "acr")))
        rc = wh_err_set(err, WH_E_BAD_CONFIG, "url", "registry.%s.url: provider %s needs a url", r->name,
                        r->provider);
    return rc;
}

wh_code wh_inv_validate(wh_inv *inv, wh_err *err)
{
    if(!inv)
        return WH_OK;
    for(int i = 0; i < inv->nhosts; i++) {
        wh_code rc = check_host(&inv->hosts[i], err);
        if(rc)
            return rc;
    }
    for(int i = 0; i < inv->nregistries; i++) {
        wh_code rc = check_registry(&inv->registries[i], err);
        if(rc)
            return rc;
    }
    return WH_OK;
}

const wh_inv_host *wh_inv_host_find(const wh_inv *inv, const char *name)
{
    for(int i = 0; inv && name && i < inv->nhosts; i++)
        if(strcmp(inv->hosts[i].name, name) == 0)
            return &inv->hosts[i];
    return NULL;
}

const wh_inv_registry *wh_inv_registry_find(const wh_inv *inv, const char *name)
{
    for(int i = 0; inv && name && i < inv->nregistries; i++)
        if(strcmp(inv->registries[i].name, name) == 0)
            return &inv->registries[i];
    return NULL;
}

bool wh_inv_path_allowed(const wh_inv_host *h, const char *path)
{
    if(!h || !path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
        return false;
    size_t pn = strlen(path);
    if(pn >= 3 && strcmp(path + pn - 3, "/..") == 0)
        return false;
    const char *p = h->roots;
    while(*p) {
        size_t n = strcspn(p, ",");
        while(n > 1 && p[n - 1] == '/')
            n--;
        if(n && p[0] == '/' && pn >= n && memcmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1))
            return true;
        p += strcspn(p, ",");
        p += *p == ',';
    }
    return false;
}

void wh_inv_print_key(FILE *out, const char *key, const char *value, wh_src src, const char *detail)
{
    static const char *const names[] = {"default", "file", "env", "flag", "derived from"};
    /* The comment column: most "key = value" lines end before it; a longer
     * one gets two spaces. */
    int n = fprintf(out, "%s = %s", key, value);
    fprintf(out, "%*s; %s%s%s\n", n < 38 ? 40 - n : 2, "", (unsigned)src < NELEM(names) ? names[src] : "?",
            detail && *detail ? " " : "", detail ? detail : "");
}

static void print_entry(const kind_def *k, const char *e, const char *file, FILE *out)
{
    fprintf(out, "\n[%s%s]\n", k->prefix, e);
    const unsigned char *src = (const unsigned char *)e + k->src_off;
    for(size_t i = 0; i < k->nfields; i++) {
        const field_def *f = &k->fields[i];
        const char *field = e + f->off;
        char num[24], from[64];
        const char *v = field;
        if(f->kind == F_INT) {
            snprintf(num, sizeof(num), "%d", *(const int *)(const void *)field);
            v = num;
        } else if(f->kind == F_BOOL)
            v = *(const bool *)(const void *)field ? "true" : "false";
        else if(f->secret)
            v = field[0] ? "***" : "";
        /* derived: a secret read from its *_file, or the SSH part of docker = ssh://... */
        snprintf(from, sizeof(from), "%s%s", f->secret ? f->key : "docker", f->secret ? "_file" : "");
        wh_inv_print_key(out, f->key, v, (wh_src)src[i],
                         src[i] == WH_SRC_FILE ? file : src[i] == WH_SRC_DERIVED ? from : NULL);
    }
}

/* Public API origins of the providers that have one. */
static const struct {
    const char *provider, *origin;
} origins[] = {
    {"dockerhub", "https://registry-1.docker.io"}, {"ghcr", "https://ghcr.io"}, {"gcr", "https://gcr.io"},
    {"quay", "https://quay.io"},                   {"gitlab", "https://registry.gitlab.com"},
};

void wh_inv_registry_origin(const wh_inv_registry *reg, char *out, size_t cap)
{
    const char *u = reg->url;
    for(size_t i = 0; !*u && i < sizeof(origins) / sizeof(origins[0]); i++)
        if(strcmp(reg->provider, origins[i].provider) == 0)
            u = origins[i].origin;
    size_t n = strlen(u);
    while(n > 0 && u[n - 1] == '/')
        n--;
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), u);
}

bool wh_inv_url_authority(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    if(!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/?#");
    if(n == 0 || n >= cap || memchr(p, '@', n))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

const wh_inv_registry *wh_inv_registry_serving(const wh_inv *inv, const char *host)
{
    for(int i = 0; inv && i < inv->nregistries; i++) {
        const wh_inv_registry *r = &inv->registries[i];
        char origin[sizeof(r->url)], auth[300]; /* an origin is the url or a short public one */
        wh_inv_registry_origin(r, origin, sizeof(origin));
        if(wh_inv_url_authority(origin, auth, sizeof(auth)) && strcasecmp(auth, host) == 0)
            return r;
        if(strcmp(r->provider, "dockerhub") == 0 && strcmp(host, "docker.io") == 0)
            return r;
    }
    return NULL;
}

void wh_inv_print(const wh_inv *inv, const char *file, FILE *out)
{
    if(!inv)
        return;
    for(int i = 0; i < inv->nhosts; i++)
        print_entry(&kinds[0], (const char *)&inv->hosts[i], file, out);
    for(int i = 0; i < inv->nregistries; i++) /* secrets read from files are masked the same way */
        print_entry(&kinds[1], (const char *)&inv->registries[i], file, out);
}
