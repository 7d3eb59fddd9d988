/* wh_ssh_exec: commands and raw channels on a pooled session (see wh_ssh.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wh_crypto.h"
#include "wh_shq.h"
#include "wh_ssh_int.h"
#include "wh_time.h"

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
        return wh_ssh__lost(c, err, "cannot open a channel");
    }
    if(ssh_channel_request_exec(ch->ch, command) != SSH_OK) {
        wh_code rc = ssh_is_connected(c->s) ? wh_err_set(err, WH_E_FAILED, "target", "host.%s: exec refused: %s",
                                                         c->host->name, ssh_get_error(c->s))
                                            : wh_ssh__lost(c, err, "exec request");
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
    ch->tcp = true;
    ch->ch = ssh_channel_new(c->s);
    if(!ch->ch) {
        wh_ssh_chan_close(ch);
        return wh_ssh__lost(c, err, "cannot open a channel");
    }
    if(ssh_channel_open_forward(ch->ch, host, port, "127.0.0.1", 0) != SSH_OK) {
        wh_code rc = ssh_is_connected(c->s)
                         ? wh_err_set(err, WH_E_UNREACHABLE, "port", "host.%s could not connect to %s:%d: %s",
                                      c->host->name, host, port, ssh_get_error(c->s))
                         : wh_ssh__lost(c, err, "forward");
        wh_ssh_chan_close(ch);
        return rc;
    }
    *out = ch;
    return WH_OK;
}

wh_code wh_ssh_chan_open_unix(wh_ssh_conn *c, const char *path, wh_ssh_chan **out, wh_err *err)
{
    wh_ssh_chan *ch = calloc(1, sizeof(*ch));
    if(!ch)
        return wh_err_set(err, WH_E_NOMEM, NULL, "out of memory");
    ch->conn = c;
    ch->tcp = true; /* no exit status either */
    ch->ch = ssh_channel_new(c->s);
    if(!ch->ch) {
        wh_ssh_chan_close(ch);
        return wh_ssh__lost(c, err, "cannot open a channel");
    }
    /* direct-streamlocal@openssh.com: sshd connects to the socket as the
     * SSH user (AllowStreamLocalForwarding must not be "no") */
    if(ssh_channel_open_forward_unix(ch->ch, path, "127.0.0.1", 0) != SSH_OK) {
        wh_code rc = ssh_is_connected(c->s)
                         ? wh_err_set(err, WH_E_UNREACHABLE, "socket", "host.%s could not connect to socket %s: %s",
                                      c->host->name, path, ssh_get_error(c->s))
                         : wh_ssh__lost(c, err, "forward");
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
        return wh_ssh__lost(ch->conn, err, "channel read");
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
            return wh_ssh__lost(ch->conn, err, "channel write");
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
        return wh_ssh__lost(ch->conn, err, "channel eof");
    return WH_OK;
}

int wh_ssh_chan_close(wh_ssh_chan *ch)
{
    if(!ch)
        return -1;
    int code = -1;
    if(ch->ch) {
        bool connected = ssh_is_connected(ch->conn->s);
        /* Our EOF goes first: sshd closes a channel only once both sides
         * sent EOF, and libssh's wait for an exit status ends at the close,
         * so asking while our EOF is unsent waits out the session timeout
         * (seconds, holding the session and sshd's forwarded connection).
         * The status of a command arrives with or just after its EOF, often
         * with the remote's close, so it is asked for before the open state
         * is checked; a forwarded TCP connection has none to ask for. */
        if(connected && ssh_channel_is_open(ch->ch))
            ssh_channel_send_eof(ch->ch);
        if(!ch->tcp && connected && ssh_channel_is_eof(ch->ch))
            code = ssh_channel_get_exit_status(ch->ch);
        if(connected && ssh_channel_is_open(ch->ch))
            ssh_channel_close(ch->ch);
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
    /* POSIX form: dash (and other sh) refuse "kill -TERM -- -PGID" */
    snprintf(line, sizeof(line), "kill -s %s -- -%ld 2>/dev/null", sig, pid);
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
