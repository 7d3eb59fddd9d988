/* The Lua scripts' argument slots: the C names (wh_lua.h) against the names
 * each script, as the library embeds it, binds to KEYS[n] and ARGV[n]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "wh_lua.h"

#define NAME(index, name) #name,

/* One script: its text, its slot names as C lists them, how many are keys,
 * and, for a script with a variable tail, the array index where it starts
 * (0: none; every slot is named). */
typedef struct script {
    const char *name;
    const char *text;
    const char *const *slots;
    int nslots, nkeys, tail;
} script;

#define SCRIPT(lua, text, SLOTS, nkeys, nslots, tail)                                                    \
    {                                                                                                    \
        lua, text, (const char *const[]){SLOTS(NAME, NAME)}, nslots, nkeys, tail                         \
    }

static const script scripts[] = {
    SCRIPT("enqueue", wh_lua_enqueue, WH_ENQUEUE_SLOTS, WH_ENQUEUE_NKEYS, WH_ENQUEUE_ARGC, 0),
    SCRIPT("unenqueue", wh_lua_unenqueue, WH_UNENQUEUE_SLOTS, WH_UNENQUEUE_NKEYS, WH_UNENQUEUE_ARGC, 0),
    SCRIPT("start", wh_lua_start, WH_START_SLOTS, WH_START_NKEYS, WH_START_ARGC, 0),
    SCRIPT("finish", wh_lua_finish, WH_FINISH_SLOTS, WH_FINISH_NKEYS, WH_FINISH_ARGC, 0),
    SCRIPT("requeue", wh_lua_requeue, WH_REQUEUE_SLOTS, WH_REQUEUE_NKEYS, WH_REQUEUE_ARGC, 0),
    SCRIPT("revive", wh_lua_revive, WH_REVIVE_SLOTS, WH_REVIVE_NKEYS, WH_REVIVE_ARGC, 0),
    SCRIPT("stats", wh_lua_stats, WH_STATS_SLOTS, WH_STATS_NKEYS, WH_STATS_ARG_FIELDS, WH_STATS_ARG_FIELDS),
    SCRIPT("cancel", wh_lua_cancel, WH_CANCEL_SLOTS, WH_CANCEL_NKEYS, WH_CANCEL_ARGC, 0),
    SCRIPT("due", wh_lua_due, WH_DUE_SLOTS, WH_DUE_NKEYS, WH_DUE_ARGC, 0),
    SCRIPT("renew", wh_lua_renew, WH_RENEW_SLOTS, WH_RENEW_NKEYS, WH_RENEW_ARG_IDS, WH_RENEW_ARG_IDS),
    SCRIPT("unsent", wh_lua_unsent, WH_UNSENT_SLOTS, WH_UNSENT_NKEYS, WH_UNSENT_ARG_IDS, WH_UNSENT_ARG_IDS),
    SCRIPT("reap", wh_lua_reap, WH_REAP_SLOTS, WH_REAP_NKEYS, WH_REAP_ARGC, 0),
    SCRIPT("lead", wh_lua_lead, WH_LEAD_SLOTS, WH_LEAD_NKEYS, WH_LEAD_ARGC, 0),
};
#define NSCRIPTS (sizeof(scripts) / sizeof(scripts[0]))

/* A script's binding line `local <name> = KEYS[n]` (or ARGV[n]) and where
 * it stands: the nth binding in the script, the line number. */
typedef struct binding {
    char name[40];
    bool key;
    int n;
    int line;
} binding;

/* Parse `local <name> = KEYS[<n>]` (or ARGV) at the start of the code
 * [line, end), nothing else after it; false when the line is no binding. */
static bool parse_binding(const char *line, const char *end, binding *b)
{
    char code[200];
    size_t len = (size_t)(end - line);
    if(len >= sizeof(code))
        return false;
    memcpy(code, line, len);
    while(len && code[len - 1] == ' ')
        len--;
    code[len] = '\0';
    char table[5];
    int used = 0;
    if(sscanf(code, "local %39[a-z_] = %4[KEYSARGV][%d]%n", b->name, table, &b->n, &used) != 3 ||
       (size_t)used != len)
        return false;
    if(strcmp(table, "KEYS") != 0 && strcmp(table, "ARGV") != 0)
        return false;
    b->key = table[0] == 'K';
    return true;
}

/* `KEYS[<digit>` or `ARGV[<digit>` in [p, end): a slot read by number. */
static const char *numbered_read(const char *p, const char *end)
{
    for(; p + 5 < end; p++)
        if((memcmp(p, "KEYS[", 5) == 0 || memcmp(p, "ARGV[", 5) == 0) && p[5] >= '0' && p[5] <= '9')
            return p;
    return NULL;
}

/* The script's bindings, in order (at most max); fails the test on a slot
 * read by number outside one. */
static int read_bindings(const script *s, binding *out, int max)
{
    int n = 0, lineno = 0;
    for(const char *line = s->text; *line;) {
        const char *eol = strchr(line, '\n');
        eol = eol ? eol : line + strlen(line);
        const char *end = test_lua_code_end(line, eol);
        lineno++;
        binding b;
        if(parse_binding(line, end, &b)) {
            if(n == max)
                fail_msg("%s.lua has more than %d bindings", s->name, max);
            b.line = lineno;
            out[n++] = b;
        } else if(numbered_read(line, end)) {
            fail_msg("%s.lua line %d reads a slot by number; bind it to a name instead: %.*s", s->name, lineno,
                     (int)(end - line), line);
        }
        line = *eol ? eol + 1 : eol;
    }
    return n;
}

static void check_script(const script *s)
{
    binding b[64];
    int n = read_bindings(s, b, 64);
    if(n != s->nslots)
        fail_msg("%s.lua binds %d slots; wh_lua.h names %d", s->name, n, s->nslots);
    for(int i = 0; i < n; i++) {
        bool key = i < s->nkeys;
        int want = key ? i + 1 : i - s->nkeys + 1;
        if(b[i].key != key || b[i].n != want || strcmp(b[i].name, s->slots[i]) != 0)
            fail_msg("%s.lua line %d binds `%s` to %s[%d]; wh_lua.h has `%s` as %s[%d]", s->name, b[i].line,
                     b[i].name, b[i].key ? "KEYS" : "ARGV", b[i].n, s->slots[i], key ? "KEYS" : "ARGV", want);
    }
    if(s->tail) {
        /* The loop over the tail starts where C puts it. */
        char from[32];
        snprintf(from, sizeof(from), "= %d, #ARGV", s->tail - s->nkeys + 1);
        if(!strstr(s->text, from))
            fail_msg("%s.lua: no loop over ARGV from %d (`%s`), where wh_lua.h starts its tail", s->name,
                     s->tail - s->nkeys + 1, from);
    }
}

static void test_slots_match(void **state)
{
    (void)state;
    for(size_t i = 0; i < NSCRIPTS; i++)
        check_script(&scripts[i]);
}

static void test_counts(void **state)
{
    (void)state;
    /* The counts follow from the lists; these are the wire's. */
    assert_int_equal(WH_ENQUEUE_NKEYS, 3);
    assert_int_equal(WH_ENQUEUE_ARGC, 19);
    assert_int_equal(WH_START_NKEYS, 6);
    assert_int_equal(WH_START_ARGC, 23);
    assert_int_equal(WH_FINISH_NKEYS, 6);
    assert_int_equal(WH_FINISH_ARGC, 20);
    assert_int_equal(WH_STATS_ARG_FIELDS, 7);
    assert_int_equal(WH_RENEW_ARG_IDS, 4);
    assert_int_equal(WH_DUE_NKEYS, 2);
    assert_int_equal(WH_REAP_NKEYS, 1);
}

/* The reading itself: a binding line is recognised exactly, and a slot read
 * by number is seen. */
static void test_reader(void **state)
{
    (void)state;
    binding b;
    const char *ok = "local lease_until = ARGV[15]";
    assert_true(parse_binding(ok, ok + strlen(ok), &b));
    assert_string_equal(b.name, "lease_until");
    assert_false(b.key);
    assert_int_equal(b.n, 15);
    const char *other[] = {"local n = tonumber(ARGV[2])", "local k = KEYS[1] .. 'x'", "x = KEYS[1]",
                           "local v = ARGV[i]"};
    for(size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        assert_false(parse_binding(other[i], other[i] + strlen(other[i]), &b));
    const char *read = "redis.call('GET', KEYS[2])";
    assert_non_null(numbered_read(read, read + strlen(read)));
    const char *loop = "redis.call('HINCRBY', k, ARGV[j], ARGV[j + 1])";
    assert_null(numbered_read(loop, loop + strlen(loop)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_slots_match),
    };
    return cmocka_run_group_tests_name("wh_lua", tests, NULL, NULL);
}
