/* Unit tests for wh_cron: parsing and next-fire times (UTC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wh_cron.h"

/* 2026-11-23 10:07:30 UTC, a Monday. */
#define T0 1795428450LL

static int64_t next_of(const char *expr, int64_t after)
{
    wh_cron c;
    assert_int_equal(wh_cron_parse(expr, &c, NULL), WH_OK);
    return wh_cron_next(&c, after);
}

static void test_next(void **state)
{
    (void)state;
    assert_int_equal(next_of("* * * * *", T0), T0 - 30 + 60);            /* 10:08 */
    assert_int_equal(next_of("*/5 * * * *", T0), T0 - 450 + 600);         /* 10:10 */
    assert_int_equal(next_of("0 * * * *", T0), T0 - 450 + 3600);          /* 11:00 */
    assert_int_equal(next_of("30 9 * * *", T0), T0 - 36450 + 86400 + 34200); /* tomorrow 09:30 */
    assert_int_equal(next_of("0 0 1 1 *", T0), 1798761600LL);             /* 2027-01-01 */
    assert_int_equal(next_of("@hourly", T0), T0 - 450 + 3600);
    /* Monday is day 1; the next Sunday (0 and 7) is Nov 29. */
    assert_int_equal(next_of("0 12 * * sun", T0), 1795953600LL);
    assert_int_equal(next_of("0 12 * * 7", T0), 1795953600LL);
    /* Both day fields restricted: either matches (the 1st, or a Monday). */
    assert_int_equal(next_of("0 0 1 * mon", T0), 1795996800LL);           /* Mon Nov 30 */
    assert_int_equal(next_of("15 10 * * *", T0), T0 - 450 + 900);         /* 10:15 today */
    assert_int_equal(next_of("5/20 * * * *", T0), T0 - 450 + 1500);       /* 10:25 */
    assert_int_equal(next_of("1-3,58 * * * *", T0), T0 - 450 + 3480);     /* 10:58 */
    assert_int_equal(next_of("0 0 30 2 *", T0), -1);                      /* never */
}

static void test_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *field;
    } bad[] = {{"* * * *", "cron"},         {"* * * * * *", "cron"}, {"60 * * * *", "cron.minute"},
               {"* 24 * * *", "cron.hour"}, {"* * 0 * *", "cron.day_of_month"}, {"* * * 13 *", "cron.month"},
               {"* * * * 8", "cron.day_of_week"}, {"*/0 * * * *", "cron.minute"}, {"a * * * *", "cron.minute"},
               {"5-1 * * * *", "cron.minute"}, {"1, * * * *", "cron.minute"}, {"", "cron"}};
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_cron c;
        wh_err err;
        assert_int_equal(wh_cron_parse(bad[i].expr, &c, &err), WH_E_BAD_ARGS);
        assert_string_equal(err.field, bad[i].field);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
