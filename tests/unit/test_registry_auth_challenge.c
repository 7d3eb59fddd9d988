/* WWW-Authenticate challenges: schemes, params, quoting, junk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_challenge.h"

static int parse(const char *h, rg_chal *c)
{
    return rg_chal_parse(h, strlen(h), c, RG_CHAL_MAX);
}

static void test_bearer(void **state)
{
    (void)state;
    rg_chal c[RG_CHAL_MAX];
    int n = parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                  "scope=\"repository:library/nginx:pull\"",
                  c);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].scheme, RG_SCHEME_BEARER);
    assert_string_equal(c[0].realm, "https://auth.docker.io/token");
    assert_string_equal(c[0].service, "registry.docker.io");
    assert_string_equal(c[0].scope, "repository:library/nginx:pull");
    assert_string_equal(c[0].error, "");
}

static void test_basic_and_case(void **state)
{
    (void)state;
    rg_chal c[RG_CHAL_MAX];
    assert_int_equal(parse("basic REALM=\"Registry Realm\"", c), 1);
    assert_int_equal(c[0].scheme, RG_SCHEME_BASIC);
    assert_string_equal(c[0].realm, "Registry Realm");
    assert_int_equal(parse("BEARER realm=https://x/t , service = reg", c), 1);
    assert_int_equal(c[0].scheme, RG_SCHEME_BEARER);
    assert_string_equal(c[0].realm, "https://x/t");
    assert_string_equal(c[0].service, "reg");
}

static void test_commas_and_escapes_in_quotes(void **state)
{
    (void)state;
    rg_chal c[RG_CHAL_MAX];
    assert_int_equal(parse("Bearer realm=\"https://h/t\",scope=\"repository:a/b:pull,push repository:c:pull\","
                           "error=\"insufficient_scope\"",
                           c),
                     1);
    assert_string_equal(c[0].scope, "repository:a/b:pull,push repository:c:pull");
    assert_string_equal(c[0].error, "insufficient_scope");
    assert_int_equal(parse("Basic realm=\"say \\\"hi\\\", \\\\ ok\"", c), 1);
    assert_string_equal(c[0].realm, "say \"hi\", \\ ok");
}

static void test_multiple(void **state)
{
    (void)state;
    rg_chal c[RG_CHAL_MAX];
    int n = parse("Basic realm=\"r1\", Bearer realm=\"https://a/t\",service=\"s\", Negotiate abc==, "
                  "Bearer realm=\"https://b/t\"",
                  c);
    assert_int_equal(n, 4);
    assert_int_equal(c[0].scheme, RG_SCHEME_BASIC);
    assert_int_equal(c[1].scheme, RG_SCHEME_BEARER);
    assert_string_equal(c[1].service, "s");
    assert_int_equal(c[2].scheme, RG_SCHEME_OTHER);
    assert_int_equal(c[3].scheme, RG_SCHEME_BEARER);
    assert_string_equal(c[3].realm, "https://b/t");
    const rg_chal *b = rg_chal_find(c, n, RG_SCHEME_BEARER);
    assert_ptr_equal(b, &c[1]);
    assert_null(rg_chal_find(c, 1, RG_SCHEME_BEARER));
}

static void test_junk(void **state)
{
    (void)state;
    rg_chal c[RG_CHAL_MAX];
    assert_int_equal(parse("", c), 0);
    assert_int_equal(parse(",,, ;;", c), 0);
    /* Unterminated quote: the challenge is dropped, nothing overflows. */
    assert_int_equal(parse("Bearer realm=\"https://a", c), 0);
    /* A stray param before any scheme is skipped. */
    assert_int_equal(parse("realm=\"x\", Bearer realm=\"y\"", c), 1);
    assert_string_equal(c[0].realm, "y");
    /* Empty value drops that challenge; the next still parses. */
    assert_int_equal(parse("Bearer realm=, Basic realm=\"z\"", c), 1);
    assert_int_equal(c[0].scheme, RG_SCHEME_BASIC);
    /* An over-long realm drops the challenge rather than cutting it. */
    char big[3000];
    memcpy(big, "Bearer realm=\"", 14);
    memset(big + 14, 'a', 2000);
    memcpy(big + 2014, "\", Basic realm=\"k\"", 19);
    assert_int_equal(parse(big, c), 1);
    assert_int_equal(c[0].scheme, RG_SCHEME_BASIC);
    /* At most `max` challenges are written. */
    assert_int_equal(rg_chal_parse("Basic a=1, Basic b=2, Basic c=3", 31, c, 2), 2);
}

/* Random bytes never crash, hang or overrun. */
static void test_random(void **state)
{
    (void)state;
    const char alpha[] = "Bearer Basic realm=\"\\,; \t=xyz";
    unsigned seed = 7;
    rg_chal c[RG_CHAL_MAX];
    for(int i = 0; i < 200000; i++) {
        char s[80];
        size_t n = (size_t)(seed % 80);
        for(size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            s[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        char *heap = malloc(n ? n : 1); /* exact-size copy: ASan sees any overrun */
        memcpy(heap, s, n);
        int k = rg_chal_parse(heap, n, c, RG_CHAL_MAX);
        assert_true(k >= 0 && k <= RG_CHAL_MAX);
        free(heap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),   cmocka_unit_test(test_basic_and_case),
        cmocka_unit_test(test_commas_and_escapes_in_quotes),
        cmocka_unit_test(test_multiple), cmocka_unit_test(test_junk),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("rg_chal", tests, NULL, NULL);
}
