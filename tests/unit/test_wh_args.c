/* Args validation by spec table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wh_args.h"
#include "wh_text.h"

static bool lower(const char *s, size_t n) { return wh_text_ident(s, n, 8); }

static const wh_arg_spec spec[] = {
    {"ms", WH_ARG_INT, true, 0, 100, NULL, NULL},
    {"name", WH_ARG_STR, false, 1, 8, lower, "must be lowercase"},
    {"on", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
    {"env", WH_ARG_MAP, false, 0, 2, NULL, NULL},
};

/* Validate a map built by `build`, returning the code and field. */
static wh_code run(void (*build)(wh_mp_pack *), bool open, char *field)
{
    wh_mp_pack *p = wh_mp_pack_new(4096);
    build(p);
    size_t len;
    const char *b = wh_mp_pack_data(p, &len);
    wh_mp_doc *d = wh_mp_parse(b, len, 32, NULL);
    assert_non_null(d);
    wh_err err = {0};
    wh_code rc = wh_args_validate(wh_mp_root(d), spec, 4, open, &err);
    strcpy(field, err.field);
    wh_mp_doc_free(d);
    wh_mp_pack_free(p);
    return rc;
}

static void good(wh_mp_pack *p) { wh_mp_pack_map(p, 3); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_int(p, 5);
    wh_mp_pack_cstr(p, "name"); wh_mp_pack_cstr(p, "web"); wh_mp_pack_cstr(p, "on"); wh_mp_pack_nil(p); }
static void missing(wh_mp_pack *p) { wh_mp_pack_map(p, 0); }
static void range(wh_mp_pack *p) { wh_mp_pack_map(p, 1); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_int(p, 101); }
static void as_float(wh_mp_pack *p) { wh_mp_pack_map(p, 1); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_float(p, 1.0); }
static void bad_str(wh_mp_pack *p) { wh_mp_pack_map(p, 2); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_int(p, 1);
    wh_mp_pack_cstr(p, "name"); wh_mp_pack_cstr(p, "Web"); }
static void bad_utf8(wh_mp_pack *p) { wh_mp_pack_map(p, 2); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_int(p, 1);
    wh_mp_pack_cstr(p, "name"); wh_mp_pack_str(p, "\xc3\x28", 2); }
static void unknown(wh_mp_pack *p) { wh_mp_pack_map(p, 2); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_int(p, 1);
    wh_mp_pack_cstr(p, "typo"); wh_mp_pack_int(p, 1); }
static void big_map(wh_mp_pack *p) { wh_mp_pack_map(p, 2); wh_mp_pack_cstr(p, "ms"); wh_mp_pack_int(p, 1);
    wh_mp_pack_cstr(p, "env"); wh_mp_pack_map(p, 3);
    for(int i = 0; i < 3; i++) { wh_mp_pack_cstr(p, i ? (i == 1 ? "b" : "c") : "a"); wh_mp_pack_int(p, i); } }

static void test_validation(void **state)
{
    (void)state;
    char f[64];
    assert_int_equal(run(good, false, f), WH_OK);
    assert_int_equal(run(missing, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.ms");
    assert_int_equal(run(range, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.ms");
    assert_int_equal(run(as_float, false, f), WH_E_BAD_ARGS);
    assert_int_equal(run(bad_str, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.name");
    assert_int_equal(run(bad_utf8, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.name");
    assert_int_equal(run(unknown, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.typo");
    assert_int_equal(run(unknown, true, f), WH_OK);
    assert_int_equal(run(big_map, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.env");
}

/* wh_args_problems' note: the fields, joined by ','. */
static bool collect(void *ud, const wh_err *problem)
{
    char *out = ud;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s%s", n ? "," : "", problem->field);
    return true;
}

static void several(wh_mp_pack *p) { wh_mp_pack_map(p, 3); wh_mp_pack_cstr(p, "name"); wh_mp_pack_cstr(p, "Web");
    wh_mp_pack_cstr(p, "typo"); wh_mp_pack_int(p, 1); wh_mp_pack_cstr(p, "on"); wh_mp_pack_int(p, 1); }

/* Every problem, in the map's order, then the missing required keys; the
 * first is the one wh_args_validate reports. */
static void test_every_problem(void **state)
{
    (void)state;
    wh_mp_pack *p = wh_mp_pack_new(4096);
    several(p);
    size_t len;
    const char *b = wh_mp_pack_data(p, &len);
    wh_mp_doc *d = wh_mp_parse(b, len, 32, NULL);
    char fields[256] = "";
    assert_int_equal(wh_args_problems(wh_mp_root(d), spec, 4, false, collect, fields), 4);
    assert_string_equal(fields, "args.name,args.typo,args.on,args.ms");
    char f[64];
    assert_int_equal(run(several, false, f), WH_E_BAD_ARGS);
    assert_string_equal(f, "args.name");
    wh_mp_doc_free(d);
    wh_mp_pack_free(p);
}

/* An error about a nested map, pointed at its element. */
static void test_rebase(void **state)
{
    (void)state;
    wh_err err;
    wh_err_set(&err, WH_E_BAD_ARGS, "args.image", "args.image: is required");
    assert_int_equal(wh_args_rebase(&err, "args.containers[1]"), WH_E_BAD_ARGS);
    assert_string_equal(err.field, "args.containers[1].image");
    assert_string_equal(err.msg, "args.containers[1].image: is required");
    wh_err_set(&err, WH_E_BAD_ARGS, "", "out of range");
    wh_args_rebase(&err, "args.steps[0]");
    assert_string_equal(err.field, "args.steps[0]");
    assert_string_equal(err.msg, "args.steps[0]: out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_validation), cmocka_unit_test(test_every_problem),
                                       cmocka_unit_test(test_rebase)};
    return cmocka_run_group_tests_name("wh_args", tests, NULL, NULL);
}
