/* wh_fdpump: hand a socket that is already connected to a server (for
 * example one end of a socketpair pumped to an SSH channel) to a client that
 * insists on connecting by itself.
 *
 * libcurl 7.88 (Debian 12) calls connect() even on a socket its open hook
 * marked CURL_SOCKOPT_ALREADY_CONNECTED (fixed upstream in 8.0), so wh_curl
 * lets curl connect to a private abstract unix listener and moves the bytes
 * between the accepted socket and the caller's fd, in the caller's own poll
 * loop (no thread). A connection from any process other than this one is
 * refused (SO_PEERCRED), since abstract sockets carry no file permissions.
 * Buffers are WH_FDPUMP_BUF bytes each way. */
#ifndef WH_FDPUMP_H
#define WH_FDPUMP_H

#include <poll.h>
#include <stddef.h>

#include "wh_err.h"

#define WH_FDPUMP_BUF (64u << 10) /* bytes buffered in each direction */
#define WH_FDPUMP_NAME_MAX 64

typedef struct wh_fdpump wh_fdpump;

/* Take ownership of `fd` (made non-blocking) and listen on a new abstract
 * unix socket whose name (without the leading NUL) is written to name[cap].
 * NULL with err set (WH_E_IO / WH_E_NOMEM) on failure; `fd` is then closed. */
wh_fdpump *wh_fdpump_new(int fd, char *name, size_t cap, wh_err *err);

/* Close every socket and free. NULL is a no-op. */
void wh_fdpump_free(wh_fdpump *p);

/* Accept the client if it has not come yet, then move whatever can move
 * without blocking, passing half-closes on. Returns 0, or -1 on an I/O
 * error of either side (the pump is then finished). */
int wh_fdpump_step(wh_fdpump *p);

/* Fill up to `max` pollfds with what the pump waits for; returns how many. */
int wh_fdpump_fds(const wh_fdpump *p, struct pollfd *out, int max);

#endif
