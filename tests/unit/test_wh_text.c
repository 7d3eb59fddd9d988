/* UTF-8 and identifier checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wh_env.h"
#include "wh_id.h"
#include "wh_text.h"
#include "wh_utf8.h"

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

/* The base64 shape wh_base64_decode accepts, checked without decoding. */
static void test_base64_shape(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        wh_code rc;
        size_t pad;
    } cases[] = {
        {"", WH_OK, 0},         {"QUJD", WH_OK, 0},          {"QUI=", WH_OK, 1},
        {"QQ==", WH_OK, 2},     {"QUJ", WH_E_BAD_ARGS, 0},   {"Q===", WH_E_BAD_ARGS, 0},
        {"Q=JD", WH_E_BAD_ARGS, 0}, {"QU J", WH_E_BAD_ARGS, 0}, {"QUJ-", WH_E_BAD_ARGS, 0},
    };
    for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wh_err err;
        size_t pad = 99;
        wh_code rc = wh_text_base64_check(cases[i].s, strlen(cases[i].s), &pad, "args.b", &err);
        if(rc != cases[i].rc)
            fail_msg("\"%s\": got %s, want %s", cases[i].s, wh_code_name(rc), wh_code_name(cases[i].rc));
        if(rc == WH_OK)
            assert_int_equal(pad, cases[i].pad);
        else
            assert_string_equal(err.field, "args.b");
    }
}

/* The shape of a public key line; reading the key is wh_ssh's. */
static void test_pubkey_split(void **state)
{
    (void)state;
    const char *line = "ssh-ed25519 AAAAC3Nz user@host";
    size_t tn = 0, bn = 0;
    const char *b = NULL;
    wh_err err;
    assert_int_equal(wh_text_pubkey_split(line, strlen(line), "k", &tn, &b, &bn, &err), WH_OK);
    assert_int_equal(tn, 11);
    assert_int_equal(bn, 8);
    assert_memory_equal(b, "AAAAC3Nz", 8);
    const char *bad[] = {"", "ssh-ed25519", " AAAA", "-----BEGIN OPENSSH PRIVATE KEY----- x", "ssh-rsa AAAA\nx",
                         "0123456789012345678901234567890123456789012345678901234567890123 AAAA"};
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if(wh_text_pubkey_split(bad[i], strlen(bad[i]), "args.key", &tn, &b, &bn, &err) != WH_E_BAD_ARGS)
            fail_msg("accepted: \"%s\"", bad[i]);
        assert_string_equal(err.field, "args.key");
    }
}

/* wh_text_i64 writes what snprintf("%lld") writes, at the edges too. */
static void test_i64(void **state)
{
    (void)state;
    const int64_t v[] = {0, 1, -1, 9, 10, 99, 100, 1796680721227, -1796680721227, INT64_MAX, INT64_MIN,
                         INT64_MIN + 1, 1000000000000000000};
    for(size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char got[WH_TEXT_I64_MAX], want[32];
        int n = snprintf(want, sizeof(want), "%lld", (long long)v[i]);
        assert_int_equal(wh_text_i64(got, v[i]), (size_t)n);
        assert_string_equal(got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_utf8), cmocka_unit_test(test_utf8_cut), cmocka_unit_test(test_idents),
                                       cmocka_unit_test(test_generated_ids), cmocka_unit_test(test_base64_shape),
                                       cmocka_unit_test(test_pubkey_split), cmocka_unit_test(test_i64)};
    return cmocka_run_group_tests_name("wh_text", tests, NULL, NULL);
}
