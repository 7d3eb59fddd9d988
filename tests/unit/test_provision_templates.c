/* {{var}} templates (pv_tpl_render), public key checks (wh_ssh_pubkey_check)
 * and the libcrypto adapter (sha256, base64). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provision.h"
#include "wh_crypto.h"
#include "wh_mp.h"
#include "wh_ssh.h"

static wh_mp_doc *vars_doc(wh_mp_pack **pk)
{
    wh_mp_pack *p = wh_mp_pack_new(4096);
    wh_mp_pack_map(p, 3);
    wh_mp_pack_cstr(p, "app");
    wh_mp_pack_cstr(p, "demo's");
    wh_mp_pack_cstr(p, "empty");
    wh_mp_pack_cstr(p, "");
    wh_mp_pack_cstr(p, "n");
    wh_mp_pack_int(p, 3);
    size_t len;
    const char *d = wh_mp_pack_data(p, &len);
    *pk = p;
    return wh_mp_parse(d, len, 8, NULL);
}

static void render_ok(const wh_mp_obj *vars, const char *in, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    wh_err err;
    if(pv_tpl_render(in, strlen(in), vars, &out, &n, "f", &err) != WH_OK)
        fail_msg("\"%s\" failed: %s", in, err.msg);
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    free(out);
}

static void render_bad(const wh_mp_obj *vars, const char *in, const char *needle)
{
    char *out = NULL;
    size_t n = 0;
    wh_err err;
    assert_int_equal(pv_tpl_render(in, strlen(in), vars, &out, &n, "args.steps[1]", &err), WH_E_BAD_ARGS);
    assert_null(out);
    assert_string_equal(err.field, "args.steps[1]");
    if(!strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_render(void **state)
{
    (void)state;
    wh_mp_pack *pk;
    wh_mp_doc *doc = vars_doc(&pk);
    const wh_mp_obj *v = wh_mp_root(doc);
    render_ok(v, "plain", "plain");
    render_ok(v, "", "");
    render_ok(v, "{{app}}", "demo's");
    render_ok(v, "a{{app}}b{{app}}c", "ademo'sbdemo'sc");
    render_ok(v, "[{{empty}}]", "[]");
    render_ok(v, "{{ app }}", "{{ app }}"); /* not a reference: kept */
    render_ok(v, "{{", "{{");
    render_ok(v, "}}{{app", "}}{{app");
    render_ok(v, "{{{app}}}", "{demo's}");
    render_bad(v, "{{nope}}", "{{nope}}");
    render_bad(v, "x {{n}}", "{{n}}"); /* not a string */
    render_bad(NULL, "{{app}}", "{{app}}");
    wh_mp_doc_free(doc);
    wh_mp_pack_free(pk);
}

static void test_pubkeys(void **state)
{
    (void)state;
    const char *ok = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnZ0l0rHh0vPSvH9gXqv+8d7WkzqV1uU3m2HUeU7o7s user@host";
    wh_err err;
    assert_int_equal(wh_ssh_pubkey_check(ok, strlen(ok), "k", &err), WH_OK);
    const char *bad[] = {
        "-----BEGIN OPENSSH PRIVATE KEY-----", "ssh-ed25519", "ssh-ed25519 !!!notbase64",
        "ssh-nope AAAAC3NzaC1lZDI1NTE5AAAAIKnZ0l0rHh0vPSvH9gXqv+8d7WkzqV1uU3m2HUeU7o7s",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnZ0l0rHh0vPSvH9gXqv+8d7WkzqV1uU3m2HUeU7o7s\nssh-rsa AAAA", "",
    };
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if(wh_ssh_pubkey_check(bad[i], strlen(bad[i]), "args.ssh_public_key", &err) != WH_E_BAD_ARGS)
            fail_msg("accepted: \"%s\"", bad[i]);
        assert_string_equal(err.field, "args.ssh_public_key");
    }
}

static void test_crypto(void **state)
{
    (void)state;
    char hex[WH_SHA256_HEX];
    wh_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    wh_sha256 *h = wh_sha256_new();
    wh_sha256_update(h, "a", 1);
    wh_sha256_update(h, "bc", 2);
    wh_sha256_hex_final(h, hex);
    wh_sha256_free(h);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unsigned char *out = NULL;
    size_t n = 0;
    const char *cases[][2] = {{"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"}, {"AP8=", "\x00\xff"}};
    for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(wh_base64_decode(cases[i][0], strlen(cases[i][0]), &out, &n, "c", NULL), WH_OK);
        size_t want = i == 4 ? 2 : strlen(cases[i][1]);
        assert_int_equal(n, want);
        assert_memory_equal(out, cases[i][1], want);
        char *back = wh_base64_encode(out, n);
        assert_string_equal(back, cases[i][0]);
        free(back);
        free(out);
    }
    wh_err err;
    const char *bad[] = {"Zg=", "Z===", "Zm9v!", "=Zm9", "Zg==Zg==", "Zm 9"};
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if(wh_base64_decode(bad[i], strlen(bad[i]), &out, &n, "args.content_b64", &err) != WH_E_BAD_ARGS)
            fail_msg("accepted base64 \"%s\"", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_pubkeys),
        cmocka_unit_test(test_crypto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
