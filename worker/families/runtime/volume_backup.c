/* volume_backup: volume.backup and volume.restore through the Engine's archive
 * API, with a stopped helper container that mounts the volume.
 *
 *   volume.backup  {name, image, dest}      tar of the volume -> file `dest`
 *   volume.restore {name, image, src}       tar file `src` -> the volume
 *
 * `image` must already be on the host (nothing is pulled); the helper is
 * created (never started) with the volume at /volume and removed afterwards,
 * whatever happened. The file lives on the target host, inside its
 * `roots`: for unix:// engines (the worker's own host) it is a local file,
 * written to `<dest>.part` and renamed into place when complete; for ssh://
 * engines it is streamed over SFTP on a pooled session of the host (a temp
 * file beside `dest`, renamed when complete), never through the worker's
 * own filesystem. tcp:// engines have no way to the host's files and are
 * refused (bad_args). The result carries the archive's sha256 and size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "wh_crypto.h"
#include "wh_ssh.h"

/* The archive file: local (fd) or on an ssh:// host (rf on conn). */
typedef struct filectx {
    int fd;
    wh_ssh_conn *conn;
    wh_ssh_file *rf;
    wh_sha256 *sha;
    long long bytes;
    int err;       /* errno of a failed local read or write */
    wh_err rerr;   /* a failed remote read or write */
} filectx;

static wh_code to_file(void *ud, const char *data, size_t len)
{
    filectx *f = ud;
    wh_sha256_update(f->sha, data, len);
    f->bytes += (long long)len;
    if(f->rf)
        return wh_ssh_file_write(f->rf, data, len, &f->rerr);
    while(len > 0) {
        ssize_t w = write(f->fd, data, len);
        if(w < 0 && errno == EINTR)
            continue;
        if(w <= 0) {
            f->err = errno;
            return WH_E_IO;
        }
        data += w;
        len -= (size_t)w;
    }
    return WH_OK;
}

static wh_code from_file(void *ud, char *buf, size_t cap, size_t *n)
{
    filectx *f = ud;
    if(f->rf) {
        wh_code rc = wh_ssh_file_read(f->rf, buf, cap, n, &f->rerr);
        if(rc)
            return rc;
    } else {
        ssize_t r;
        do
            r = read(f->fd, buf, cap);
        while(r < 0 && errno == EINTR);
        if(r < 0) {
            f->err = errno;
            return WH_E_IO;
        }
        *n = (size_t)r;
    }
    wh_sha256_update(f->sha, buf, *n);
    f->bytes += (long long)*n;
    return WH_OK;
}

/* The file argument: inside the host's roots, on a unix:// or ssh:// engine. */
static wh_code file_arg(wk_job *job, const char *key, char *out, size_t cap, wh_err *err)
{
    const wh_inv_host *h = wk_job_host(job);
    size_t n;
    const char *s = wh_args_str(wk_job_args(job), key, NULL, &n);
    if(!s || n >= cap)
        return wh_err_at(err, WH_E_BAD_ARGS, "args.%s: is required", key);
    snprintf(out, cap, "%.*s", (int)n, s);
    if(h->docker_kind != WH_DOCKER_UNIX && h->docker_kind != WH_DOCKER_SSH)
        return wh_err_at(err, WH_E_BAD_ARGS, "args.%s: backups need a unix:// or ssh:// engine", key);
    if(strstr(out, "/../") || strstr(out, "/./"))
        return wh_err_at(err, WH_E_BAD_ARGS, "args.%s: must be a path without . or ..", key);
    if(!wh_inv_path_allowed(h, out))
        return wh_err_at(err, WH_E_BAD_ARGS, "args.%s: %s is outside the roots of host %s", key, out, h->name);
    return WH_OK;
}

/* Open the archive file `path` of the job's host for writing (into
 * `part`, locally) or reading. The field names the argument in errors. */
static wh_code file_open(wk_job *job, filectx *f, const char *path, const char *part, bool write, const char *field,
                         wh_err *err)
{
    const wh_inv_host *h = wk_job_host(job);
    f->fd = -1;
    if(h->docker_kind == WH_DOCKER_UNIX) {
        f->fd = write ? open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : open(path, O_RDONLY | O_CLOEXEC);
        if(f->fd < 0)
            return wh_err_at(err, write ? WH_E_IO : WH_E_BAD_ARGS, "args.%s: cannot %s %s: %s", field,
                             write ? "write" : "read", write ? part : path, strerror(errno));
        return WH_OK;
    }
    wh_code rc = rt_ssh_session(h, &f->conn, err);
    if(!rc)
        rc = wh_ssh_file_open(f->conn, path, write, &f->rf, err);
    if(rc == WH_E_NOT_FOUND || rc == WH_E_FAILED || rc == WH_E_CONFLICT) {
        char m[sizeof(err->msg)];
        snprintf(m, sizeof(m), "%s", err->msg);
        rc = wh_err_at(err, write ? WH_E_IO : WH_E_BAD_ARGS, "args.%s: on host %s: %s", field, h->name, m);
    }
    return rc;
}

/* Close the archive file; with commit (a complete backup) move it into
 * place as `path`, else drop what was written. */
static wh_code file_close(filectx *f, const char *path, const char *part, bool write, bool commit, wh_err *err)
{
    wh_code rc = WH_OK;
    if(f->rf) {
        rc = wh_ssh_file_close(f->rf, write && commit, err);
        f->rf = NULL;
    } else if(f->fd >= 0) {
        if(write && commit && fsync(f->fd) != 0)
            rc = wh_err_set(err, WH_E_IO, "args.dest", "args.dest: %s", strerror(errno));
        if(close(f->fd) != 0 && write && commit && !rc)
            rc = wh_err_set(err, WH_E_IO, "args.dest", "args.dest: %s", strerror(errno));
        if(write && commit && !rc && rename(part, path) != 0)
            rc = wh_err_set(err, WH_E_IO, "args.dest", "args.dest: rename: %s", strerror(errno));
        if(write && (rc || !commit))
            unlink(part);
        f->fd = -1;
    }
    rt_ssh_release(f->conn);
    f->conn = NULL;
    return rc;
}

/* Create the stopped helper with the volume at /volume; its id into id. */
static wh_code helper(wk_job *job, rt_conn *c, bool ro, char *id, size_t cap, wh_err *err)
{
    const wh_mp_obj *a = wk_job_args(job);
    size_t nn, in;
    const char *name = wh_args_str(a, "name", "", &nn), *img = wh_args_str(a, "image", "", &in);
    char vol[RT_NAME_MAX + 2], path[RT_PATH_MAX];
    snprintf(vol, sizeof(vol), "%.*s", (int)nn, name);
    snprintf(path, sizeof(path), "/volumes/%s", vol);
    wh_code rc = rt_call(c, "GET", path, NULL, vol, NULL, err); /* not_found for a missing volume */
    if(rc)
        return rc;
    wh_json *b = wh_json_object(), *hc = wh_json_object(), *m = wh_json_object(), *ms = wh_json_array(), *ans = NULL;
    wh_json_setc(b, "Image", wh_json_strn(img, in));
    wh_json *cmd = wh_json_array();
    wh_json_push(cmd, wh_json_str("true"));
    wh_json_setc(b, "Cmd", cmd);
    wh_json_setc(m, "Type", wh_json_str("volume"));
    wh_json_setc(m, "Source", wh_json_str(vol));
    wh_json_setc(m, "Target", wh_json_str("/volume"));
    wh_json_setc(m, "ReadOnly", wh_json_bool(ro));
    wh_json_push(ms, m);
    wh_json_setc(hc, "Mounts", ms);
    wh_json_setc(hc, "NetworkMode", wh_json_str("none"));
    wh_json_setc(b, "HostConfig", hc);
    rc = rt_call(c, "POST", "/containers/create", b, "backup helper", &ans, err);
    wh_json_free(b);
    size_t n = 0;
    const char *s = rc ? NULL : wh_json_strv(wh_json_get(ans, "Id"), &n);
    if(!rc && (!s || n >= cap))
        rc = wh_err_set(err, WH_E_ENGINE, "", "backup helper: no Id");
    if(!rc)
        snprintf(id, cap, "%.*s", (int)n, s);
    wh_json_free(ans);
    return rc;
}

static void drop_helper(rt_conn *c, const char *id)
{
    char path[RT_PATH_MAX];
    wh_err e;
    snprintf(path, sizeof(path), "/containers/%s?force=1&v=0", id);
    rt_call(c, "DELETE", path, NULL, "helper", NULL, &e);
}

static wh_json *file_result(const char *path, filectx *f)
{
    char hex[WH_SHA256_HEX];
    wh_sha256_hex_final(f->sha, hex);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "path", wh_json_str(path));
    wh_json_setc(r, "bytes", wh_json_int(f->bytes));
    wh_json_setc(r, "sha256", wh_json_str(hex));
    return r;
}

/* A transfer's own failure: the local errno or the remote error. */
static void io_error(filectx *f, const char *field, const char *path, wh_code *rc, wh_err *err)
{
    if(*rc == WH_E_IO && f->err)
        wh_err_set(err, WH_E_IO, field, "args.%s: %s: %s", field, path, strerror(f->err));
    else if(f->rerr.code && *rc == f->rerr.code)
        *err = f->rerr;
}

wk_run rt_backup_run(wk_job *job)
{
    char dest[WH_INV_PATH_MAX], part[WH_INV_PATH_MAX + 8], id[80] = "", path[RT_PATH_MAX];
    wh_err err;
    rt_conn c;
    filectx f = {.fd = -1};
    wh_code rc = file_arg(job, "dest", dest, sizeof(dest), &err);
    snprintf(part, sizeof(part), "%s.part", dest);
    if(!rc)
        rc = rt_open(job, &c, &err);
    if(!rc)
        rc = helper(job, &c, true, id, sizeof(id), &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    f.sha = wh_sha256_new();
    rc = f.sha ? file_open(job, &f, dest, part, true, "dest", &err) : wh_err_set(&err, WH_E_NOMEM, "", "out of memory");
    long st = 0;
    snprintf(path, sizeof(path), "/containers/%s/archive?path=%%2Fvolume%%2F.", id);
    if(!rc) {
        rc = rt_request_stream(&c, "GET", path, NULL, 0, to_file, &f, &st, &err);
        io_error(&f, "dest", dest, &rc, &err);
    }
    if(!rc && st != 200)
        rc = rt_engine_status(st, NULL, "archive", &err);
    wh_code crc = file_close(&f, dest, part, true, !rc, &err);
    if(!rc)
        rc = crc;
    drop_helper(&c, id);
    wh_json *r = rc ? NULL : file_result(dest, &f);
    wh_sha256_free(f.sha);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

wk_run rt_restore_run(wk_job *job)
{
    char src[WH_INV_PATH_MAX], id[80], path[RT_PATH_MAX];
    wh_err err;
    rt_conn c;
    filectx f = {.fd = -1};
    wh_code rc = file_arg(job, "src", src, sizeof(src), &err);
    if(!rc)
        rc = file_open(job, &f, src, NULL, false, "src", &err);
    if(!rc)
        rc = rt_open(job, &c, &err);
    if(!rc)
        rc = helper(job, &c, false, id, sizeof(id), &err);
    if(rc) {
        file_close(&f, src, NULL, false, false, NULL);
        return wk_job_fail_err(job, rc, &err);
    }
    f.sha = wh_sha256_new();
    snprintf(path, sizeof(path), "/containers/%s/archive?path=%%2Fvolume", id);
    long st = 0;
    rc = f.sha ? rt_request_upload(&c, "PUT", path, "application/x-tar", from_file, &f, &st, &err)
               : wh_err_set(&err, WH_E_NOMEM, "", "out of memory");
    io_error(&f, "src", src, &rc, &err);
    if(!rc && st != 200)
        rc = rt_engine_status(st, NULL, "archive", &err);
    file_close(&f, src, NULL, false, false, NULL);
    drop_helper(&c, id);
    wh_json *r = rc ? NULL : file_result(src, &f);
    wh_sha256_free(f.sha);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
