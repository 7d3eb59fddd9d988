/* shared: what every runtime handler file shares: object names and image
 * references as the args tables check them, msgpack strings, opening the
 * job's engine, and ending a job from a code (runtime.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "wh_env.h"
#include "wh_time.h"

static bool job_abort(void *ud)
{
    return wk_job_interrupted(ud);
}

wh_code rt_open(wk_job *job, rt_conn *c, wh_err *err)
{
    return rt_conn_open(c, wk_job_host(job), job_abort, job, err);
}

wh_code rt_open_call(wk_job *job, rt_conn *c, const char *method, const char *path, const wh_json *body,
                     const char *what, wh_json **out, wh_err *err)
{
    wh_code rc = rt_open(job, c, err);
    return rc ? rc : rt_call(c, method, path, body, what, out, err);
}

wh_code rt_open_request(wk_job *job, rt_conn *c, const char *method, const char *path, const wh_json *body,
                        long *status, wh_json **out, wh_err *err)
{
    wh_code rc = rt_open(job, c, err);
    return rc ? rc : rt_request(c, method, path, body, status, out, err);
}

wk_run rt_done_name(wk_job *job, wh_code rc, const wh_err *err, const char *name)
{
    if(rc)
        return wk_job_fail_err(job, rc, err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "name", wh_json_str(name));
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}

void rt_say(void *ud, const char *line)
{
    wk_job_log(ud, WK_SYS, line, strlen(line));
}

void rt_arg_name(wk_job *job, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_args_str(wk_job_args(job), key, "", &n);
    wh_curl_escape(s, n, out, cap);
}

void rt_reach_note(wk_job *job, bool stats, wh_code rc, const wh_err *err)
{
    if(rc == WH_E_INTERRUPTED || rc == WH_E_CANCELLED)
        return; /* we stopped asking; the engine did not fail to answer */
    char key[1024], now[24];
    snprintf(key, sizeof(key), "%shost:%s:reach", wk_job_prefix(job), wk_job_host(job)->name);
    snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());
    wh_redis *r = wk_job_redis(job);
    wh_err e;
    wh_code w;
    wk_job_flush(job);
    if(rc) {
        const char *bad[] = {"HSET", key, "checked_at", now, "ok", "0", "error_at", now, "error", wh_err_name(err),
                             "error_message", err->msg};
        w = wh_redis_cmdv(r, NULL, &e, 12, bad);
    } else {
        const char *ok[] = {"HSET", key, "checked_at", now, "ok", "1", "ok_at", now, "stats_at", now};
        w = wh_redis_cmdv(r, NULL, &e, stats ? 10 : 8, ok);
    }
    if(w)
        wk_job_log(job, WK_SYS, e.msg, strlen(e.msg));
}

/* One reference as Docker shows it: Podman names images of Docker Hub in
 * full ("docker.io/library/busybox:1", "docker.io/team/app:2"). */
static wh_json *familiar(const wh_json *ref)
{
    static const char *const prefixes[] = {"docker.io/library/", "docker.io/"};
    size_t n = 0;
    const char *s = wh_json_strv(ref, &n);
    for(size_t i = 0; s && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t p = strlen(prefixes[i]);
        if(n > p && memcmp(s, prefixes[i], p) == 0)
            return wh_json_strn(s + p, n - p);
    }
    return wh_json_copy(ref);
}

void rt_image_familiar(const rt_conn *c, wh_json *img)
{
    static const char *const keys[] = {"RepoTags", "RepoDigests"};
    for(size_t k = 0; c->engine == RT_ENGINE_PODMAN && k < 2; k++) {
        const wh_json *refs = wh_json_get(img, keys[k]);
        if(!refs || wh_json_kind_of(refs) != WH_JSON_ARRAY)
            continue;
        wh_json *out = wh_json_array();
        for(size_t i = 0; i < wh_json_size(refs); i++)
            wh_json_push(out, familiar(wh_json_at(refs, i)));
        wh_json_setc(img, keys[k], out);
    }
}
