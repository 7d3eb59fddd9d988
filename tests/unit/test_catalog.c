/* The job catalogue on its own, as the producer links it (this test links
 * wharf_catalog and nothing of the worker): lookup, admission of a decoded
 * args map, and admission of JSON args text as `wharf submit` and `wharf
 * serve` do it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"

static void test_find(void **state)
{
    (void)state;
    const wh_job_type *t = wh_cat_find("system.sleep");
    assert_non_null(t);
    assert_string_equal(t->name, "system.sleep");
    assert_null(wh_cat_find("system.nope"));
    assert_null(wh_cat_find("system"));
    int n = 0;
    for(const wh_job_family *const *f = wh_cat_families; *f; f++) {
        for(int i = 0; i < (*f)->ntypes; i++) {
            const char *name = (*f)->types[i].name;
            if(wh_cat_find(name) != &(*f)->types[i])
                fail_msg("%s is found elsewhere (a duplicate row)", name);
            if(strncmp(name, (*f)->name, strlen((*f)->name)) != 0 || name[strlen((*f)->name)] != '.')
                fail_msg("%s is in family %s", name, (*f)->name);
        }
        n++;
    }
    assert_int_equal(n, 4);
}

/* wh_cat_admit_json's verdict: code and field. */
static void admit(const char *type, const char *json, wh_code want, const char *field)
{
    wh_err err = {0};
    wh_code rc = wh_cat_admit_json(type, json, &err);
    if(rc != want)
        fail_msg("%s %s: got %s (%s), want %s", type, json, wh_code_name(rc), err.msg, wh_code_name(want));
    if(rc && strcmp(err.field, field) != 0)
        fail_msg("%s %s: field \"%s\", want \"%s\"", type, json, err.field, field);
}

static void test_admit_json(void **state)
{
    (void)state;
    admit("system.sleep", "{\"ms\": 10}", WH_OK, "");
    admit("system.sleep", "{}", WH_E_BAD_ARGS, "args.ms");
    admit("system.sleep", "{\"ms\": 10, \"typo\": 1}", WH_E_BAD_ARGS, "args.typo");
    /* the type is checked first, whatever the args */
    admit("system.nope", "not json", WH_E_UNKNOWN_TYPE, "type");
    /* each type's own check, naming the (first) field at fault */
    admit("provision.container", "{\"hostname\": \"Bad\", \"template\": \"t\", \"ssh_public_key\": \"x\"}",
          WH_E_BAD_ARGS, "args.hostname");
    admit("registry.tags", "{\"image\": \"nginx\", \"include\": \"(\"}", WH_E_BAD_ARGS, "args.include");
    admit("runtime.stack.deploy", "{\"name\": \"s\", \"containers\": [{\"name\": \"a\", \"image\": \"i\", "
          "\"depends_on\": [\"a\"]}]}", WH_E_BAD_ARGS, "args.containers");
    admit("provision.run", "{\"steps\": [{\"kind\": \"exec\", \"argv\": [\"{{nope}}\"]}]}", WH_E_BAD_ARGS,
          "args.steps[0].argv");
}

/* The SSH key: its line's shape only; reading it is the worker's. */
static void test_key_shape(void **state)
{
    (void)state;
    admit("provision.container",
          "{\"hostname\": \"web\", \"template\": \"t\", \"ssh_public_key\": \"ssh-ed25519 AAAA me\"}", WH_OK, "");
    admit("provision.container", "{\"hostname\": \"web\", \"template\": \"t\", \"ssh_public_key\": \"nospace\"}",
          WH_E_BAD_ARGS, "args.ssh_public_key");
}

/* A problem in an array element names the element, in every family. */
static void test_element_fields(void **state)
{
    (void)state;
    admit("runtime.container.create", "{\"image\": \"i\", \"ports\": [{\"container\": 80}, {\"container\": 70000}]}",
          WH_E_BAD_ARGS, "args.ports[1]");
    admit("runtime.container.create", "{\"image\": \"i\", \"binds\": [{\"source\": \"/a\", \"target\": \"/a\"}, "
          "{\"source\": \"/a/../b\", \"target\": \"/b\"}]}", WH_E_BAD_ARGS, "args.binds[1].source");
    admit("runtime.container.create", "{\"image\": \"i\", \"cmd\": [\"a\", 1]}", WH_E_BAD_ARGS, "args.cmd[1]");
    admit("runtime.stack.deploy", "{\"name\": \"s\", \"containers\": [{\"name\": \"a\", \"image\": \"i\"}, "
          "{\"image\": \"i\"}]}", WH_E_BAD_ARGS, "args.containers[1].name");
    admit("runtime.stack.deploy", "{\"name\": \"s\", \"containers\": [{\"name\": \"a\", \"image\": \"i\"}, "
          "{\"name\": \"b\", \"image\": \"i\", \"ports\": [{\"container\": 0}]}]}", WH_E_BAD_ARGS,
          "args.containers[1].ports[0]");
    admit("provision.container", "{\"hostname\": \"web\", \"template\": \"t\", \"ssh_public_key\": \"ssh-ed25519 A\", "
          "\"protocols\": [\"ssh\", \"FTP!\"]}", WH_E_BAD_ARGS, "args.protocols[1]");
    admit("provision.container", "{\"hostname\": \"web\", \"template\": \"t\", \"ssh_public_key\": \"ssh-ed25519 A\", "
          "\"hooks\": [\"ok.sh\", \"../x\"]}", WH_E_BAD_ARGS, "args.hooks[1]");
}

/* provision.container collects its problems: the local check (wharf submit,
 * POST /v1/jobs) reports every one, the args table's too, as
 * provision.validate lists them. */
static void test_every_problem_at_once(void **state)
{
    (void)state;
    wh_err err = {0};
    const char *json = "{\"hostname\": \"Bad_Host\", \"template\": \"t\", \"ssh_public_key\": \"nospace\", "
                       "\"http_port\": 0, \"repo\": \"ftp://x/y\", \"root_password\": \"maybe\", \"typo\": 1}";
    assert_int_equal(wh_cat_admit_json("provision.container", json, &err), WH_E_BAD_ARGS);
    const char *want[] = {"6 problem(s): ", "args.hostname: ", "args.ssh_public_key: ", "args.http_port: ",
                          "args.repo: ", "args.root_password: ", "args.typo: "};
    for(size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if(!strstr(err.msg, want[i]))
            fail_msg("\"%s\" is not in \"%s\"", want[i], err.msg);
    /* the error's field is the first problem's */
    assert_string_equal(err.field, "args.http_port");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_admit_json),
        cmocka_unit_test(test_key_shape),
        cmocka_unit_test(test_element_fields),
        cmocka_unit_test(test_every_problem_at_once),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
