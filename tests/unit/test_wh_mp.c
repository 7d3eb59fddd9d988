/* The msgpack adapter: the structural check must refuse every lie about
 * lengths and depth before msgpack-c allocates, and packing honours caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wh_mp.h"

static wh_code check(const void *b, size_t n)
{
    return wh_mp_check(b, n, WH_MP_MAX_DEPTH, NULL);
}

static void test_valid_values(void **state)
{
    (void)state;
    const unsigned char map[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xc3, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(check(map, sizeof(map)), WH_OK);
    const unsigned char ext[] = {0xd4, 0x01, 0x02};
    assert_int_equal(check(ext, sizeof(ext)), WH_OK);
    const unsigned char str8[] = {0xd9, 0x02, 'h', 'i'};
    assert_int_equal(check(str8, sizeof(str8)), WH_OK);
}

static void test_lies_are_refused(void **state)
{
    (void)state;
    wh_err err;
    const unsigned char truncated[] = {0x82, 0xa1, 'a', 0x01};
    assert_int_equal(wh_mp_check(truncated, sizeof(truncated), 32, &err), WH_E_BAD_MSGPACK);
    const unsigned char never_used[] = {0xc1};
    assert_int_equal(check(never_used, 1), WH_E_BAD_MSGPACK);
    const unsigned char trailing[] = {0x01, 0x02};
    assert_int_equal(check(trailing, 2), WH_E_BAD_MSGPACK);
    const unsigned char str_2g[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(check(str_2g, sizeof(str_2g)), WH_E_BAD_MSGPACK);
    const unsigned char arr_100m[] = {0xdd, 0x05, 0xf5, 0xe1, 0x00, 0x01};
    assert_int_equal(wh_mp_check(arr_100m, sizeof(arr_100m), 32, &err), WH_E_BAD_MSGPACK);
    assert_non_null(strstr(err.msg, "100000000"));
    const unsigned char map_4g[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(check(map_4g, sizeof(map_4g)), WH_E_BAD_MSGPACK);
    assert_int_equal(check("", 0), WH_E_BAD_MSGPACK);
}

static void test_depth_limit(void **state)
{
    (void)state;
    unsigned char buf[64];
    for(int depth = 1; depth <= 40; depth++) {
        memset(buf, 0x91, (size_t)depth); /* arrays of one */
        buf[depth] = 0x00;
        wh_code want = depth <= WH_MP_MAX_DEPTH ? WH_OK : WH_E_BAD_MSGPACK;
        assert_int_equal(check(buf, (size_t)depth + 1), want);
        /* What the check admits, msgpack-c must be able to unpack. */
        wh_mp_doc *d = wh_mp_parse(buf, (size_t)depth + 1, WH_MP_MAX_DEPTH, NULL);
        assert_int_equal(d != NULL, want == WH_OK);
        wh_mp_doc_free(d);
    }
    /* An empty container still counts as a level. */
    memset(buf, 0x91, WH_MP_MAX_DEPTH);
    buf[WH_MP_MAX_DEPTH] = (char)0x90;
    assert_int_equal(check(buf, WH_MP_MAX_DEPTH + 1), WH_E_BAD_MSGPACK);
    buf[WH_MP_MAX_DEPTH - 1] = (char)0x90;
    assert_int_equal(check(buf, WH_MP_MAX_DEPTH), WH_OK);
}

/* Random and mutated bytes: never crash, and check and parse agree. */
static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char buf[64];
    const unsigned char seed[] = {0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0xa1, 'x', 0xa4, 'a', 'r', 'g', 's', 0x80};
    srand(12345);
    int parsed = 0;
    for(int i = 0; i < 200000; i++) {
        size_t n;
        if(i % 2) {
            n = (size_t)(rand() % (int)sizeof(buf));
            for(size_t k = 0; k < n; k++)
                buf[k] = (unsigned char)rand();
        } else {
            n = sizeof(seed);
            memcpy(buf, seed, n);
            buf[rand() % (int)n] = (unsigned char)rand();
        }
        wh_code c = check(buf, n);
        wh_mp_doc *d = wh_mp_parse(buf, n, WH_MP_MAX_DEPTH, NULL);
        assert_int_equal(c == WH_OK, d != NULL);
        parsed += d != NULL;
        wh_mp_doc_free(d);
    }
    assert_true(parsed > 0);
}

/* Absent values (NULL from wh_mp_map_get) read as nil, and the empty string
 * has a real pointer: both once crashed handlers (found by tests/fuzz). */
static void test_absent_and_empty(void **state)
{
    (void)state;
    const unsigned char map[] = {0x81, 0xa0, 0xa0}; /* {"": ""} */
    wh_mp_doc *doc = wh_mp_parse(map, sizeof(map), WH_MP_MAX_DEPTH, NULL);
    assert_non_null(doc);
    const wh_mp_obj *root = wh_mp_root(doc);
    const wh_mp_obj *none = wh_mp_map_get(root, "kind");
    assert_null(none);
    assert_int_equal(wh_mp_kind_of(none), WH_MP_NIL);
    int64_t i = 7;
    bool b = true;
    double d = 1.5;
    const char *p = NULL;
    size_t n = 9;
    assert_false(wh_mp_int(none, &i));
    assert_false(wh_mp_bool(none, &b));
    assert_false(wh_mp_float(none, &d));
    assert_false(wh_mp_str(none, &p, &n));
    assert_false(wh_mp_str_eq(none, ""));
    assert_int_equal(wh_mp_size(none), 0);
    assert_null(wh_mp_map_get(none, "x"));
    assert_int_equal(i, 7);

    const wh_mp_obj *empty = wh_mp_map_get(root, "");
    assert_non_null(empty);
    assert_true(wh_mp_str(empty, &p, &n));
    assert_non_null(p);
    assert_int_equal(n, 0);
    assert_true(wh_mp_str_eq(empty, ""));
    wh_mp_doc_free(doc);
}

static void test_pack_cap(void **state)
{
    (void)state;
    wh_mp_pack *p = wh_mp_pack_new(16);
    wh_mp_pack_cstr(p, "0123456789");
    assert_false(wh_mp_pack_failed(p));
    wh_mp_pack_cstr(p, "0123456789");
    assert_true(wh_mp_pack_failed(p));
    size_t len;
    wh_mp_pack_data(p, &len);
    assert_true(len <= 16);
    wh_mp_pack_reset(p);
    assert_false(wh_mp_pack_failed(p));
    wh_mp_pack_free(p);
    wh_mp_pack_free(NULL);
    wh_mp_doc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_values), cmocka_unit_test(test_lies_are_refused),
        cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_pack_cap), cmocka_unit_test(test_absent_and_empty),
    };
    return cmocka_run_group_tests_name("wh_mp", tests, NULL, NULL);
}
