/* Tag filters: include, exclude, transform; \d; refusals name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "registry_tag_filter.h"

static rg_tagf *mk(const char *inc, const char *exc, const char *tr)
{
    rg_tagf *f = NULL;
    wh_err err;
    if(rg_tagf_new(inc, exc, tr, &f, &err))
        fail_msg("refused: %s", err.msg);
    return f;
}

static void test_include_exclude(void **state)
{
    (void)state;
    rg_tagf *f = mk("^v?\\d+\\.\\d+(\\.\\d+)?$", "-rc", NULL);
    assert_true(rg_tagf_keep(f, "1.2.3"));
    assert_true(rg_tagf_keep(f, "v1.2"));
    assert_false(rg_tagf_keep(f, "latest"));
    assert_false(rg_tagf_keep(f, "1.2.3-rc1"));
    rg_tagf_free(f);
    f = mk(NULL, "^(latest|edge)$", "");
    assert_true(rg_tagf_keep(f, "1.0"));
    assert_false(rg_tagf_keep(f, "edge"));
    rg_tagf_free(f);
    f = mk("[\\d.]+-alpine", NULL, NULL); /* \d inside brackets */
    assert_true(rg_tagf_keep(f, "3.19-alpine"));
    assert_false(rg_tagf_keep(f, "alpine"));
    rg_tagf_free(f);
    f = mk("^\\D+$", NULL, NULL);
    assert_true(rg_tagf_keep(f, "stable"));
    assert_false(rg_tagf_keep(f, "stable2"));
    rg_tagf_free(f);
    assert_true(rg_tagf_keep(NULL, "anything"));
    rg_tagf_free(NULL);
}

static void test_transform(void **state)
{
    (void)state;
    char out[RG_TAGF_OUT_MAX];
    rg_tagf *f = mk(NULL, NULL, "^(\\d+)-ls.* => $1");
    assert_true(rg_tagf_transform(f, "12-ls33", out, sizeof(out)));
    assert_string_equal(out, "12");
    assert_true(rg_tagf_transform(f, "latest", out, sizeof(out)));
    assert_string_equal(out, "latest"); /* no match: unchanged */
    rg_tagf_free(f);
    f = mk(NULL, NULL, "^version-([0-9]+)\\.([0-9]+)=>$2.$1-$$-$0-$9");
    assert_true(rg_tagf_transform(f, "version-3.4", out, sizeof(out)));
    assert_string_equal(out, "4.3-$-version-3.4-");
    char small[4];
    assert_false(rg_tagf_transform(f, "version-3.4", small, sizeof(small)));
    assert_string_equal(small, "");
    rg_tagf_free(f);
    assert_true(rg_tagf_transform(NULL, "x", out, sizeof(out)));
    assert_string_equal(out, "x");
}

static void refused(const char *inc, const char *exc, const char *tr, const char *field)
{
    rg_tagf *f = (rg_tagf *)0x1;
    wh_err err;
    wh_err_clear(&err);
    assert_int_equal(rg_tagf_new(inc, exc, tr, &f, &err), WH_E_BAD_ARGS);
    assert_ptr_equal(f, (rg_tagf *)0x1);
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.msg, field));
}

static void test_refusals(void **state)
{
    (void)state;
    refused("(", NULL, NULL, "args.include");
    refused(NULL, "[a-", NULL, "args.exclude");
    refused(NULL, NULL, "^(a)\\1$ => $1", "args.transform");
    refused("(a)\\1", NULL, NULL, "args.include");
    refused(NULL, NULL, "no arrow", "args.transform");
    refused(NULL, NULL, " => $1", "args.transform");
    refused(NULL, NULL, "^a =>   ", "args.transform");
    char big[400];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    refused(big, NULL, NULL, "args.include");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_include_exclude),
        cmocka_unit_test(test_transform),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("rg_tagf", tests, NULL, NULL);
}
