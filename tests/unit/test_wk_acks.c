/* Coalesced acks: one multiple ack below the oldest open delivery (once it
 * covers its batch), held acks sent alone after WK_ACKS_HOLD_MS, never an
 * ack for an open tag, and never the same tag twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "wk_acks.h"

typedef struct sent {
    uint64_t tag[64];
    bool multiple[64];
    int n;
} sent;

static wh_code record(void *ud, uint64_t tag, bool multiple, wh_err *err)
{
    (void)err;
    sent *s = ud;
    s->tag[s->n] = tag;
    s->multiple[s->n++] = multiple;
    return WH_OK;
}

static wh_code refuse(void *ud, uint64_t tag, bool multiple, wh_err *err)
{
    (void)ud;
    (void)tag;
    (void)multiple;
    return wh_err_set(err, WH_E_BROKER, "", "connection lost");
}

static void open_range(wk_acks *a, uint64_t from, uint64_t to)
{
    for(uint64_t t = from; t <= to; t++)
        assert_true(wk_acks_open(a, t));
}

static void test_in_order_is_one_multiple_ack(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    sent s = {0};
    open_range(a, 1, 10);
    for(uint64_t t = 1; t <= 10; t++)
        wk_acks_want(a, t, 1000);
    assert_int_equal(wk_acks_waiting(a), 10);
    assert_int_equal(wk_acks_flush(a, 1000, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 10);
    assert_true(s.multiple[0]);
    assert_int_equal(wk_acks_waiting(a), 0);
    assert_int_equal(wk_acks_due_in(a, 1000), -1);
    /* Nothing more to send. */
    assert_int_equal(wk_acks_flush(a, 5000, true, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    wk_acks_free(a);
}

static void test_open_tag_holds_later_acks(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    sent s = {0};
    open_range(a, 1, 6);
    /* 3 runs long; 1, 2, 4, 5 and 6 are done. */
    wk_acks_want(a, 2, 1000);
    wk_acks_want(a, 1, 1000);
    wk_acks_want(a, 4, 1000);
    wk_acks_want(a, 5, 1000);
    wk_acks_want(a, 6, 1010);
    assert_int_equal(wk_acks_flush(a, 1010, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 2); /* never past the open 3 */
    assert_true(s.multiple[0]);
    assert_int_equal(wk_acks_waiting(a), 3);
    int64_t due = wk_acks_due_in(a, 1010);
    assert_true(due > 0 && due <= WK_ACKS_HOLD_MS);
    /* Before the hold time: still held. */
    assert_int_equal(wk_acks_flush(a, 1000 + WK_ACKS_HOLD_MS - 1, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    /* After it: each held tag alone, the open one never. */
    assert_int_equal(wk_acks_flush(a, 1000 + WK_ACKS_HOLD_MS, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 4);
    for(int i = 1; i < 4; i++) {
        assert_int_equal(s.tag[i], (uint64_t)(i + 3));
        assert_false(s.multiple[i]);
    }
    assert_int_equal(wk_acks_waiting(a), 0);
    /* When 3 finishes, 3 is acked; a multiple ack is harmless for 4..6,
     * which are no longer outstanding, but none is needed past 3. */
    wk_acks_want(a, 3, 2000);
    assert_int_equal(wk_acks_flush(a, 2000, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.tag[4], 3);
    wk_acks_free(a);
}

static void test_settled_tags_are_skipped(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    sent s = {0};
    open_range(a, 1, 5);
    wk_acks_want(a, 1, 1000);
    wk_acks_settled(a, 2); /* nacked: requeued */
    wk_acks_want(a, 3, 1000);
    assert_int_equal(wk_acks_flush(a, 1000, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 3); /* covers 1 and 3; 2 is not outstanding */
    assert_true(s.multiple[0]);
    /* 4 waits for a confirm (republished copy), 5 is done: 5 is held. */
    wk_acks_want(a, 5, 1000);
    assert_int_equal(wk_acks_flush(a, 1001, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    wk_acks_settled(a, 4); /* acked alone after its confirm */
    assert_int_equal(wk_acks_flush(a, 1002, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.tag[1], 5);
    wk_acks_free(a);
}

static void test_drain_sends_everything(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    sent s = {0};
    open_range(a, 1, 4);
    wk_acks_want(a, 2, 1000);
    wk_acks_want(a, 4, 1000);
    assert_int_equal(wk_acks_flush(a, 1000, true, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 2);
    assert_false(s.multiple[0]);
    assert_false(s.multiple[1]);
    assert_int_equal(wk_acks_waiting(a), 0);
    wk_acks_free(a);
}

static void test_unknown_and_reset(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    sent s = {0};
    open_range(a, 1, 3);
    wk_acks_want(a, 9, 0); /* never opened: acked alone */
    assert_int_equal(wk_acks_due_in(a, 0), 0);
    assert_int_equal(wk_acks_flush(a, 0, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 9);
    assert_false(s.multiple[0]);
    /* A failed send is reported; a reset (new connection) forgets all. */
    wk_acks_want(a, 1, 0);
    wh_err err;
    assert_int_equal(wk_acks_flush(a, 0, false, refuse, NULL, &err), WH_E_BROKER);
    wk_acks_reset(a);
    assert_int_equal(wk_acks_waiting(a), 0);
    open_range(a, 1, 2); /* tags restart at 1 on a new channel */
    wk_acks_want(a, 1, 0);
    assert_int_equal(wk_acks_flush(a, 0, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.tag[1], 1);
    wk_acks_free(a);
}

static void test_many_tags_grow_and_slide(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    sent s = {0};
    /* 1 stays open while 100,000 later deliveries come and go: the array
     * does not grow with them. */
    assert_true(wk_acks_open(a, 1));
    for(uint64_t t = 2; t <= 100001; t++) {
        assert_true(wk_acks_open(a, t));
        wk_acks_settled(a, t);
        assert_true(wk_acks_tracked(a) <= 256);
    }
    wk_acks_want(a, 1, 0);
    assert_int_equal(wk_acks_flush(a, 0, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 1);
    assert_true(s.multiple[0]);
    for(uint64_t t = 100002; t <= 300000; t++) { /* in order: the array slides */
        assert_true(wk_acks_open(a, t));
        wk_acks_want(a, t, 0);
        if(t % 1000 == 0) {
            s.n = 0;
            assert_int_equal(wk_acks_flush(a, 0, false, record, &s, NULL), WH_OK);
            assert_int_equal(s.n, 1);
            assert_int_equal(s.tag[0], t);
        }
    }
    wk_acks_free(a);
}

/* With a batch, the multiple ack waits to cover it, or for WK_ACKS_WAIT_MS,
 * or until nothing is open any more. */
static void test_batch_waits_to_fill(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    wk_acks_set_batch(a, 4);
    sent s = {0};
    open_range(a, 1, 10);
    for(uint64_t t = 1; t <= 3; t++)
        wk_acks_want(a, t, 1000);
    assert_int_equal(wk_acks_flush(a, 1000, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(wk_acks_waiting(a), 3);
    assert_int_equal(wk_acks_due_in(a, 1001), WK_ACKS_WAIT_MS - 1);
    wk_acks_want(a, 4, 1002);
    assert_int_equal(wk_acks_flush(a, 1002, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 4);
    assert_true(s.multiple[0]);
    assert_int_equal(wk_acks_due_in(a, 1002), -1);
    /* a lone verdict goes once it has waited long enough */
    wk_acks_want(a, 5, 2000);
    assert_int_equal(wk_acks_flush(a, 2000, false, record, &s, NULL), WH_OK);
    assert_int_equal(wk_acks_flush(a, 2000 + WK_ACKS_WAIT_MS - 1, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(wk_acks_due_in(a, 2000 + WK_ACKS_WAIT_MS), 0);
    assert_int_equal(wk_acks_flush(a, 2000 + WK_ACKS_WAIT_MS, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.tag[1], 5);
    /* nothing open any more: no later verdict can join, so it goes at once */
    for(uint64_t t = 6; t <= 10; t++)
        wk_acks_want(a, t, 3000);
    assert_int_equal(wk_acks_flush(a, 3000, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.tag[2], 10);
    assert_int_equal(wk_acks_waiting(a), 0);
    /* a reset forgets a waiting multiple ack: its tags died with the connection */
    open_range(a, 11, 20);
    wk_acks_want(a, 11, 4000);
    assert_int_equal(wk_acks_flush(a, 4000, false, record, &s, NULL), WH_OK);
    assert_int_equal(wk_acks_waiting(a), 1);
    wk_acks_reset(a);
    assert_int_equal(wk_acks_waiting(a), 0);
    assert_int_equal(wk_acks_flush(a, 9000, true, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 3);
    wk_acks_free(a);
}

/* Stopping (`all`) sends a waiting multiple ack whatever its size. */
static void test_batch_goes_when_stopping(void **state)
{
    (void)state;
    wk_acks *a = wk_acks_new();
    wk_acks_set_batch(a, 100);
    sent s = {0};
    open_range(a, 1, 10);
    wk_acks_want(a, 1, 1000);
    wk_acks_want(a, 2, 1000);
    assert_int_equal(wk_acks_flush(a, 1000, false, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(wk_acks_flush(a, 1000, true, record, &s, NULL), WH_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.tag[0], 2);
    assert_true(s.multiple[0]);
    wk_acks_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_is_one_multiple_ack), cmocka_unit_test(test_open_tag_holds_later_acks),
        cmocka_unit_test(test_settled_tags_are_skipped),     cmocka_unit_test(test_drain_sends_everything),
        cmocka_unit_test(test_unknown_and_reset),            cmocka_unit_test(test_many_tags_grow_and_slide),
        cmocka_unit_test(test_batch_waits_to_fill),          cmocka_unit_test(test_batch_goes_when_stopping),
    };
    return cmocka_run_group_tests_name("wk_acks", tests, NULL, NULL);
}
