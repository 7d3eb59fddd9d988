/* msgpack <-> JSON conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wh_conv.h"

static void test_round_trip(void **state)
{
    (void)state;
    const char *in = "{\"a\":1,\"b\":[true,null,2.5,\"h\\u00e9\"],\"c\":{\"d\":-7}}";
    wh_json *j = wh_json_parse(in, strlen(in), NULL);
    assert_non_null(j);
    wh_mp_pack *p = wh_mp_pack_new(4096);
    assert_int_equal(wh_conv_to_mp(j, p, NULL), WH_OK);
    size_t len;
    const char *b = wh_mp_pack_data(p, &len);
    wh_mp_doc *d = wh_mp_parse(b, len, 32, NULL);
    assert_non_null(d);
    wh_json *back = wh_conv_to_json(wh_mp_root(d), "args", NULL);
    char *t1 = wh_json_dump(j), *t2 = wh_json_dump(back);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    wh_json_free(back);
    wh_json_free(j);
    wh_mp_doc_free(d);
    wh_mp_pack_free(p);
}

static void test_no_json_form(void **state)
{
    (void)state;
    wh_mp_pack *p = wh_mp_pack_new(4096);
    wh_mp_pack_map(p, 1);
    wh_mp_pack_cstr(p, "env");
    wh_mp_pack_map(p, 1);
    wh_mp_pack_int(p, 5); /* non-string key */
    wh_mp_pack_int(p, 1);
    size_t len;
    const char *b = wh_mp_pack_data(p, &len);
    wh_mp_doc *d = wh_mp_parse(b, len, 32, NULL);
    wh_err err;
    assert_null(wh_conv_to_json(wh_mp_root(d), "args", &err));
    assert_int_equal(err.code, WH_E_BAD_ARGS);
    assert_string_equal(err.field, "args.env");
    wh_mp_doc_free(d);
    /* an array's element is named by its index */
    wh_mp_pack_reset(p);
    wh_mp_pack_map(p, 1);
    wh_mp_pack_cstr(p, "cmd");
    wh_mp_pack_array(p, 2);
    wh_mp_pack_cstr(p, "ok");
    wh_mp_pack_str(p, "\xc3\x28", 2); /* not UTF-8 */
    b = wh_mp_pack_data(p, &len);
    d = wh_mp_parse(b, len, 32, NULL);
    assert_null(wh_conv_to_json(wh_mp_root(d), "args", &err));
    assert_string_equal(err.field, "args.cmd[1]");
    wh_mp_doc_free(d);
    wh_mp_pack_free(p);
}

static void test_too_deep_json(void **state)
{
    (void)state;
    char deep[200];
    int n = 40;
    for(int i = 0; i < n; i++)
        deep[i] = '[';
    for(int i = 0; i < n; i++)
        deep[n + i] = ']';
    deep[2 * n] = '\0';
    wh_json *j = wh_json_parse(deep, strlen(deep), NULL);
    wh_mp_pack *p = wh_mp_pack_new(4096);
    assert_int_equal(wh_conv_to_mp(j, p, NULL), WH_E_BAD_ARGS);
    wh_json_free(j);
    wh_mp_pack_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_no_json_form),
                                       cmocka_unit_test(test_too_deep_json)};
    return cmocka_run_group_tests_name("wh_conv", tests, NULL, NULL);
}
