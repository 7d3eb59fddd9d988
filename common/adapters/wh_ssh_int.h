/* wh_ssh_int: what the files of the libssh adapter share (wh_ssh.c:
 * sessions, host keys, authentication, the pool, key checks;
 * wh_ssh_exec.c: exec and raw channels; wh_ssh_sftp.c: files;
 * wh_ssh_lib.c: loading libssh). Only these files include it, and with it
 * libssh's headers. Not a public API.
 *
 * libssh is not linked: it is loaded with dlopen the first time a session
 * is opened or a key checked (wh_ssh_load), so a worker that never uses
 * SSH never maps it. The adapter still calls libssh's functions by their
 * documented names: below, each name is defined to the slot of the loaded
 * table that holds it, typed from libssh's own prototype. A name used here
 * must be listed in WH_SSH_FUNCS (the build fails otherwise, since nothing
 * links libssh). Every other entry point works on a session, which exists
 * only once the library is loaded. */
#ifndef WH_SSH_INT_H
#define WH_SSH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "wh_ssh.h"

/* Every libssh function the adapter calls. */
#define WH_SSH_FUNCS(X)                                                                                 \
    X(sftp_attributes_free) X(sftp_chmod) X(sftp_chown) X(sftp_close) X(sftp_free) X(sftp_fstat)        \
    X(sftp_get_error) X(sftp_init) X(sftp_lstat) X(sftp_new) X(sftp_open) X(sftp_read) X(sftp_rename)   \
    X(sftp_stat) X(sftp_unlink) X(sftp_write) X(ssh_channel_close) X(ssh_channel_free)                  \
    X(ssh_channel_get_exit_status) X(ssh_channel_is_eof) X(ssh_channel_is_open) X(ssh_channel_new)      \
    X(ssh_channel_open_forward) X(ssh_channel_open_forward_unix) X(ssh_channel_open_session)            \
    X(ssh_channel_poll) X(ssh_channel_read_nonblocking) X(ssh_channel_read_timeout)                     \
    X(ssh_channel_request_exec) X(ssh_channel_request_send_signal) X(ssh_channel_send_eof)              \
    X(ssh_channel_write) X(ssh_clean_pubkey_hash) X(ssh_connect) X(ssh_disconnect) X(ssh_free)          \
    X(ssh_get_error) X(ssh_get_fingerprint_hash) X(ssh_get_publickey_hash) X(ssh_get_server_publickey)  \
    X(ssh_init) X(ssh_is_connected) X(ssh_key_free) X(ssh_key_is_private) X(ssh_key_type_from_name)     \
    X(ssh_new) X(ssh_options_set) X(ssh_pki_import_privkey_file) X(ssh_pki_import_pubkey_base64)        \
    X(ssh_send_ignore) X(ssh_session_is_known_server) X(ssh_session_update_known_hosts)                 \
    X(ssh_string_free_char) X(ssh_userauth_agent) X(ssh_userauth_password) X(ssh_userauth_publickey)

/* The loaded functions: written once by wh_ssh_load, before any session
 * exists, and only read after. */
typedef struct wh_ssh_fns {
#define WH_SSH_SLOT(name) __typeof__(name) *name;
    WH_SSH_FUNCS(WH_SSH_SLOT)
#undef WH_SSH_SLOT
} wh_ssh_fns;
extern wh_ssh_fns wh_ssh__fns;

/* wh_ssh_lib.c fills the table by name; every other file calls through it. */
#ifndef WH_SSH_LIB_SELF
#define sftp_attributes_free (wh_ssh__fns.sftp_attributes_free)
#define sftp_chmod (wh_ssh__fns.sftp_chmod)
#define sftp_chown (wh_ssh__fns.sftp_chown)
#define sftp_close (wh_ssh__fns.sftp_close)
#define sftp_free (wh_ssh__fns.sftp_free)
#define sftp_fstat (wh_ssh__fns.sftp_fstat)
#define sftp_get_error (wh_ssh__fns.sftp_get_error)
#define sftp_init (wh_ssh__fns.sftp_init)
#define sftp_lstat (wh_ssh__fns.sftp_lstat)
#define sftp_new (wh_ssh__fns.sftp_new)
#define sftp_open (wh_ssh__fns.sftp_open)
#define sftp_read (wh_ssh__fns.sftp_read)
#define sftp_rename (wh_ssh__fns.sftp_rename)
#define sftp_stat (wh_ssh__fns.sftp_stat)
#define sftp_unlink (wh_ssh__fns.sftp_unlink)
#define sftp_write (wh_ssh__fns.sftp_write)
#define ssh_channel_close (wh_ssh__fns.ssh_channel_close)
#define ssh_channel_free (wh_ssh__fns.ssh_channel_free)
#define ssh_channel_get_exit_status (wh_ssh__fns.ssh_channel_get_exit_status)
#define ssh_channel_is_eof (wh_ssh__fns.ssh_channel_is_eof)
#define ssh_channel_is_open (wh_ssh__fns.ssh_channel_is_open)
#define ssh_channel_new (wh_ssh__fns.ssh_channel_new)
#define ssh_channel_open_forward (wh_ssh__fns.ssh_channel_open_forward)
#define ssh_channel_open_forward_unix (wh_ssh__fns.ssh_channel_open_forward_unix)
#define ssh_channel_open_session (wh_ssh__fns.ssh_channel_open_session)
#define ssh_channel_poll (wh_ssh__fns.ssh_channel_poll)
#define ssh_channel_read_nonblocking (wh_ssh__fns.ssh_channel_read_nonblocking)
#define ssh_channel_read_timeout (wh_ssh__fns.ssh_channel_read_timeout)
#define ssh_channel_request_exec (wh_ssh__fns.ssh_channel_request_exec)
#define ssh_channel_request_send_signal (wh_ssh__fns.ssh_channel_request_send_signal)
#define ssh_channel_send_eof (wh_ssh__fns.ssh_channel_send_eof)
#define ssh_channel_write (wh_ssh__fns.ssh_channel_write)
#define ssh_clean_pubkey_hash (wh_ssh__fns.ssh_clean_pubkey_hash)
#define ssh_connect (wh_ssh__fns.ssh_connect)
#define ssh_disconnect (wh_ssh__fns.ssh_disconnect)
#define ssh_free (wh_ssh__fns.ssh_free)
#define ssh_get_error (wh_ssh__fns.ssh_get_error)
#define ssh_get_fingerprint_hash (wh_ssh__fns.ssh_get_fingerprint_hash)
#define ssh_get_publickey_hash (wh_ssh__fns.ssh_get_publickey_hash)
#define ssh_get_server_publickey (wh_ssh__fns.ssh_get_server_publickey)
#define ssh_init (wh_ssh__fns.ssh_init)
#define ssh_is_connected (wh_ssh__fns.ssh_is_connected)
#define ssh_key_free (wh_ssh__fns.ssh_key_free)
#define ssh_key_is_private (wh_ssh__fns.ssh_key_is_private)
#define ssh_key_type_from_name (wh_ssh__fns.ssh_key_type_from_name)
#define ssh_new (wh_ssh__fns.ssh_new)
#define ssh_options_set (wh_ssh__fns.ssh_options_set)
#define ssh_pki_import_privkey_file (wh_ssh__fns.ssh_pki_import_privkey_file)
#define ssh_pki_import_pubkey_base64 (wh_ssh__fns.ssh_pki_import_pubkey_base64)
#define ssh_send_ignore (wh_ssh__fns.ssh_send_ignore)
#define ssh_session_is_known_server (wh_ssh__fns.ssh_session_is_known_server)
#define ssh_session_update_known_hosts (wh_ssh__fns.ssh_session_update_known_hosts)
#define ssh_string_free_char (wh_ssh__fns.ssh_string_free_char)
#define ssh_userauth_agent (wh_ssh__fns.ssh_userauth_agent)
#define ssh_userauth_password (wh_ssh__fns.ssh_userauth_password)
#define ssh_userauth_publickey (wh_ssh__fns.ssh_userauth_publickey)
#endif

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
    bool joined;            /* the sweeper was stopped (wh_ssh_pools_stop) */
    pthread_t sweeper;
    long opened, reused;
    struct wh_ssh_pool *next_pool; /* every live pool, for wh_ssh_pools_stop */
};

/* wh_ssh_load, then ssh_init once: what a session or a key check needs. */
wh_code wh_ssh__ready(wh_err *err);

/* Mark `c` broken and fail with unreachable: "host.NAME: what: libssh's reason". */
wh_code wh_ssh__lost(wh_ssh_conn *c, wh_err *err, const char *what);

#endif
