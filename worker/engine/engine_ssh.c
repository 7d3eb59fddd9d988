/* engine_ssh: the ssh:// Docker endpoint, the way docker's own transport does
 * it: `<docker_cmd> system dial-stdio` on an SSH exec channel, with HTTP
 * spoken over the channel.
 *
 * wh_curl's connection hook (rt_ssh_open) takes a session from a
 * process-wide pool (sessions are reused across jobs), opens the channel,
 * and hands curl one end of a socketpair; a detached pump thread owns the
 * session and channel for the request's life and moves bytes between the
 * other end and the channel. When curl closes its end the pump closes the
 * channel and puts the session back. docker_cmd comes from the inventory,
 * never from a job. The same pump carries HTTP health probes to a port the
 * host publishes (a direct-tcpip channel, rt_ssh_open_tcp), and the pool
 * lends sessions for files on the host (volume backups over SFTP). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "wh_ssh.h"

#define RT_SSH_CHUNK 65536   /* bytes moved per read; wh_ssh writes in <= 64 KiB */
#define RT_SSH_WAIT_MS 20    /* channel read wait per pump round */
#define RT_SSH_IDLE_PER_HOST 4

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
} pump;

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

/* A socket whose other end a detached pump thread moves to a channel of a
 * pooled session to `h`: `docker system dial-stdio` when tcp_host is NULL,
 * else a direct-tcpip channel from the host to tcp_host:tcp_port. */
static int open_pumped(const wh_inv_host *h, const char *tcp_host, int tcp_port, wh_err *err)
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
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "%s system dial-stdio", h->docker_cmd[0] ? h->docker_cmd : "docker");
    wh_code rc = wh_ssh_pool_get(g_pool, h, &p->conn, err);
    if(!rc) {
        rc = tcp_host ? wh_ssh_chan_open_tcp(p->conn, tcp_host, tcp_port, &p->ch, err)
                      : wh_ssh_chan_open(p->conn, cmd, &p->ch, err);
        if(rc)
            wh_ssh_pool_put(g_pool, p->conn);
    }
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
    return open_pumped(c->host, NULL, 0, err);
}

int rt_ssh_open_tcp(void *ud, wh_err *err)
{
    const rt_ssh_tcp *t = ud;
    return open_pumped(t->host, t->ip, t->port, err);
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
