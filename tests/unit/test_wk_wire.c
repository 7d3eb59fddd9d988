/* The broker connection as the job threads see it: a delivery may be
 * started only while its connection is the live one and the loop heard it
 * within the heartbeat interval (a worker paused past its heartbeat wakes
 * with stale deliveries in hand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "wk_wire.h"

static void test_only_the_live_connection_is_current(void **state)
{
    (void)state;
    wk_wire w;
    wk_wire_init(&w, 5);
    assert_false(wk_wire_current(&w, 0, 1000)); /* nothing connected yet */
    assert_false(wk_wire_current(&w, 1, 1000));
    wk_wire_up(&w, 1, 1000);
    assert_true(wk_wire_current(&w, 1, 1000));
    assert_false(wk_wire_current(&w, 2, 1000));
    wk_wire_down(&w);
    assert_false(wk_wire_current(&w, 1, 1000));
    wk_wire_up(&w, 2, 2000);
    assert_false(wk_wire_current(&w, 1, 2000)); /* a delivery of the connection before */
    assert_true(wk_wire_current(&w, 2, 2000));
}

static void test_a_connection_not_heard_for_a_heartbeat_is_not_current(void **state)
{
    (void)state;
    wk_wire w;
    wk_wire_init(&w, 5);
    wk_wire_up(&w, 1, 1000);
    assert_true(wk_wire_current(&w, 1, 6000));
    assert_false(wk_wire_current(&w, 1, 6001)); /* paused: the loop has not looked since */
    wk_wire_heard(&w, 6500);
    assert_true(wk_wire_current(&w, 1, 6501));
}

static void test_without_heartbeats_only_the_generation_counts(void **state)
{
    (void)state;
    wk_wire w;
    wk_wire_init(&w, 0);
    wk_wire_up(&w, 3, 1000);
    assert_true(wk_wire_current(&w, 3, 1000 + 86400000));
    wk_wire_down(&w);
    assert_false(wk_wire_current(&w, 3, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_the_live_connection_is_current),
        cmocka_unit_test(test_a_connection_not_heard_for_a_heartbeat_is_not_current),
        cmocka_unit_test(test_without_heartbeats_only_the_generation_counts),
    };
    return cmocka_run_group_tests_name("wk_wire", tests, NULL, NULL);
}
