/* Unit tests for wk_libs_needed: which on-demand libraries a worker loads
 * at start, from its families and its inventory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "wh_cfg.h"
#include "wk_libs.h"

/* The needs of a configuration made of `sets` ("section.key=value"). */
static void needs(const char *const *sets, int n, bool *curl, bool *ssh)
{
    static wh_cfg c;
    wh_err err = {0};
    wh_code rc = wh_cfg_load(&c, NULL, sets, n, &err);
    if(rc == WH_OK)
        wk_libs_needed(&c, curl, ssh);
    wh_cfg_free(&c);
    if(rc != WH_OK)
        fail_msg("config rejected: %s", err.msg);
}

#define EXPECT(c_want, s_want, ...)                                      \
    do {                                                                 \
        const char *const sets[] = {__VA_ARGS__};                        \
        bool curl = !(c_want), ssh = !(s_want);                          \
        needs(sets, (int)(sizeof(sets) / sizeof(sets[0])), &curl, &ssh); \
        assert_int_equal(curl, c_want);                                  \
        assert_int_equal(ssh, s_want);                                   \
    } while(0)

static void test_no_inventory_needs_nothing(void **st)
{
    (void)st;
    EXPECT(false, false, "worker.families=system,runtime,registry,provision");
    EXPECT(false, false, "worker.families=system");
}

static void test_system_only_needs_nothing_whatever_the_inventory(void **st)
{
    (void)st;
    EXPECT(false, false, "worker.families=system", "host.h.docker=unix:///run/docker.sock",
           "host.h.address=127.0.0.1", "registry.r.url=http://127.0.0.1:5000");
}

static void test_an_engine_needs_curl(void **st)
{
    (void)st;
    EXPECT(true, false, "worker.families=runtime", "host.h.docker=unix:///run/docker.sock");
    EXPECT(true, false, "worker.families=registry", "host.h.docker=unix:///run/docker.sock");
    EXPECT(true, false, "worker.families=provision", "host.h.docker=unix:///run/docker.sock");
}

static void test_a_registry_needs_curl(void **st)
{
    (void)st;
    EXPECT(true, false, "worker.families=registry", "registry.r.url=http://127.0.0.1:5000");
    EXPECT(false, false, "worker.families=runtime", "registry.r.url=http://127.0.0.1:5000");
}

static void test_ssh_hosts_need_ssh(void **st)
{
    (void)st;
    EXPECT(false, true, "worker.families=provision", "host.h.address=127.0.0.1");
    EXPECT(false, false, "worker.families=runtime", "host.h.address=127.0.0.1");
    EXPECT(true, true, "worker.families=runtime", "host.h.address=127.0.0.1", "host.h.docker=ssh://");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_inventory_needs_nothing),
        cmocka_unit_test(test_system_only_needs_nothing_whatever_the_inventory),
        cmocka_unit_test(test_an_engine_needs_curl),
        cmocka_unit_test(test_a_registry_needs_curl),
        cmocka_unit_test(test_ssh_hosts_need_ssh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
