/* UTF-8 and identifier checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "wh_env.h"
#include "wh_id.h"
#include "wh_text.h"

#define U(s) wh_utf8_valid(s, sizeof(s) - 1)

static void test_utf8(void **state)
{
    (void)state;
    assert_true(U("plain ascii"));
    assert_true(U("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"));
    assert_false(U("\xc3"));             /* truncated */
    assert_false(U("\xc0\xaf"));         /* overlong '/' */
    assert_false(U("\xed\xa0\x80"));     /* surrogate */
    assert_false(U("\xf4\x90\x80\x80")); /* above U+10FFFF */
    assert_false(U("\xff"));
    assert_false(U("\x80"));
}

#define CUT(s, max) wh_utf8_cut(s, sizeof(s) - 1, max)

static void test_utf8_cut(void **state)
{
    (void)state;
    assert_int_equal(CUT("abc", 10), 3);
    assert_int_equal(CUT("abc", 2), 2);
    assert_int_equal(CUT("a\xe2\x82\xac", 4), 4);    /* the euro sign fits */
    assert_int_equal(CUT("a\xe2\x82\xac", 3), 1);    /* never half of it */
    assert_int_equal(CUT("a\xe2\x82\xac", 2), 1);
    assert_int_equal(CUT("\xf0\x9f\x90\xb3!", 4), 4);
    assert_int_equal(CUT("\xf0\x9f\x90\xb3!", 3), 0);
    assert_int_equal(CUT("h\xc3\xa9", 2), 1);
    assert_int_equal(CUT("h\xc3", 10), 1);            /* a character that arrived cut */
    assert_int_equal(CUT("\x80\x80\x80\x80x", 4), 4); /* not UTF-8: left as it is */
    assert_int_equal(CUT("ab\xff", 3), 3);
    assert_int_equal(CUT("", 5), 0);
}

static void test_idents(void **state)
{
    (void)state;
    assert_true(wh_text_ident("boom_2", 6, 32));
    assert_false(wh_text_ident("Boom", 4, 32));
    assert_false(wh_text_ident("2boom", 5, 32));
    assert_false(wh_text_ident("", 0, 32));
    assert_true(wh_env_type_valid("system.noop", 11));
    assert_true(wh_env_type_valid("runtime.container.run", 21));
    assert_false(wh_env_type_valid("system.", 7));
    assert_false(wh_env_type_valid("system", 6));
    assert_false(wh_env_type_valid(".noop", 5));
    assert_false(wh_env_type_valid("system.Noop", 11));
    assert_true(wh_env_target_valid("web-1.example", 13));
    assert_false(wh_env_target_valid("-web", 4));
    assert_false(wh_env_target_valid("web 1", 5));
}

static void test_generated_ids(void **state)
{
    (void)state;
    for(int i = 0; i < 20000; i++) {
        char id[WH_ID_GEN_LEN + 1];
        wh_id_new(id);
        assert_int_equal(strlen(id), WH_ID_GEN_LEN);
        assert_true(wh_id_valid(id, strlen(id)));
        assert_true(strchr(WH_CS_ALNUM, id[0]) != NULL);
    }
    assert_false(wh_id_valid("", 0));
    assert_false(wh_id_valid("a:b", 3));
    assert_true(wh_id_valid("-leading-dash", 13));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_utf8), cmocka_unit_test(test_utf8_cut),
                                       cmocka_unit_test(test_idents),
                                       cmocka_unit_test(test_generated_ids)};
    return cmocka_run_group_tests_name("wh_text", tests, NULL, NULL);
}
