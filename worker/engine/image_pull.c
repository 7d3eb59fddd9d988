/* image_pull: the credentialed pull (see image_pull.h), shared by the
 * runtime family (image.pull, container.run) and the registry family
 * (update_container).
 *
 * The engine answers a pull with 200 and a stream of JSON progress lines;
 * a failure arrives as a line with "error". Lines are read up to
 * RT_PULL_LINE_MAX bytes (longer progress lines are skipped). */
#include "image_pull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_crypto.h"
#include "wh_ref.h"

#define RT_PULL_LINE_MAX 4096

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

/* The digest of `name` ("host/path") that the engine recorded for image
 * `ref` ("host/path:tag"), into digest[cap] (left alone when none): Podman's
 * pull stream says no "Digest: ", its image's RepoDigests do
 * ("host/path@sha256:..."). */
static void recorded_digest(rt_conn *c, const char *name, const char *ref, char *digest, size_t cap)
{
    char esc[3 * (WH_REF_MAX + 1)], path[RT_PATH_MAX];
    wh_curl_escape(ref, strlen(ref), esc, sizeof(esc));
    snprintf(path, sizeof(path), "/images/%s/json", esc);
    wh_json *ins = NULL;
    wh_err e;
    if(rt_call(c, "GET", path, NULL, "image", &ins, &e))
        return;
    const wh_json *ds = wh_json_get(ins, "RepoDigests");
    size_t nl = strlen(name);
    for(size_t i = 0; i < wh_json_size(ds); i++) {
        size_t n = 0;
        const char *d = wh_json_strv(wh_json_at(ds, i), &n);
        if(d && n > nl + 1 && memcmp(d, name, nl) == 0 && d[nl] == '@') {
            snprintf(digest, cap, "%.*s", (int)(n - nl - 1), d + nl + 1);
            break;
        }
    }
    wh_json_free(ins);
}

wh_code rt_pull_image(rt_conn *c, const wh_inv *inv, const char *img, size_t n, rt_say_fn *say, void *ud, char *digest,
                      size_t dcap, wh_err *err)
{
    wh_ref ref;
    char image[WH_REF_MAX + 1]; /* args strings are not NUL-terminated */
    snprintf(image, sizeof(image), "%.*s", (int)(n < WH_REF_MAX ? n : WH_REF_MAX), img);
    wh_code rc = wh_ref_parse(img, n, &ref, "args.image", err);
    if(rc)
        return rc;
    /* The engine would dial any registry it is told to: only those in the
     * inventory (an entry without credentials allows anonymous pulls). */
    const wh_inv_registry *reg = wh_inv_registry_serving(inv, ref.host);
    if(!reg)
        return wh_err_set(err, WH_E_UNKNOWN_HOST, "args.image",
                          "pull %s: registry %s is not in the worker's inventory (add a [registry.NAME] entry)",
                          image, ref.host);
    char name[WH_REF_NAME_MAX * 2 + 2], tag[WH_REF_DIGEST_MAX + 1], en[3 * sizeof(name)], et[3 * sizeof(tag)];
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
    if(say) {
        char line[1024];
        snprintf(line, sizeof(line), "pulling %s/%s:%s%s", ref.host, ref.path, tag,
                 hdr ? " with the inventory's credentials" : "");
        say(ud, line);
    }
    rc = rt_request_stream_h(c, "POST", path, hdr, 0, pull_sink, p, &st, err);
    if(hdr) {
        explicit_bzero(hdr, strlen(hdr));
        free(hdr);
    }
    if(!rc && p->len && !p->skipping)
        pull_line(p);
    if(!rc)
        rc = pull_result(st, p, image, err);
    if(!rc && !p->digest[0] && ref.digest[0]) /* pulled by digest: that is the one */
        snprintf(p->digest, sizeof(p->digest), "%.127s", ref.digest);
    else if(!rc && !p->digest[0]) {
        char full[sizeof(name) + sizeof(tag) + 1];
        snprintf(full, sizeof(full), "%s:%s", name, tag);
        recorded_digest(c, name, full, p->digest, sizeof(p->digest));
    }
    if(!rc && digest)
        snprintf(digest, dcap, "%s", p->digest);
    free(p);
    return rc;
}
