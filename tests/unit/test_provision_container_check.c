/* pv_ctchk: the checks of provision.validate / provision.container that
 * need no I/O (names, hooks, owners, images, protocols against an allow
 * list with duplicates removed, repo URLs), and the owner syntax of
 * pv_owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provision.h"
#include "docker_driver.h"
#include "wh_conv.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINPDYhiKau1vi8dAiYR5EvBbRdaJig8TTN7bVoMO3jeF unit"

static bool ok(bool (*fn)(const char *, size_t), const char *s)
{
    return fn(s, strlen(s));
}

static void test_labels_and_hooks(void **state)
{
    (void)state;
    assert_true(ok(pv_label_ok, "web-1"));
    assert_true(ok(pv_label_ok, "a"));
    const char *bad_labels[] = {"", "-a", "a-", "Web", "a_b", "a.b",
                                "a234567890123456789012345678901234567890123456789012345678901234"};
    for(size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
        assert_false(ok(pv_label_ok, bad_labels[i]));
    assert_true(ok(pv_hook_name_ok, "ldap.sh"));
    assert_true(ok(pv_hook_name_ok, "monitoring_agent-2"));
    const char *bad_hooks[] = {"", "../x", "a/b", "..", ".hidden", "a..b", "-x", "x y", "$(id)", "/etc/passwd"};
    for(size_t i = 0; i < sizeof(bad_hooks) / sizeof(bad_hooks[0]); i++)
        assert_false(ok(pv_hook_name_ok, bad_hooks[i]));
}

static void test_owners_and_images(void **state)
{
    (void)state;
    const char *good_owners[] = {"root", "0", "1:1", "www-data:www-data", "2:daemon", "_svc:100"};
    for(size_t i = 0; i < sizeof(good_owners) / sizeof(good_owners[0]); i++)
        assert_true(ok(pv_owner_ok, good_owners[i]));
    const char *bad_owners[] = {"", ":", "a:", ":a", "a:b:c", "-x", "$(id)", "a;b", "1a", ".x", "a b"};
    for(size_t i = 0; i < sizeof(bad_owners) / sizeof(bad_owners[0]); i++)
        assert_false(ok(pv_owner_ok, bad_owners[i]));
    const char *good_images[] = {"busybox", "reg.example:5000/ns/img:1.2", "img@sha256:abc", "wharf-pv-base:test"};
    for(size_t i = 0; i < sizeof(good_images) / sizeof(good_images[0]); i++)
        assert_true(ok(pv_dock_image_ok, good_images[i]));
    const char *bad_images[] = {"", "-x", "/x", ".x", "a/../b", "a b", "a?b", "a#b", "a%2F"};
    for(size_t i = 0; i < sizeof(bad_images) / sizeof(bad_images[0]); i++)
        assert_false(ok(pv_dock_image_ok, bad_images[i]));
}

/* JSON text -> msgpack doc (the packer must outlive the doc). */
static wh_mp_doc *args_of(const char *json, wh_mp_pack **p)
{
    wh_json *j = wh_json_parse(json, strlen(json), NULL);
    assert_non_null(j);
    *p = wh_mp_pack_new(1 << 20);
    assert_int_equal(wh_conv_to_mp(j, *p, NULL), WH_OK);
    wh_json_free(j);
    size_t len;
    const char *data = wh_mp_pack_data(*p, &len);
    wh_mp_doc *d = wh_mp_parse(data, len, 16, NULL);
    assert_non_null(d);
    return d;
}

/* Run the static checks with `key` reading the public key; returns the
 * problems' fields joined by ',' and the clean protocols in protos. */
static void check_key(const char *json, const char *allow, pv_key_check *key, char *fields, size_t fcap,
                      char *protos, size_t pcap)
{
    wh_mp_pack *p;
    wh_mp_doc *d = args_of(json, &p);
    wh_json *problems = wh_json_array(), *clean = wh_json_array();
    pv_ct_check_static(wh_mp_root(d), allow, key, problems, clean);
    size_t o = 0;
    fields[0] = '\0';
    for(size_t i = 0; i < wh_json_size(problems); i++)
        o += (size_t)snprintf(fields + o, fcap - o, "%s%s", i ? "," : "",
                              wh_json_strv(wh_json_get(wh_json_at(problems, i), "field"), NULL));
    o = 0;
    protos[0] = '\0';
    for(size_t i = 0; i < wh_json_size(clean); i++)
        o += (size_t)snprintf(protos + o, pcap - o, "%s%s", i ? "," : "", wh_json_strv(wh_json_at(clean, i), NULL));
    wh_json_free(problems);
    wh_json_free(clean);
    wh_mp_doc_free(d);
    wh_mp_pack_free(p);
}

/* As the worker runs them: the key read by libssh. */
static void check(const char *json, const char *allow, char *fields, size_t fcap, char *protos, size_t pcap)
{
    check_key(json, allow, wh_ssh_pubkey_check, fields, fcap, protos, pcap);
}

static void test_static_checks(void **state)
{
    (void)state;
    char f[512], pr[256];
    check("{\"template\":\"tmpl\",\"hostname\":\"web\",\"ssh_public_key\":\"" KEY "\","
          "\"protocols\":[\"ssh\",\"http\",\"ssh\"],\"hooks\":[\"ldap.sh\"],\"root_password\":\"random\"}",
          "http, ssh", f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "");
    assert_string_equal(pr, "ssh,http");
    /* not in the allow list; a bad shape; with NULL (admission) only the shape counts */
    check("{\"template\":\"tmpl\",\"hostname\":\"web\",\"ssh_public_key\":\"" KEY "\","
          "\"protocols\":[\"ftp\",\"http\",\"FTP!\"]}",
          "http,ssh", f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.protocols[0],args.protocols[2]");
    assert_string_equal(pr, "http");
    check("{\"template\":\"tmpl\",\"hostname\":\"web\",\"ssh_public_key\":\"" KEY "\",\"protocols\":[\"ftp\"]}", NULL,
          f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "");
    assert_string_equal(pr, "ftp");
    /* every problem at once, each naming its field */
    check("{\"driver\":\"docker\",\"template\":\"../x\",\"hostname\":\"Bad_Host\","
          "\"ssh_public_key\":\"-----BEGIN OPENSSH PRIVATE KEY-----\",\"hooks\":[\"ok.sh\",\"../evil\"],"
          "\"root_password\":\"maybe\",\"env\":{\"1X\":\"v\"},\"setup\":[[]]}",
          "http", f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.hostname,args.template,args.ssh_public_key,args.env.1X,args.setup[0],args.hooks[1],"
                           "args.root_password");
    /* the args table's problems come first, and a field it refused is not
     * checked again */
    check("{\"template\":\"tmpl\",\"hostname\":\"web\",\"ssh_public_key\":\"" KEY "\",\"http_port\":0,"
          "\"hooks\":\"ldap.sh\",\"repo\":\"ftp://x/y\",\"protocols\":[\"ssh\",\"FTP!\"],\"typo\":1}",
          "http, ssh", f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.http_port,args.hooks,args.repo,args.typo,args.protocols[1]");
    check("{\"driver\":\"zfs\",\"template\":\"t\",\"hostname\":\"h\",\"ssh_public_key\":\"" KEY "\"}", "http", f,
          sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.driver");
    check("{\"driver\":\"pct\",\"template\":\"tmpl\",\"hostname\":\"h\",\"ssh_public_key\":\"" KEY "\"}", "http", f,
          sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.template,args.vmid");
}

/* Without a key reader (the catalogue's admission, in the producer) only
 * the shape of the key line counts; the worker's admission reads it. */
static void test_key_shape_only(void **state)
{
    (void)state;
    char f[256], pr[64];
    const char *odd = "{\"template\":\"tmpl\",\"hostname\":\"web\",\"ssh_public_key\":\"ssh-nope AAAA x\"}";
    check_key(odd, NULL, NULL, f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "");
    check_key(odd, NULL, wh_ssh_pubkey_check, f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.ssh_public_key");
    const char *priv = "{\"template\":\"tmpl\",\"hostname\":\"web\","
                       "\"ssh_public_key\":\"-----BEGIN OPENSSH PRIVATE KEY-----\"}";
    check_key(priv, NULL, NULL, f, sizeof(f), pr, sizeof(pr));
    assert_string_equal(f, "args.ssh_public_key");
}

static void test_repo_urls(void **state)
{
    (void)state;
    const char *good[] = {"https://git.example.org/a/b.git", "http://127.0.0.1:8080/app.git", "file:///srv/git/app",
                          "https://host/path@v1"};
    const char *bad[] = {"ftp://x/y", "https://user:pw@host/x.git", "https://u@host/x", "http://a b/c",
                         "https://host/x'y", "ssh://git@host/x", "file://relative", "--upload-pack=x"};
    for(size_t i = 0; i < sizeof(good) / sizeof(good[0]) + sizeof(bad) / sizeof(bad[0]); i++) {
        bool want = i < sizeof(good) / sizeof(good[0]);
        const char *url = want ? good[i] : bad[i - sizeof(good) / sizeof(good[0])];
        char json[512];
        snprintf(json, sizeof(json), "{\"repo\":\"%s\"}", url);
        wh_mp_pack *p;
        wh_mp_doc *d = args_of(json, &p);
        wh_err err;
        wh_code rc = wh_args_validate(wh_mp_root(d), pv_ct_args, PV_CT_NARGS, false, &err);
        if(want) {
            assert_int_equal(rc, WH_OK);
        } else {
            assert_int_equal(rc, WH_E_BAD_ARGS);
            assert_non_null(strstr(err.msg, "args.repo"));
        }
        wh_mp_doc_free(d);
        wh_mp_pack_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_and_hooks),
        cmocka_unit_test(test_owners_and_images),
        cmocka_unit_test(test_static_checks),
        cmocka_unit_test(test_key_shape_only),
        cmocka_unit_test(test_repo_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
