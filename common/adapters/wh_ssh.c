/* wh_ssh: libssh sessions (host keys, authentication), their pool and key
 * checks; exec and raw channels are in wh_ssh_exec.c, SFTP in wh_ssh_sftp.c.
 *
 * Design: every libssh call runs in blocking mode with short timeouts, so a
 * job thread can poll its abort callback about every 100 ms. The pool keeps
 * idle sessions on one list (the number of hosts per worker is small); the
 * sweeper takes a session off the list before touching it, so a session is
 * only ever used by one thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wh_crypto.h"
#include "wh_shq.h"
#include "wh_ssh_int.h"
#include "wh_text.h"
#include "wh_time.h"

static pthread_mutex_t known_hosts_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- secrets ---------------------------------------------------------- */

/* Read a small secret file into buf (NUL-terminated, trailing newline
 * trimmed). 0 on success. */
static int read_secret(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if(fd < 0)
        return -1;
    size_t n = 0;
    ssize_t r;
    while(n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    while(n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return 0;
}

static void wipe(char *buf, size_t n)
{
    volatile char *p = buf;
    while(n--)
        *p++ = 0;
}

/* ---- connect ------------------------------------------------------------ */

static bool fp_equal(const char *a, const char *b)
{
    size_t an = strlen(a), bn = strlen(b);
    while(an && a[an - 1] == '=')
        an--;
    while(bn && b[bn - 1] == '=')
        bn--;
    return an == bn && memcmp(a, b, an) == 0;
}

/* "SHA256:..." of the server's key into out; 0 on success. */
static int server_fp(ssh_session s, char *out, size_t cap)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    if(ssh_get_server_publickey(s, &key) != SSH_OK)
        return -1;
    int rc = ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen);
    ssh_key_free(key);
    if(rc != 0)
        return -1;
    char *fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    ssh_clean_pubkey_hash(&hash);
    if(!fp)
        return -1;
    snprintf(out, cap, "%s", fp);
    ssh_string_free_char(fp);
    return 0;
}

static wh_code verify_host(ssh_session s, const wh_inv_host *h, wh_err *err)
{
    char fp[128] = "?";
    server_fp(s, fp, sizeof(fp));
    if(h->fingerprint[0]) {
        if(fp_equal(fp, h->fingerprint))
            return WH_OK;
        return wh_err_set(err, WH_E_HOST_KEY, "target", "host.%s: host key %s does not match the pinned fingerprint",
                          h->name, fp);
    }
    if(!h->known_hosts[0])
        return wh_err_set(err, WH_E_HOST_KEY, "target", "host.%s: no known_hosts or fingerprint configured", h->name);
    enum ssh_known_hosts_e k = ssh_session_is_known_server(s);
    if(k == SSH_KNOWN_HOSTS_OK)
        return WH_OK;
    if(k == SSH_KNOWN_HOSTS_CHANGED || k == SSH_KNOWN_HOSTS_OTHER)
        return wh_err_set(err, WH_E_HOST_KEY, "target", "host.%s: host key %s CHANGED from the one in known_hosts",
                          h->name, fp);
    if((k == SSH_KNOWN_HOSTS_UNKNOWN || k == SSH_KNOWN_HOSTS_NOT_FOUND) && h->accept_new) {
        pthread_mutex_lock(&known_hosts_mu);
        int rc = ssh_session_update_known_hosts(s);
        pthread_mutex_unlock(&known_hosts_mu);
        if(rc == SSH_OK)
            return WH_OK;
        return wh_err_set(err, WH_E_IO, "target", "host.%s: cannot add the host key to known_hosts", h->name);
    }
    return wh_err_set(err, WH_E_HOST_KEY, "target", "host.%s: unknown host key %s (not in known_hosts)", h->name,
                      fp);
}

static bool auth_key(ssh_session s, const wh_inv_host *h)
{
    char pass[WH_INV_SECRET_MAX];
    pass[0] = '\0';
    if(h->passphrase_file[0] && read_secret(h->passphrase_file, pass, sizeof(pass)))
        return false;
    ssh_key key = NULL;
    int rc = ssh_pki_import_privkey_file(h->key_file, pass[0] ? pass : NULL, NULL, NULL, &key);
    wipe(pass, sizeof(pass));
    if(rc != SSH_OK)
        return false;
    rc = ssh_userauth_publickey(s, NULL, key);
    ssh_key_free(key);
    return rc == SSH_AUTH_SUCCESS;
}

static bool auth_password(ssh_session s, const wh_inv_host *h)
{
    char pw[WH_INV_SECRET_MAX];
    if(read_secret(h->password_file, pw, sizeof(pw)))
        return false;
    int rc = ssh_userauth_password(s, NULL, pw);
    wipe(pw, sizeof(pw));
    return rc == SSH_AUTH_SUCCESS;
}

static wh_code authenticate(ssh_session s, const wh_inv_host *h, wh_err *err)
{
    if(h->key_file[0] && auth_key(s, h))
        return WH_OK;
    if(h->agent && ssh_userauth_agent(s, NULL) == SSH_AUTH_SUCCESS)
        return WH_OK;
    if(h->password_file[0] && auth_password(s, h))
        return WH_OK;
    if(!ssh_is_connected(s))
        return wh_err_set(err, WH_E_UNREACHABLE, "target", "host.%s: connection lost during authentication", h->name);
    return wh_err_set(err, WH_E_AUTH_FAILED, "target", "host.%s: authentication refused for user \"%s\"", h->name,
                      h->user[0] ? h->user : "(default)");
}

static void set_options(ssh_session s, const wh_inv_host *h)
{
    int port = h->port > 0 ? h->port : 22;
    long timeout = h->connect_timeout_s > 0 ? h->connect_timeout_s : 10;
    bool no = false;
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(s, SSH_OPTIONS_HOST, h->address);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    if(h->user[0])
        ssh_options_set(s, SSH_OPTIONS_USER, h->user);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, h->known_hosts[0] ? h->known_hosts : "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    /* A channel open and its exec request are small writes in a row: with
     * Nagle on, the second waits for the ACK of the first, which the server
     * may delay (tests/bench/ssh_exec: about 50 ms per job without this,
     * 19 ms with it, in back-to-back runs). */
    int one = 1;
    ssh_options_set(s, SSH_OPTIONS_NODELAY, &one);
}

wh_code wh_ssh_connect(const wh_inv_host *h, wh_ssh_conn **out, wh_err *err)
{
    if(!h->address[0])
        return wh_err_set(err, WH_E_BAD_CONFIG, "target", "host.%s: no SSH address configured", h->name);
    wh_code loaded = wh_ssh__ready(err);
    if(loaded)
        return loaded;
    wh_ssh_conn *c = calloc(1, sizeof(*c));
    if(!c || !(c->s = ssh_new())) {
        free(c);
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    }
    c->host = h;
    c->idle_s = h->idle_s;
    c->keepalive_s = h->keepalive_s;
    set_options(c->s, h);
    wh_code rc = WH_OK;
    if(ssh_connect(c->s) != SSH_OK)
        rc = wh_err_set(err, WH_E_UNREACHABLE, "target", "host.%s: cannot connect to %s:%d: %s", h->name, h->address,
                        h->port > 0 ? h->port : 22, ssh_get_error(c->s));
    if(!rc)
        rc = verify_host(c->s, h, err);
    if(!rc)
        rc = authenticate(c->s, h, err);
    if(rc) {
        wh_ssh_conn_close(c);
        return rc;
    }
    c->keepalive_ms = wh_mono_ms();
    *out = c;
    return WH_OK;
}

void wh_ssh_conn_close(wh_ssh_conn *c)
{
    if(!c)
        return;
    if(c->sftp)
        sftp_free(c->sftp);
    if(c->s) {
        if(ssh_is_connected(c->s))
            ssh_disconnect(c->s);
        ssh_free(c->s);
    }
    free(c);
}

bool wh_ssh_conn_reused(const wh_ssh_conn *c)
{
    return c->reused;
}

wh_code wh_ssh__lost(wh_ssh_conn *c, wh_err *err, const char *what)
{
    c->broken = true;
    return wh_err_set(err, WH_E_UNREACHABLE, "target", "host.%s: %s: %s", c->host->name, what, ssh_get_error(c->s));
}

/* ---- pool --------------------------------------------------------------- */

static bool same_host(const wh_inv_host *a, const wh_inv_host *b)
{
    return a == b || strcmp(a->name, b->name) == 0;
}

/* Keepalives and idle expiry, once a second, outside the lock. */
static void sweep(wh_ssh_pool *p)
{
    int64_t now = wh_mono_ms();
    wh_ssh_conn *work = NULL, **pp = &p->idle;
    pthread_mutex_lock(&p->mu);
    while(*pp) {
        wh_ssh_conn *c = *pp;
        int idle_ms = (c->idle_s > 0 ? c->idle_s : 300) * 1000;
        int ka_ms = (c->keepalive_s > 0 ? c->keepalive_s : 30) * 1000;
        if(now - c->idle_since_ms >= idle_ms || now - c->keepalive_ms >= ka_ms) {
            *pp = c->next;
            c->next = work;
            work = c;
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&p->mu);
    while(work) {
        wh_ssh_conn *c = work;
        work = c->next;
        int idle_ms = (c->idle_s > 0 ? c->idle_s : 300) * 1000;
        if(now - c->idle_since_ms >= idle_ms || ssh_send_ignore(c->s, "keepalive") != SSH_OK ||
           !ssh_is_connected(c->s)) {
            wh_ssh_conn_close(c);
            continue;
        }
        c->keepalive_ms = now;
        pthread_mutex_lock(&p->mu);
        c->next = p->idle;
        p->idle = c;
        pthread_mutex_unlock(&p->mu);
    }
}

static void *sweeper_main(void *arg)
{
    wh_ssh_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while(!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if(p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        sweep(p);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static pthread_mutex_t g_pools_mu = PTHREAD_MUTEX_INITIALIZER;
static wh_ssh_pool *g_pools;

/* Stop p's sweeper and wait for it; once. */
static void sweeper_stop(wh_ssh_pool *p)
{
    pthread_mutex_lock(&p->mu);
    bool join = !p->joined;
    p->stop = p->joined = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if(join)
        pthread_join(p->sweeper, NULL);
}

void wh_ssh_pools_stop(void)
{
    pthread_mutex_lock(&g_pools_mu);
    for(wh_ssh_pool *p = g_pools; p; p = p->next_pool)
        sweeper_stop(p);
    pthread_mutex_unlock(&g_pools_mu);
}

wh_ssh_pool *wh_ssh_pool_new(int max_idle_per_host)
{
    wh_ssh_pool *p = calloc(1, sizeof(*p));
    if(!p)
        return NULL;
    p->max_idle = max_idle_per_host > 0 ? max_idle_per_host : 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if(pthread_create(&p->sweeper, NULL, sweeper_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    pthread_mutex_lock(&g_pools_mu);
    p->next_pool = g_pools;
    g_pools = p;
    pthread_mutex_unlock(&g_pools_mu);
    return p;
}

void wh_ssh_pool_free(wh_ssh_pool *p)
{
    if(!p)
        return;
    pthread_mutex_lock(&g_pools_mu);
    for(wh_ssh_pool **pp = &g_pools; *pp; pp = &(*pp)->next_pool)
        if(*pp == p) {
            *pp = p->next_pool;
            break;
        }
    pthread_mutex_unlock(&g_pools_mu);
    sweeper_stop(p);
    while(p->idle) {
        wh_ssh_conn *c = p->idle;
        p->idle = c->next;
        wh_ssh_conn_close(c);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

wh_code wh_ssh_pool_get(wh_ssh_pool *p, const wh_inv_host *h, wh_ssh_conn **out, wh_err *err)
{
    pthread_mutex_lock(&p->mu);
    for(wh_ssh_conn **pp = &p->idle; *pp; pp = &(*pp)->next) {
        wh_ssh_conn *c = *pp;
        if(same_host(c->host, h)) {
            *pp = c->next;
            c->next = NULL;
            p->reused++;
            pthread_mutex_unlock(&p->mu);
            if(!ssh_is_connected(c->s)) {
                wh_ssh_conn_close(c);
                return wh_ssh_pool_get(p, h, out, err);
            }
            c->host = h;
            c->idle_s = h->idle_s;
            c->keepalive_s = h->keepalive_s;
            c->reused = true;
            *out = c;
            return WH_OK;
        }
    }
    p->opened++;
    pthread_mutex_unlock(&p->mu);
    return wh_ssh_connect(h, out, err);
}

void wh_ssh_pool_put(wh_ssh_pool *p, wh_ssh_conn *c)
{
    if(!c)
        return;
    if(c->broken || !ssh_is_connected(c->s)) {
        wh_ssh_conn_close(c);
        return;
    }
    c->idle_since_ms = wh_mono_ms();
    pthread_mutex_lock(&p->mu);
    int n = 0;
    for(wh_ssh_conn *i = p->idle; i; i = i->next)
        n += same_host(i->host, c->host);
    if(n >= p->max_idle) {
        pthread_mutex_unlock(&p->mu);
        wh_ssh_conn_close(c);
        return;
    }
    c->next = p->idle;
    p->idle = c;
    pthread_mutex_unlock(&p->mu);
}

void wh_ssh_pool_counts(wh_ssh_pool *p, long *opened, long *reused)
{
    pthread_mutex_lock(&p->mu);
    *opened = p->opened;
    *reused = p->reused;
    pthread_mutex_unlock(&p->mu);
}

/* ---- keys ----------------------------------------------------------------------- */

wh_code wh_ssh_pubkey_check(const char *text, size_t n, const char *field, wh_err *err)
{
    size_t tn, bn;
    const char *b;
    wh_code shape = wh_text_pubkey_split(text, n, field, &tn, &b, &bn, err);
    if(shape)
        return shape;
    wh_code loaded = wh_ssh__ready(err);
    if(loaded)
        return loaded;
    char type[64];
    memcpy(type, text, tn);
    type[tn] = '\0';
    char *b64 = malloc(bn + 1);
    if(!b64)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    memcpy(b64, b, bn);
    b64[bn] = '\0';
    ssh_key key = NULL;
    enum ssh_keytypes_e kt = ssh_key_type_from_name(type);
    int rc = kt == SSH_KEYTYPE_UNKNOWN ? SSH_ERROR : ssh_pki_import_pubkey_base64(b64, kt, &key);
    free(b64);
    bool priv = rc == SSH_OK && ssh_key_is_private(key);
    ssh_key_free(key);
    if(rc != SSH_OK)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: not a public key libssh can read (type \"%s\")", field,
                          kt == SSH_KEYTYPE_UNKNOWN ? "unknown" : type);
    if(priv)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: this is a private key", field);
    return WH_OK;
}
