/* wh_shq: shell quoting, checked against real shells (/bin/sh = dash, and
 * bash): every argument must arrive byte for byte and nothing may run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "wh_shq.h"

#define S(lit) {lit, sizeof(lit) - 1}

static char canary_dir[64];

/* Hostile arguments; "@" is replaced by the canary dir at run time. */
static const char *const hostile[] = {
    "; touch @/semi",
    "$(touch @/dollar)",
    "`touch @/backtick`",
    "'; touch @/squote; '",
    "\"; touch @/dquote; \"",
    "a\ntouch @/newline",
    "",
    "it's",
    "'",
    "''",
    "\\",
    "\\'",
    "*",
    "$HOME ${HOME} $((1+1))",
    "-n",
    "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3",
    "\xff\xfe raw bytes",
    "| touch @/pipe & touch @/amp > @/redir",
    "\t tabs \r\n",
};
#define NH (sizeof(hostile) / sizeof(hostile[0]))

/* Run `shell -c line` and return its stdout (malloc'd, *len set). */
static char *run_shell(const char *shell, const char *line, size_t *len)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if(pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(shell, shell, "-c", line, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while((r = read(fds[0], buf + n, cap - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    *len = n;
    return buf;
}

static void expand(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for(; *in && o + 64 < cap; in++) {
        if(*in == '@') {
            o += (size_t)snprintf(out + o, cap - o, "%s", canary_dir);
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static void roundtrip(const char *shell)
{
    static char args[NH][256];
    wh_shq_str argv[NH + 2] = {S("printf"), S("%s\\0")};
    argv[1].p = "%s\\0";
    argv[1].n = 4;
    for(size_t i = 0; i < NH; i++) {
        expand(hostile[i], args[i], sizeof(args[i]));
        argv[i + 2] = (wh_shq_str){args[i], strlen(args[i])};
    }
    wh_shq_str names[] = {S("WHARF_X"), S("_y2")};
    wh_shq_str vals[] = {S("$(touch x)"), S("'")};
    wh_shq_str cwd = {canary_dir, strlen(canary_dir)};
    wh_shq_cmd c = {argv, (int)NH + 2, &cwd, names, vals, 2};
    char *line = NULL;
    wh_err err;
    assert_int_equal(wh_shq_build(&c, &line, &err), WH_OK);
    size_t n;
    char *out = run_shell(shell, line, &n);
    size_t off = 0;
    for(size_t i = 0; i < NH; i++) {
        size_t an = strlen(args[i]);
        assert_true(off + an < n + 1);
        if(memcmp(out + off, args[i], an) != 0 || out[off + an] != '\0')
            fail_msg("%s: argument %zu came back as \"%.*s\", sent \"%s\"", shell, i, (int)an, out + off, args[i]);
        off += an + 1;
    }
    assert_int_equal(off, n);
    free(out);
    free(line);
    /* nothing ran: the canary dir is still empty */
    char probe[128];
    const char *names_to_check[] = {"semi", "dollar", "backtick", "squote", "dquote", "newline", "pipe", "amp",
                                    "redir", "x"};
    for(size_t i = 0; i < sizeof(names_to_check) / sizeof(names_to_check[0]); i++) {
        snprintf(probe, sizeof(probe), "%s/%s", canary_dir, names_to_check[i]);
        if(access(probe, F_OK) == 0)
            fail_msg("%s: canary %s exists: something executed", shell, probe);
    }
}

static void test_dash(void **state)
{
    (void)state;
    roundtrip("/bin/sh");
}

static void test_bash(void **state)
{
    (void)state;
    roundtrip("/bin/bash");
}

static void test_env_and_cwd_reach_the_command(void **state)
{
    (void)state;
    wh_shq_str argv[] = {S("sh"), S("-c"), S("printf '%s|%s|%s' \"$A\" \"$B_1\" \"$(pwd)\"")};
    wh_shq_str names[] = {S("A"), S("B_1")};
    wh_shq_str vals[] = {S("x y;`z`"), S("")};
    wh_shq_str cwd = S("/tmp");
    wh_shq_cmd c = {argv, 3, &cwd, names, vals, 2};
    char *line = NULL;
    assert_int_equal(wh_shq_build(&c, &line, NULL), WH_OK);
    size_t n;
    char *out = run_shell("/bin/sh", line, &n);
    assert_int_equal(n, strlen("x y;`z`||/tmp"));
    assert_memory_equal(out, "x y;`z`||/tmp", n);
    free(out);
    free(line);
}

static void test_exact_forms(void **state)
{
    (void)state;
    char buf[64];
    size_t n = wh_shq_word("it's", 4, buf);
    assert_int_equal(n, wh_shq_word_len("it's", 4));
    assert_memory_equal(buf, "'it'\\''s'", n);
    n = wh_shq_word("", 0, buf);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "''", 2);
    wh_shq_str argv[] = {S("ls"), S("-l")};
    wh_shq_cmd c = {argv, 2, NULL, NULL, NULL, 0};
    char *line = NULL;
    assert_int_equal(wh_shq_build(&c, &line, NULL), WH_OK);
    assert_string_equal(line, "exec 'ls' '-l'");
    free(line);
    wh_shq_cmd s = {NULL, 0, NULL, NULL, NULL, 0};
    assert_int_equal(wh_shq_build(&s, &line, NULL), WH_OK);
    assert_string_equal(line, "exec sh -s");
    free(line);
}

static void test_refusals(void **state)
{
    (void)state;
    wh_err err;
    char *line = NULL;
    wh_shq_str nul[] = {{"a\0b", 3}};
    wh_shq_cmd c = {nul, 1, NULL, NULL, NULL, 0};
    assert_int_equal(wh_shq_build(&c, &line, &err), WH_E_BAD_ARGS);
    assert_string_equal(err.field, "args.argv[0]"); /* the element at fault */
    wh_shq_str one[] = {S("true")}, name = S("X"), nulv = {"a\0b", 3};
    wh_shq_cmd ev = {one, 1, NULL, &name, &nulv, 1};
    assert_int_equal(wh_shq_build(&ev, &line, &err), WH_E_BAD_ARGS);
    assert_string_equal(err.field, "args.env.X");
    const char *bad_names[] = {"", "1A", "A-B", "A B", "A=B", "$A", "A;B", "\xc3\xa9"};
    wh_shq_str argv[] = {S("true")};
    for(size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        wh_shq_str nm = {bad_names[i], strlen(bad_names[i])}, v = S("v");
        wh_shq_cmd e = {argv, 1, NULL, &nm, &v, 1};
        if(wh_shq_build(&e, &line, &err) != WH_E_BAD_ARGS)
            fail_msg("env name \"%s\" was accepted", bad_names[i]);
        assert_string_equal(err.field, "args.env");
    }
    static char big[WH_SHQ_LINE_MAX];
    memset(big, '\'', sizeof(big));
    wh_shq_str huge[] = {{big, sizeof(big) / 2}};
    wh_shq_cmd h = {huge, 1, NULL, NULL, NULL, 0};
    assert_int_equal(wh_shq_build(&h, &line, &err), WH_E_TOO_LARGE);
    assert_null(line);
}

int main(void)
{
    snprintf(canary_dir, sizeof(canary_dir), "/tmp/wh_shq_XXXXXX");
    if(!mkdtemp(canary_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_forms),    cmocka_unit_test(test_dash),
        cmocka_unit_test(test_bash),           cmocka_unit_test(test_env_and_cwd_reach_the_command),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(canary_dir); /* fails (and leaves evidence) if a canary was created */
    return rc;
}
