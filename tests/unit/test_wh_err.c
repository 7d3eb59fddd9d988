/* The code table: every code has a stable name and a class, and the class
 * is the one the docs promise (README "Errors", and the table of every code
 * in schemas/README.md section 6.1, read from argv[1]/../README.md where
 * argv[1] is schemas/vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "wh_err.h"

static const char *vectors_dir;

/* Codes the docs call transient: retried with backoff, then `dead`. */
static const wh_code documented_transient[] = {
    WH_E_UNREACHABLE,    /* "unreachable (transient, retried)" */
    WH_E_RATE_LIMITED,   /* "rate_limited (429) ... transient and retried" */
    WH_E_BROKER_BLOCKED, /* "retry with the same id" */
    WH_E_ABANDONED,      /* requeued by the reaper while attempts remain */
};

/* Codes the docs call permanent: the job ends `failed` without a retry. */
static const wh_code documented_permanent[] = {
    WH_E_BAD_MSGPACK, WH_E_BAD_ENVELOPE, WH_E_UNSUPPORTED_SCHEMA, WH_E_TOO_LARGE, WH_E_UNKNOWN_TYPE,
    WH_E_BAD_ARGS,       /* decode failures "are permanent and never retried" */
    WH_E_TIMEOUT,        /* "a job that timed out is failed" */
    WH_E_CANCELLED, WH_E_FAILED,
    WH_E_UNKNOWN_HOST,   /* "unknown_host (permanent)" */
    WH_E_AUTH_FAILED,    /* "auth_failed (permanent)" */
    WH_E_HOST_KEY,       /* "the permanent error host_key_mismatch" */
    WH_E_NOT_FOUND, WH_E_CONFLICT, WH_E_BUSY, WH_E_ENGINE, WH_E_REGISTRY, WH_E_COMMAND_FAILED, WH_E_IO,
    WH_E_TLS,            /* "a certificate or TLS failure is permanent" */
};

static void test_every_code_has_a_name_and_a_class(void **state)
{
    (void)state;
    for(int i = 1; i < WH_E__LAST; i++) {
        wh_code c = (wh_code)i;
        const char *name = wh_code_name(c);
        if(strcmp(name, "unknown") == 0)
            fail_msg("code %d has no name", i);
        if(wh_code_class(c) != WH_PERMANENT && wh_code_class(c) != WH_TRANSIENT)
            fail_msg("code %d (%s) has no class: %d", i, name, (int)wh_code_class(c));
        assert_int_equal(wh_code_from_name(name), c);
        assert_int_equal(wh_code_transient(c), wh_code_class(c) == WH_TRANSIENT);
    }
}

static void test_out_of_range_has_no_class(void **state)
{
    (void)state;
    assert_int_equal(wh_code_class(WH_OK), WH_CLASS_NONE);
    assert_int_equal(wh_code_class(WH_E__LAST), WH_CLASS_NONE);
    assert_int_equal(wh_code_class((wh_code)-1), WH_CLASS_NONE);
    assert_false(wh_code_transient(WH_OK));
    assert_false(wh_code_transient(WH_E__LAST));
}

static void test_documented_classes(void **state)
{
    (void)state;
    for(size_t i = 0; i < sizeof(documented_transient) / sizeof(documented_transient[0]); i++)
        if(!wh_code_transient(documented_transient[i]))
            fail_msg("%s should be transient", wh_code_name(documented_transient[i]));
    for(size_t i = 0; i < sizeof(documented_permanent) / sizeof(documented_permanent[0]); i++)
        if(wh_code_class(documented_permanent[i]) != WH_PERMANENT)
            fail_msg("%s should be permanent", wh_code_name(documented_permanent[i]));
}

static void test_messages_keep_1024_bytes_cut_between_characters(void **state)
{
    (void)state;
    char text[1200];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    wh_err err;
    wh_err_set(&err, WH_E_BAD_ARGS, "args", "%s", text);
    assert_int_equal(strlen(err.msg), WH_ERR_MSG_MAX);
    /* "x" then euro signs (3 bytes): byte 1024 is inside the 342nd one */
    char utf[1 + 3 * 400 + 1] = "x";
    for(int i = 0; i < 400; i++)
        memcpy(utf + 1 + 3 * i, "\xe2\x82\xac", 4);
    wh_err_set(&err, WH_E_FAILED, NULL, "%s", utf);
    assert_int_equal(strlen(err.msg), 1 + 3 * 341);
    assert_memory_equal(err.msg, utf, 1 + 3 * 341);
    wh_err_set(&err, WH_E_FAILED, NULL, "%.1021s", text);
    wh_err_append(&err, " \xe2\x82\xac\xe2\x82\xac");
    assert_string_equal(err.msg + 1021, " "); /* no room for a whole euro sign */
}

/* One row "| 25 | `unreachable` | transient | ... |" of the table: true with
 * its number, name and class. */
static bool doc_row(const char *line, int *num, char *name, size_t cap, bool *transient)
{
    char *end;
    if(strncmp(line, "| ", 2) != 0)
        return false;
    long n = strtol(line + 2, &end, 10);
    if(end == line + 2 || strncmp(end, " | `", 4) != 0)
        return false;
    const char *nm = end + 4, *tick = strchr(nm, '`');
    if(!tick || (size_t)(tick - nm) >= cap)
        return false;
    snprintf(name, cap, "%.*s", (int)(tick - nm), nm);
    *num = (int)n;
    if(strncmp(tick, "` | transient |", 15) == 0)
        *transient = true;
    else if(strncmp(tick, "` | permanent |", 15) == 0)
        *transient = false;
    else
        return false;
    return true;
}

/* wh_err_at: the field is the path the message starts with. */
static void test_field_from_the_message(void **state)
{
    (void)state;
    wh_err err;
    assert_int_equal(wh_err_at(&err, WH_E_BAD_ARGS, "args.ports[%u]: must be {container: 1..65535}", 1u),
                     WH_E_BAD_ARGS);
    assert_string_equal(err.field, "args.ports[1]");
    assert_string_equal(err.msg, "args.ports[1]: must be {container: 1..65535}");
    wh_err_at(&err, WH_E_CONFLICT, "no path here");
    assert_int_equal(err.code, WH_E_CONFLICT);
    assert_string_equal(err.field, "");
    assert_int_equal(wh_err_at(NULL, WH_E_BAD_ARGS, "args.x: y"), WH_E_BAD_ARGS);
}

static void test_the_wire_contract_lists_every_code_with_its_class(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/../README.md", vectors_dir);
    size_t len = 0;
    char *doc = test_read_file(path, &len);
    if(!doc)
        fail_msg("cannot read %s", path);
    const char *sec = strstr(doc, "### 6.1 Every error code and its class");
    assert_non_null(sec);
    int seen[WH_E__LAST] = {0};
    const char *next = sec;
    while(next && *next) {
        const char *line = next, *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if(strncmp(line, "## ", 3) == 0)
            break; /* the next section */
        int num = 0;
        char name[48];
        bool transient = false;
        if(!doc_row(line, &num, name, sizeof(name), &transient))
            continue;
        if(num <= 0 || num >= WH_E__LAST)
            fail_msg("schemas/README.md lists code %d (%s), which wh_err does not have", num, name);
        if(strcmp(wh_code_name((wh_code)num), name) != 0)
            fail_msg("code %d: schemas/README.md says %s, wh_err says %s", num, name, wh_code_name((wh_code)num));
        if(transient != wh_code_transient((wh_code)num))
            fail_msg("%s: schemas/README.md says %s, wh_err says otherwise", name,
                     transient ? "transient" : "permanent");
        seen[num]++;
    }
    for(int i = 1; i < WH_E__LAST; i++)
        if(seen[i] != 1)
            fail_msg("code %d (%s) is listed %d times in schemas/README.md 6.1", i, wh_code_name((wh_code)i), seen[i]);
    free(doc);
}

int main(int argc, char **argv)
{
    vectors_dir = argc > 1 ? argv[1] : "schemas/vectors";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_name_and_a_class),
        cmocka_unit_test(test_out_of_range_has_no_class),
        cmocka_unit_test(test_documented_classes),
        cmocka_unit_test(test_messages_keep_1024_bytes_cut_between_characters),
        cmocka_unit_test(test_field_from_the_message),
        cmocka_unit_test(test_the_wire_contract_lists_every_code_with_its_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
