/* wh_mhd: the HTTP server adapter, driven over a real loopback socket. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wh_mhd.h"

/* What the test handler saw last. */
typedef struct seen {
    char method[16], path[128], q[64], hdr[64], body[256];
    size_t body_len;
    int streams_done;
    int chunk;
} seen;

static ssize_t stream_fn(void *ud, char *buf, size_t cap)
{
    seen *s = ud;
    if(s->chunk == 3)
        return WH_MHD_STREAM_END;
    if(s->chunk++ == 1)
        return 0; /* nothing ready yet: called again */
    return (ssize_t)snprintf(buf, cap, "data: %d\n\n", s->chunk);
}

static void stream_done(void *ud)
{
    ((seen *)ud)->streams_done++;
}

static void handler(void *ud, wh_mhd_req *req)
{
    seen *s = ud;
    snprintf(s->method, sizeof(s->method), "%s", wh_mhd_method(req));
    snprintf(s->path, sizeof(s->path), "%s", wh_mhd_path(req));
    const char *q = wh_mhd_query(req, "a"), *h = wh_mhd_header(req, "x-test");
    snprintf(s->q, sizeof(s->q), "%s", q ? q : "(none)");
    snprintf(s->hdr, sizeof(s->hdr), "%s", h ? h : "(none)");
    const char *b = wh_mhd_body(req, &s->body_len);
    snprintf(s->body, sizeof(s->body), "%s", b);
    if(strcmp(s->path, "/stream") == 0) {
        s->chunk = 0;
        wh_mhd_reply_stream(req, 200, "text/event-stream", stream_fn, s, stream_done, NULL, 0);
        return;
    }
    if(strcmp(s->path, "/silent") == 0)
        return; /* answers nothing: the adapter must send a 500 */
    wh_mhd_hdr extra[] = {{"X-Reply", "yes"}};
    wh_mhd_reply(req, 201, "text/plain", "hello", 5, extra, 1);
}

/* Send `req` to 127.0.0.1:port and read the whole answer into out. */
static size_t roundtrip(uint16_t port, const char *req, size_t len, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    size_t off = 0;
    while(off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if(n <= 0)
            break; /* the server may close early (413) */
        off += (size_t)n;
    }
    size_t got = 0;
    ssize_t n;
    while(got + 1 < cap && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    return got;
}

static wh_mhd *start(seen *s, size_t max_body)
{
    wh_mhd_opts o = {.host = "127.0.0.1", .port = 0, .max_body = max_body, .timeout_s = 5, .handler = handler,
                     .ud = s};
    wh_err err;
    wh_mhd *d = wh_mhd_start(&o, &err);
    assert_non_null(d);
    assert_true(wh_mhd_port(d) > 0);
    return d;
}

static void test_request_fields_and_reply(void **state)
{
    (void)state;
    seen s = {0};
    wh_mhd *d = start(&s, 1024);
    char out[4096];
    const char req[] = "POST /v1/x%20y?a=b%26c HTTP/1.1\r\nHost: t\r\nX-Test: hi\r\nContent-Length: 4\r\n"
                       "Connection: close\r\n\r\nbody";
    roundtrip(wh_mhd_port(d), req, sizeof(req) - 1, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 201"));
    assert_non_null(strstr(out, "X-Reply: yes"));
    assert_non_null(strstr(out, "\r\n\r\nhello"));
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.path, "/v1/x y"); /* percent-decoded, no query */
    assert_string_equal(s.q, "b&c");
    assert_string_equal(s.hdr, "hi");
    assert_string_equal(s.body, "body");
    assert_int_equal(s.body_len, 4);
    wh_mhd_stop(d);
}

static void test_body_cap_declared_and_chunked(void **state)
{
    (void)state;
    seen s = {0};
    wh_mhd *d = start(&s, 16);
    char out[4096];
    const char big[] = "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\nConnection: close\r\n\r\n12345678901234567";
    roundtrip(wh_mhd_port(d), big, sizeof(big) - 1, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 413"));
    assert_non_null(strstr(out, "\"too_large\""));
    assert_string_equal(s.path, ""); /* the handler never ran */
    const char chunked[] = "POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                           "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n";
    roundtrip(wh_mhd_port(d), chunked, sizeof(chunked) - 1, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 413"));
    assert_string_equal(s.path, "");
    const char fits[] = "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\nConnection: close\r\n\r\n1234567890123456";
    roundtrip(wh_mhd_port(d), fits, sizeof(fits) - 1, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 201"));
    assert_string_equal(s.body, "1234567890123456");
    wh_mhd_stop(d);
}

static void test_stream_and_silent_handler(void **state)
{
    (void)state;
    seen s = {0};
    wh_mhd *d = start(&s, 0);
    char out[4096];
    const char req[] = "GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    roundtrip(wh_mhd_port(d), req, sizeof(req) - 1, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 200"));
    assert_non_null(strstr(out, "text/event-stream"));
    assert_non_null(strstr(out, "data: 1\n\n"));
    assert_non_null(strstr(out, "data: 3\n\n"));
    assert_null(strstr(out, "data: 2\n\n")); /* the 0 return sent nothing */
    const char silent[] = "GET /silent HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    roundtrip(wh_mhd_port(d), silent, sizeof(silent) - 1, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 500"));
    wh_mhd_stop(d);
    assert_int_equal(s.streams_done, 1);
}

static void test_addresses(void **state)
{
    (void)state;
    assert_true(wh_mhd_host_is_loopback("127.0.0.1"));
    assert_true(wh_mhd_host_is_loopback("127.3.2.1"));
    assert_true(wh_mhd_host_is_loopback("::1"));
    assert_false(wh_mhd_host_is_loopback("0.0.0.0"));
    assert_false(wh_mhd_host_is_loopback("::"));
    assert_false(wh_mhd_host_is_loopback("128.0.0.1"));
    assert_false(wh_mhd_host_is_loopback("localhost")); /* names are not resolved */
    assert_false(wh_mhd_host_is_loopback(NULL));
    wh_mhd_opts o = {.host = "web.example", .handler = handler};
    wh_err err;
    assert_null(wh_mhd_start(&o, &err));
    assert_int_equal(err.code, WH_E_BAD_CONFIG);
    assert_string_equal(err.field, "listen");
    wh_mhd_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_fields_and_reply),
        cmocka_unit_test(test_body_cap_declared_and_chunked),
        cmocka_unit_test(test_stream_and_silent_handler),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
