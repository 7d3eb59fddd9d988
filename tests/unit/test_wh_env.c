/* Envelope decoding and job admission against the golden vectors in
 * schemas/vectors, plus encode round trips. The directory is argv[1]. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "wh_env.h"
#include "wh_json.h"
#include "wk_job.h"

static const char *vectors_dir;

/* Decode and admit like the worker; returns the code, fills field. The
 * catalogue alone (the producer's admission) must agree. */
static wh_code admit(const char *buf, size_t len, char *field, size_t cap)
{
    wh_env env;
    wh_err err = {0};
    wh_code rc = wh_env_decode(buf, len, 1u << 20, &env, &err);
    if(!rc) {
        const wh_job_type *t, *row;
        wk_run_fn *run;
        wh_json *prepared = NULL;
        wh_err cerr = {0};
        rc = wk_type_admit(env.type, env.args, &t, &run, &prepared, &err);
        wh_json_free(prepared);
        wh_code crc = wh_cat_admit(env.type, env.args, &row, NULL, &cerr);
        if(crc != rc || (rc && strcmp(cerr.field, err.field) != 0))
            fail_msg("%s: the worker says %s (%s), the catalogue %s (%s)", env.type, wh_code_name(rc), err.field,
                     wh_code_name(crc), cerr.field);
    }
    snprintf(field, cap, "%s", rc ? err.field : "");
    wh_env_release(&env);
    return rc;
}

/* One vector: compare the C verdict with expect.{ok,code,field}. */
static int check_vector(const char *name)
{
    char path[512];
    size_t jlen = 0, mlen = 0;
    snprintf(path, sizeof(path), "%s/%s.json", vectors_dir, name);
    char *json = test_read_file(path, &jlen);
    snprintf(path, sizeof(path), "%s/%s.msgpack", vectors_dir, name);
    char *mp = test_read_file(path, &mlen);
    assert_non_null(json);
    assert_non_null(mp);
    wh_json *j = wh_json_parse(json, jlen, NULL);
    assert_non_null(j);
    wh_json *expect = wh_json_get(j, "expect");
    bool ok = wh_json_boolv(wh_json_get(expect, "ok"));
    const char *code = wh_json_strv(wh_json_get(expect, "code"), NULL);
    const char *efield = wh_json_strv(wh_json_get(expect, "field"), NULL);
    char field[64];
    wh_code rc = admit(mp, mlen, field, sizeof(field));
    int bad = 0;
    if(ok != (rc == WH_OK) || (!ok && strcmp(code ? code : "", wh_code_name(rc)) != 0) ||
       (!ok && efield && strcmp(efield, field) != 0)) {
        print_error("vector %s: expected %s/%s field %s, C decoder says %s field %s\n", name,
                    ok ? "ok" : "fail", code ? code : "-", efield ? efield : "-", rc ? wh_code_name(rc) : "ok",
                    field);
        bad = 1;
    }
    wh_json_free(j);
    free(json);
    free(mp);
    return bad;
}

static void test_golden_vectors(void **state)
{
    (void)state;
    DIR *d = opendir(vectors_dir);
    assert_non_null(d);
    int seen = 0, bad = 0, ok_seen = 0;
    struct dirent *e;
    while((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if(n < 9 || strcmp(e->d_name + n - 8, ".msgpack") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(n - 8), e->d_name);
        bad += check_vector(name);
        seen++;
        ok_seen += strncmp(name, "ok_", 3) == 0;
    }
    closedir(d);
    print_message("%d vectors checked, %d valid ones\n", seen, ok_seen);
    assert_true(seen >= 40);
    assert_true(ok_seen >= 4);
    assert_int_equal(bad, 0);
}

static void test_too_large(void **state)
{
    (void)state;
    char body[2048];
    memset(body, 0xc0, sizeof(body));
    wh_env env;
    wh_err err;
    assert_int_equal(wh_env_decode(body, sizeof(body), 1024, &env, &err), WH_E_TOO_LARGE);
    assert_non_null(strstr(err.msg, "2048"));
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    wh_mp_pack *args = wh_mp_pack_new(1024), *p = wh_mp_pack_new(1u << 20);
    wh_mp_pack_map(args, 1);
    wh_mp_pack_cstr(args, "ms");
    wh_mp_pack_int(args, 250);
    size_t alen, len;
    const char *a = wh_mp_pack_data(args, &alen);
    wh_env_spec s = {.id = "job-1", .type = "system.sleep", .target = "web1", .created_at = 1700000000000LL, .max_attempts = 4, .timeout_s = 30, .args = a, .args_len = alen,
                     .run_at = 1700000005000LL, .priority = 7, .unique_for_s = 60, .lock = "host:web1/ctr:api"};
    assert_int_equal(wh_env_encode(&s, p, NULL), WH_OK);
    const char *body = wh_mp_pack_data(p, &len);
    wh_env env;
    assert_int_equal(wh_env_decode(body, len, 1u << 20, &env, NULL), WH_OK);
    assert_string_equal(env.id, "job-1");
    assert_string_equal(env.type, "system.sleep");
    assert_string_equal(env.target, "web1");
    assert_int_equal(env.family, WH_FAM_SYSTEM);
    assert_int_equal(env.created_at, 1700000000000LL);
    assert_int_equal(env.max_attempts, 4);
    assert_int_equal(env.timeout_s, 30);
    assert_int_equal(env.run_at, 1700000005000LL);
    assert_int_equal(env.priority, 7);
    assert_int_equal(env.unique_for_s, 60);
    assert_string_equal(env.lock, "host:web1/ctr:api");
    int64_t ms = 0;
    assert_true(wh_mp_int(wh_mp_map_get(env.args, "ms"), &ms));
    assert_int_equal(ms, 250);
    wh_env_release(&env);
    wh_mp_pack_free(args);
    wh_mp_pack_free(p);
}

/* The longest valid type (32 + "." + 64 bytes) survives decoding whole. */
static void test_longest_type(void **state)
{
    (void)state;
    char type[WH_TYPE_MAX + 2];
    memset(type, 'a', 32);
    type[32] = '.';
    memset(type + 33, 'b', 64);
    type[97] = '\0';
    assert_int_equal(strlen(type), WH_TYPE_MAX);
    wh_mp_pack *p = wh_mp_pack_new(4096);
    wh_env_spec s = {.id = "t", .type = type, .target = NULL, .created_at = 1, .max_attempts = 0, .timeout_s = 0, .args = NULL, .args_len = 0};
    assert_int_equal(wh_env_encode(&s, p, NULL), WH_OK);
    size_t len;
    const char *b = wh_mp_pack_data(p, &len);
    wh_env env;
    assert_int_equal(wh_env_decode(b, len, 4096, &env, NULL), WH_OK);
    assert_string_equal(env.type, type);
    wh_env_release(&env);
    type[97] = 'b';
    type[98] = '\0'; /* one byte too many */
    wh_env_spec s2 = {.id = "t", .type = type, .target = NULL, .created_at = 1, .max_attempts = 0, .timeout_s = 0, .args = NULL, .args_len = 0};
    assert_int_equal(wh_env_encode(&s2, p, NULL), WH_E_BAD_ENVELOPE);
    wh_mp_pack_free(p);
}

static void test_encode_rejects(void **state)
{
    (void)state;
    wh_mp_pack *p = wh_mp_pack_new(4096);
    wh_err err;
    wh_env_spec bad_id = {.id = "a:b", .type = "system.noop", .target = NULL, .created_at = 0, .max_attempts = 0, .timeout_s = 0, .args = NULL, .args_len = 0};
    assert_int_equal(wh_env_encode(&bad_id, p, &err), WH_E_BAD_ENVELOPE);
    assert_string_equal(err.field, "id");
    wh_env_spec bad_type = {.id = "a", .type = "System.noop", .target = NULL, .created_at = 0, .max_attempts = 0, .timeout_s = 0, .args = NULL, .args_len = 0};
    assert_int_equal(wh_env_encode(&bad_type, p, &err), WH_E_BAD_ENVELOPE);
    assert_string_equal(err.field, "type");
    wh_env_spec bad_target = {.id = "a", .type = "system.noop", .target = "-x", .created_at = 0, .max_attempts = 0, .timeout_s = 0, .args = NULL, .args_len = 0};
    assert_int_equal(wh_env_encode(&bad_target, p, &err), WH_E_BAD_ENVELOPE);
    assert_string_equal(err.field, "target");
    const char arr[] = {(char)0x91, 0x01};
    wh_env_spec bad_args = {.id = "a", .type = "system.noop", .target = NULL, .created_at = 0, .max_attempts = 0, .timeout_s = 0, .args = arr, .args_len = sizeof(arr)};
    assert_int_equal(wh_env_encode(&bad_args, p, &err), WH_E_BAD_ARGS);
    wh_mp_pack_free(p);
}

int main(int argc, char **argv)
{
    vectors_dir = argc > 1 ? argv[1] : "schemas/vectors";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_vectors),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_longest_type),
    };
    return cmocka_run_group_tests_name("wh_env", tests, NULL, NULL);
}
