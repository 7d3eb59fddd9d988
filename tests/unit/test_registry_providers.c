/* Provider quirks, each against a local HTTP server that answers the way
 * that provider publicly does (its challenge, token endpoint and paging),
 * driven through the real client (rg_conn, rg_api):
 *   ghcr    anonymous token: no credentials, a token anyway, sent as Bearer
 *   gitlab  token service at /jwt/auth, Basic credentials and account=
 *   gcr     Basic user "_json_key" with the service-account JSON as password
 *   dockerhub  "nginx" is docker.io/library/nginx, token from the realm with
 *           service registry.docker.io; digests by HEAD (no pull counted)
 *   quay    relative Link paging with an opaque next_page, token at /v2/auth
 * plus scoped token caching: a second lookup with the same scope asks the
 * token service nothing; and rg_memo (update_check's per-job memo): one
 * request per reference or repository, failures included. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_v2.h"
#include "answer_memo.h"
#include "token_cache.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MAXREQ 32

/* One request as the server saw it. */
typedef struct seen {
    char method[8], target[512], auth[512];
} seen;

/* The fake registry: `mode` picks the provider's behaviour. */
typedef struct server {
    int fd, port;
    const char *mode;
    volatile int stop;
    pthread_t th;
    pthread_mutex_t mu;
    seen req[MAXREQ];
    int n;
} server;

static void header_of(const char *req, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    for(const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        size_t n = strlen(name);
        if(strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            v += strspn(v, " ");
            snprintf(out, cap, "%.*s", (int)strcspn(v, "\r"), v);
            return;
        }
    }
}

/* Answer one request: status, extra header lines and body into resp. */
static void answer(server *s, const seen *q, char *resp, size_t cap)
{
    char chal[600] = "", extra[600] = "", body[600] = "";
    const char *ctype = "application/json";
    int status = 200;
    const char *realm_path = "/token", *service = "", *scope = "", *want_auth = NULL, *tok = "";
    if(strcmp(s->mode, "ghcr") == 0) {
        service = "ghcr.io", scope = "repository:owner/image:pull", tok = "ghcr-anon-token";
    } else if(strcmp(s->mode, "gitlab") == 0) {
        realm_path = "/jwt/auth", service = "container_registry", scope = "repository:group/project:pull";
        want_auth = "Basic ZGVwbG95OmRlcGxveS1wdw==", tok = "gitlab-token"; /* deploy:deploy-pw */
    } else if(strcmp(s->mode, "gcr") == 0) {
        realm_path = "/v2/token", service = "gcr.io", scope = "repository:proj/app:pull";
        /* _json_key:{"type":"service_account"} */
        want_auth = "Basic X2pzb25fa2V5OnsidHlwZSI6InNlcnZpY2VfYWNjb3VudCJ9", tok = "gcr-token";
    } else if(strcmp(s->mode, "dockerhub") == 0) {
        service = "registry.docker.io", scope = "repository:library/nginx:pull", tok = "hub-token";
    } else if(strcmp(s->mode, "quay") == 0) {
        realm_path = "/v2/auth", service = "quay.io", scope = "repository:org/app:pull";
        want_auth = "Basic b3JnK3JvYm90OnJvYm90LXB3", tok = "quay-token"; /* org+robot:robot-pw */
    }
    char bearer[128];
    snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
    if(strncmp(q->target, realm_path, strlen(realm_path)) == 0 && q->target[strlen(realm_path)] == '?') {
        if(want_auth && strcmp(q->auth, want_auth) != 0)
            status = 401;
        else if(strcmp(s->mode, "dockerhub") == 0)
            snprintf(body, sizeof(body), "{\"token\":\"%s\",\"access_token\":\"%s\",\"expires_in\":300,"
                     "\"issued_at\":\"2026-11-23T10:00:00Z\"}", tok, tok);
        else
            snprintf(body, sizeof(body), "{\"token\":\"%s\",\"expires_in\":900}", tok);
    } else if(strcmp(q->auth, bearer) != 0) {
        status = 401;
        snprintf(chal, sizeof(chal), "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d%s\",service=\"%s\","
                 "scope=\"%s\"\r\n", s->port, realm_path, service, scope);
    } else if(strstr(q->target, "/manifests/")) {
        snprintf(extra, sizeof(extra), "Docker-Content-Digest: %s\r\nratelimit-remaining: 99;w=21600\r\n", DIGEST);
        ctype = "application/vnd.docker.distribution.manifest.v2+json";
    } else if(strstr(q->target, "/tags/list")) {
        /* quay: pages of two, a relative next link with an opaque token */
        const char *page = strstr(q->target, "next_page=");
        int k = page ? atoi(page + 10) : 0;
        const char *tags[] = {"1.0", "1.1", "2.0", "latest", "2.1"};
        snprintf(body, sizeof(body), "{\"name\":\"org/app\",\"tags\":[\"%s\"%s%s%s]}", tags[k],
                 k + 1 < 5 ? ",\"" : "", k + 1 < 5 ? tags[k + 1] : "", k + 1 < 5 ? "\"" : "");
        if(k + 2 < 5)
            snprintf(extra, sizeof(extra), "Link: </v2/org/app/tags/list?n=2&next_page=%d>; rel=\"next\"\r\n", k + 2);
    }
    snprintf(resp, cap, "HTTP/1.1 %d X\r\n%s%sContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status, chal, extra, ctype, strcmp(q->method, "HEAD") == 0 ? 0 : strlen(body),
             strcmp(q->method, "HEAD") == 0 ? "" : body);
}

static void *serve(void *arg)
{
    server *s = arg;
    while(!s->stop) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if(poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if(c < 0)
            continue;
        char buf[8192];
        size_t got = 0;
        while(got < sizeof(buf) - 1) {
            ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
            if(n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if(strstr(buf, "\r\n\r\n"))
                break;
        }
        buf[got] = '\0';
        seen q = {0};
        snprintf(q.method, sizeof(q.method), "%.*s", (int)strcspn(buf, " "), buf);
        const char *t = strchr(buf, ' ');
        snprintf(q.target, sizeof(q.target), "%.*s", t ? (int)strcspn(t + 1, " ") : 0, t ? t + 1 : "");
        header_of(buf, "Authorization", q.auth, sizeof(q.auth));
        char resp[2048];
        pthread_mutex_lock(&s->mu);
        if(s->n < MAXREQ)
            s->req[s->n++] = q;
        answer(s, &q, resp, sizeof(resp));
        pthread_mutex_unlock(&s->mu);
        if(write(c, resp, strlen(resp)) < 0)
            s->stop = 2;
        close(c);
    }
    return NULL;
}

static server *start(const char *mode)
{
    server *s = calloc(1, sizeof(*s));
    s->mode = mode;
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, serve, s);
    return s;
}

static void stop(server *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Requests whose target starts with `prefix`. */
static int count(server *s, const char *prefix)
{
    int k = 0;
    pthread_mutex_lock(&s->mu);
    for(int i = 0; i < s->n; i++)
        k += strncmp(s->req[i].target, prefix, strlen(prefix)) == 0;
    pthread_mutex_unlock(&s->mu);
    return k;
}

/* The first request whose target starts with `prefix` (a copy). */
static seen first(server *s, const char *prefix)
{
    seen q = {0};
    pthread_mutex_lock(&s->mu);
    for(int i = 0; i < s->n; i++)
        if(strncmp(s->req[i].target, prefix, strlen(prefix)) == 0) {
            q = s->req[i];
            break;
        }
    pthread_mutex_unlock(&s->mu);
    return q;
}

static wh_inv_registry mkreg(const server *s, const char *provider, const char *user, const char *pw)
{
    wh_inv_registry r;
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s-test", provider);
    snprintf(r.provider, sizeof(r.provider), "%s", provider);
    snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d", s->port);
    snprintf(r.username, sizeof(r.username), "%s", user);
    snprintf(r.password, sizeof(r.password), "%s", pw);
    return r;
}

/* HEAD `image` through a fresh connection to reg; returns the code. */
static wh_code head(const wh_inv_registry *reg, const char *image, rg_head *h, wh_err *err)
{
    wh_ref ref;
    rg_conn c;
    assert_int_equal(wh_ref_parse(image, strlen(image), &ref, "image", err), WH_OK);
    assert_int_equal(rg_conn_open(&c, reg, NULL, err), WH_OK);
    wh_code rc = rg_api_head(&c, &ref, h, err);
    rg_conn_close(&c);
    return rc;
}

static void test_ghcr_anonymous_token(void **state)
{
    (void)state;
    rg_tokc_clear();
    server *s = start("ghcr");
    wh_inv_registry r = mkreg(s, "ghcr", "", "");
    rg_head h;
    wh_err err;
    char image[128];
    snprintf(image, sizeof(image), "127.0.0.1:%d/owner/image:1", s->port);
    if(head(&r, image, &h, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(h.digest, DIGEST);
    seen t = first(s, "/token?");
    assert_string_equal(t.auth, "");  /* anonymous: no credentials sent */
    assert_non_null(strstr(t.target, "service=ghcr.io"));
    assert_non_null(strstr(t.target, "scope=repository%3Aowner%2Fimage%3Apull"));
    assert_null(strstr(t.target, "account="));
    assert_int_equal(count(s, "/token?"), 1);
    stop(s);
}

static void test_gitlab_jwt_auth_with_caching(void **state)
{
    (void)state;
    rg_tokc_clear();
    server *s = start("gitlab");
    wh_inv_registry r = mkreg(s, "gitlab", "deploy", "deploy-pw");
    rg_head h;
    wh_err err;
    char image[128];
    snprintf(image, sizeof(image), "127.0.0.1:%d/group/project:1.0", s->port);
    if(head(&r, image, &h, &err))
        fail_msg("%s", err.msg);
    seen t = first(s, "/jwt/auth?");
    assert_string_equal(t.auth, "Basic ZGVwbG95OmRlcGxveS1wdw==");
    assert_non_null(strstr(t.target, "service=container_registry"));
    assert_non_null(strstr(t.target, "account=deploy"));
    /* Another connection, same scope: the cached token, no token request. */
    if(head(&r, image, &h, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(count(s, "/jwt/auth?"), 1);
    assert_int_equal(count(s, "/v2/group/project/manifests/1.0"), 3); /* 401, 200, 200 */
    /* Wrong credentials: the token service says 401, a permanent auth_failed. */
    rg_tokc_clear();
    r = mkreg(s, "gitlab", "deploy", "wrong");
    assert_int_equal(head(&r, image, &h, &err), WH_E_AUTH_FAILED);
    assert_false(wh_code_transient(WH_E_AUTH_FAILED));
    assert_null(strstr(err.msg, "wrong"));
    stop(s);
}

static void test_gcr_json_key_user(void **state)
{
    (void)state;
    rg_tokc_clear();
    server *s = start("gcr");
    wh_inv_registry r = mkreg(s, "gcr", "", "{\"type\":\"service_account\"}");
    rg_head h;
    wh_err err;
    char image[128];
    snprintf(image, sizeof(image), "127.0.0.1:%d/proj/app:v1", s->port);
    if(head(&r, image, &h, &err))
        fail_msg("%s", err.msg);
    seen t = first(s, "/v2/token?");
    assert_string_equal(t.auth, "Basic X2pzb25fa2V5OnsidHlwZSI6InNlcnZpY2VfYWNjb3VudCJ9");
    assert_non_null(strstr(t.target, "service=gcr.io"));
    assert_string_equal(h.digest, DIGEST);
    stop(s);
}

static void test_dockerhub_library_and_head(void **state)
{
    (void)state;
    rg_tokc_clear();
    server *s = start("dockerhub");
    wh_inv_registry r = mkreg(s, "dockerhub", "", "");
    wh_inv inv = {.registries = &r, .nregistries = 1};
    wh_ref ref;
    wh_err err;
    /* A bare name is docker.io/library/nginx:latest, served by the hub entry. */
    assert_int_equal(wh_ref_parse("nginx", 5, &ref, "image", &err), WH_OK);
    assert_string_equal(ref.host, "docker.io");
    assert_string_equal(ref.path, "library/nginx");
    assert_ptr_equal(wh_inv_registry_serving(&inv, ref.host), &r);
    rg_conn c;
    rg_head h;
    assert_int_equal(rg_conn_open(&c, &r, NULL, &err), WH_OK);
    if(rg_api_head(&c, &ref, &h, &err))
        fail_msg("%s", err.msg);
    rg_conn_close(&c);
    assert_string_equal(h.digest, DIGEST);
    assert_int_equal(h.kind, RG_MANI_DOCKER_V2);
    seen t = first(s, "/token?");
    assert_non_null(strstr(t.target, "service=registry.docker.io"));
    assert_non_null(strstr(t.target, "scope=repository%3Alibrary%2Fnginx%3Apull"));
    /* The digest came from HEAD requests only: no GET spent pull quota. */
    pthread_mutex_lock(&s->mu);
    for(int i = 0; i < s->n; i++)
        if(strstr(s->req[i].target, "/manifests/"))
            assert_string_equal(s->req[i].method, "HEAD");
    pthread_mutex_unlock(&s->mu);
    /* Without a url the entry is the public registry's origin. */
    r.url[0] = '\0';
    char o[128];
    wh_inv_registry_origin(&r, o, sizeof(o));
    assert_string_equal(o, "https://registry-1.docker.io");
    stop(s);
}

static void test_quay_link_paging(void **state)
{
    (void)state;
    rg_tokc_clear();
    server *s = start("quay");
    wh_inv_registry r = mkreg(s, "quay", "org+robot", "robot-pw");
    rg_conn c;
    rg_list l = {0};
    int pages = 0;
    wh_err err;
    assert_int_equal(rg_conn_open(&c, &r, NULL, &err), WH_OK);
    if(rg_api_tags(&c, "org/app", 2, &l, &pages, &err))
        fail_msg("%s", err.msg);
    rg_conn_close(&c);
    assert_int_equal(pages, 3);
    assert_int_equal(l.n, 5);
    const char *want[] = {"1.0", "1.1", "2.0", "latest", "2.1"};
    for(size_t i = 0; i < l.n; i++)
        assert_string_equal(l.items[i], want[i]);
    rg_list_free(&l);
    assert_int_equal(count(s, "/v2/org/app/tags/list?n=2&next_page=2"), 1);
    assert_int_equal(count(s, "/v2/org/app/tags/list?n=2&next_page=4"), 1);
    assert_int_equal(count(s, "/v2/auth?"), 1); /* one token for every page */
    seen t = first(s, "/v2/auth?");
    assert_string_equal(t.auth, "Basic b3JnK3JvYm90OnJvYm90LXB3");
    stop(s);
}

static void test_memo_one_lookup_each(void **state)
{
    (void)state;
    rg_tokc_clear();
    server *s = start("quay");
    wh_inv_registry r = mkreg(s, "quay", "org+robot", "robot-pw");
    rg_memo *m = rg_memo_new(NULL);
    assert_non_null(m);
    wh_ref ref;
    rg_head h;
    wh_err err;
    char image[128];
    snprintf(image, sizeof(image), "127.0.0.1:%d/org/app:1.0", s->port);
    assert_int_equal(wh_ref_parse(image, strlen(image), &ref, "image", &err), WH_OK);
    for(int i = 0; i < 3; i++) {
        const rg_list *l = NULL;
        if(rg_memo_head(m, &r, &ref, &h, &err) || rg_memo_tags(m, &r, "org/app", &l, &err))
            fail_msg("%s", err.msg);
        assert_string_equal(h.digest, DIGEST);
        assert_int_equal(l->n, 5);
    }
    assert_int_equal(count(s, "/v2/org/app/manifests/1.0"), 2);  /* 401 then 200, once */
    assert_int_equal(count(s, "/v2/org/app/tags/list"), 3);      /* three pages, once */
    int heads = 0, lists = 0;
    rg_memo_counts(m, &heads, &lists);
    assert_int_equal(heads, 1);
    assert_int_equal(lists, 1);
    rg_memo_free(m);
    rg_memo_free(NULL);
    stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ghcr_anonymous_token), cmocka_unit_test(test_gitlab_jwt_auth_with_caching),
        cmocka_unit_test(test_gcr_json_key_user),    cmocka_unit_test(test_dockerhub_library_and_head),
        cmocka_unit_test(test_quay_link_paging),     cmocka_unit_test(test_memo_one_lookup_each),
    };
    int rc = cmocka_run_group_tests_name("rg_prov", tests, NULL, NULL);
    rg_tokc_clear();
    return rc;
}
