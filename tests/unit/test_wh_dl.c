/* Unit tests for the on-demand libraries: wh_dl_load itself, and the
 * libcurl and libssh adapters loading their library only on first use and
 * failing with io_error, naming the library, when it cannot be loaded.
 * The tests run in order in one process: the first ones see nothing
 * loaded yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wh_curl.h"
#include "wh_dl.h"
#include "wh_ssh.h"

#define MISSING "libwharf-test-no-such-library.so.0"
#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINPDYhiKau1vi8dAiYR5EvBbRdaJig8TTN7bVoMO3jeF unit"

/* Whether a file whose name starts with `prefix` is mapped in this process. */
static bool mapped(const char *prefix)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while(!found && fgets(line, sizeof(line), f)) {
        const char *slash = strrchr(line, '/');
        found = slash && strncmp(slash + 1, prefix, strlen(prefix)) == 0;
    }
    fclose(f);
    return found;
}

static void test_nothing_loaded_at_start(void **st)
{
    (void)st;
    assert_true(mapped("libc.so")); /* the control: the check sees libraries */
    assert_false(mapped("libcurl"));
    assert_false(mapped("libssh"));
}

static void test_missing_library_is_io_error_naming_it(void **st)
{
    (void)st;
    double (*fn)(double) = NULL;
    wh_dl_sym syms[] = {{"cos", &fn}};
    wh_err err = {0};
    assert_int_equal(wh_dl_load(MISSING, "for a test", syms, 1, &err), WH_E_IO);
    assert_string_equal(err.field, "library");
    assert_non_null(strstr(err.msg, MISSING " cannot be loaded (for a test): "));
    assert_null(fn);
}

static void test_missing_function_is_named_and_nothing_written(void **st)
{
    (void)st;
    double (*fn)(double) = NULL, (*nope)(double) = NULL;
    wh_dl_sym syms[] = {{"cos", &fn}, {"wharf_no_such_function", &nope}};
    wh_err err = {0};
    assert_int_equal(wh_dl_load("libm.so.6", "for a test", syms, 2, &err), WH_E_IO);
    assert_non_null(strstr(err.msg, "no function wharf_no_such_function"));
    assert_null(fn);
    assert_int_equal(wh_dl_load("libm.so.6", "for a test", syms, 1, &err), WH_OK);
    assert_non_null(fn);
    assert_true(fn(0.0) == 1.0);
}

static void test_curl_missing_fails_then_loads(void **st)
{
    (void)st;
    const char *real = wh_curl_soname;
    wh_curl_soname = MISSING;
    wh_err err = {0};
    assert_null(wh_curl_new(&err));
    assert_int_equal(err.code, WH_E_IO);
    assert_string_equal(err.field, "library");
    assert_non_null(strstr(err.msg, MISSING " cannot be loaded"));
    assert_false(mapped("libcurl"));
    /* A failure is not remembered: the real library loads on the next call. */
    wh_curl_soname = real;
    wh_curl *c = wh_curl_new(&err);
    assert_non_null(c);
    assert_true(mapped("libcurl"));
    wh_curl_free(c);
    assert_int_equal(wh_curl_load(&err), WH_OK);
}

static void test_ssh_missing_fails_then_loads(void **st)
{
    (void)st;
    const char *real = wh_ssh_soname;
    wh_ssh_soname = MISSING;
    wh_err err = {0};
    assert_int_equal(wh_ssh_pubkey_check(KEY, strlen(KEY), "args.key", &err), WH_E_IO);
    assert_string_equal(err.field, "library");
    assert_non_null(strstr(err.msg, MISSING " cannot be loaded"));
    assert_false(mapped("libssh."));
    wh_ssh_soname = real;
    assert_int_equal(wh_ssh_pubkey_check(KEY, strlen(KEY), "args.key", &err), WH_OK);
    assert_true(mapped("libssh."));
    assert_int_equal(wh_ssh_load(&err), WH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_loaded_at_start),
        cmocka_unit_test(test_missing_library_is_io_error_naming_it),
        cmocka_unit_test(test_missing_function_is_named_and_nothing_written),
        cmocka_unit_test(test_curl_missing_fails_then_loads),
        cmocka_unit_test(test_ssh_missing_fails_then_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
