/* The C encoder against the golden vectors: every valid vector whose value
 * a producer can ask for encodes to exactly the vector's bytes, as it does
 * in the Python and TypeScript clients. The directory is argv[1]. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "wh_conv.h"
#include "wh_env.h"
#include "wh_json.h"

static const char *vectors_dir;

/* Valid vectors no encoder produces, on purpose: they test decoders. */
static const char *const decoder_only[] = {
    "ok_full_envelope",  /* an unknown top-level key */
    "ok_key_order",      /* keys out of the contract's order */
    "ok_nil_optionals",  /* explicit nils; encoders leave the keys out */
    "ok_wide_ints",      /* ints wider than needed */
    NULL,
};

static bool is_decoder_only(const char *name)
{
    for(int i = 0; decoder_only[i]; i++)
        if(strcmp(decoder_only[i], name) == 0)
            return true;
    return false;
}

static const char *str_or_null(const wh_json *v, const char *key)
{
    return wh_json_strv(wh_json_get(v, key), NULL);
}

static int int_or_zero(const wh_json *v, const char *key)
{
    const wh_json *x = wh_json_get(v, key);
    return x ? (int)wh_json_intv(x) : 0;
}

/* Encode the vector's JSON value through wh_env_encode; 1 when the bytes
 * differ from `want`. */
static int encode_matches(const char *name, const wh_json *v, const char *want, size_t want_len)
{
    wh_mp_pack *args = wh_mp_pack_new(1u << 20), *meta = wh_mp_pack_new(1u << 20), *p = wh_mp_pack_new(1u << 20);
    size_t alen = 0, mlen = 0, len = 0;
    assert_int_equal(wh_conv_to_mp(wh_json_get(v, "args"), args, NULL), WH_OK);
    const wh_json *m = wh_json_get(v, "meta");
    if(m)
        assert_int_equal(wh_conv_to_mp(m, meta, NULL), WH_OK);
    const wh_json *run_at = wh_json_get(v, "run_at");
    wh_env_spec s = {.id = str_or_null(v, "id"), .type = str_or_null(v, "type"),
                     .target = str_or_null(v, "target"),
                     .created_at = wh_json_intv(wh_json_get(v, "created_at")),
                     .max_attempts = int_or_zero(v, "max_attempts"), .timeout_s = int_or_zero(v, "timeout_s"),
                     .run_at = run_at ? wh_json_intv(run_at) : 0, .priority = int_or_zero(v, "priority"),
                     .unique_for_s = int_or_zero(v, "unique_for_s"), .lock = str_or_null(v, "lock")};
    s.args = wh_mp_pack_data(args, &alen);
    s.args_len = alen;
    if(m) {
        s.meta = wh_mp_pack_data(meta, &mlen);
        s.meta_len = mlen;
    }
    assert_int_equal(wh_env_encode(&s, p, NULL), WH_OK);
    const char *got = wh_mp_pack_data(p, &len);
    int bad = len != want_len || memcmp(got, want, len) != 0;
    if(bad)
        print_error("vector %s: the C encoder wrote %zu bytes that differ from the vector's %zu\n", name, len,
                    want_len);
    wh_mp_pack_free(args);
    wh_mp_pack_free(meta);
    wh_mp_pack_free(p);
    return bad;
}

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
    const wh_json *v = wh_json_get(j, "value");
    assert_non_null(v);
    int bad = encode_matches(name, v, mp, mlen);
    wh_json_free(j);
    free(json);
    free(mp);
    return bad;
}

static void test_encoder_writes_the_vectors(void **state)
{
    (void)state;
    DIR *d = opendir(vectors_dir);
    assert_non_null(d);
    int checked = 0, bad = 0;
    struct dirent *e;
    while((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if(n < 9 || strncmp(e->d_name, "ok_", 3) != 0 || strcmp(e->d_name + n - 8, ".msgpack") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(n - 8), e->d_name);
        if(is_decoder_only(name))
            continue;
        bad += check_vector(name);
        checked++;
    }
    closedir(d);
    print_message("%d valid vectors encoded, %d differ\n", checked, bad);
    assert_true(checked >= 10);
    assert_int_equal(bad, 0);
}

int main(int argc, char **argv)
{
    vectors_dir = argc > 1 ? argv[1] : "schemas/vectors";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_writes_the_vectors),
    };
    return cmocka_run_group_tests_name("wh_env_encode", tests, NULL, NULL);
}
