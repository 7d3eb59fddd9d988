/* ECR GetAuthorizationToken: the request built, signed by libcurl's SigV4,
 * as a local listener receives it; the answer parsed and cached. (Not
 * tried against AWS itself.) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ecr.h"
#include "token_cache.h"

#define SECRET "canarySecretKey0123456789abcdefghijklmnop"

static wh_inv_registry mkreg(const char *url, const char *region)
{
    wh_inv_registry r;
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "aws");
    snprintf(r.provider, sizeof(r.provider), "ecr");
    snprintf(r.url, sizeof(r.url), "%s", url);
    snprintf(r.region, sizeof(r.region), "%s", region);
    snprintf(r.aws_access_key_id, sizeof(r.aws_access_key_id), "AKIDEXAMPLE");
    snprintf(r.aws_secret_access_key, sizeof(r.aws_secret_access_key), SECRET);
    return r;
}

static void test_build(void **state)
{
    (void)state;
    rg_ecr_req q;
    wh_err err;
    wh_inv_registry r = mkreg("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "");
    assert_int_equal(rg_ecr_build(&r, NULL, &q, &err), WH_OK);
    assert_string_equal(q.region, "eu-west-1");
    assert_string_equal(q.url, "https://api.ecr.eu-west-1.amazonaws.com/");
    assert_string_equal(q.sigv4, "aws:amz:eu-west-1:ecr");
    assert_string_equal(q.headers[0], "Content-Type: application/x-amz-json-1.1");
    assert_string_equal(q.headers[1], "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken");
    assert_null(q.headers[2]);
    assert_string_equal(q.body, "{}");
    r = mkreg("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "us-east-2");
    assert_int_equal(rg_ecr_build(&r, NULL, &q, &err), WH_OK);
    assert_string_equal(q.sigv4, "aws:amz:us-east-2:ecr");
    r = mkreg("https://registry.example.com", "");
    assert_int_equal(rg_ecr_build(&r, NULL, &q, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "registry.aws.region"));
    r = mkreg("https://1.dkr.ecr.eu-west-1.amazonaws.com", "");
    r.aws_secret_access_key[0] = '\0';
    assert_int_equal(rg_ecr_build(&r, NULL, &q, &err), WH_E_BAD_CONFIG);
    assert_null(strstr(err.msg, SECRET));
}

/* A one-shot HTTP listener that records the request it gets. */
typedef struct listener {
    int fd, port, accepted;
    char req[8192];
} listener;

static void *serve(void *arg)
{
    listener *l = arg;
    int c = accept(l->fd, NULL, NULL);
    if(c < 0)
        return NULL;
    l->accepted++;
    size_t got = 0;
    while(got < sizeof(l->req) - 1) {
        ssize_t n = read(c, l->req + got, sizeof(l->req) - 1 - got);
        if(n <= 0)
            break;
        got += (size_t)n;
        l->req[got] = '\0';
        char *end = strstr(l->req, "\r\n\r\n");
        if(end && strlen(end + 4) >= 2) /* the "{}" body */
            break;
    }
    char body[256], resp[512];
    snprintf(body, sizeof(body),
             "{\"authorizationData\":[{\"authorizationToken\":\"QVdTOnNlY3JldA==\",\"expiresAt\":%lld,"
             "\"proxyEndpoint\":\"https://1.dkr.ecr.eu-west-1.amazonaws.com\"}]}",
             (long long)time(NULL) + 43200);
    int k = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     strlen(body), body);
    if(write(c, resp, (size_t)k) != k)
        l->accepted = -100;
    close(c);
    return NULL;
}

static void test_signed_request_and_cache(void **state)
{
    (void)state;
    listener l = {0};
    l.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(l.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l.fd, 4), 0);
    getsockname(l.fd, (struct sockaddr *)&a, &al);
    l.port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, serve, &l);

    rg_tokc_clear();
    wh_inv_registry r = mkreg("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "");
    rg_conn c;
    wh_err err;
    memset(&c, 0, sizeof(c));
    c.reg = &r;
    c.curl = wh_curl_new(&err);
    assert_non_null(c.curl);
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", l.port);
    if(rg_ecr_login(&c, ep, &err))
        fail_msg("login: %s", err.msg);
    pthread_join(th, NULL);
    assert_int_equal(l.accepted, 1);
    assert_string_equal(c.basic_b64, "QVdTOnNlY3JldA==");
    assert_true(c.use_basic);
    /* What reached the wire: the method, target, body and a SigV4 header
     * scoped to today/eu-west-1/ecr, and never the secret key. */
    assert_non_null(strstr(l.req, "POST / HTTP/1.1\r\n"));
    assert_non_null(strstr(l.req, "\r\nX-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken\r\n"));
    assert_non_null(strstr(l.req, "\r\nContent-Type: application/x-amz-json-1.1\r\n"));
    assert_non_null(strstr(l.req, "\r\n\r\n{}"));
    char date[16], cred[128];
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y%m%d", gmtime(&now));
    snprintf(cred, sizeof(cred), "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/%s/eu-west-1/ecr/aws4_request",
             date);
    if(!strstr(l.req, cred))
        fail_msg("no %s in:\n%s", cred, l.req);
    const char *sig = strstr(l.req, "Signature=");
    assert_non_null(sig);
    assert_true(strspn(sig + 10, "0123456789abcdef") == 64);
    assert_non_null(strstr(l.req, "\r\nX-Amz-Date: "));
    assert_null(strstr(l.req, SECRET));
    /* A second login comes from the cache: the listener is gone. */
    rg_conn_close(&c);
    assert_null(c.basic_b64);
    if(rg_ecr_login(&c, ep, &err))
        fail_msg("cached login: %s", err.msg);
    assert_string_equal(c.basic_b64, "QVdTOnNlY3JldA==");
    rg_conn_close(&c);
    wh_curl_free(c.curl);
    close(l.fd);
    rg_tokc_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_build), cmocka_unit_test(test_signed_request_and_cache)};
    return cmocka_run_group_tests_name("rg_ecr", tests, NULL, NULL);
}
