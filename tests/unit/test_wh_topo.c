/* Retry delays: exponential, capped, jittered, rounded up to a tier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "wh_topo.h"

static void test_tiers(void **state)
{
    (void)state;
    wh_cfg c;
    assert_int_equal(wh_cfg_load(&c, NULL, NULL, 0, NULL), WH_OK);
    /* base 1000: the first retry waits 500..1000 ms, so the 1 s tier. */
    for(uint64_t r = 0; r < 1000; r += 37)
        assert_int_equal(wh_topo_retry_tier(&c, 1, r), 1000);
    /* attempt 3: 2000..4000 ms, so the 5 s tier. */
    for(uint64_t r = 1; r < 1000; r += 37)
        assert_int_equal(wh_topo_retry_tier(&c, 3, r), 5000);
    /* far attempts: capped at cap_ms (600 s), which is the largest tier. */
    assert_int_equal(wh_topo_retry_tier(&c, 60, 0), 600000);
    assert_int_equal(wh_topo_retry_tier(&c, 1000, 12345), 600000);
    /* delays never decrease as attempts grow (with the same jitter). */
    int prev = 0;
    for(int a = 1; a < 30; a++) {
        int t = wh_topo_retry_tier(&c, a, 0);
        assert_true(t >= prev);
        prev = t;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tiers)};
    return cmocka_run_group_tests_name("wh_topo", tests, NULL, NULL);
}
