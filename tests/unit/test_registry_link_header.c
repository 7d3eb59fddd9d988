/* Link rel="next" and same-origin resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link_header.h"

static bool next(const char *h, char *out, size_t cap)
{
    return rg_link_next(h, strlen(h), out, cap);
}

static void test_next(void **state)
{
    (void)state;
    char u[512];
    assert_true(next("</v2/_catalog?last=b&n=2>; rel=\"next\"", u, sizeof(u)));
    assert_string_equal(u, "/v2/_catalog?last=b&n=2");
    assert_true(next("<https://q/v2/x/tags/list?a=1,2>; rel=\"prev\", <https://q/v2/x/tags/list?p=3>; rel=next",
                     u, sizeof(u)));
    assert_string_equal(u, "https://q/v2/x/tags/list?p=3");
    assert_true(next("</a>; title=\"x, y; rel=next\"; rel=\"last next\"", u, sizeof(u)));
    assert_string_equal(u, "/a");
    assert_true(next("</b>;REL=\"NEXT\"", u, sizeof(u)));
    assert_string_equal(u, "/b");
    assert_false(next("</a>; rel=\"prev\"", u, sizeof(u)));
    assert_false(next("</a>; rel=\"nextpage\"", u, sizeof(u)));
    assert_false(next("", u, sizeof(u)));
    assert_false(next("</a; rel=next", u, sizeof(u)));
    assert_false(next("<>; rel=next", u, sizeof(u)));
    char tiny[3];
    assert_false(next("</abc>; rel=next", tiny, sizeof(tiny)));
}

static void test_resolve(void **state)
{
    (void)state;
    char u[512];
    const char *base = "https://reg.example:5000/v2/a/tags/list?n=2";
    assert_true(rg_link_resolve(base, "/v2/a/tags/list?last=x&n=2", u, sizeof(u)));
    assert_string_equal(u, "https://reg.example:5000/v2/a/tags/list?last=x&n=2");
    assert_true(rg_link_resolve(base, "https://REG.example:5000/v2/x", u, sizeof(u)));
    assert_string_equal(u, "https://REG.example:5000/v2/x");
    assert_false(rg_link_resolve(base, "https://evil.example/v2/x", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "https://reg.example:5001/v2/x", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "http://reg.example:5000/v2/x", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "https://reg.example:5000.evil/v2", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "//evil.example/v2", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "v2/relative", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "/v2/a b", u, sizeof(u)));
    assert_false(rg_link_resolve(base, "/v2/a\r\nX: y", u, sizeof(u)));
    assert_false(rg_link_resolve("ftp://x/", "/v2", u, sizeof(u)));
    char small[20];
    assert_false(rg_link_resolve(base, "/v2/a/tags/list?last=x", small, sizeof(small)));
}

static void test_random(void **state)
{
    (void)state;
    const char alpha[] = "<>;,=\" relnext/a";
    unsigned seed = 3;
    for(int i = 0; i < 200000; i++) {
        size_t n = (size_t)(seed % 60);
        char *s = malloc(n ? n : 1);
        for(size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            s[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        char out[64];
        if(rg_link_next(s, n, out, sizeof(out)))
            assert_true(strlen(out) > 0);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_next), cmocka_unit_test(test_resolve),
                                       cmocka_unit_test(test_random)};
    return cmocka_run_group_tests_name("rg_link", tests, NULL, NULL);
}
