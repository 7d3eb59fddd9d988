/* Image references: the distribution grammar and Docker's normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "wh_ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void ok(const char *s, const char *host, const char *path, const char *tag, const char *digest)
{
    wh_ref r;
    wh_err err;
    wh_err_clear(&err);
    wh_code rc = wh_ref_parse(s, strlen(s), &r, "args.image", &err);
    if(rc)
        fail_msg("%s: %s", s, err.msg);
    assert_string_equal(r.host, host);
    assert_string_equal(r.path, path);
    assert_string_equal(r.tag, tag);
    assert_string_equal(r.digest, digest);
}

static void bad(const char *s)
{
    wh_ref r;
    wh_err err;
    wh_err_clear(&err);
    if(wh_ref_parse(s, strlen(s), &r, "args.image", &err) != WH_E_BAD_ARGS)
        fail_msg("accepted %s", s);
    assert_string_equal(err.field, "args.image");
    assert_non_null(strstr(err.msg, "args.image"));
}

static void test_dockerhub_defaults(void **state)
{
    (void)state;
    ok("nginx", "docker.io", "library/nginx", "latest", "");
    ok("nginx:1.25", "docker.io", "library/nginx", "1.25", "");
    ok("library/nginx", "docker.io", "library/nginx", "latest", "");
    ok("bitnami/redis:7", "docker.io", "bitnami/redis", "7", "");
    ok("docker.io/nginx", "docker.io", "library/nginx", "latest", "");
    ok("index.docker.io/nginx:x", "docker.io", "library/nginx", "x", "");
    ok("registry-1.docker.io/a/b", "docker.io", "a/b", "latest", "");
}

static void test_hosts_and_ports(void **state)
{
    (void)state;
    ok("ghcr.io/owner/app:v1.2.3", "ghcr.io", "owner/app", "v1.2.3", "");
    ok("localhost/app", "localhost", "app", "latest", "");
    ok("localhost:5000/app:1", "localhost:5000", "app", "1", "");
    ok("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", "t", "");
    ok("[::1]:5000/app", "[::1]:5000", "app", "latest", "");
    ok("Registry.Example.com/app", "Registry.Example.com", "app", "latest", "");
    ok("gitlab.example.com:4567/group/sub/proj:main", "gitlab.example.com:4567", "group/sub/proj", "main", "");
    /* A first element without '.', ':' or "localhost" is a path. */
    ok("myhost/app", "docker.io", "myhost/app", "latest", "");
}

static void test_digests(void **state)
{
    (void)state;
    ok("nginx@sha256:" D64, "docker.io", "library/nginx", "", "sha256:" D64);
    ok("nginx:1.25@sha256:" D64, "docker.io", "library/nginx", "1.25", "sha256:" D64);
    ok("localhost:5000/a@sha512:" D64 D64, "localhost:5000", "a", "", "sha512:" D64 D64);
    assert_true(wh_ref_digest_valid("sha256:" D64, 71));
    assert_false(wh_ref_digest_valid("sha256:" D64 "0", 72));
    assert_false(wh_ref_digest_valid("sha256:0123", 11));
    assert_false(wh_ref_digest_valid("sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", 71));
    assert_true(wh_ref_digest_valid("multihash+base58:0123456789abcdef0123456789abcdef", 49));
    assert_false(wh_ref_digest_valid("1sha:0123456789abcdef0123456789abcdef", 37));
    assert_false(wh_ref_digest_valid(":0123456789abcdef0123456789abcdef", 33));
    bad("nginx@sha256:abc");
    bad("nginx@" D64);
    bad("nginx@sha256:" D64 "@sha256:" D64);
}

static void test_rejects(void **state)
{
    (void)state;
    bad("");
    bad("Nginx");                 /* uppercase path */
    bad("nginx:");                /* empty tag */
    bad("nginx:-x");              /* tag starts with '-' */
    bad("nginx:a b");
    bad("/nginx");
    bad("nginx/");
    bad("a//b");
    bad("a..b");
    bad("a-");
    bad("-a");
    bad("a___b");
    bad("host:99999/app");        /* port out of range */
    bad("host:/app");
    bad("-host.com/app");
    bad("exa_mple.com/app");
    bad("[::1/app");
    bad("nginx:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");  /* tag of 134 bytes */
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    bad(longname);
    /* An embedded NUL is never part of a reference. */
    wh_ref r;
    assert_int_equal(wh_ref_parse("ng\0inx", 6, &r, "args.image", NULL), WH_E_BAD_ARGS);
}

static void test_separators(void **state)
{
    (void)state;
    ok("a_b/c__d/e-f/g---h/i.j", "docker.io", "a_b/c__d/e-f/g---h/i.j", "latest", "");
    ok("a:A_Z.z-9", "docker.io", "library/a", "A_Z.z-9", "");
    ok("a:_x", "docker.io", "library/a", "_x", "");
}

static void test_format(void **state)
{
    (void)state;
    wh_ref r;
    char out[600];
    assert_int_equal(wh_ref_parse("nginx", 5, &r, "f", NULL), WH_OK);
    wh_ref_format(&r, out, sizeof(out));
    assert_string_equal(out, "docker.io/library/nginx:latest");
    assert_true(wh_ref_is_dockerhub(r.host));
    assert_int_equal(wh_ref_parse("ghcr.io/a/b@sha256:" D64, 19 + 64, &r, "f", NULL), WH_OK);
    wh_ref_format(&r, out, sizeof(out));
    assert_string_equal(out, "ghcr.io/a/b@sha256:" D64);
    assert_false(wh_ref_is_dockerhub(r.host));
}

/* Random bytes never crash the parser and accepted ones re-parse alike. */
static void test_random(void **state)
{
    (void)state;
    const char alphabet[] = "abcAZ09:/@._-[]\0 sha256";
    unsigned seed = 12345;
    for(int i = 0; i < 200000; i++) {
        char s[64];
        size_t n = (size_t)(seed % 40);
        for(size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            s[k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        wh_ref r, r2;
        if(wh_ref_parse(s, n, &r, "f", NULL) == WH_OK) {
            char out[600];
            size_t len = wh_ref_format(&r, out, sizeof(out));
            assert_int_equal(wh_ref_parse(out, len, &r2, "f", NULL), WH_OK);
            assert_int_equal(memcmp(&r.host, &r2.host, sizeof(r.host)), 0);
            assert_string_equal(r.path, r2.path);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dockerhub_defaults), cmocka_unit_test(test_hosts_and_ports),
        cmocka_unit_test(test_digests),            cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_separators),         cmocka_unit_test(test_format),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("wh_ref", tests, NULL, NULL);
}
