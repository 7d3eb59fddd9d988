/* Redis URLs: bad ones are refused at parse time; passwords never appear in
 * error messages. (Commands are covered by the integration tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "wh_redis.h"

static void test_bad_urls(void **state)
{
    (void)state;
    const char *bad[] = {"http://x", "redis://", "redis://host:0", "redis://host:99999", "redis://host/abc",
                         "redis://[::1", "unix://", "redis://h/1junk"};
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_err err;
        assert_null(wh_redis_new(bad[i], 100, &err));
        assert_int_equal(err.code, WH_E_BAD_CONFIG);
    }
    wh_err err;
    assert_null(wh_redis_new("rediss://h:6380", 100, &err));
    assert_non_null(strstr(err.msg, "TLS"));
}

static void test_password_not_in_errors(void **state)
{
    (void)state;
    wh_err err = {0};
    /* Port 1 on loopback refuses at once; the handle survives for retries. */
    wh_redis *r = wh_redis_new("redis://user:canary-s3cret@127.0.0.1:1/2", 500, &err);
    assert_non_null(r);
    assert_int_equal(err.code, WH_E_REDIS);
    assert_null(strstr(err.msg, "canary-s3cret"));
    assert_false(wh_redis_connected(r));
    const char *argv[] = {"PING"};
    assert_int_equal(wh_redis_cmdv(r, NULL, &err, 1, argv), WH_E_REDIS);
    assert_null(strstr(err.msg, "canary-s3cret"));
    wh_redis_free(r);
    wh_redis_free(NULL);
}

static void test_sentinel_urls(void **state)
{
    (void)state;
    const char *bad[] = {"redis-sentinel://", "redis-sentinel://h:1", "redis-sentinel://h:1/", "redis-sentinel://h/m",
                         "redis-sentinel://h:0/m", "redis-sentinel://h:1,/m", "redis-sentinel://h:1/m/x",
                         "redis-sentinel://:1/m", "redis-sentinel://h:123456/m",
                         "redis-sentinel://a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1/m"};
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_err err;
        assert_null(wh_redis_new(bad[i], 100, &err));
        assert_int_equal(err.code, WH_E_BAD_CONFIG);
    }
    /* Sentinels that refuse: a handle for retries, an error naming the master,
     * never the password. */
    wh_err err = {0};
    wh_redis *r = wh_redis_new("redis-sentinel://:canary-s3cret@127.0.0.1:1,[::1]:1/mymaster/1", 500, &err);
    assert_non_null(r);
    assert_int_equal(err.code, WH_E_REDIS);
    assert_non_null(strstr(err.msg, "mymaster"));
    assert_null(strstr(err.msg, "canary-s3cret"));
    assert_false(wh_redis_connected(r));
    wh_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bad_urls),
                                       cmocka_unit_test(test_password_not_in_errors),
                                       cmocka_unit_test(test_sentinel_urls)};
    return cmocka_run_group_tests_name("wh_redis", tests, NULL, NULL);
}
