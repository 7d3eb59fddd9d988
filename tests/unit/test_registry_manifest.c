/* Manifest kinds and platform selection from an index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static const char index_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" RG_MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" RG_MT_OCI_MANIFEST "\",\"digest\":\"" DA "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"" RG_MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
    "{\"mediaType\":\"" RG_MT_OCI_MANIFEST "\",\"digest\":\"" DC "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"" RG_MT_OCI_MANIFEST "\",\"digest\":\"" DD "\",\"size\":1,"
    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}";

static void test_kinds(void **state)
{
    (void)state;
    const char *ct = "application/vnd.oci.image.index.v1+json; charset=utf-8";
    assert_int_equal(rg_mani_kind_of(ct, strlen(ct)), RG_MANI_OCI_INDEX);
    ct = " Application/VND.docker.distribution.manifest.v2+json";
    assert_int_equal(rg_mani_kind_of(ct, strlen(ct)), RG_MANI_DOCKER_V2);
    ct = RG_MT_DOCKER_LIST;
    assert_int_equal(rg_mani_kind_of(ct, strlen(ct)), RG_MANI_DOCKER_LIST);
    ct = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    assert_int_equal(rg_mani_kind_of(ct, strlen(ct)), RG_MANI_UNKNOWN);
    ct = "application/vnd.oci.image.manifest.v1+jsonx";
    assert_int_equal(rg_mani_kind_of(ct, strlen(ct)), RG_MANI_UNKNOWN);
    assert_true(rg_mani_is_index(RG_MANI_DOCKER_LIST));
    assert_false(rg_mani_is_index(RG_MANI_OCI_MANIFEST));
    assert_string_equal(rg_mani_kind_name(RG_MANI_OCI_INDEX), "oci_index");
    assert_string_equal(rg_mani_kind_name(RG_MANI_UNKNOWN), "unknown");
}

static void test_platform_parse(void **state)
{
    (void)state;
    rg_platform p;
    char s[100];
    assert_int_equal(rg_platform_parse("linux/amd64", 11, &p, "args.platform", NULL), WH_OK);
    rg_platform_format(&p, s, sizeof(s));
    assert_string_equal(s, "linux/amd64");
    assert_int_equal(rg_platform_parse("linux/aarch64", 13, &p, "args.platform", NULL), WH_OK);
    rg_platform_format(&p, s, sizeof(s));
    assert_string_equal(s, "linux/arm64");
    assert_int_equal(rg_platform_parse("linux/x86_64/v2", 15, &p, "args.platform", NULL), WH_OK);
    rg_platform_format(&p, s, sizeof(s));
    assert_string_equal(s, "linux/amd64/v2");
    const char *bad[] = {"linux", "linux/", "/amd64", "linux/amd64/v1/x", "Linux/amd64", "linux/am d64", ""};
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_err err;
        wh_err_clear(&err);
        if(rg_platform_parse(bad[i], strlen(bad[i]), &p, "args.platform", &err) != WH_E_BAD_ARGS)
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(err.field, "args.platform");
    }
}

static wh_code sel(const char *plat, char *d, wh_err *err, wh_json **pl)
{
    rg_platform p;
    assert_int_equal(rg_platform_parse(plat, strlen(plat), &p, "args.platform", NULL), WH_OK);
    return rg_mani_select(index_json, sizeof(index_json) - 1, &p, d, 80, pl, err);
}

static void test_select(void **state)
{
    (void)state;
    char d[80];
    wh_err err;
    wh_json *pl = NULL;
    assert_int_equal(sel("linux/amd64", d, &err, &pl), WH_OK);
    assert_string_equal(d, DA);
    assert_int_equal(wh_json_size(pl), 4);
    char *dump = wh_json_dump(pl);
    assert_string_equal(dump, "[\"linux/amd64\",\"linux/arm64/v8\",\"linux/arm/v6\",\"unknown/unknown\"]");
    free(dump);
    wh_json_free(pl);
    assert_int_equal(sel("linux/arm64", d, &err, NULL), WH_OK);
    assert_string_equal(d, DB);
    assert_int_equal(sel("linux/arm64/v8", d, &err, NULL), WH_OK);
    assert_string_equal(d, DB);
    /* arm without a variant means v7, but v6 is the only arm: take it. */
    assert_int_equal(sel("linux/arm", d, &err, NULL), WH_OK);
    assert_string_equal(d, DC);
    /* An explicit variant must match. */
    wh_err_clear(&err);
    assert_int_equal(sel("linux/arm/v7", d, &err, NULL), WH_E_NOT_FOUND);
    assert_non_null(strstr(err.msg, "linux/arm/v7"));
    assert_non_null(strstr(err.msg, "linux/amd64, linux/arm64/v8"));
    assert_int_equal(sel("windows/amd64", d, &err, NULL), WH_E_NOT_FOUND);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    rg_platform p;
    char d[80];
    wh_err err;
    wh_json *pl = (wh_json *)0x1;
    rg_platform_parse("linux/amd64", 11, &p, "f", NULL);
    const char *bodies[] = {"", "{", "[]", "{\"manifests\":{}}", "{\"manifests\":[1,\"x\",null]}",
                            "{\"manifests\":[{\"digest\":\"nope\",\"platform\":{\"os\":\"linux\","
                            "\"architecture\":\"amd64\"}}]}"};
    wh_code want[] = {WH_E_REGISTRY, WH_E_REGISTRY, WH_E_REGISTRY, WH_E_REGISTRY, WH_E_NOT_FOUND, WH_E_REGISTRY};
    for(size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        wh_err_clear(&err);
        wh_code rc = rg_mani_select(bodies[i], strlen(bodies[i]), &p, d, sizeof(d), &pl, &err);
        if(rc != want[i])
            fail_msg("body %zu: %d (%s), want %d", i, rc, err.msg, want[i]);
        wh_json_free(pl);
        pl = NULL;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kinds), cmocka_unit_test(test_platform_parse),
                                       cmocka_unit_test(test_select), cmocka_unit_test(test_bad_bodies)};
    return cmocka_run_group_tests_name("rg_mani", tests, NULL, NULL);
}
