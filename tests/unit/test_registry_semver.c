/* Semantic versions in tags: parsing, precedence, diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "semver.h"

static rg_semver V(const char *s)
{
    rg_semver v;
    if(!rg_semver_parse(s, strlen(s), &v))
        fail_msg("did not parse %s", s);
    return v;
}

static bool parses(const char *s)
{
    rg_semver v;
    return rg_semver_parse(s, strlen(s), &v);
}

static void test_parse(void **state)
{
    (void)state;
    rg_semver v = V("v1.2.3-rc.1+build.5");
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 2);
    assert_int_equal(v.patch, 3);
    assert_int_equal(v.parts, 3);
    assert_string_equal(v.pre, "rc.1");
    v = V("1.25");
    assert_int_equal(v.parts, 2);
    assert_int_equal(v.patch, 0);
    v = V("7");
    assert_int_equal(v.parts, 1);
    assert_int_equal(v.major, 7);
    v = V("0.0.0-alpha-1.x-y");
    assert_string_equal(v.pre, "alpha-1.x-y");
    assert_true(parses("1.0.0+20130313144700"));
    assert_true(parses("1.0.0+001"));        /* build allows leading zeros */
    assert_true(parses("V2.0.0"));
}

static void test_reject(void **state)
{
    (void)state;
    const char *badv[] = {"", "v", "latest", "1.", ".1", "1..2", "1.2.3.4", "01.2.3", "1.02", "1.2.3-",
                          "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3-a_b", "1.2.3 ", "-1.2.3",
                          "1234567890123456789.0.0", "vv1", "1.2.3-rc.1+b+c"};
    for(size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
        if(parses(badv[i]))
            fail_msg("accepted \"%s\"", badv[i]);
}

static int C(const char *a, const char *b)
{
    rg_semver x = V(a), y = V(b);
    return rg_semver_cmp(&x, &y);
}

/* The ordering example from SemVer 2.0.0 section 11, plus tag habits. */
static void test_precedence(void **state)
{
    (void)state;
    const char *order[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                           "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1", "1.10.0", "2", "v10.0.0"};
    size_t n = sizeof(order) / sizeof(order[0]);
    for(size_t i = 0; i < n; i++)
        for(size_t j = 0; j < n; j++) {
            int c = C(order[i], order[j]);
            int want = i < j ? -1 : i > j;
            if((c > 0) - (c < 0) != want)
                fail_msg("cmp(%s, %s) = %d, want %d", order[i], order[j], c, want);
        }
    assert_int_equal(C("1.0.0+a", "1.0.0+b"), 0);
    assert_int_equal(C("v1.2", "1.2.0"), 0);
    assert_true(C("1.0.0-2", "1.0.0-10") < 0);
    assert_true(C("1.0.0-10", "1.0.0-a") < 0);
}

static void test_diff(void **state)
{
    (void)state;
    rg_semver a = V("1.2.3"), b;
    b = V("2.0.0");
    assert_string_equal(rg_semver_diff_name(rg_semver_diff_of(&a, &b)), "major");
    b = V("1.3.0");
    assert_string_equal(rg_semver_diff_name(rg_semver_diff_of(&a, &b)), "minor");
    b = V("v1.2.4");
    assert_string_equal(rg_semver_diff_name(rg_semver_diff_of(&a, &b)), "patch");
    b = V("1.2.3-rc.2");
    assert_string_equal(rg_semver_diff_name(rg_semver_diff_of(&a, &b)), "prerelease");
    b = V("1.2.3+other");
    assert_string_equal(rg_semver_diff_name(rg_semver_diff_of(&a, &b)), "none");
    assert_string_equal(rg_semver_diff_name((rg_semver_diff)99), "none");
}

static void test_random(void **state)
{
    (void)state;
    const char alpha[] = "v0123456789.-+aZ";
    unsigned seed = 99;
    for(int i = 0; i < 200000; i++) {
        size_t n = (size_t)(seed % 24);
        char *s = malloc(n ? n : 1);
        for(size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            s[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        rg_semver v;
        if(rg_semver_parse(s, n, &v))
            assert_int_equal(rg_semver_cmp(&v, &v), 0);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse), cmocka_unit_test(test_reject), cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_diff),  cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("rg_semver", tests, NULL, NULL);
}
