/* wh_ssh: the SSH adapter (libssh 0.10). No other file includes <libssh/...>.
 *
 * Sessions are opened from an inventory host (wh_inv.h) and kept in a pool,
 * one per worker, shared by its job threads:
 *
 *   wh_ssh_pool *p = wh_ssh_pool_new(8);            // at most 8 idle per host
 *   wh_ssh_conn *c;
 *   if(wh_ssh_pool_get(p, host, &c, &err)) ...      // reuse or connect
 *   wh_ssh_exec(c, &opts, &res, &err);              // or chan / upload / download
 *   wh_ssh_pool_put(p, c);                          // back to the pool (or closed)
 *
 * Connecting checks the host key before any credential is sent: a pinned
 * `fingerprint` ("SHA256:..."), else the `known_hosts` file (never the
 * user's ~/.ssh, never ~/.ssh/config). Unknown or changed keys are
 * WH_E_HOST_KEY (permanent); with host_key = accept-new an unknown key (not a
 * changed one) is appended to known_hosts. Authentication tries, in order,
 * key_file (+ passphrase_file), the agent, password_file; refusal is
 * WH_E_AUTH_FAILED (permanent). A connection that cannot be made or is lost
 * is WH_E_UNREACHABLE (transient). Secrets read from files are wiped after
 * use and never appear in messages.
 *
 * Threads: a wh_ssh_conn belongs to the thread that got it until it is put
 * back; libssh sessions are not shared between threads. The pool itself
 * (get/put) is thread-safe. A sweeper thread owned by the pool sends a
 * keepalive on idle sessions every `keepalive_s` and closes those idle for
 * longer than `idle_s`. A session that failed (I/O error, lost connection)
 * is marked broken and closed when it is put back.
 *
 * libssh is loaded when the first session is opened or key checked (or by
 * wh_ssh_load), not when the process starts: a worker that uses no SSH
 * never maps it. When it cannot be loaded, those calls fail with WH_E_IO,
 * field "library", and a message naming the library. */
#ifndef WH_SSH_H
#define WH_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"
#include "wh_inv.h"

#define WH_SSH_LINE_MAX 8192            /* bytes of one output line passed on; longer lines are cut */
#define WH_SSH_STDIN_MAX (1u << 20)     /* bytes of stdin data for one exec */
#define WH_SSH_SHA256_HEX 65

typedef struct wh_ssh_pool wh_ssh_pool;
typedef struct wh_ssh_conn wh_ssh_conn;
typedef struct wh_ssh_chan wh_ssh_chan;

/* Polled about every 100 ms during long operations; return true to stop. */
typedef bool (*wh_ssh_abort_fn)(void *ud);

/* Load libssh and resolve the functions the adapter calls, once per
 * process (thread-safe; a failure is tried again on the next call). WH_OK
 * when it is loaded; WH_E_IO, field "library", with a message naming the
 * library when it cannot be loaded or lacks one of those functions. A
 * worker calls it at start to fail early. ssh_init waits for the first
 * session or key check, which fail the same way when the library cannot
 * be loaded. */
wh_code wh_ssh_load(wh_err *err);

/* The library wh_ssh_load opens (libssh's SONAME, from the build).
 * Replaced by tests to simulate a missing library. */
extern const char *wh_ssh_soname;

/* A pool keeping at most `max_idle_per_host` idle sessions per host, with
 * its sweeper thread. NULL on failure. Free with wh_ssh_pool_free (NULL ok),
 * only after every session got from it was put back. */
wh_ssh_pool *wh_ssh_pool_new(int max_idle_per_host);
void wh_ssh_pool_free(wh_ssh_pool *p);

/* Stop the sweeper thread of every pool, for a process about to exit: the
 * pools that live as long as the process (the engine's and the provision
 * family's) are never freed, and a sweeper that closed a session while
 * exit() tears down libssh and its crypto library would crash. The pools
 * keep working without their sweeper (idle sessions are then not aged). */
void wh_ssh_pools_stop(void);

/* An idle session to `h` from the pool, or a new one (connect, host key,
 * auth: see above). On WH_OK *out is owned by the caller until
 * wh_ssh_pool_put. `h` must outlive the session (inventory entries do). */
wh_code wh_ssh_pool_get(wh_ssh_pool *p, const wh_inv_host *h, wh_ssh_conn **out, wh_err *err);

/* Give `c` back: kept idle for reuse, or closed when broken, or when the
 * host already has enough idle ones. NULL is a no-op. */
void wh_ssh_pool_put(wh_ssh_pool *p, wh_ssh_conn *c);

/* Close `c` without pooling it (for callers without a pool). NULL ok. */
void wh_ssh_conn_close(wh_ssh_conn *c);

/* Open a session to `h` outside any pool (what wh_ssh_pool_get does on a miss). */
wh_code wh_ssh_connect(const wh_inv_host *h, wh_ssh_conn **out, wh_err *err);

/* True when `c` came from the pool's idle list rather than a fresh connect. */
bool wh_ssh_conn_reused(const wh_ssh_conn *c);

/* Sessions opened and reused by the pool since it was made (for tests and
 * benchmarks). */
void wh_ssh_pool_counts(wh_ssh_pool *p, long *opened, long *reused);

/* ---- exec ---------------------------------------------------------- */

/* Called for each complete output line (without its newline; a last line
 * without newline is passed at the end). `fd` is 1 (stdout) or 2 (stderr).
 * Lines longer than WH_SSH_LINE_MAX are cut to it and the rest dropped. */
typedef void (*wh_ssh_line_fn)(void *ud, int fd, const char *line, size_t len);

typedef struct wh_ssh_exec_opts {
    const char *command;        /* the remote shell line: build it with wh_shq_build */
    const void *stdin_data;     /* sent then EOF; NULL: EOF at once */
    size_t stdin_len;           /* <= WH_SSH_STDIN_MAX */
    int64_t timeout_ms;         /* 0: no limit of its own */
    wh_ssh_abort_fn abort;      /* NULL: never */
    wh_ssh_line_fn line;        /* NULL: output discarded */
    void *ud;                   /* for abort and line */
} wh_ssh_exec_opts;

typedef struct wh_ssh_exec_res {
    int exit_code;              /* the remote exit status; -1 if killed by a signal or unknown */
    uint64_t out_bytes, err_bytes;
    bool started;               /* the exec request was sent: the command may have run */
} wh_ssh_exec_res;

/* Run `o->command` on a new channel of `c`, streaming output lines to
 * `o->line` while it runs. WH_OK when the command finished, whatever its
 * exit code (in res). WH_E_TIMEOUT when `timeout_ms` passed and
 * WH_E_INTERRUPTED when `abort` said so: the remote process is then sent
 * SIGTERM, then SIGKILL half a second later, and the channel closed.
 * WH_E_UNREACHABLE when the connection failed (the session is then broken;
 * res->started says whether the command may have run). */
wh_code wh_ssh_exec(wh_ssh_conn *c, const wh_ssh_exec_opts *o, wh_ssh_exec_res *res, wh_err *err);

/* ---- raw channel ---------------------------------------------------
 *
 * A bidirectional byte stream to a remote command, e.g.
 * `docker system dial-stdio`: whatever is written goes to its stdin, its
 * stdout (and separately its stderr) is read back. Contract:
 *  - The channel lives on its session: one thread at a time uses both
 *    (a pump thread that owns the conn for the channel's whole life is the
 *    intended use); close the channel before putting the conn back.
 *  - wh_ssh_chan_read waits at most `timeout_ms` (0: only what is already
 *    buffered) and returns WH_OK with *got = 0 when nothing came in time.
 *    *eof becomes true once the remote closed its side and all buffered
 *    data of that stream was read. Reading one stream also receives (and
 *    buffers) data for the other.
 *  - wh_ssh_chan_write sends all `len` bytes or fails; it blocks while the
 *    remote's window is full, up to the host's connect_timeout_s, then
 *    fails WH_E_TIMEOUT. Write in pieces of <= 64 KiB to keep reads timely.
 *  - wh_ssh_chan_send_eof half-closes (the remote sees EOF on stdin).
 *  - Any I/O error is WH_E_UNREACHABLE and breaks the session.
 *  - wh_ssh_chan_close sends EOF and close, frees the channel and returns
 *    the remote exit status if it was received (else -1). It does not wait
 *    on the remote beyond that: the session is free for the next channel at
 *    once. NULL gives -1. */
wh_code wh_ssh_chan_open(wh_ssh_conn *c, const char *command, wh_ssh_chan **out, wh_err *err);
/* The same channel contract for a TCP connection made *from the host* to
 * `host`:`port` (an SSH direct-tcpip channel; the server must allow TCP
 * forwarding). WH_E_UNREACHABLE when the host could not connect there
 * (the session stays usable: only the channel failed). Read with fd 1;
 * wh_ssh_chan_close returns -1. */
wh_code wh_ssh_chan_open_tcp(wh_ssh_conn *c, const char *host, int port, wh_ssh_chan **out, wh_err *err);
/* The same for a connection made from the host to its unix socket `path`
 * (a direct-streamlocal@openssh.com channel, as `ssh -L x:/path` opens; the
 * server must allow stream-local forwarding). WH_E_UNREACHABLE, field
 * "socket", when the host could not connect there (the session stays
 * usable). Read with fd 1; wh_ssh_chan_close returns -1. */
wh_code wh_ssh_chan_open_unix(wh_ssh_conn *c, const char *path, wh_ssh_chan **out, wh_err *err);
wh_code wh_ssh_chan_read(wh_ssh_chan *ch, int fd, void *buf, size_t cap, int timeout_ms, size_t *got, bool *eof,
                         wh_err *err);
wh_code wh_ssh_chan_write(wh_ssh_chan *ch, const void *buf, size_t len, wh_err *err);
wh_code wh_ssh_chan_send_eof(wh_ssh_chan *ch, wh_err *err);
int wh_ssh_chan_close(wh_ssh_chan *ch);

/* ---- files (SFTP) ----------------------------------------------------- */

typedef struct wh_ssh_put {
    const char *path;           /* absolute remote path */
    const void *data;
    size_t len;
    int mode;                   /* permission bits, e.g. 0644 */
    long uid, gid;              /* numeric owner; -1 leaves it as created */
    wh_ssh_abort_fn abort;
    void *ud;
} wh_ssh_put;

/* Write the file atomically: a temp file `.<name>.wharf-<random>` in the
 * same directory is written, chmod'ed, chown'ed, then renamed over `path`
 * (posix-rename@openssh.com when offered). On failure the temp file is
 * removed and `path` is untouched. sha256_hex gets the digest of the bytes
 * sent. Errors: WH_E_NOT_FOUND (no such directory), WH_E_FAILED (refused by
 * the server, with its reason), WH_E_INTERRUPTED, WH_E_UNREACHABLE. */
wh_code wh_ssh_upload(wh_ssh_conn *c, const wh_ssh_put *p, char sha256_hex[WH_SSH_SHA256_HEX], wh_err *err);

/* Read a remote file of at most `max` bytes (WH_E_TOO_LARGE beyond, checked
 * on its size before reading and again while reading). On WH_OK *out is
 * malloc'd (caller frees, NUL-terminated for convenience) with *len bytes. */
wh_code wh_ssh_download(wh_ssh_conn *c, const char *path, size_t max, wh_ssh_abort_fn abort, void *ud,
                        unsigned char **out, size_t *len, char sha256_hex[WH_SSH_SHA256_HEX], wh_err *err);

/* Whether `path` on the host is a directory (symlinks followed), over
 * SFTP: WH_OK with *is_dir false when it does not exist or is something
 * else; WH_E_FAILED (refused), WH_E_UNREACHABLE (the session is lost). */
wh_code wh_ssh_is_dir(wh_ssh_conn *c, const char *path, bool *is_dir, wh_err *err);

/* ---- streamed files (SFTP) ----------------------------------------------
 *
 * For files too large to hold in memory (volume backups). The file belongs
 * to the conn's thread, like a channel; close it before putting the conn
 * back.
 *  - wh_ssh_file_open with write = true creates a temp file
 *    `.<name>.wharf-<random>` (mode 0600) beside `path`; wh_ssh_file_close
 *    with commit = true renames it over `path` (atomically replacing a
 *    regular file), with commit = false (or on any failure) removes it.
 *  - write = false opens `path` (a regular file, else WH_E_CONFLICT) for
 *    wh_ssh_file_read, which returns *got = 0 at the end of the file.
 *  - Errors as for wh_ssh_upload: WH_E_NOT_FOUND (no such file or
 *    directory), WH_E_FAILED (refused, with the server's reason),
 *    WH_E_UNREACHABLE (the session is lost). wh_ssh_file_close(NULL) is
 *    WH_OK and the file is freed whatever it returns. */
typedef struct wh_ssh_file wh_ssh_file;
wh_code wh_ssh_file_open(wh_ssh_conn *c, const char *path, bool write, wh_ssh_file **out, wh_err *err);
wh_code wh_ssh_file_write(wh_ssh_file *f, const void *buf, size_t len, wh_err *err);
wh_code wh_ssh_file_read(wh_ssh_file *f, void *buf, size_t cap, size_t *got, wh_err *err);
wh_code wh_ssh_file_close(wh_ssh_file *f, bool commit, wh_err *err);

/* ---- keys --------------------------------------------------------------- */

/* Check that `text` is one OpenSSH public key line ("type base64 [comment]")
 * that libssh can import, and not a private key. WH_E_BAD_ARGS naming
 * `field` otherwise. */
wh_code wh_ssh_pubkey_check(const char *text, size_t n, const char *field, wh_err *err);

#endif
