/* rg_cbody: the create body of a recreated container, from inspections
 * shaped like the engine's: what is kept, what the old image gave and is
 * dropped, networks and bind sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "container_body.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char CTR[] =
    "{\"Id\":\"" ID "\","
    "\"Config\":{\"Hostname\":\"0123456789ab\",\"Image\":\"reg:5000/team/app:1.0\","
    "  \"Env\":[\"PATH=/usr/bin\",\"FOO=bar\",\"EMPTY=\"],\"Cmd\":[\"serve\"],\"Entrypoint\":[\"/bin/app\"],"
    "  \"Labels\":{\"app\":\"web\",\"img.version\":\"1.0\",\"img.owner\":\"me\"},\"WorkingDir\":\"/srv\",\"User\":\"1000\"},"
    "\"HostConfig\":{\"NetworkMode\":\"front\",\"Binds\":[\"/srv/data:/data:ro\",\"vol:/v\"],"
    "  \"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv/conf\",\"Target\":\"/conf\"},"
    "            {\"Type\":\"volume\",\"Source\":\"other\",\"Target\":\"/o\"}],"
    "  \"RestartPolicy\":{\"Name\":\"always\"},\"CpuShares\":512},"
    "\"NetworkSettings\":{\"Networks\":{"
    "  \"front\":{\"Aliases\":[\"0123456789ab\",\"web\"],\"IPAMConfig\":{\"IPv4Address\":\"10.1.0.5\"}},"
    "  \"back\":{\"Aliases\":[\"api\"],\"IPAMConfig\":null}}}}";

static const char IMG[] = "{\"Id\":\"sha256:old\",\"Config\":{\"Env\":[\"PATH=/usr/bin\"],\"Cmd\":[\"serve\"],"
                          "\"Entrypoint\":[\"/bin/sh\"],\"Labels\":{\"img.version\":\"1.0\",\"img.owner\":\"you\"}}}";

static wh_json *parse(const char *s)
{
    wh_json *j = wh_json_parse(s, strlen(s), NULL);
    assert_non_null(j);
    return j;
}

static void assert_json(const wh_json *v, const char *want)
{
    char *got = wh_json_dump(v);
    if(!got || strcmp(got, want) != 0)
        fail_msg("got %s\nwant %s", got ? got : "(null)", want);
    free(got);
}

static void test_create_body(void **state)
{
    (void)state;
    wh_json *ctr = parse(CTR), *img = parse(IMG);
    wh_json *b = rg_cbody_create(ctr, img, "reg:5000/team/app:1.1");
    const wh_json *cfg = b;
    assert_string_equal(rg_cbody_str(cfg, "Image"), "reg:5000/team/app:1.1");
    assert_null(wh_json_get(cfg, "Hostname"));                        /* the generated one */
    assert_json(wh_json_get(cfg, "Env"), "[\"FOO=bar\",\"EMPTY=\"]");  /* PATH came from the image */
    assert_null(wh_json_get(cfg, "Cmd"));                             /* equal to the image's */
    assert_json(wh_json_get(cfg, "Entrypoint"), "[\"/bin/app\"]");   /* the container's own */
    /* img.version equals the image's label: the new image's applies; img.owner differs: kept. */
    assert_json(wh_json_get(cfg, "Labels"), "{\"app\":\"web\",\"img.owner\":\"me\"}");
    assert_string_equal(rg_cbody_str(cfg, "WorkingDir"), "/srv");
    assert_string_equal(rg_cbody_str(cfg, "User"), "1000");
    assert_json(wh_json_get(wh_json_get(b, "HostConfig"), "RestartPolicy"), "{\"Name\":\"always\"}");
    /* The primary network at create, without the old short id alias. */
    assert_json(wh_json_get(b, "NetworkingConfig"),
                "{\"EndpointsConfig\":{\"front\":{\"Aliases\":[\"web\"],\"IPAMConfig\":{\"IPv4Address\":\"10.1.0.5\"}}}}");
    wh_json_free(b);
    wh_json_free(ctr);
    wh_json_free(img);
}

static void test_networks_and_binds(void **state)
{
    (void)state;
    wh_json *ctr = parse(CTR);
    const wh_json *n = rg_cbody_networks(ctr);
    assert_non_null(n);
    assert_false(rg_cbody_joins_later(ctr, "front"));
    assert_true(rg_cbody_joins_later(ctr, "back"));
    assert_false(rg_cbody_joins_later(ctr, "host"));
    wh_json *e = rg_cbody_endpoint(ctr, wh_json_get(n, "back"));
    assert_json(e, "{\"Aliases\":[\"api\"]}");
    wh_json_free(e);
    wh_json *b = wh_json_array();
    rg_cbody_binds(ctr, b);
    assert_json(b, "[\"/srv/data\",\"/srv/conf\"]");  /* named volumes are not binds */
    wh_json_free(b);
    wh_json_free(ctr);
    /* host networking: nothing joins later, no endpoint at create. */
    ctr = parse("{\"Id\":\"" ID "\",\"Config\":{},\"HostConfig\":{\"NetworkMode\":\"host\"},"
                "\"NetworkSettings\":{\"Networks\":{\"host\":{}}}}");
    assert_false(rg_cbody_joins_later(ctr, "host"));
    b = rg_cbody_create(ctr, NULL, "x:1");
    assert_null(wh_json_get(b, "NetworkingConfig"));
    wh_json_free(b);
    b = wh_json_array();
    rg_cbody_binds(ctr, b);
    assert_int_equal(wh_json_size(b), 0);
    wh_json_free(b);
    wh_json_free(ctr);
    assert_string_equal(rg_cbody_str(NULL, "x"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_create_body), cmocka_unit_test(test_networks_and_binds)};
    return cmocka_run_group_tests_name("rg_cbody", tests, NULL, NULL);
}
