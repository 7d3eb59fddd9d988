/* Configuration: layers in order, every error names its key. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wh_cfg.h"

static char ini_path[64];

static void write_ini(const char *text)
{
    snprintf(ini_path, sizeof(ini_path), "/tmp/wharf-cfg-test-%d.ini", (int)getpid());
    FILE *f = fopen(ini_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults_validate(void **state)
{
    (void)state;
    wh_cfg c;
    unsetenv("WHARF_WORKER_CONCURRENCY");
    assert_int_equal(wh_cfg_load(&c, NULL, NULL, 0, NULL), WH_OK);
    assert_int_equal(c.concurrency, 8);
    assert_int_equal(c.prefetch, 32);
    assert_string_equal(c.queue_type, "quorum");
    assert_int_equal(c.ntiers, 5);
    assert_int_equal(c.tiers[0], 1000);
    assert_true(c.family_on[WH_FAM_SYSTEM] && c.family_on[WH_FAM_PROVISION]);
}

static void test_layers_in_order(void **state)
{
    (void)state;
    write_ini("[worker]\nconcurrency = 3\nfamilies = system\n[redis]\nprefix = file:\n");
    setenv("WHARF_WORKER_CONCURRENCY", "5", 1);
    const char *sets[] = {"redis.prefix=flag:"};
    wh_cfg c;
    assert_int_equal(wh_cfg_load(&c, ini_path, sets, 1, NULL), WH_OK);
    assert_int_equal(c.concurrency, 5);          /* env beats file */
    assert_string_equal(c.redis_prefix, "flag:"); /* flag beats file */
    assert_true(c.family_on[WH_FAM_SYSTEM]);
    assert_false(c.family_on[WH_FAM_RUNTIME]);
    unsetenv("WHARF_WORKER_CONCURRENCY");
    unlink(ini_path);
}

/* The line of `key` printed in section `[section]` by wh_cfg_print. */
static void printed_line(const char *text, const char *section, const char *key, char *out, size_t cap)
{
    char head[160], pre[80];
    snprintf(head, sizeof(head), "[%s]\n", section);
    snprintf(pre, sizeof(pre), "\n%s = ", key);
    const char *p = strstr(text, head);
    assert_non_null(p);
    p = strstr(p + strlen(head) - 1, pre);
    assert_non_null(p);
    p++;
    size_t n = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)n, p);
}

/* Each printed key ends with where its value came from. */
static void test_print_names_sources(void **state)
{
    (void)state;
    write_ini("[worker]\nconcurrency = 3\ngrace_s = 7\n[redis]\nprefix = file:\n"
              "[host.h1]\naddress = 127.0.0.1\n");
    setenv("WHARF_WORKER_GRACE_S", "9", 1);   /* env over file */
    setenv("WHARF_LOG_LEVEL", "warn", 1);     /* env over default */
    setenv("WHARF_SERVE_TOKEN", "canary-tok", 1);
    const char *sets[] = {"worker.concurrency=5", "host.h1.docker=ssh://deploy@127.0.0.1:2222"};
    wh_cfg c;
    wh_err err;
    assert_int_equal(wh_cfg_load(&c, ini_path, sets, 2, &err), WH_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wh_cfg_print(&c, f);
    fclose(f);
    char line[1200], want[1200];
    static const struct {
        const char *section, *key, *value, *source;
    } cases[] = {
        {"worker", "concurrency", "5", "flag"},
        {"worker", "grace_s", "9", "env WHARF_WORKER_GRACE_S"},
        {"log", "level", "warn", "env WHARF_LOG_LEVEL"},
        {"redis", "prefix", "file:", "file"}, /* "file PATH" */
        {"amqp", "heartbeat_s", "10", "default"},
        {"serve", "token", "***", "env WHARF_SERVE_TOKEN"},
        {"worker", "prefetch", "20", "derived from worker.concurrency (4 per job slot)"},
        {"host.h1", "address", "127.0.0.1", "derived from docker"},
        {"host.h1", "docker", "ssh://deploy@127.0.0.1:2222", "flag"},
        {"host.h1", "user", "deploy", "derived from docker"},
        {"host.h1", "key_file", "", "default"},
    };
    for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char src[600];
        bool file = strcmp(cases[i].source, "file") == 0;
        snprintf(src, sizeof(src), "%s%s%s", cases[i].source, file ? " " : "", file ? ini_path : "");
        printed_line(text, cases[i].section, cases[i].key, line, sizeof(line));
        int n = snprintf(want, sizeof(want), "%s = %s", cases[i].key, cases[i].value);
        snprintf(want + n, sizeof(want) - (size_t)n, "%*s; %s", n < 38 ? 40 - n : 2, "", src);
        assert_string_equal(line, want);
    }
    assert_null(strstr(text, "canary-tok"));
    free(text);
    wh_cfg_free(&c);
    unsetenv("WHARF_WORKER_GRACE_S");
    unsetenv("WHARF_LOG_LEVEL");
    unsetenv("WHARF_SERVE_TOKEN");
    unlink(ini_path);
}

static void test_errors_name_the_key(void **state)
{
    (void)state;
    wh_cfg c;
    wh_err err;
    write_ini("[worker]\nconcurrency = 3\nbogus = 1\n");
    assert_int_equal(wh_cfg_load(&c, ini_path, NULL, 0, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, ":3:"));
    assert_non_null(strstr(err.msg, "worker.bogus"));
    unlink(ini_path);
    const char *bad_int[] = {"worker.concurrency=many"};
    assert_int_equal(wh_cfg_load(&c, NULL, bad_int, 1, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "worker.concurrency"));
    const char *bad_enum[] = {"amqp.queue_type=stream"};
    assert_int_equal(wh_cfg_load(&c, NULL, bad_enum, 1, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "amqp.queue_type"));
    const char *bad_tiers[] = {"retry.tiers=5000,1000"};
    assert_int_equal(wh_cfg_load(&c, NULL, bad_tiers, 1, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "retry.tiers"));
    const char *bad_family[] = {"worker.families=system,bogus"};
    assert_int_equal(wh_cfg_load(&c, NULL, bad_family, 1, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "bogus"));
    const char *bad_url[] = {"redis.url=http://x"};
    assert_int_equal(wh_cfg_load(&c, NULL, bad_url, 1, &err), WH_E_BAD_CONFIG);
    assert_int_equal(wh_cfg_load(&c, "/nonexistent/wharf.ini", NULL, 0, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "/nonexistent/wharf.ini"));
    setenv("WHARF_JOBS_MAX_BODY", "12", 1);
    assert_int_equal(wh_cfg_load(&c, NULL, NULL, 0, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "WHARF_JOBS_MAX_BODY"));
    unsetenv("WHARF_JOBS_MAX_BODY");
}

static void test_overlong_line_is_refused_without_echo(void **state)
{
    (void)state;
    char text[600];
    char pw[400];
    memset(pw, 'p', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    memcpy(pw, "canary", 6);
    snprintf(text, sizeof(text), "[amqp]\nurl = amqp://u:%s@h:5672/%%2f\n", pw);
    write_ini(text);
    wh_cfg c;
    wh_err err;
    assert_int_equal(wh_cfg_load(&c, ini_path, NULL, 0, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, ":2: line longer than"));
    assert_null(strstr(err.msg, "canary"));
    assert_null(strstr(err.msg, "ppp"));
    /* The limit is exact: a 199-byte line parses, a 200-byte one does not. */
    char fits[256], over[256];
    memset(fits, 'x', 199);
    fits[0] = ';';
    fits[199] = '\0';
    snprintf(text, sizeof(text), "%s\n[worker]\nconcurrency = 2\n", fits);
    write_ini(text);
    assert_int_equal(wh_cfg_load(&c, ini_path, NULL, 0, &err), WH_OK);
    assert_int_equal(c.concurrency, 2);
    memset(over, 'x', 200);
    over[0] = ';';
    over[200] = '\0';
    snprintf(text, sizeof(text), "%s\n", over);
    write_ini(text);
    assert_int_equal(wh_cfg_load(&c, ini_path, NULL, 0, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, ":1: line longer than 199 bytes"));
    unlink(ini_path);
}

static void test_redact(void **state)
{
    (void)state;
    char out[256];
    wh_cfg_redact_url("amqp://user:s3cret@host:5672/vh", out, sizeof(out));
    assert_string_equal(out, "amqp://user:***@host:5672/vh");
    assert_null(strstr(out, "s3cret"));
    wh_cfg_redact_url("amqp://u:p@ss-secret@host:5672/%2f", out, sizeof(out));
    assert_string_equal(out, "amqp://u:***@host:5672/%2f");
    wh_cfg_redact_url("redis://:s3cret@h/0?x=a@b", out, sizeof(out));
    assert_string_equal(out, "redis://:***@h/0?x=a@b");
    wh_cfg_redact_url("redis://127.0.0.1:6379/0", out, sizeof(out));
    assert_string_equal(out, "redis://127.0.0.1:6379/0");
}

/* Lists in amqp.url and the redis-sentinel:// host list: every password is
 * masked, every separator kept. */
static void test_redact_lists(void **state)
{
    (void)state;
    char out[512];
    wh_cfg_redact_url("amqp://u:p1@h1:5672/%2f,amqp://u:p2@h2/%2f  amqps://u:p3@h3", out, sizeof(out));
    assert_string_equal(out, "amqp://u:***@h1:5672/%2f,amqp://u:***@h2/%2f  amqps://u:***@h3");
    wh_cfg_redact_url("amqp://u:p1@h1,amqp://u:p2@h2", out, sizeof(out));
    assert_string_equal(out, "amqp://u:***@h1,amqp://u:***@h2");
    wh_cfg_redact_url("redis-sentinel://:pw@h1:26379,h2:26380/mymaster/3", out, sizeof(out));
    assert_string_equal(out, "redis-sentinel://:***@h1:26379,h2:26380/mymaster/3");
    char small[12];
    wh_cfg_redact_url("amqp://u:secret-longer@h1", small, sizeof(small));
    assert_null(strstr(small, "secret"));
}

static void test_amqp_url_list(void **state)
{
    (void)state;
    wh_cfg c;
    wh_err err;
    const char *ok[] = {"amqp.url=amqp://a:5672/%2f,amqp://b:5673/%2f amqps://c/%2f"};
    assert_int_equal(wh_cfg_load(&c, NULL, ok, 1, &err), WH_OK);
    const char *bad[] = {"amqp.url=amqp://a/%2f,http://b/"};
    assert_int_equal(wh_cfg_load(&c, NULL, bad, 1, &err), WH_E_BAD_CONFIG);
    assert_non_null(strstr(err.msg, "URL 2"));
    const char *empty[] = {"amqp.url= , "};
    assert_int_equal(wh_cfg_load(&c, NULL, empty, 1, &err), WH_E_BAD_CONFIG);
}

/* A cluster's URLs over several INI lines: continuation lines and repeated
 * keys add to the list; other keys still take the last value. */
static void test_url_list_over_lines(void **state)
{
    (void)state;
    wh_cfg c;
    wh_err err;
    write_ini("[amqp]\nurl = amqp://a:5672/%2f,\n  amqp://b:5672/%2f\nurl = amqp://c:5672/%2f\n"
              "[redis]\nsentinels = h1:26379\nsentinels = h2:26379\nmaster_name = m\n"
              "[worker]\nconcurrency = 3\nconcurrency = 4\n");
    assert_int_equal(wh_cfg_load(&c, ini_path, NULL, 0, &err), WH_OK);
    assert_string_equal(c.amqp_url, "amqp://a:5672/%2f,amqp://b:5672/%2f,amqp://c:5672/%2f");
    assert_string_equal(c.redis_sentinels, "h1:26379,h2:26379");
    assert_int_equal(c.concurrency, 4);
    unlink(ini_path);
}

static void test_sentinels(void **state)
{
    (void)state;
    wh_cfg c;
    wh_err err;
    const char *s1[] = {"redis.url=redis://:pw@ignored:6379/2", "redis.sentinels=127.0.0.1:26379,127.0.0.2:26380",
                        "redis.master_name=main"};
    assert_int_equal(wh_cfg_load(&c, NULL, s1, 3, &err), WH_OK);
    assert_string_equal(c.redis_url, "redis-sentinel://:pw@127.0.0.1:26379,127.0.0.2:26380/main/2");
    assert_int_equal(wh_cfg_validate(&c, &err), WH_OK); /* a second validate changes nothing */
    assert_string_equal(c.redis_url, "redis-sentinel://:pw@127.0.0.1:26379,127.0.0.2:26380/main/2");
    const char *s2[] = {"redis.sentinels=127.0.0.1:26379"};
    assert_int_equal(wh_cfg_load(&c, NULL, s2, 1, &err), WH_E_BAD_CONFIG);
    assert_string_equal(err.field, "master_name");
    const char *s3[] = {"redis.master_name=main"};
    assert_int_equal(wh_cfg_load(&c, NULL, s3, 1, &err), WH_E_BAD_CONFIG);
    assert_string_equal(err.field, "master_name");
    const char *s4[] = {"redis.sentinels=127.0.0.1", "redis.master_name=main"};
    assert_int_equal(wh_cfg_load(&c, NULL, s4, 2, &err), WH_E_BAD_CONFIG);
    assert_string_equal(err.field, "sentinels");
    const char *s5[] = {"redis.url=redis-sentinel://h:1/m", "redis.sentinels=h:2", "redis.master_name=m"};
    assert_int_equal(wh_cfg_load(&c, NULL, s5, 3, &err), WH_E_BAD_CONFIG);
    const char *s6[] = {"redis.url=redis-sentinel://h:1,h:2/m/0"};
    assert_int_equal(wh_cfg_load(&c, NULL, s6, 1, &err), WH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_lists), cmocka_unit_test(test_amqp_url_list), cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_url_list_over_lines),
        cmocka_unit_test(test_defaults_validate), cmocka_unit_test(test_layers_in_order),
        cmocka_unit_test(test_print_names_sources),
        cmocka_unit_test(test_errors_name_the_key), cmocka_unit_test(test_redact),
        cmocka_unit_test(test_overlong_line_is_refused_without_echo),
    };
    return cmocka_run_group_tests_name("wh_cfg", tests, NULL, NULL);
}
