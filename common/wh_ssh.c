/* wh_ssh: libssh sessions, their pool, exec, raw channels and SFTP.
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

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "wh_crypto.h"
#include "wh_shq.h"
#include "wh_ssh.h"
#include "wh_time.h"

#define POLL_MS 100
#define CHUNK 32768

struct wh_ssh_conn {
    ssh_session s;
    sftp_session sftp;          /* opened on first file operation */
    const wh_inv_host *host;
    int idle_s, keepalive_s;    /* the host's, copied: the sweeper must not read
                                 * an inventory the worker may free at exit */
    int64_t idle_since_ms;      /* monotonic: when it was last put back */
    int64_t keepalive_ms;       /* monotonic: last keepalive sent */
    bool broken;
    bool reused;
    wh_ssh_conn *next;
};

struct wh_ssh_chan {
    ssh_channel ch;
    wh_ssh_conn *conn;
};

struct wh_ssh_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wh_ssh_conn *idle;
    int max_idle;
    bool stop;
    pthread_t sweeper;
    long opened, reused;
};

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
}

wh_code wh_ssh_connect(const wh_inv_host *h, wh_ssh_conn **out, wh_err *err)
{
    if(!h->address[0])
        return wh_err_set(err, WH_E_BAD_CONFIG, "target", "host.%s: no SSH address configured", h->name);
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

static wh_code lost(wh_ssh_conn *c, wh_err *err, const char *what)
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

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void lib_init(void)
{
    ssh_init();
}

wh_ssh_pool *wh_ssh_pool_new(int max_idle_per_host)
{
    pthread_once(&init_once, lib_init);
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
    return p;
}

void wh_ssh_pool_free(wh_ssh_pool *p)
{
    if(!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->sweeper, NULL);
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
    pthread_once(&init_once, lib_init);
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

/* ---- raw channel ---------------------------------------------------------- */

wh_code wh_ssh_chan_open(wh_ssh_conn *c, const char *command, wh_ssh_chan **out, wh_err *err)
{
    wh_ssh_chan *ch = calloc(1, sizeof(*ch));
    if(!ch)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    ch->conn = c;
    ch->ch = ssh_channel_new(c->s);
    if(!ch->ch || ssh_channel_open_session(ch->ch) != SSH_OK) {
        wh_ssh_chan_close(ch);
        return lost(c, err, "cannot open a channel");
    }
    if(ssh_channel_request_exec(ch->ch, command) != SSH_OK) {
        wh_code rc = ssh_is_connected(c->s) ? wh_err_set(err, WH_E_FAILED, "target", "host.%s: exec refused: %s",
                                                         c->host->name, ssh_get_error(c->s))
                                            : lost(c, err, "exec request");
        wh_ssh_chan_close(ch);
        return rc;
    }
    *out = ch;
    return WH_OK;
}

wh_code wh_ssh_chan_open_tcp(wh_ssh_conn *c, const char *host, int port, wh_ssh_chan **out, wh_err *err)
{
    wh_ssh_chan *ch = calloc(1, sizeof(*ch));
    if(!ch)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    ch->conn = c;
    ch->ch = ssh_channel_new(c->s);
    if(!ch->ch) {
        wh_ssh_chan_close(ch);
        return lost(c, err, "cannot open a channel");
    }
    if(ssh_channel_open_forward(ch->ch, host, port, "127.0.0.1", 0) != SSH_OK) {
        wh_code rc = ssh_is_connected(c->s)
                         ? wh_err_set(err, WH_E_UNREACHABLE, "port", "host.%s could not connect to %s:%d: %s",
                                      c->host->name, host, port, ssh_get_error(c->s))
                         : lost(c, err, "forward");
        wh_ssh_chan_close(ch);
        return rc;
    }
    *out = ch;
    return WH_OK;
}

wh_code wh_ssh_chan_read(wh_ssh_chan *ch, int fd, void *buf, size_t cap, int timeout_ms, size_t *got, bool *eof,
                         wh_err *err)
{
    int is_err = fd == 2;
    uint32_t n = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    int r = timeout_ms > 0 ? ssh_channel_read_timeout(ch->ch, buf, n, is_err, timeout_ms)
                           : ssh_channel_read_nonblocking(ch->ch, buf, n, is_err);
    *got = 0;
    *eof = false;
    if(r == SSH_ERROR)
        return lost(ch->conn, err, "channel read");
    if(r > 0)
        *got = (size_t)r;
    else if(ssh_channel_is_eof(ch->ch) && ssh_channel_poll(ch->ch, is_err) <= 0)
        *eof = true;
    return WH_OK;
}

wh_code wh_ssh_chan_write(wh_ssh_chan *ch, const void *buf, size_t len, wh_err *err)
{
    const char *p = buf;
    while(len) {
        uint32_t n = len > CHUNK ? CHUNK : (uint32_t)len;
        int w = ssh_channel_write(ch->ch, p, n);
        if(w == SSH_ERROR)
            return lost(ch->conn, err, "channel write");
        if(w == 0 || w == SSH_AGAIN)
            return wh_err_set(err, WH_E_TIMEOUT, "target", "host.%s: the remote side stopped reading",
                              ch->conn->host->name);
        p += w;
        len -= (size_t)w;
    }
    return WH_OK;
}

wh_code wh_ssh_chan_send_eof(wh_ssh_chan *ch, wh_err *err)
{
    if(ssh_channel_send_eof(ch->ch) != SSH_OK)
        return lost(ch->conn, err, "channel eof");
    return WH_OK;
}

int wh_ssh_chan_close(wh_ssh_chan *ch)
{
    if(!ch)
        return -1;
    int code = -1;
    if(ch->ch) {
        /* The status arrives with or just after EOF, often with the
         * remote's close, so ask for it before checking the open state. */
        if(ssh_channel_is_eof(ch->ch) && ssh_is_connected(ch->conn->s))
            code = ssh_channel_get_exit_status(ch->ch);
        if(ssh_channel_is_open(ch->ch) && ssh_is_connected(ch->conn->s)) {
            ssh_channel_send_eof(ch->ch);
            ssh_channel_close(ch->ch);
        }
        ssh_channel_free(ch->ch);
    }
    free(ch);
    return code;
}

/* ---- exec ------------------------------------------------------------------- */

/* Splits one output stream into lines of at most WH_SSH_LINE_MAX bytes.
 * The stderr splitter first takes the "wharf-pid:N" line that the exec
 * prefix writes (see wh_ssh_exec) and keeps N instead of passing it on. */
typedef struct splitter {
    int fd;
    char buf[WH_SSH_LINE_MAX];
    size_t len;
    bool skipping;  /* dropping the rest of a cut line */
    bool want_pid;  /* the next complete line is the pid line */
    long pid;       /* the remote process group, 0 until known */
} splitter;

#define PID_PREFIX "wharf-pid:"

static void split_line(splitter *sp, const wh_ssh_exec_opts *o)
{
    size_t pn = sizeof(PID_PREFIX) - 1;
    if(sp->want_pid) {
        sp->want_pid = false;
        if(sp->len > pn && sp->len < pn + 12 && memcmp(sp->buf, PID_PREFIX, pn) == 0) {
            sp->buf[sp->len] = '\0';
            sp->pid = strtol(sp->buf + pn, NULL, 10);
            return;
        }
    }
    if(o->line)
        o->line(o->ud, sp->fd, sp->buf, sp->len);
}

static void split_feed(splitter *sp, const wh_ssh_exec_opts *o, const char *p, size_t n)
{
    for(size_t i = 0; i < n; i++) {
        if(p[i] == '\n') {
            if(!sp->skipping)
                split_line(sp, o);
            sp->len = 0;
            sp->skipping = false;
        } else if(sp->skipping) {
            continue;
        } else if(sp->len == sizeof(sp->buf) - 1) {
            split_line(sp, o);
            sp->len = 0;
            sp->skipping = true;
        } else {
            sp->buf[sp->len++] = p[i];
        }
    }
}

static void split_end(splitter *sp, const wh_ssh_exec_opts *o)
{
    if(sp->len && !sp->skipping)
        split_line(sp, o);
    sp->len = 0;
}

/* Send `sig` to the remote process group `pid` from a second channel.
 * Needed because OpenSSH refuses "signal" channel requests in sessions
 * without post-auth privilege separation, which includes every root login
 * ("session signalling requires privilege separation"). sshd makes each
 * exec'd command a session and process group leader (setsid), so the group
 * is the command and everything it started. */
static void kill_group(wh_ssh_conn *c, long pid, const char *sig)
{
    if(pid <= 1)
        return;
    char line[96];
    snprintf(line, sizeof(line), "kill -%s -- -%ld 2>/dev/null", sig, pid);
    ssh_channel k = ssh_channel_new(c->s);
    if(k && ssh_channel_open_session(k) == SSH_OK && ssh_channel_request_exec(k, line) == SSH_OK) {
        char sink[256];
        while(ssh_channel_read_timeout(k, sink, sizeof(sink), 0, 2000) > 0)
            ;
        ssh_channel_close(k);
    }
    if(k)
        ssh_channel_free(k);
}

/* TERM (a signal request, and kill(1) on the group), half a second for it
 * to act, then KILL. */
static void stop_remote(wh_ssh_chan *ch, long pid)
{
    ssh_channel_request_send_signal(ch->ch, "TERM");
    kill_group(ch->conn, pid, "TERM");
    int64_t until = wh_mono_ms() + 500;
    char sink[4096];
    while(wh_mono_ms() < until && !ssh_channel_is_eof(ch->ch))
        if(ssh_channel_read_timeout(ch->ch, sink, sizeof(sink), 0, 50) == SSH_ERROR)
            return;
    if(!ssh_channel_is_eof(ch->ch)) {
        ssh_channel_request_send_signal(ch->ch, "KILL");
        kill_group(ch->conn, pid, "KILL");
    }
}

/* Read what is there on both streams; true when both reached EOF. */
static wh_code pump_once(wh_ssh_chan *ch, const wh_ssh_exec_opts *o, splitter sp[2], wh_ssh_exec_res *res,
                         bool *done, wh_err *err)
{
    char buf[CHUNK];
    size_t got;
    bool eof_out, eof_err;
    wh_code rc = wh_ssh_chan_read(ch, 1, buf, sizeof(buf), POLL_MS, &got, &eof_out, err);
    if(rc)
        return rc;
    split_feed(&sp[0], o, buf, got);
    res->out_bytes += got;
    do {
        rc = wh_ssh_chan_read(ch, 2, buf, sizeof(buf), 0, &got, &eof_err, err);
        if(rc)
            return rc;
        split_feed(&sp[1], o, buf, got);
        res->err_bytes += got;
    } while(got);
    *done = eof_out && eof_err;
    return WH_OK;
}

wh_code wh_ssh_exec(wh_ssh_conn *c, const wh_ssh_exec_opts *o, wh_ssh_exec_res *res, wh_err *err)
{
    memset(res, 0, sizeof(*res));
    res->exit_code = -1;
    if(o->stdin_len > WH_SSH_STDIN_MAX)
        return wh_err_set(err, WH_E_TOO_LARGE, "args.stdin", "args.stdin: over %u bytes", WH_SSH_STDIN_MAX);
    /* The prefix reports the shell's pid (= the command's, after exec, and
     * its process group) as the first stderr line, for stop_remote. */
    size_t n = strlen(o->command);
    char *line = malloc(n + 64);
    if(!line)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    snprintf(line, n + 64, "printf '" PID_PREFIX "%%s\\n' \"$$\" >&2; %s", o->command);
    wh_ssh_chan *ch = NULL;
    wh_code rc = wh_ssh_chan_open(c, line, &ch, err);
    free(line);
    if(rc)
        return rc;
    res->started = true;
    if(o->stdin_len)
        rc = wh_ssh_chan_write(ch, o->stdin_data, o->stdin_len, err);
    if(!rc)
        rc = wh_ssh_chan_send_eof(ch, err);
    splitter *sp = calloc(2, sizeof(*sp));
    if(!sp && !rc)
        rc = wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    if(sp) {
        sp[0].fd = 1;
        sp[1].fd = 2;
        sp[1].want_pid = true;
    }
    int64_t deadline = o->timeout_ms > 0 ? wh_mono_ms() + o->timeout_ms : INT64_MAX;
    bool done = false;
    while(!rc && !done) {
        if(o->abort && o->abort(o->ud)) {
            stop_remote(ch, sp ? sp[1].pid : 0);
            rc = wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
        } else if(wh_mono_ms() >= deadline) {
            stop_remote(ch, sp ? sp[1].pid : 0);
            rc = wh_err_set(err, WH_E_TIMEOUT, "args.timeout_s", "the command did not finish within %lld ms",
                            (long long)o->timeout_ms);
        } else {
            rc = pump_once(ch, o, sp, res, &done, err);
        }
    }
    if(sp) {
        split_end(&sp[0], o);
        split_end(&sp[1], o);
        free(sp);
    }
    int code = wh_ssh_chan_close(ch);
    if(!rc)
        res->exit_code = code;
    return rc;
}

/* ---- SFTP ------------------------------------------------------------------- */

static wh_code sftp_ready(wh_ssh_conn *c, wh_err *err)
{
    if(c->sftp)
        return WH_OK;
    c->sftp = sftp_new(c->s);
    if(!c->sftp)
        return lost(c, err, "sftp");
    if(sftp_init(c->sftp) != SSH_OK) {
        sftp_free(c->sftp);
        c->sftp = NULL;
        if(!ssh_is_connected(c->s))
            return lost(c, err, "sftp");
        return wh_err_set(err, WH_E_FAILED, "target", "host.%s: the server refused the sftp subsystem",
                          c->host->name);
    }
    return WH_OK;
}

/* Map the last SFTP error of `c` to a code and message naming `path`. */
static wh_code sftp_fail(wh_ssh_conn *c, const char *what, const char *path, wh_err *err)
{
    if(!ssh_is_connected(c->s))
        return lost(c, err, what);
    int e = sftp_get_error(c->sftp);
    if(e == SSH_FX_NO_SUCH_FILE || e == SSH_FX_NO_SUCH_PATH)
        return wh_err_set(err, WH_E_NOT_FOUND, "args.path", "%s %s: no such file or directory", what, path);
    if(e == SSH_FX_PERMISSION_DENIED)
        return wh_err_set(err, WH_E_FAILED, "args.path", "%s %s: permission denied", what, path);
    return wh_err_set(err, WH_E_FAILED, "args.path", "%s %s: sftp error %d: %s", what, path, e,
                      ssh_get_error(c->s));
}

static void temp_name(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    unsigned char rnd[6] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if(fd >= 0) {
        if(read(fd, rnd, sizeof(rnd)) < 0)
            rnd[0] = (unsigned char)getpid();
        close(fd);
    }
    snprintf(out, cap, "%.*s/.%.64s.wharf-%02x%02x%02x%02x%02x%02x", (int)dirlen, path, slash ? slash + 1 : path,
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
}

static wh_code write_all(wh_ssh_conn *c, sftp_file f, const wh_ssh_put *p, const char *tmp, wh_err *err)
{
    const char *data = p->data;
    for(size_t off = 0; off < p->len;) {
        if(p->abort && p->abort(p->ud))
            return wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
        size_t n = p->len - off > CHUNK ? CHUNK : p->len - off;
        ssize_t w = sftp_write(f, data + off, n);
        if(w <= 0)
            return sftp_fail(c, "write", tmp, err);
        off += (size_t)w;
    }
    return WH_OK;
}

/* SFTP v3 rename refuses an existing target and libssh 0.10 has no call
 * for posix-rename@openssh.com, so an existing regular file is replaced by
 * `mv -f` (rename(2): atomic) on an exec channel, quoted by wh_shq. */
static wh_code replace(wh_ssh_conn *c, const char *tmp, const char *path, wh_err *err)
{
    if(!ssh_is_connected(c->s))
        return lost(c, err, "rename");
    sftp_attributes a = sftp_lstat(c->sftp, path);
    if(!a)
        return sftp_fail(c, "rename to", path, err);
    bool regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
    sftp_attributes_free(a);
    if(!regular)
        return wh_err_set(err, WH_E_CONFLICT, "args.path", "%s exists and is not a regular file", path);
    wh_shq_str argv[] = {{"mv", 2}, {"-f", 2}, {"--", 2}, {tmp, strlen(tmp)}, {path, strlen(path)}};
    wh_shq_cmd cmd = {argv, 5, NULL, NULL, NULL, 0};
    char *line = NULL;
    wh_code rc = wh_shq_build(&cmd, &line, err);
    if(rc)
        return rc;
    wh_ssh_exec_opts o = {.command = line, .timeout_ms = 30000};
    wh_ssh_exec_res res;
    rc = wh_ssh_exec(c, &o, &res, err);
    free(line);
    if(!rc && res.exit_code != 0)
        rc = wh_err_set(err, WH_E_FAILED, "args.path", "replacing %s failed (mv exit %d)", path, res.exit_code);
    return rc;
}

wh_code wh_ssh_upload(wh_ssh_conn *c, const wh_ssh_put *p, char sha256_hex[WH_SSH_SHA256_HEX], wh_err *err)
{
    wh_code rc = sftp_ready(c, err);
    if(rc)
        return rc;
    char tmp[WH_INV_PATH_MAX + 96];
    temp_name(p->path, tmp, sizeof(tmp));
    sftp_file f = sftp_open(c->sftp, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if(!f)
        return sftp_fail(c, "create", tmp, err);
    rc = write_all(c, f, p, tmp, err);
    if(sftp_close(f) != SSH_OK && !rc)
        rc = sftp_fail(c, "close", tmp, err);
    if(!rc && sftp_chmod(c->sftp, tmp, (mode_t)(p->mode & 07777)) != SSH_OK)
        rc = sftp_fail(c, "chmod", tmp, err);
    if(!rc && (p->uid >= 0 || p->gid >= 0) && sftp_chown(c->sftp, tmp, (uid_t)p->uid, (gid_t)p->gid) != SSH_OK)
        rc = sftp_fail(c, "chown", tmp, err);
    if(!rc && sftp_rename(c->sftp, tmp, p->path) != SSH_OK)
        rc = replace(c, tmp, p->path, err);
    if(rc) {
        if(!c->broken)
            sftp_unlink(c->sftp, tmp);
        return rc;
    }
    wh_sha256_hex(p->data, p->len, sha256_hex);
    return WH_OK;
}

static wh_code read_all(wh_ssh_conn *c, sftp_file f, const char *path, size_t max, wh_ssh_abort_fn abort, void *ud,
                        unsigned char *buf, size_t *len, wh_err *err)
{
    size_t n = 0;
    for(;;) {
        if(abort && abort(ud))
            return wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
        size_t want = max + 1 - n > CHUNK ? CHUNK : max + 1 - n;
        ssize_t r = sftp_read(f, buf + n, want);
        if(r < 0)
            return sftp_fail(c, "read", path, err);
        if(r == 0)
            break;
        n += (size_t)r;
        if(n > max)
            return wh_err_set(err, WH_E_TOO_LARGE, "args.max_bytes", "%s grew past max_bytes (%zu) while read",
                              path, max);
    }
    *len = n;
    return WH_OK;
}

wh_code wh_ssh_download(wh_ssh_conn *c, const char *path, size_t max, wh_ssh_abort_fn abort, void *ud,
                        unsigned char **out, size_t *len, char sha256_hex[WH_SSH_SHA256_HEX], wh_err *err)
{
    wh_code rc = sftp_ready(c, err);
    if(rc)
        return rc;
    sftp_file f = sftp_open(c->sftp, path, O_RDONLY, 0);
    if(!f)
        return sftp_fail(c, "open", path, err);
    sftp_attributes a = sftp_fstat(f);
    if(a && a->type != SSH_FILEXFER_TYPE_REGULAR)
        rc = wh_err_set(err, WH_E_CONFLICT, "args.path", "%s is not a regular file", path);
    else if(a && a->size > max)
        rc = wh_err_set(err, WH_E_TOO_LARGE, "args.max_bytes", "%s has %llu bytes, over max_bytes (%zu)", path,
                        (unsigned long long)a->size, max);
    sftp_attributes_free(a);
    unsigned char *buf = rc ? NULL : malloc(max + 2);
    if(!rc && !buf)
        rc = wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    if(!rc)
        rc = read_all(c, f, path, max, abort, ud, buf, len, err);
    sftp_close(f);
    if(rc) {
        free(buf);
        return rc;
    }
    buf[*len] = '\0';
    wh_sha256_hex(buf, *len, sha256_hex);
    *out = buf;
    return WH_OK;
}

/* ---- streamed files (SFTP) ------------------------------------------------------ */

struct wh_ssh_file {
    wh_ssh_conn *c;
    sftp_file f;
    bool write;
    char path[WH_INV_PATH_MAX + 1];
    char tmp[WH_INV_PATH_MAX + 96];   /* the temp file written (write mode) */
};

wh_code wh_ssh_file_open(wh_ssh_conn *c, const char *path, bool write, wh_ssh_file **out, wh_err *err)
{
    if(strlen(path) > WH_INV_PATH_MAX || path[0] != '/')
        return wh_err_set(err, WH_E_BAD_ARGS, "args.path", "%s: must be an absolute path of at most %d bytes",
                          path, WH_INV_PATH_MAX);
    wh_code rc = sftp_ready(c, err);
    if(rc)
        return rc;
    wh_ssh_file *x = calloc(1, sizeof(*x));
    if(!x)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    x->c = c;
    x->write = write;
    snprintf(x->path, sizeof(x->path), "%s", path);
    if(write)
        temp_name(path, x->tmp, sizeof(x->tmp));
    x->f = sftp_open(c->sftp, write ? x->tmp : path, write ? O_WRONLY | O_CREAT | O_EXCL : O_RDONLY, 0600);
    if(!x->f) {
        rc = sftp_fail(c, write ? "create" : "open", write ? x->tmp : path, err);
        free(x);
        return rc;
    }
    sftp_attributes a = write ? NULL : sftp_fstat(x->f);
    if(a && a->type != SSH_FILEXFER_TYPE_REGULAR)
        rc = wh_err_set(err, WH_E_CONFLICT, "args.path", "%s is not a regular file", path);
    sftp_attributes_free(a);
    if(rc) {
        sftp_close(x->f);
        free(x);
        return rc;
    }
    *out = x;
    return WH_OK;
}

wh_code wh_ssh_file_write(wh_ssh_file *f, const void *buf, size_t len, wh_err *err)
{
    const char *p = buf;
    for(size_t off = 0; off < len;) {
        size_t n = len - off > CHUNK ? CHUNK : len - off;
        ssize_t w = sftp_write(f->f, p + off, n);
        if(w <= 0)
            return sftp_fail(f->c, "write", f->tmp, err);
        off += (size_t)w;
    }
    return WH_OK;
}

wh_code wh_ssh_file_read(wh_ssh_file *f, void *buf, size_t cap, size_t *got, wh_err *err)
{
    ssize_t r = sftp_read(f->f, buf, cap > CHUNK ? CHUNK : cap);
    if(r < 0)
        return sftp_fail(f->c, "read", f->path, err);
    *got = (size_t)r;
    return WH_OK;
}

wh_code wh_ssh_file_close(wh_ssh_file *f, bool commit, wh_err *err)
{
    if(!f)
        return WH_OK;
    wh_code rc = WH_OK;
    if(sftp_close(f->f) != SSH_OK && f->write && commit)
        rc = sftp_fail(f->c, "close", f->tmp, err);
    if(f->write && commit && !rc && sftp_rename(f->c->sftp, f->tmp, f->path) != SSH_OK)
        rc = replace(f->c, f->tmp, f->path, err);
    if(f->write && (rc || !commit) && !f->c->broken)
        sftp_unlink(f->c->sftp, f->tmp);
    free(f);
    return rc;
}

/* ---- keys ----------------------------------------------------------------------- */

wh_code wh_ssh_pubkey_check(const char *text, size_t n, const char *field, wh_err *err)
{
    if(n > 16384 || memchr(text, '\n', n) || memchr(text, '\0', n))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: must be one public key line", field);
    if(n >= 10 && memcmp(text, "-----BEGIN", 10) == 0)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: this is a PRIVATE key; give the public key", field);
    const char *sp = memchr(text, ' ', n);
    if(!sp)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: expected \"type base64 [comment]\"", field);
    char type[64];
    size_t tn = (size_t)(sp - text);
    if(tn == 0 || tn >= sizeof(type))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: bad key type", field);
    memcpy(type, text, tn);
    type[tn] = '\0';
    const char *b = sp + 1, *end = text + n;
    const char *bend = memchr(b, ' ', (size_t)(end - b));
    size_t bn = (size_t)((bend ? bend : end) - b);
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
