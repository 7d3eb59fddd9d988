/* engine_ssh: the ssh:// Docker endpoint, the way docker's own transport does
 * it: `<docker_cmd> system dial-stdio` on an SSH exec channel, with HTTP
 * spoken over the channel. Or, when the host's inventory entry names the
 * engine's `socket`, the way `podman --remote` and `ssh -L x:/sock` do it:
 * a direct-streamlocal channel to that unix socket on the host (no CLI
 * needed there; Docker and Podman alike). The socket path comes only from
 * the inventory, never from a job.
 *
 * wh_curl's connection hook (rt_ssh_open) takes a session from a
 * process-wide pool (sessions are reused across jobs), opens the channel,
 * and hands curl one end of a socketpair; a detached pump thread owns the
 * session and channel for the request's life and moves bytes between the
 * other end and the channel. When curl closes its end the pump closes the
 * channel and puts the session back. docker_cmd comes from the inventory,
 * never from a job. The same pump carries HTTP health probes to a port the
 * host publishes (a direct-tcpip channel, rt_ssh_open_tcp), and the pool
 * lends sessions for files on the host (volume backups over SFTP).
 *
 * Why dial-stdio channels are checked first: when the remote command cannot
 * reach the engine (the SSH user may not use the docker socket, docker_cmd
 * is not installed) it writes why on stderr and exits, and all curl sees is a
 * closed stream ("Empty reply from server"). So until the engine of a host
 * has answered over ssh:// in this process, and again after a channel to it
 * closed without an answer, the hook sends `HEAD /_ping` on the new channel
 * and waits for the answer's head before handing the channel to curl; when
 * the command exits instead, the request fails there, unreachable, with the
 * command's exit status and the first RT_SSH_STDERR_MAX bytes of its stderr.
 * Once a host's engine has answered, channels go to curl unchecked (no extra
 * round trip); a request whose channel then closes unanswered still fails
 * with curl's words, and the next channel to that host is checked again. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "wh_ssh.h"
#include "wh_time.h"

#define RT_SSH_CHUNK 65536   /* bytes moved per read; wh_ssh writes in <= 64 KiB */
#define RT_SSH_WAIT_MS 20    /* channel read wait per pump round */
#define RT_SSH_IDLE_PER_HOST 4
#define RT_SSH_STDERR_MAX 512  /* bytes of the command's stderr kept for the error */
#define RT_SSH_HEAD_MAX 4096   /* bytes of the check's answer head */
#define RT_SSH_CHECK_WAIT_MS 100 /* channel read wait per check round (abort polled between) */
#define RT_SSH_ANSWERED_MAX 256  /* hosts remembered as answering */

static wh_ssh_pool *g_pool;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void pool_init(void)
{
    g_pool = wh_ssh_pool_new(RT_SSH_IDLE_PER_HOST);
}

typedef struct pump {
    wh_ssh_conn *conn;
    wh_ssh_chan *ch;
    int fd;                  /* our end of the socketpair */
    const wh_inv_host *engine; /* dial-stdio channels: the host; NULL for direct-tcpip */
    uint64_t answered;       /* bytes the channel's stdout gave */
} pump;

/* Names of the hosts whose engine answered over ssh:// in this process (see
 * the top of this file). A host that does not fit is checked every time. */
static char g_answered[RT_SSH_ANSWERED_MAX][WH_INV_NAME_MAX + 1];
static int g_nanswered;
static pthread_mutex_t g_answered_lock = PTHREAD_MUTEX_INITIALIZER;

/* Index of `name` in g_answered, or -1; call with the lock held. */
static int answered_find(const char *name)
{
    for(int i = 0; i < g_nanswered; i++)
        if(strcmp(g_answered[i], name) == 0)
            return i;
    return -1;
}

static bool answered_get(const wh_inv_host *h)
{
    pthread_mutex_lock(&g_answered_lock);
    bool yes = answered_find(h->name) >= 0;
    pthread_mutex_unlock(&g_answered_lock);
    return yes;
}

/* Remember (yes) or forget that the engine of `h` answers. */
static void answered_set(const wh_inv_host *h, bool yes)
{
    pthread_mutex_lock(&g_answered_lock);
    int i = answered_find(h->name);
    if(yes && i < 0 && g_nanswered < RT_SSH_ANSWERED_MAX)
        snprintf(g_answered[g_nanswered++], sizeof(g_answered[0]), "%s", h->name);
    if(!yes && i >= 0)
        memcpy(g_answered[i], g_answered[--g_nanswered], sizeof(g_answered[0]));
    pthread_mutex_unlock(&g_answered_lock);
}

/* Write all of buf to fd; false on error. */
static bool write_all(int fd, const char *buf, size_t n)
{
    while(n > 0) {
        ssize_t w = write(fd, buf, n);
        if(w < 0 && errno == EINTR)
            continue;
        if(w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

/* One round: channel -> fd, then fd -> channel. Returns false when done. */
static bool pump_round(pump *p, char *buf, bool *chan_eof)
{
    size_t got = 0;
    bool eof = false;
    wh_err e;
    if(!*chan_eof) {
        if(wh_ssh_chan_read(p->ch, 1, buf, RT_SSH_CHUNK, RT_SSH_WAIT_MS, &got, &eof, &e) != WH_OK)
            return false;
        p->answered += got;
        if(got && !write_all(p->fd, buf, got))
            return false;
        size_t junk = 0;
        bool eof2 = false;
        wh_ssh_chan_read(p->ch, 2, buf, RT_SSH_CHUNK, 0, &junk, &eof2, &e); /* drop dial-stdio's stderr */
        if(eof) {
            *chan_eof = true;
            shutdown(p->fd, SHUT_WR);
        }
    }
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    int r = poll(&pf, 1, *chan_eof ? 100 : 0);
    if(r <= 0)
        return r == 0 || errno == EINTR;
    ssize_t n = read(p->fd, buf, RT_SSH_CHUNK);
    if(n <= 0)
        return false; /* curl closed its end: the request is over */
    return wh_ssh_chan_write(p->ch, buf, (size_t)n, &e) == WH_OK;
}

static void *pump_main(void *ud)
{
    pump *p = ud;
    char *buf = malloc(RT_SSH_CHUNK);
    bool chan_eof = false;
    while(buf && pump_round(p, buf, &chan_eof))
        ;
    /* No answer came (the command failed, or the request ended first):
     * check the next channel to this host first. */
    if(p->engine && !p->answered)
        answered_set(p->engine, false);
    free(buf);
    close(p->fd);
    wh_ssh_chan_close(p->ch);
    wh_ssh_pool_put(g_pool, p->conn);
    free(p);
    return NULL;
}

static wh_ssh_pool *pool(wh_err *err)
{
    pthread_once(&g_once, pool_init);
    if(!g_pool)
        wh_err_set(err, WH_E_NOMEM, "", "cannot create the SSH session pool");
    return g_pool;
}

/* What the check of a dial-stdio channel has read so far. */
typedef struct check {
    char head[RT_SSH_HEAD_MAX];          /* the answer, NUL-terminated */
    size_t hn;
    char msg[RT_SSH_STDERR_MAX + 1];     /* the first bytes of the command's stderr */
    size_t mn;
} check;

/* Keep what the command's stderr holds now, up to RT_SSH_STDERR_MAX bytes. */
static void check_stderr(wh_ssh_chan *ch, check *k)
{
    char buf[1024];
    size_t got;
    do {
        bool eof = false;
        wh_err e;
        got = 0;
        if(wh_ssh_chan_read(ch, 2, buf, sizeof(buf), 0, &got, &eof, &e) != WH_OK)
            return;
        size_t n = got < RT_SSH_STDERR_MAX - k->mn ? got : RT_SSH_STDERR_MAX - k->mn;
        memcpy(k->msg + k->mn, buf, n);
        k->mn += n;
    } while(got);
}

/* The command closed its stdout without answering: close the channel for
 * its exit status and fail with that and its stderr, on one line. */
static wh_code check_failed(pump *p, check *k, wh_err *err)
{
    check_stderr(p->ch, k);
    int status = wh_ssh_chan_close(p->ch);
    p->ch = NULL;
    for(size_t i = 0; i < k->mn; i++)
        if((unsigned char)k->msg[i] < 0x20 || k->msg[i] == 0x7f)
            k->msg[i] = ' ';
    while(k->mn && k->msg[k->mn - 1] == ' ')
        k->mn--;
    k->msg[k->mn] = '\0';
    char st[40] = "ended without an exit status";
    if(status >= 0)
        snprintf(st, sizeof(st), "exit status %d", status);
    return wh_err_set(err, WH_E_UNREACHABLE, "target", "docker_cmd %s: %s", st,
                      k->mn ? k->msg : "(nothing on stderr)");
}

/* Send HEAD /_ping on the new dial-stdio channel of `p` and read the answer's
 * head (any HTTP status: the engine answered). WH_OK and the host remembered
 * as answering; else unreachable with the command's own words (the channel
 * is then closed), interrupted when the job's abort hook says so. */
static wh_code check_engine(pump *p, const rt_conn *c, wh_err *err)
{
    static const char ping[] = "HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
    check *k = calloc(1, sizeof(*k));
    if(!k)
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    wh_code rc = wh_ssh_chan_write(p->ch, ping, sizeof(ping) - 1, err);
    int wait_s = p->engine->connect_timeout_s > 0 ? p->engine->connect_timeout_s : 10;
    int64_t deadline = wh_now_ms() + wait_s * 1000LL;
    while(!rc) {
        size_t got = 0;
        bool eof = false;
        rc = wh_ssh_chan_read(p->ch, 1, k->head + k->hn, sizeof(k->head) - 1 - k->hn, RT_SSH_CHECK_WAIT_MS, &got,
                              &eof, err);
        if(rc)
            break;
        k->hn += got;
        k->head[k->hn] = '\0';
        check_stderr(p->ch, k);
        if(k->hn >= 5 && strncmp(k->head, "HTTP/", 5) != 0)
            rc = wh_err_set(err, WH_E_UNREACHABLE, "target", "docker_cmd answered something other than HTTP");
        else if(strstr(k->head, "\r\n\r\n"))
            break;
        else if(eof)
            rc = check_failed(p, k, err);
        else if(k->hn == sizeof(k->head) - 1 || wh_now_ms() >= deadline)
            rc = wh_err_set(err, WH_E_UNREACHABLE, "target", "docker_cmd: no answer from the engine within %d s",
                            wait_s);
        else if(c->abort && c->abort(c->abort_ud))
            rc = wh_err_set(err, WH_E_INTERRUPTED, "", "interrupted");
    }
    free(k);
    if(!rc)
        answered_set(p->engine, true);
    return rc;
}

/* Give `p` a channel of a pooled session to `h`: when tcp_host is NULL, a
 * direct-streamlocal one to the host's `socket` if the inventory names
 * one, else `docker system dial-stdio` (checked first while the host's
 * engine is not known to answer); else a direct-tcpip one to
 * tcp_host:tcp_port. On failure the session is back in the pool. */
static wh_code open_channel(pump *p, const wh_inv_host *h, const rt_conn *c, const char *tcp_host, int tcp_port,
                            wh_err *err)
{
    wh_code rc = wh_ssh_pool_get(g_pool, h, &p->conn, err);
    if(rc)
        return rc;
    if(tcp_host) {
        rc = wh_ssh_chan_open_tcp(p->conn, tcp_host, tcp_port, &p->ch, err);
    } else if(h->docker_socket[0]) {
        /* socket mode: sshd connects to the engine's socket itself; a
         * socket it cannot reach fails the channel open, with sshd's words */
        rc = wh_ssh_chan_open_unix(p->conn, h->docker_socket, &p->ch, err);
    } else {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "%s system dial-stdio", h->docker_cmd[0] ? h->docker_cmd : "docker");
        p->engine = h;
        rc = wh_ssh_chan_open(p->conn, cmd, &p->ch, err);
        if(!rc && !answered_get(h))
            rc = check_engine(p, c, err);
    }
    if(rc) {
        wh_ssh_chan_close(p->ch);
        wh_ssh_pool_put(g_pool, p->conn);
    }
    return rc;
}

/* A socket whose other end a detached pump thread moves to a channel of a
 * pooled session to `h` (see open_channel; `c` is the engine connection of
 * a dial-stdio request, for its abort hook). */
static int open_pumped(const wh_inv_host *h, const rt_conn *c, const char *tcp_host, int tcp_port, wh_err *err)
{
    if(!pool(err))
        return -1;
    pump *p = calloc(1, sizeof(*p));
    int sv[2] = {-1, -1};
    if(!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(p);
        wh_err_set(err, WH_E_IO, "", "socketpair: %s", strerror(errno));
        return -1;
    }
    wh_code rc = open_channel(p, h, c, tcp_host, tcp_port, err);
    pthread_t th;
    pthread_attr_t at;
    p->fd = sv[1];
    if(!rc) {
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if(pthread_create(&th, &at, pump_main, p) != 0) {
            wh_ssh_chan_close(p->ch);
            wh_ssh_pool_put(g_pool, p->conn);
            rc = wh_err_set(err, WH_E_IO, "", "cannot start the SSH pump thread");
        }
        pthread_attr_destroy(&at);
    }
    if(rc) {
        close(sv[0]);
        close(sv[1]);
        free(p);
        return -1;
    }
    return sv[0];
}

int rt_ssh_open(void *ud, wh_err *err)
{
    const rt_conn *c = ud;
    return open_pumped(c->host, c, NULL, 0, err);
}

int rt_ssh_open_tcp(void *ud, wh_err *err)
{
    const rt_ssh_tcp *t = ud;
    return open_pumped(t->host, NULL, t->ip, t->port, err);
}

wh_code rt_ssh_session(const wh_inv_host *h, wh_ssh_conn **out, wh_err *err)
{
    if(!pool(err))
        return WH_E_NOMEM;
    return wh_ssh_pool_get(g_pool, h, out, err);
}

void rt_ssh_release(wh_ssh_conn *c)
{
    if(c && g_pool)
        wh_ssh_pool_put(g_pool, c);
}
