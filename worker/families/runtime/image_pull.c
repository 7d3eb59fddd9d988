/* image_pull: image.pull, and the pull container.run does for a missing image.
 *
 * Credentials come only from the worker's inventory: the [registry.NAME]
 * entry serving the image's host (rg_http_find), never from the job. They
 * travel to the engine in the X-Registry-Auth header (base64url of
 * {"username", "password", "serveraddress"}, or "registrytoken" for token
 * entries); the buffers that held them are wiped, and no message, log line
 * or result ever contains them.
 *
 * The engine answers a pull with 200 and a stream of JSON progress lines;
 * a failure arrives as a line with "error". Lines are read up to
 * RT_PULL_LINE_MAX bytes (longer progress lines are skipped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "image_ref.h"
#include "runtime.h"
#include "wh_crypto.h"

#define RT_PULL_LINE_MAX 4096

const wh_arg_spec rt_pull_args[RT_PULL_NARGS] = {
    {"image", WH_ARG_STR, true, 1, RG_REF_MAX, NULL, NULL},
};

wh_code rt_pull_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    size_t n;
    const char *s = wh_args_str(args, "image", "", &n);
    rg_ref r;
    return rg_ref_parse(s, n, &r, "args.image", err);
}

typedef struct pullctx {
    char line[RT_PULL_LINE_MAX];
    size_t len;
    bool skipping;
    char error[256];   /* the engine's error line, if any */
    char status[256];  /* the last "Status: ..." */
    char digest[128];  /* "sha256:..." from "Digest: ..." */
} pullctx;

static void copy_field(const wh_json *j, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = wh_json_strv(wh_json_get(j, key), &n);
    if(s)
        snprintf(out, cap, "%.*s", (int)n, s);
}

static void pull_line(pullctx *p)
{
    wh_json *j = wh_json_parse(p->line, p->len, NULL);
    if(!j)
        return;
    copy_field(j, "error", p->error, sizeof(p->error));
    if(!p->error[0])
        copy_field(j, "message", p->error, sizeof(p->error)); /* a non-2xx answer's body */
    char st[256] = "";
    copy_field(j, "status", st, sizeof(st));
    if(strncmp(st, "Digest: ", 8) == 0)
        snprintf(p->digest, sizeof(p->digest), "%.127s", st + 8);
    else if(strncmp(st, "Status: ", 8) == 0)
        snprintf(p->status, sizeof(p->status), "%.247s", st + 8);
    wh_json_free(j);
}

static wh_code pull_sink(void *ud, const char *data, size_t len)
{
    pullctx *p = ud;
    for(size_t i = 0; i < len; i++) {
        if(data[i] == '\n') {
            if(!p->skipping)
                pull_line(p);
            p->len = 0;
            p->skipping = false;
        } else if(p->len < sizeof(p->line)) {
            p->line[p->len++] = data[i];
        } else {
            p->skipping = true;
        }
    }
    return WH_OK;
}

/* base64url of the auth JSON into a malloc'd header line, or NULL (the
 * entry has no credentials: an anonymous pull). */
static char *auth_header(const wh_inv_registry *reg, const char *host)
{
    if(!reg->username[0] && !reg->token[0])
        return NULL;
    wh_json *a = wh_json_object();
    if(reg->username[0])
        wh_json_setc(a, "username", wh_json_str(reg->username));
    if(reg->password[0])
        wh_json_setc(a, "password", wh_json_str(reg->password));
    if(reg->token[0] && !reg->password[0])
        wh_json_setc(a, "registrytoken", wh_json_str(reg->token));
    wh_json_setc(a, "serveraddress", wh_json_str(host));
    char *js = wh_json_dump(a);
    wh_json_free(a);
    char *b64 = js ? wh_base64_encode(js, strlen(js)) : NULL;
    if(js) {
        explicit_bzero(js, strlen(js));
        free(js);
    }
    if(!b64)
        return NULL;
    size_t n = strlen(b64);
    for(size_t i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    char *hdr = malloc(n + 32);
    if(hdr)
        snprintf(hdr, n + 32, "X-Registry-Auth: %s", b64);
    explicit_bzero(b64, n);
    free(b64);
    return hdr;
}

/* The engine's words for refused credentials. */
static bool auth_refused(const char *m)
{
    return strstr(m, "unauthorized") || strstr(m, "authentication required") || strstr(m, "no basic auth") ||
           strstr(m, "denied");
}

static wh_code pull_result(long st, const pullctx *p, const char *image, wh_err *err)
{
    const char *m = p->error[0] ? p->error : "";
    if(st == 200 && !p->error[0])
        return WH_OK;
    if(auth_refused(m))
        return wh_err_set(err, WH_E_AUTH_FAILED, "args.image", "pull %s: %s", image, m);
    if(st == 404 || strstr(m, "not found") || strstr(m, "manifest unknown"))
        return wh_err_set(err, WH_E_NOT_FOUND, "args.image", "pull %s: %s", image, m[0] ? m : "not found");
    return wh_err_set(err, WH_E_ENGINE, "args.image", "pull %s: %s", image, m[0] ? m : "engine error");
}

wh_code rt_pull_image(wk_job *job, rt_conn *c, const char *img, size_t n, char *digest, size_t dcap, wh_err *err)
{
    rg_ref ref;
    char image[RG_REF_MAX + 1]; /* args strings are not NUL-terminated */
    snprintf(image, sizeof(image), "%.*s", (int)(n < RG_REF_MAX ? n : RG_REF_MAX), img);
    wh_code rc = rg_ref_parse(img, n, &ref, "args.image", err);
    if(rc)
        return rc;
    /* The engine would dial any registry it is told to: only those in the
     * inventory (an entry without credentials allows anonymous pulls). */
    const wh_inv_registry *reg = rg_http_find(wk_job_cfg(job)->inv, ref.host);
    if(!reg)
        return wh_err_set(err, WH_E_UNKNOWN_HOST, "args.image",
                          "pull %s: registry %s is not in the worker's inventory (add a [registry.NAME] entry)",
                          image, ref.host);
    char name[RG_REF_NAME_MAX * 2 + 2], tag[RG_REF_DIGEST_MAX + 1], en[3 * sizeof(name)], et[3 * sizeof(tag)];
    snprintf(name, sizeof(name), "%s/%s", ref.host, ref.path);
    snprintf(tag, sizeof(tag), "%s", ref.digest[0] ? ref.digest : ref.tag);
    wh_curl_escape(name, strlen(name), en, sizeof(en));
    wh_curl_escape(tag, strlen(tag), et, sizeof(et));
    char path[RT_PATH_MAX];
    snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s", en, et);
    char *hdr = auth_header(reg, ref.host);
    pullctx *p = calloc(1, sizeof(*p));
    if(!p) {
        free(hdr);
        return wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    }
    long st = 0;
    wk_job_logf(job, WK_SYS, "pulling %s/%s:%s%s", ref.host, ref.path, tag, hdr ? " with the inventory's credentials" : "");
    rc = rt_request_stream_h(c, "POST", path, hdr, 0, pull_sink, p, &st, err);
    if(hdr) {
        explicit_bzero(hdr, strlen(hdr));
        free(hdr);
    }
    if(!rc && p->len && !p->skipping)
        pull_line(p);
    if(!rc)
        rc = pull_result(st, p, image, err);
    if(!rc && digest)
        snprintf(digest, dcap, "%s", p->digest);
    free(p);
    return rc;
}

wk_run rt_pull_run(wk_job *job)
{
    size_t n;
    const char *image = wh_args_str(wk_job_args(job), "image", "", &n);
    rt_conn c;
    wh_err err;
    char digest[128] = "";
    wh_code rc = rt_open(job, &c, &err);
    if(!rc)
        rc = rt_pull_image(job, &c, image, n, digest, sizeof(digest), &err);
    if(rc)
        return wk_job_fail_err(job, rc, &err);
    wh_json *r = wh_json_object();
    wh_json_setc(r, "image", wh_json_strn(image, n));
    wh_json_setc(r, "digest", digest[0] ? wh_json_str(digest) : wh_json_null());
    wk_job_set_result(job, r);
    return WK_RUN_OK;
}
