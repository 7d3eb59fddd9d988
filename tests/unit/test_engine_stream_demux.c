/* Unit tests for rt_demux: Docker's multiplexed stream cut at every byte,
 * bad headers, raw (TTY) streams, and the line splitter's caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream_demux.h"

typedef struct got {
    char out[256], err[256];
    size_t on, en;
    int calls;
} got;

static wh_code collect(void *ud, rt_stream s, const char *d, size_t n)
{
    got *g = ud;
    g->calls++;
    char *b = s == RT_STDERR ? g->err : g->out;
    size_t *len = s == RT_STDERR ? &g->en : &g->on;
    assert_true(*len + n < 256);
    memcpy(b + *len, d, n);
    *len += n;
    return WH_OK;
}

/* Append one frame to buf. */
static size_t frame(unsigned char *buf, int stream, const char *payload)
{
    size_t n = strlen(payload);
    buf[0] = (unsigned char)stream;
    buf[1] = buf[2] = buf[3] = 0;
    buf[4] = (unsigned char)(n >> 24);
    buf[5] = (unsigned char)(n >> 16);
    buf[6] = (unsigned char)(n >> 8);
    buf[7] = (unsigned char)n;
    memcpy(buf + 8, payload, n);
    return 8 + n;
}

static size_t sample(unsigned char *buf)
{
    size_t n = 0;
    n += frame(buf + n, 1, "hello ");
    n += frame(buf + n, 2, "oops\n");
    n += frame(buf + n, 1, "world\n");
    n += frame(buf + n, 1, "");
    return n;
}

static void test_whole_and_split_at_every_byte(void **st)
{
    (void)st;
    unsigned char buf[128];
    size_t n = sample(buf);
    for(size_t chunk = 1; chunk <= n; chunk++) {
        got g = {0};
        rt_demux d;
        rt_demux_init(&d, false, collect, &g);
        for(size_t off = 0; off < n; off += chunk) {
            size_t take = n - off < chunk ? n - off : chunk;
            assert_int_equal(rt_demux_feed(&d, (const char *)buf + off, take, NULL), WH_OK);
        }
        assert_true(rt_demux_clean(&d));
        assert_int_equal(g.on, 12);
        assert_memory_equal(g.out, "hello world\n", 12);
        assert_int_equal(g.en, 5);
        assert_memory_equal(g.err, "oops\n", 5);
    }
}

static void test_truncated_stream_is_not_clean(void **st)
{
    (void)st;
    unsigned char buf[128];
    size_t n = sample(buf);
    got g = {0};
    rt_demux d;
    rt_demux_init(&d, false, collect, &g);
    assert_int_equal(rt_demux_feed(&d, (const char *)buf, 11, NULL), WH_OK); /* header + 3 of 6 bytes */
    assert_false(rt_demux_clean(&d));
    assert_int_equal(g.on, 3);
    (void)n;
}

static void test_bad_headers_are_engine_errors(void **st)
{
    (void)st;
    static const unsigned char bad[][8] = {
        {3, 0, 0, 0, 0, 0, 0, 1},    /* no stream 3 */
        {1, 1, 0, 0, 0, 0, 0, 1},    /* padding not zero */
        {'{', '"', 'm', 'e', 0, 0, 0, 0}, /* a JSON error body where frames were expected */
    };
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        got g = {0};
        rt_demux d;
        wh_err err;
        rt_demux_init(&d, false, collect, &g);
        assert_int_equal(rt_demux_feed(&d, (const char *)bad[i], 8, &err), WH_E_ENGINE);
        assert_non_null(strstr(err.msg, "bad frame header"));
        assert_int_equal(g.calls, 0);
    }
}

static void test_huge_declared_frame_allocates_nothing(void **st)
{
    (void)st;
    unsigned char h[12] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'};
    got g = {0};
    rt_demux d;
    rt_demux_init(&d, false, collect, &g);
    assert_int_equal(rt_demux_feed(&d, (const char *)h, sizeof(h), NULL), WH_OK);
    assert_int_equal(g.on, 4);
    assert_int_equal(d.left, 0xffffffffu - 4);
}

static void test_raw_stream_is_all_stdout(void **st)
{
    (void)st;
    got g = {0};
    rt_demux d;
    rt_demux_init(&d, true, collect, &g);
    assert_int_equal(rt_demux_feed(&d, "\x02\x00raw", 5, NULL), WH_OK);
    assert_int_equal(g.on, 5);
    assert_int_equal(g.en, 0);
}

typedef struct lines {
    char text[8][64];
    rt_stream s[8];
    bool cut[8];
    size_t len[8];
    int n;
} lines;

static wh_code on_line(void *ud, rt_stream s, const char *l, size_t n, bool cut)
{
    lines *x = ud;
    assert_true(x->n < 8);
    memcpy(x->text[x->n], l, n < 63 ? n : 63);
    x->len[x->n] = n;
    x->s[x->n] = s;
    x->cut[x->n++] = cut;
    return WH_OK;
}

static void test_lines_per_stream_with_crlf_and_flush(void **st)
{
    (void)st;
    lines x = {0};
    rt_lines *l = malloc(sizeof(*l));
    rt_lines_init(l, on_line, &x);
    assert_int_equal(rt_lines_feed(l, RT_STDOUT, "a1\r\na", 5), WH_OK);
    assert_int_equal(rt_lines_feed(l, RT_STDERR, "e1\ne", 4), WH_OK);
    assert_int_equal(rt_lines_feed(l, RT_STDOUT, "2\n\n", 3), WH_OK);
    assert_int_equal(rt_lines_flush(l), WH_OK);
    assert_int_equal(x.n, 5);
    assert_string_equal(x.text[0], "a1");
    assert_int_equal(x.s[0], RT_STDOUT);
    assert_string_equal(x.text[1], "e1");
    assert_int_equal(x.s[1], RT_STDERR);
    assert_string_equal(x.text[2], "a2");
    assert_int_equal(x.len[3], 0); /* the empty line is kept */
    assert_string_equal(x.text[4], "e");  /* flushed partial stderr line */
    assert_int_equal(x.s[4], RT_STDERR);
    free(l);
}

static void test_overlong_line_is_cut_once(void **st)
{
    (void)st;
    lines x = {0};
    rt_lines *l = malloc(sizeof(*l));
    rt_lines_init(l, on_line, &x);
    char *big = malloc(RT_LINE_MAX + 100);
    memset(big, 'x', RT_LINE_MAX + 100);
    assert_int_equal(rt_lines_feed(l, RT_STDOUT, big, RT_LINE_MAX + 100), WH_OK);
    assert_int_equal(rt_lines_feed(l, RT_STDOUT, "yyy\nnext\n", 9), WH_OK);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.len[0], RT_LINE_MAX);
    assert_true(x.cut[0]);
    assert_string_equal(x.text[1], "next");
    assert_false(x.cut[1]);
    free(big);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_and_split_at_every_byte),
        cmocka_unit_test(test_truncated_stream_is_not_clean),
        cmocka_unit_test(test_bad_headers_are_engine_errors),
        cmocka_unit_test(test_huge_declared_frame_allocates_nothing),
        cmocka_unit_test(test_raw_stream_is_all_stdout),
        cmocka_unit_test(test_lines_per_stream_with_crlf_and_flush),
        cmocka_unit_test(test_overlong_line_is_cut_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
