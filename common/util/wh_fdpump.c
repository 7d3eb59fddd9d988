/* wh_fdpump: see wh_fdpump.h. */
#include "wh_fdpump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* One direction: bytes read from `from` waiting to be written to `to`. */
typedef struct lane {
    char buf[WH_FDPUMP_BUF];
    size_t off, len;
    bool eof;      /* `from` said EOF */
    bool shut;     /* EOF passed on to `to` */
} lane;

struct wh_fdpump {
    int lfd;       /* listener, until the client came */
    int cfd;       /* accepted client side */
    int ufd;       /* the caller's upstream fd */
    lane up;       /* client -> upstream */
    lane down;     /* upstream -> client */
};

static atomic_uint g_seq;

static void close_fd(int *fd)
{
    if(*fd >= 0)
        close(*fd);
    *fd = -1;
}

wh_fdpump *wh_fdpump_new(int fd, char *name, size_t cap, wh_err *err)
{
    wh_fdpump *p = calloc(1, sizeof(*p));
    if(!p) {
        close(fd);
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    p->ufd = fd;
    p->cfd = -1;
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int fl = fcntl(fd, F_GETFL);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "wharf-curl-%ld-%u", (long)getpid(),
                     atomic_fetch_add(&g_seq, 1));
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if(p->lfd < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
       bind(p->lfd, (struct sockaddr *)&a, alen) < 0 || listen(p->lfd, 1) < 0 || (size_t)n >= cap) {
        int e = errno;
        wh_fdpump_free(p);
        wh_err_set(err, WH_E_IO, "", "cannot set up the connection bridge: %s", strerror(e));
        return NULL;
    }
    memcpy(name, a.sun_path + 1, (size_t)n + 1);
    return p;
}

void wh_fdpump_free(wh_fdpump *p)
{
    if(!p)
        return;
    close_fd(&p->lfd);
    close_fd(&p->cfd);
    close_fd(&p->ufd);
    free(p);
}

/* Accept one client from this very process; anything else is dropped. */
static void try_accept(wh_fdpump *p)
{
    for(;;) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if(fd < 0)
            return;
        struct ucred cr;
        socklen_t len = sizeof(cr);
        if(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.pid == getpid()) {
            p->cfd = fd;
            close_fd(&p->lfd);
            return;
        }
        close(fd);
    }
}

/* Move bytes along one lane. Returns 1 if anything moved, 0 if not, -1 on error. */
static int move(lane *l, int from, int to)
{
    int moved = 0;
    if(!l->eof && l->len == 0) {
        ssize_t r = read(from, l->buf, sizeof(l->buf));
        if(r > 0) {
            l->off = 0;
            l->len = (size_t)r;
            moved = 1;
        } else if(r == 0) {
            l->eof = true;
            moved = 1;
        } else if(errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
    }
    while(l->len > 0) {
        ssize_t w = write(to, l->buf + l->off, l->len);
        if(w < 0) {
            if(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            return -1;
        }
        l->off += (size_t)w;
        l->len -= (size_t)w;
        moved = 1;
    }
    if(l->eof && l->len == 0 && !l->shut) {
        shutdown(to, SHUT_WR);
        l->shut = true;
        moved = 1;
    }
    return moved;
}

int wh_fdpump_step(wh_fdpump *p)
{
    if(p->cfd < 0) {
        try_accept(p);
        if(p->cfd < 0)
            return 0;
    }
    for(int rounds = 0; rounds < 64; rounds++) {
        int a = move(&p->up, p->cfd, p->ufd);
        int b = move(&p->down, p->ufd, p->cfd);
        if(a < 0 || b < 0)
            return -1;
        if(!a && !b)
            break;
    }
    return 0;
}

int wh_fdpump_fds(const wh_fdpump *p, struct pollfd *out, int max)
{
    int n = 0;
    if(p->cfd < 0) {
        if(max > n)
            out[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        return n;
    }
    short ce = (short)((p->up.eof || p->up.len ? 0 : POLLIN) | (p->down.len ? POLLOUT : 0));
    short ue = (short)((p->down.eof || p->down.len ? 0 : POLLIN) | (p->up.len ? POLLOUT : 0));
    if(ce && max > n)
        out[n++] = (struct pollfd){.fd = p->cfd, .events = ce};
    if(ue && max > n)
        out[n++] = (struct pollfd){.fd = p->ufd, .events = ue};
    return n;
}
