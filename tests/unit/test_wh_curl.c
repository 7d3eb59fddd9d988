/* Unit tests for wh_curl against a tiny HTTP server on a unix socket (or a
 * socketpair for the fd hook) run by a thread of this test. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wh_curl.h"

/* What the server thread answers: a canned response, or (idle) headers of
 * a chunked response and then silence until the client goes away. */
typedef struct server {
    int lfd;             /* listening socket, or -1 with `cfd` set */
    int cfd;             /* already-connected fd (socketpair end) */
    const char *reply;   /* raw bytes to send after reading the request */
    size_t reply_len;
    int requests;        /* how many requests to serve on one connection */
    char got[4096];      /* the first request as received */
    size_t got_len;
    pthread_t th;
} server;

static char g_path[108];

static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while(n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if(r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if(end) {
            /* Read a Content-Length body too, if any. */
            char *cl = strcasestr(buf, "content-length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            size_t have = n - (size_t)(end + 4 - buf);
            if(have >= want)
                break;
        }
    }
    return n;
}

static void *serve(void *ud)
{
    server *s = ud;
    int fd = s->lfd >= 0 ? accept(s->lfd, NULL, NULL) : s->cfd;
    if(fd < 0)
        return NULL;
    for(int i = 0; i < s->requests; i++) {
        char tmp[4096];
        size_t n = read_request(fd, tmp, sizeof(tmp));
        if(n == 0)
            break;
        if(i == 0) {
            memcpy(s->got, tmp, n);
            s->got_len = n;
        }
        if(write(fd, s->reply, s->reply_len) < 0)
            break;
    }
    /* Wait for the client to close (idle replies hang here). */
    char c;
    while(read(fd, &c, 1) > 0)
        ;
    close(fd);
    return NULL;
}

static void server_start(server *s, const char *reply, int requests)
{
    memset(s, 0, sizeof(*s));
    s->reply = reply;
    s->reply_len = strlen(reply);
    s->requests = requests;
    s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", g_path);
    unlink(g_path);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(server *s)
{
    pthread_join(s->th, NULL);
    if(s->lfd >= 0)
        close(s->lfd);
    unlink(g_path);
}

static const char OK_REPLY[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
                               "Content-Length: 11\r\n\r\n{\"ok\":true}";

static void test_get_over_unix_socket(void **st)
{
    (void)st;
    server s;
    server_start(&s, OK_REPLY, 1);
    wh_curl *c = wh_curl_new(NULL);
    assert_non_null(c);
    const char *hdrs[] = {"X-Test: yes", NULL};
    wh_curl_req rq = {.url = "http://docker/v1.41/version", .unix_socket = g_path, .headers = hdrs};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_OK);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.body, "{\"ok\":true}");
    assert_int_equal(rs.body_len, 11);
    char v[64];
    assert_int_equal(wh_curl_header(&rs, "api-version", v, sizeof(v)), 4);
    assert_string_equal(v, "1.41");
    assert_int_equal(wh_curl_header(&rs, "CONTENT-TYPE", v, 5), 16); /* full length, cut copy */
    assert_string_equal(v, "appl");
    assert_int_equal(wh_curl_header(&rs, "X-Missing", v, sizeof(v)), -1);
    wh_curl_resp_clear(&rs);
    wh_curl_free(c);
    server_stop(&s);
    assert_non_null(strstr(s.got, "GET /v1.41/version HTTP/1.1\r\n"));
    assert_non_null(strstr(s.got, "X-Test: yes\r\n"));
}

static void test_keepalive_reuses_one_connection(void **st)
{
    (void)st;
    server s;
    server_start(&s, OK_REPLY, 3); /* one accept, three requests */
    wh_curl *c = wh_curl_new(NULL);
    for(int i = 0; i < 3; i++) {
        wh_curl_req rq = {.url = "http://docker/_ping", .unix_socket = g_path, .timeout_ms = 5000};
        wh_curl_resp rs;
        wh_err err;
        assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_OK);
        assert_int_equal(rs.status, 200);
        wh_curl_resp_clear(&rs);
    }
    wh_curl_free(c);
    server_stop(&s);
}

static void test_post_body_and_status_passthrough(void **st)
{
    (void)st;
    server s;
    server_start(&s, "HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\nno", 1);
    wh_curl *c = wh_curl_new(NULL);
    wh_curl_req rq = {.method = "POST", .url = "http://d/containers/create?name=a%20b", .unix_socket = g_path,
                      .body = "{\"Image\":\"x\"}", .body_len = 13};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_OK);
    assert_int_equal(rs.status, 409); /* an HTTP error is the caller's to map */
    assert_string_equal(rs.body, "no");
    wh_curl_resp_clear(&rs);
    wh_curl_free(c);
    server_stop(&s);
    assert_non_null(strstr(s.got, "POST /containers/create?name=a%20b HTTP/1.1\r\n"));
    assert_non_null(strstr(s.got, "\r\n\r\n{\"Image\":\"x\"}"));
    assert_null(strcasestr(s.got, "Expect:"));
}

static void test_body_cap_is_too_large(void **st)
{
    (void)st;
    server s;
    server_start(&s, OK_REPLY, 1);
    wh_curl *c = wh_curl_new(NULL);
    wh_curl_req rq = {.url = "http://d/x", .unix_socket = g_path, .max_body = 5};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_E_TOO_LARGE);
    assert_null(rs.body);
    assert_non_null(strstr(err.msg, "5 bytes"));
    wh_curl_free(c);
    server_stop(&s);
}

typedef struct collect {
    char buf[64];
    size_t n;
    int calls;
} collect;

static wh_code collect_sink(void *ud, const char *d, size_t n)
{
    collect *k = ud;
    k->calls++;
    if(k->n + n > sizeof(k->buf))
        return WH_E_TOO_LARGE;
    memcpy(k->buf + k->n, d, n);
    k->n += n;
    return WH_OK;
}

static void test_sink_streams_the_body(void **st)
{
    (void)st;
    server s;
    server_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 1);
    wh_curl *c = wh_curl_new(NULL);
    collect k = {0};
    wh_curl_req rq = {.url = "http://d/logs", .unix_socket = g_path, .sink = collect_sink, .sink_ud = &k};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_OK);
    assert_null(rs.body);
    assert_int_equal(k.n, 5);
    assert_memory_equal(k.buf, "abcde", 5);
    wh_curl_resp_clear(&rs);
    wh_curl_free(c);
    server_stop(&s);
}

static wh_code refusing_sink(void *ud, const char *d, size_t n)
{
    (void)ud, (void)d, (void)n;
    return WH_E_CONFLICT;
}

static void test_sink_can_stop_with_its_code(void **st)
{
    (void)st;
    server s;
    server_start(&s, OK_REPLY, 1);
    wh_curl *c = wh_curl_new(NULL);
    wh_curl_req rq = {.url = "http://d/x", .unix_socket = g_path, .sink = refusing_sink};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_E_CONFLICT);
    wh_curl_free(c);
    server_stop(&s);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double g_abort_at;
static bool abort_after(void *ud)
{
    (void)ud;
    return now_s() >= g_abort_at;
}

static void test_abort_stops_an_idle_stream_promptly(void **st)
{
    (void)st;
    server s;
    /* Headers of a stream that then never sends anything. */
    server_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1);
    wh_curl *c = wh_curl_new(NULL);
    collect k = {0};
    g_abort_at = now_s() + 0.3;
    wh_curl_req rq = {.url = "http://d/logs?follow=1", .unix_socket = g_path, .sink = collect_sink,
                      .sink_ud = &k, .abort = abort_after};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_E_INTERRUPTED);
    double late = now_s() - g_abort_at;
    printf("# abort noticed %.0f ms after it was due\n", late * 1000);
    assert_true(late < 0.25); /* WH_CURL_POLL_MS plus scheduling slack, far below curl's own 1 s */
    wh_curl_free(c);
    server_stop(&s);
}

static void test_timeout_is_timeout(void **st)
{
    (void)st;
    server s;
    server_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1);
    wh_curl *c = wh_curl_new(NULL);
    collect k = {0};
    wh_curl_req rq = {.url = "http://d/x", .unix_socket = g_path, .sink = collect_sink, .sink_ud = &k,
                      .timeout_ms = 200};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_E_TIMEOUT);
    wh_curl_free(c);
    server_stop(&s);
}

static void test_missing_socket_is_unreachable(void **st)
{
    (void)st;
    unlink(g_path);
    wh_curl *c = wh_curl_new(NULL);
    wh_curl_req rq = {.url = "http://d/_ping", .unix_socket = g_path};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_E_UNREACHABLE);
    assert_int_equal(err.code, WH_E_UNREACHABLE);
    wh_curl_free(c);
}

static int g_pair[2];
static int give_fd(void *ud, wh_err *err)
{
    (void)ud, (void)err;
    return g_pair[0];
}

static int no_fd(void *ud, wh_err *err)
{
    (void)ud;
    wh_err_set(err, WH_E_HOST_KEY, "", "host key changed");
    return -1;
}

static void test_open_hook_uses_the_given_fd(void **st)
{
    (void)st;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, g_pair), 0);
    server s;
    memset(&s, 0, sizeof(s));
    s.lfd = -1;
    s.cfd = g_pair[1];
    s.reply = OK_REPLY;
    s.reply_len = strlen(OK_REPLY);
    s.requests = 1;
    assert_int_equal(pthread_create(&s.th, NULL, serve, &s), 0);
    wh_curl *c = wh_curl_new(NULL);
    wh_curl_req rq = {.url = "http://docker/_ping", .open_fd = give_fd};
    wh_curl_resp rs;
    wh_err err;
    wh_code rc = wh_curl_do(c, &rq, &rs, &err);
    if(rc)
        printf("# %s: %s\n", wh_code_name(rc), err.msg);
    assert_int_equal(rc, WH_OK);
    assert_int_equal(rs.status, 200);
    wh_curl_resp_clear(&rs);
    wh_curl_free(c); /* closes g_pair[0], so the server thread ends */
    pthread_join(s.th, NULL);
    assert_non_null(strstr(s.got, "GET /_ping HTTP/1.1\r\n"));

    c = wh_curl_new(NULL);
    wh_curl_req r2 = {.url = "http://docker/_ping", .open_fd = no_fd};
    assert_int_equal(wh_curl_do(c, &r2, &rs, &err), WH_E_HOST_KEY);
    assert_string_equal(err.msg, "host key changed");
    wh_curl_free(c);
}

static void test_thread_client_is_reused(void **st)
{
    (void)st;
    wh_curl *a = wh_curl_thread(NULL);
    assert_non_null(a);
    assert_ptr_equal(a, wh_curl_thread(NULL));
}

static void test_escape(void **st)
{
    (void)st;
    char out[32];
    assert_true(wh_curl_escape("a b/c?&=%~_.-Z9", 15, out, sizeof(out)));
    assert_string_equal(out, "a%20b%2Fc%3F%26%3D%25~_.-Z9");
    assert_false(wh_curl_escape("////", 4, out, 10));
    assert_true(strlen(out) < 10);
    assert_true(wh_curl_escape("", 0, out, 1));
    assert_string_equal(out, "");
}

static void test_no_url_is_bad_args(void **st)
{
    (void)st;
    wh_curl *c = wh_curl_new(NULL);
    wh_curl_req rq = {0};
    wh_curl_resp rs;
    wh_err err;
    assert_int_equal(wh_curl_do(c, &rq, &rs, &err), WH_E_BAD_ARGS);
    wh_curl_free(c);
}

int main(void)
{
    snprintf(g_path, sizeof(g_path), "/tmp/wh_curl_test.%ld.sock", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_over_unix_socket),
        cmocka_unit_test(test_keepalive_reuses_one_connection),
        cmocka_unit_test(test_post_body_and_status_passthrough),
        cmocka_unit_test(test_body_cap_is_too_large),
        cmocka_unit_test(test_sink_streams_the_body),
        cmocka_unit_test(test_sink_can_stop_with_its_code),
        cmocka_unit_test(test_abort_stops_an_idle_stream_promptly),
        cmocka_unit_test(test_timeout_is_timeout),
        cmocka_unit_test(test_missing_socket_is_unreachable),
        cmocka_unit_test(test_open_hook_uses_the_given_fd),
        cmocka_unit_test(test_thread_client_is_reused),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_no_url_is_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
