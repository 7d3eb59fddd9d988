/* git_fetch: fetch an app repository on the worker for provision.container
 * (see pv_git_archive in provision.h). git runs as a child process with an argv
 * (never a shell), a scratch HOME, no system config, no terminal prompt, an
 * askpass that answers nothing, and GIT_ALLOW_PROTOCOL=http:https:file, so
 * a repository that wants credentials fails instead of waiting. The child
 * is killed when the job is interrupted. The scratch directory is removed
 * afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "provision.h"
#include "wh_time.h"

extern char **environ;

#define GIT_CLONE_MS 300000

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

/* The last non-empty line of `path`, into out[cap]. */
static void last_line(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    while(f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if(line[0])
            snprintf(out, cap, "%.*s", (int)(cap - 1), line);
    }
    if(f)
        fclose(f);
}

/* Run git with `argv`; stdout into *out (when not NULL, at most `max`
 * bytes), stderr into `errpath`. *status is the exit status, or -1. */
static wh_code run_git(wk_job *job, const char *home, char *const argv[], unsigned char **out, size_t *outlen,
                       size_t max, const char *errpath, int *status, wh_err *err)
{
    char henv[600];
    snprintf(henv, sizeof(henv), "HOME=%s", home);
    char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", henv, "GIT_TERMINAL_PROMPT=0",
                          "GIT_ASKPASS=/bin/true", "SSH_ASKPASS=/bin/true", "GIT_CONFIG_NOSYSTEM=1",
                          "GIT_ALLOW_PROTOCOL=http:https:file", "LC_ALL=C", NULL};
    int pfd[2] = {-1, -1};
    if(pipe2(pfd, O_CLOEXEC) != 0)
        return wh_err_set(err, WH_E_IO, NULL, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int e = posix_spawn(&pid, "/usr/bin/git", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if(e != 0) {
        close(pfd[0]);
        return wh_err_set(err, WH_E_IO, "args.repo", "args.repo: cannot run git: %s", strerror(e));
    }
    size_t cap = 0, len = 0;
    unsigned char *buf = NULL;
    wh_code rc = WH_OK;
    int64_t until = wh_mono_ms() + GIT_CLONE_MS;
    for(;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        int n = poll(&p, 1, 100);
        if(wk_job_interrupted(job)) {
            rc = wh_err_set(err, WH_E_INTERRUPTED, NULL, "interrupted");
            break;
        }
        if(wh_mono_ms() > until) {
            rc = wh_err_set(err, WH_E_TIMEOUT, "args.repo", "args.repo: git took longer than %d s",
                            GIT_CLONE_MS / 1000);
            break;
        }
        if(n <= 0)
            continue;
        if(!out) { /* output nobody wants */
            char junk[4096];
            ssize_t r = read(pfd[0], junk, sizeof(junk));
            if(r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                break;
            continue;
        }
        if(len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            unsigned char *nb = nc <= max + 1 ? realloc(buf, nc) : NULL;
            if(!nb) {
                rc = wh_err_set(err, WH_E_BAD_ARGS, "args.repo", "args.repo: the repository is larger than %zu KiB",
                                max / 1024);
                break;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(pfd[0], buf + len, cap - len);
        if(r == 0)
            break;
        if(r < 0 && errno != EINTR && errno != EAGAIN) {
            rc = wh_err_set(err, WH_E_IO, "args.repo", "args.repo: reading git's output: %s", strerror(errno));
            break;
        }
        if(r > 0)
            len += (size_t)r;
        if(len > max) {
            rc = wh_err_set(err, WH_E_BAD_ARGS, "args.repo", "args.repo: the repository is larger than %zu KiB",
                            max / 1024);
            break;
        }
    }
    close(pfd[0]);
    if(rc)
        kill(pid, SIGKILL);
    int ws = 0;
    while(waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    if(rc || !out) {
        free(buf);
    } else {
        *out = buf;
        *outlen = len;
    }
    return rc;
}

wh_code pv_git_archive(wk_job *job, const char *url, unsigned char **tar, size_t *len, wh_err *err)
{
    *tar = NULL;
    *len = 0;
    char tmp[] = "/tmp/wharf-git-XXXXXX";
    if(!mkdtemp(tmp))
        return wh_err_set(err, WH_E_IO, NULL, "mkdtemp: %s", strerror(errno));
    char dir[64], errpath[64];
    snprintf(dir, sizeof(dir), "%s/repo", tmp);
    snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
    wk_job_logf(job, WK_SYS, "fetching %s", url);
    /* not --depth: dumb HTTP servers cannot serve shallow clones */
    char *const clone[] = {"git", "clone", "--quiet", "--single-branch", "--no-checkout", "--", (char *)url, dir, NULL};
    int st = -1;
    wh_code rc = run_git(job, tmp, clone, NULL, NULL, 0, errpath, &st, err);
    if(!rc && st != 0) {
        char last[200];
        last_line(errpath, last, sizeof(last));
        rc = wh_err_set(err, WH_E_BAD_ARGS, "args.repo", "args.repo: git clone failed (exit status %d)%s%s", st,
                        last[0] ? ": " : "", last);
    }
    char *const archive[] = {"git", "-C", dir, "archive", "--format=tar", "HEAD", NULL};
    if(!rc)
        rc = run_git(job, tmp, archive, tar, len, PV_GIT_MAX, errpath, &st, err);
    if(!rc && st != 0) {
        free(*tar);
        *tar = NULL;
        rc = wh_err_set(err, WH_E_BAD_ARGS, "args.repo", "args.repo: git archive failed (exit status %d)", st);
    }
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if(!rc)
        wk_job_logf(job, WK_SYS, "fetched %s: %zu bytes", url, *len);
    return rc;
}
