/* Registry connection helpers: origins, inventory match, plain-http rule,
 * base64, Retry-After; and the token cache (expiry, eviction, threads). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connection.h"
#include "token_cache.h"

static void test_origin_and_find(void **state)
{
    (void)state;
    wh_inv_registry regs[4];
    memset(regs, 0, sizeof(regs));
    snprintf(regs[0].name, sizeof(regs[0].name), "hub");
    snprintf(regs[0].provider, sizeof(regs[0].provider), "dockerhub");
    snprintf(regs[1].name, sizeof(regs[1].name), "gh");
    snprintf(regs[1].provider, sizeof(regs[1].provider), "ghcr");
    snprintf(regs[2].name, sizeof(regs[2].name), "local");
    snprintf(regs[2].provider, sizeof(regs[2].provider), "custom");
    snprintf(regs[2].url, sizeof(regs[2].url), "http://127.0.0.1:5000/");
    snprintf(regs[3].name, sizeof(regs[3].name), "acr");
    snprintf(regs[3].provider, sizeof(regs[3].provider), "acr");
    wh_inv inv = {.registries = regs, .nregistries = 4};
    char o[256];
    wh_inv_registry_origin(&regs[0], o, sizeof(o));
    assert_string_equal(o, "https://registry-1.docker.io");
    wh_inv_registry_origin(&regs[2], o, sizeof(o));
    assert_string_equal(o, "http://127.0.0.1:5000");
    wh_inv_registry_origin(&regs[3], o, sizeof(o));
    assert_string_equal(o, "");
    assert_ptr_equal(wh_inv_registry_serving(&inv, "docker.io"), &regs[0]);
    assert_ptr_equal(wh_inv_registry_serving(&inv, "registry-1.docker.io"), &regs[0]);
    assert_ptr_equal(wh_inv_registry_serving(&inv, "GHCR.io"), &regs[1]);
    assert_ptr_equal(wh_inv_registry_serving(&inv, "127.0.0.1:5000"), &regs[2]);
    assert_null(wh_inv_registry_serving(&inv, "127.0.0.1:5001"));
    assert_null(wh_inv_registry_serving(&inv, "127.0.0.1"));
    assert_null(wh_inv_registry_serving(&inv, "quay.io"));
    assert_null(wh_inv_registry_serving(NULL, "docker.io"));
}

static void test_plain_http_rule(void **state)
{
    (void)state;
    assert_true(rg_http_plain_ok("https://reg.example.com", false));
    assert_true(rg_http_plain_ok("http://127.0.0.1:5000", false));
    assert_true(rg_http_plain_ok("http://127.0.0.12/v2/", false));
    assert_true(rg_http_plain_ok("http://localhost:5000", false));
    assert_true(rg_http_plain_ok("http://[::1]:5000", false));
    assert_false(rg_http_plain_ok("http://reg.example.com", false));
    assert_false(rg_http_plain_ok("http://127.0.0.1.evil.com", false));
    assert_false(rg_http_plain_ok("http://127.evil", false));
    assert_false(rg_http_plain_ok("http://user@127.0.0.1", false));
    assert_false(rg_http_plain_ok("http://10.0.0.1:5000", false));
    assert_true(rg_http_plain_ok("http://10.0.0.1:5000", true));
    assert_false(rg_http_plain_ok("ftp://127.0.0.1", true));
    assert_false(rg_http_plain_ok("127.0.0.1:5000", true));
}

static void test_base64_and_retry_after(void **state)
{
    (void)state;
    char out[64];
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "ci:pw"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy", "Y2k6cHc="};
    for(size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        assert_true(rg_http_base64((const unsigned char *)in[i], strlen(in[i]), out, sizeof(out)));
        assert_string_equal(out, want[i]);
    }
    assert_false(rg_http_base64((const unsigned char *)"foobar", 6, out, 8)); /* needs 9 */
    const int64_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(rg_http_retry_after("0", now), 0);
    assert_int_equal(rg_http_retry_after("120", now), 120);
    assert_int_equal(rg_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
    assert_int_equal(rg_http_retry_after("Wed, 21 Oct 2015 07:28:07 GMT", now), 7);
    assert_int_equal(rg_http_retry_after("Wed, 21 Oct 2015 09:28:00 GMT", now), 7200);
    assert_int_equal(rg_http_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now), 0);   /* past: now */
    assert_int_equal(rg_http_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 0), 0);
    assert_int_equal(rg_http_retry_after("Sun, 01 Mar 2020 00:00:05 GMT", 1583020800), 5); /* after Feb 29 */
    assert_int_equal(rg_http_retry_after("Sat, 29 Feb 2020 23:59:59 GMT", 1583020800 - 61), 60);
    assert_int_equal(rg_http_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now), -1);  /* a day or more */
    assert_int_equal(rg_http_retry_after("Wed, 21 Foo 2015 07:28:07 GMT", now), -1);
    assert_int_equal(rg_http_retry_after("Wed, 21 Oct 2015 07:28:07 UTC", now), -1);
    assert_int_equal(rg_http_retry_after("Wed, 21 Oct 2015 25:28:07 GMT", now), -1);
    assert_int_equal(rg_http_retry_after("Wednesday, 21-Oct-15 07:28:07 GMT", now), -1);
    assert_int_equal(rg_http_retry_after("Wed, 21 Oct 2015 07:28:0x GMT", now), -1);
    assert_int_equal(rg_http_retry_after("-1", now), -1);
    assert_int_equal(rg_http_retry_after("5s", now), -1);
    assert_int_equal(rg_http_retry_after("", now), -1);
    assert_int_equal(rg_http_retry_after(NULL, now), -1);
    assert_int_equal(rg_http_retry_after("99999999999999999999", now), -1);
    assert_true(wh_code_transient(WH_E_RATE_LIMITED));
    assert_true(wh_code_transient(WH_E_UNREACHABLE));
    assert_false(wh_code_transient(WH_E_AUTH_FAILED));
    assert_false(wh_code_transient(WH_E_NOT_FOUND));
}

static void test_tokc_expiry_and_scope(void **state)
{
    (void)state;
    char out[64];
    rg_tokc_clear();
    rg_tokc_put("r1", "repository:a:pull", "tok-a", 1000, 60000);
    assert_true(rg_tokc_get("r1", "repository:a:pull", 1000, out, sizeof(out)));
    assert_string_equal(out, "tok-a");
    assert_false(rg_tokc_get("r1", "repository:b:pull", 1000, out, sizeof(out)));
    assert_false(rg_tokc_get("r2", "repository:a:pull", 1000, out, sizeof(out)));
    /* Fresh until RG_TOKC_MARGIN_MS before expiry, not after. */
    assert_true(rg_tokc_get("r1", "repository:a:pull", 1000 + 60000 - RG_TOKC_MARGIN_MS - 1, out, sizeof(out)));
    assert_false(rg_tokc_get("r1", "repository:a:pull", 1000 + 60000 - RG_TOKC_MARGIN_MS, out, sizeof(out)));
    assert_false(rg_tokc_get("r1", "repository:a:pull", 1000, out, sizeof(out))); /* evicted on expiry */
    /* Lifetimes within the margin are not cached at all. */
    rg_tokc_put("r1", "s", "short", 0, RG_TOKC_MARGIN_MS);
    assert_false(rg_tokc_get("r1", "s", 0, out, sizeof(out)));
    /* Replacing, a buffer too small, and dropping one registry. */
    rg_tokc_put("r1", "s", "one", 0, 60000);
    rg_tokc_put("r1", "s", "two", 0, 60000);
    rg_tokc_put("r10", "s", "other", 0, 60000);
    assert_true(rg_tokc_get("r1", "s", 0, out, sizeof(out)));
    assert_string_equal(out, "two");
    assert_false(rg_tokc_get("r1", "s", 0, out, 3));
    rg_tokc_drop("r1");
    assert_false(rg_tokc_get("r1", "s", 0, out, sizeof(out)));
    assert_true(rg_tokc_get("r10", "s", 0, out, sizeof(out))); /* prefix of the name is not the name */
    rg_tokc_clear();
}

static void test_tokc_eviction(void **state)
{
    (void)state;
    char out[64], scope[32];
    rg_tokc_clear();
    for(int i = 0; i < RG_TOKC_SLOTS + 10; i++) {
        snprintf(scope, sizeof(scope), "s%d", i);
        rg_tokc_put("r", scope, "t", 0, 20000 + i);  /* later ones live longer */
    }
    /* The soonest to expire were evicted, the newest are there. */
    assert_false(rg_tokc_get("r", "s0", 0, out, sizeof(out)));
    assert_false(rg_tokc_get("r", "s9", 0, out, sizeof(out)));
    snprintf(scope, sizeof(scope), "s%d", RG_TOKC_SLOTS + 9);
    assert_true(rg_tokc_get("r", scope, 0, out, sizeof(out)));
    assert_true(rg_tokc_get("r", "s10", 0, out, sizeof(out)));
    rg_tokc_clear();
}

/* Several threads put, get and drop at once; run under ASan/TSan-clean
 * locking, every value read is one some thread wrote. */
static void *hammer(void *arg)
{
    int id = *(int *)arg;
    char out[64], scope[32], tok[32];
    for(int i = 0; i < 20000; i++) {
        snprintf(scope, sizeof(scope), "s%d", i % 300);
        snprintf(tok, sizeof(tok), "tok-%d", i % 300);
        if(i % 3 == 0)
            rg_tokc_put("reg", scope, tok, 0, 60000);
        else if(rg_tokc_get("reg", scope, 0, out, sizeof(out)) && strcmp(out, tok) != 0)
            return (void *)1;
        if(i % 5000 == id)
            rg_tokc_drop("reg");
    }
    return NULL;
}

static void test_tokc_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    int ids[4] = {0, 1, 2, 3};
    for(int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &ids[i]);
    for(int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    rg_tokc_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_and_find),       cmocka_unit_test(test_plain_http_rule),
        cmocka_unit_test(test_base64_and_retry_after), cmocka_unit_test(test_tokc_expiry_and_scope),
        cmocka_unit_test(test_tokc_eviction),          cmocka_unit_test(test_tokc_threads),
    };
    return cmocka_run_group_tests_name("rg_http", tests, NULL, NULL);
}
