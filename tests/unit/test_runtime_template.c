/* Unit tests for template.deploy's translation (families/runtime/template.c): a Portainer v2
 * app template of type 1 becomes stack.deploy args (env defaults and the
 * job's overrides, ports on 127.0.0.1 or host_ip, named volumes and binds,
 * labels, restart policy), and malformed templates are bad_args naming the
 * field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime.h"
#include "wh_conv.h"

/* Translate job args given as JSON text; *out (JSON text, malloc'd) or the error. */
static wh_code translate(const char *args_json, char **out, wh_err *err)
{
    wh_json *j = wh_json_parse(args_json, strlen(args_json), NULL);
    assert_non_null(j);
    wh_mp_pack *pk = wh_mp_pack_new(1u << 20);
    assert_non_null(pk);
    assert_int_equal(wh_conv_to_mp(j, pk, err), WH_OK);
    wh_json_free(j);
    size_t len = 0;
    const char *data = wh_mp_pack_data(pk, &len);
    wh_mp_doc *doc = wh_mp_parse(data, len, WH_MP_MAX_DEPTH, err);
    assert_non_null(doc);
    wh_json *st = NULL;
    wh_code rc = rt_tmpl_translate(wh_mp_root(doc), &st, err);
    *out = rc ? NULL : wh_json_dump(st);
    wh_json_free(st);
    wh_mp_doc_free(doc);
    wh_mp_pack_free(pk);
    return rc;
}

static const wh_json *ctr0(const wh_json *st)
{
    return wh_json_at(wh_json_get(st, "containers"), 0);
}

static void str_is(const wh_json *o, const char *key, const char *want)
{
    size_t n = 0;
    const char *s = wh_json_strv(wh_json_get(o, key), &n);
    if(!s || n != strlen(want) || memcmp(s, want, n) != 0)
        fail_msg("%s: got \"%.*s\", want \"%s\"", key, s ? (int)n : 6, s ? s : "(none)", want);
}

static void test_full_template(void **state)
{
    (void)state;
    char *txt = NULL;
    wh_err err = {0};
    wh_code rc = translate(
        "{\"name\":\"web\",\"env\":{\"COLOR\":\"red\",\"EXTRA\":\"1\"},\"template\":{\"type\":1,\"title\":\"Web\","
        "\"image\":\"nginx:1\",\"restart_policy\":\"unless-stopped\","
        "\"env\":[{\"name\":\"GREETING\",\"label\":\"g\",\"default\":\"hello\"},{\"name\":\"COLOR\",\"default\":\"blue\"},"
        "{\"name\":\"EMPTY\"}],"
        "\"ports\":[\"8080:80/tcp\",\"53/udp\",\"443\"],"
        "\"volumes\":[{\"container\":\"/data\"},{\"container\":\"/cfg\",\"bind\":\"/srv/cfg\",\"readonly\":true}],"
        "\"labels\":[{\"name\":\"app.kind\",\"value\":\"demo\"}]}}",
        &txt, &err);
    assert_int_equal(rc, WH_OK);
    wh_json *st = wh_json_parse(txt, strlen(txt), NULL);
    free(txt);
    str_is(st, "name", "web");
    assert_int_equal(wh_json_size(wh_json_get(st, "containers")), 1);
    const wh_json *c = ctr0(st);
    str_is(c, "name", "web");
    str_is(c, "image", "nginx:1");
    str_is(c, "restart", "unless-stopped");
    const wh_json *env = wh_json_get(c, "env");
    str_is(env, "GREETING", "hello"); /* default */
    str_is(env, "COLOR", "red");      /* the job's value over the default */
    str_is(env, "EXTRA", "1");        /* the job may add */
    str_is(env, "EMPTY", "");         /* no default: empty */
    const wh_json *ports = wh_json_get(c, "ports");
    assert_int_equal(wh_json_size(ports), 3);
    const wh_json *p0 = wh_json_at(ports, 0), *p1 = wh_json_at(ports, 1), *p2 = wh_json_at(ports, 2);
    assert_int_equal(wh_json_intv(wh_json_get(p0, "container")), 80);
    assert_int_equal(wh_json_intv(wh_json_get(p0, "host")), 8080);
    str_is(p0, "proto", "tcp");
    str_is(p0, "host_ip", "127.0.0.1"); /* never 0.0.0.0 unless the job says so */
    assert_int_equal(wh_json_intv(wh_json_get(p1, "container")), 53);
    assert_null(wh_json_get(p1, "host")); /* a free host port */
    str_is(p1, "proto", "udp");
    str_is(p2, "proto", "tcp");
    const wh_json *named = wh_json_get(c, "volumes"), *binds = wh_json_get(c, "binds");
    assert_int_equal(wh_json_size(named), 1);
    assert_int_equal(wh_json_size(binds), 1);
    str_is(wh_json_at(named, 0), "name", "web-vol0");
    str_is(wh_json_at(named, 0), "target", "/data");
    str_is(wh_json_at(binds, 0), "source", "/srv/cfg");
    str_is(wh_json_at(binds, 0), "target", "/cfg");
    assert_true(wh_json_boolv(wh_json_get(wh_json_at(binds, 0), "read_only")));
    /* the stack creates the named volume */
    str_is(wh_json_at(wh_json_get(st, "volumes"), 0), "name", "web-vol0");
    str_is(wh_json_get(c, "labels"), "app.kind", "demo");
    wh_json_free(st);
}

static void test_host_ip(void **state)
{
    (void)state;
    char *txt = NULL;
    wh_err err = {0};
    assert_int_equal(translate("{\"name\":\"a\",\"host_ip\":\"127.0.0.12\",\"template\":{\"type\":1,\"image\":\"x\","
                               "\"ports\":[\"1:2\"]}}",
                               &txt, &err),
                     WH_OK);
    wh_json *st = wh_json_parse(txt, strlen(txt), NULL);
    free(txt);
    str_is(wh_json_at(wh_json_get(ctr0(st), "ports"), 0), "host_ip", "127.0.0.12");
    assert_null(wh_json_get(ctr0(st), "restart")); /* none in the template: the engine's default */
    wh_json_free(st);
}

static void bad(const char *args_json, const char *field, const char *needle)
{
    char *txt = NULL;
    wh_err err = {0};
    wh_code rc = translate(args_json, &txt, &err);
    free(txt);
    if(rc != WH_E_BAD_ARGS || strcmp(err.field, field) != 0 || !strstr(err.msg, needle))
        fail_msg("%s: got %d field %s \"%s\", want bad_args on %s with \"%s\"", args_json, rc, err.field, err.msg,
                 field, needle);
}

static void test_bad_templates(void **state)
{
    (void)state;
    bad("{\"name\":\"a\",\"template\":{\"type\":2,\"image\":\"x\"}}", "args.template.type", "type 1");
    bad("{\"name\":\"a\",\"template\":{\"image\":\"x\"}}", "args.template.type", "type 1");
    bad("{\"name\":\"a\",\"template\":{\"type\":1}}", "args.template.image", "required");
    bad("{\"name\":\"a\",\"template\":{\"type\":1,\"image\":\"x\",\"ports\":[\"80:x/tcp\"]}}", "args.template.ports[0]",
        "ports[0]: ");
    bad("{\"name\":\"a\",\"template\":{\"type\":1,\"image\":\"x\",\"ports\":[\"80/sctp\"]}}", "args.template.ports[0]",
        "ports[0]: ");
    bad("{\"name\":\"a\",\"template\":{\"type\":1,\"image\":\"x\",\"ports\":[\"70000\"]}}", "args.template.ports[0]",
        "ports[0]: ");
    bad("{\"name\":\"a\",\"template\":{\"type\":1,\"image\":\"x\",\"ports\":[7]}}", "args.template.ports[0]", "ports[0]: ");
    bad("{\"name\":\"a\",\"template\":{\"type\":1,\"image\":\"x\",\"env\":[{\"default\":\"v\"}]}}",
        "args.template.env[0]", "env[0]: ");
    bad("{\"name\":\"a\",\"template\":{\"type\":1,\"image\":\"x\",\"volumes\":[{\"bind\":\"/x\"}]}}",
        "args.template.volumes[0]", "volumes[0]: ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_template),
        cmocka_unit_test(test_host_ip),
        cmocka_unit_test(test_bad_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
