/* wh_ssh_int: what the files of the libssh adapter share (wh_ssh.c:
 * sessions, host keys, authentication, the pool, key checks;
 * wh_ssh_exec.c: exec and raw channels; wh_ssh_sftp.c: files). Only these
 * three files include it, and with it libssh's headers. Not a public API. */
#ifndef WH_SSH_INT_H
#define WH_SSH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "wh_ssh.h"

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
    bool tcp;                   /* a direct-tcpip channel: it has no exit status */
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

/* Mark `c` broken and fail with unreachable: "host.NAME: what: libssh's reason". */
wh_code wh_ssh__lost(wh_ssh_conn *c, wh_err *err, const char *what);

#endif
