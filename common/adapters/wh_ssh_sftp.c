/* wh_ssh_sftp: SFTP uploads, downloads and streamed files (see wh_ssh.h). */
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

/* ---- SFTP ------------------------------------------------------------------- */

static wh_code sftp_ready(wh_ssh_conn *c, wh_err *err)
{
    if(c->sftp)
        return WH_OK;
    c->sftp = sftp_new(c->s);
    if(!c->sftp)
        return wh_ssh__lost(c, err, "sftp");
    if(sftp_init(c->sftp) != SSH_OK) {
        sftp_free(c->sftp);
        c->sftp = NULL;
        if(!ssh_is_connected(c->s))
            return wh_ssh__lost(c, err, "sftp");
        return wh_err_set(err, WH_E_FAILED, "target", "host.%s: the server refused the sftp subsystem",
                          c->host->name);
    }
    return WH_OK;
}

/* Map the last SFTP error of `c` to a code and message naming `path`. */
static wh_code sftp_fail(wh_ssh_conn *c, const char *what, const char *path, wh_err *err)
{
    if(!ssh_is_connected(c->s))
        return wh_ssh__lost(c, err, what);
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
        return wh_ssh__lost(c, err, "rename");
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

wh_code wh_ssh_is_dir(wh_ssh_conn *c, const char *path, bool *is_dir, wh_err *err)
{
    wh_code rc = sftp_ready(c, err);
    if(rc)
        return rc;
    sftp_attributes a = sftp_stat(c->sftp, path); /* follows symlinks, as a bind does */
    if(!a) {
        rc = sftp_fail(c, "stat", path, err);
        if(rc == WH_E_NOT_FOUND) {
            *is_dir = false;
            return WH_OK;
        }
        return rc;
    }
    *is_dir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
    sftp_attributes_free(a);
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
