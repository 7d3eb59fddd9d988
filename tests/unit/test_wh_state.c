/* The job states: the C table against the wire contract and against the Lua
 * scripts (as the library embeds them) that write and compare the strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "wh_lua.h"
#include "wh_state.h"

static const struct {
    const char *name;
    const char *text;
} scripts[] = {
    {"enqueue", wh_lua_enqueue}, {"unenqueue", wh_lua_unenqueue}, {"start", wh_lua_start},
    {"finish", wh_lua_finish},   {"requeue", wh_lua_requeue},     {"revive", wh_lua_revive},
    {"stats", wh_lua_stats},     {"cancel", wh_lua_cancel},       {"due", wh_lua_due},
    {"renew", wh_lua_renew},     {"reap", wh_lua_reap},           {"lead", wh_lua_lead},
    {"unsent", wh_lua_unsent},
};
#define NSCRIPTS (sizeof(scripts) / sizeof(scripts[0]))

static void test_names(void **state)
{
    (void)state;
    /* schemas/README.md 9.1 and 15: every state, spelled so. */
    static const char *const wire[] = {"queued", "scheduled", "running", "retrying", "succeeded", "failed", "dead",
                                       "cancelled"};
    assert_int_equal(WH_STATE_LAST - 1, sizeof(wire) / sizeof(wire[0]));
    for(size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++) {
        wh_state s = wh_state_parse(wire[i]);
        assert_int_not_equal(s, WH_STATE_UNKNOWN);
        assert_string_equal(wh_state_name(s), wire[i]);
    }
    for(int s = WH_STATE_UNKNOWN + 1; s < WH_STATE_LAST; s++)
        assert_int_equal(wh_state_parse(wh_state_name((wh_state)s)), s);
    assert_string_equal(wh_state_name(WH_STATE_UNKNOWN), "");
    assert_string_equal(wh_state_name(WH_STATE_LAST), "");
    assert_int_equal(wh_state_parse(NULL), WH_STATE_UNKNOWN);
    assert_int_equal(wh_state_parse(""), WH_STATE_UNKNOWN);
    assert_int_equal(wh_state_parse("Queued"), WH_STATE_UNKNOWN);
    assert_int_equal(wh_state_parse("queued "), WH_STATE_UNKNOWN);
    assert_int_equal(wh_state_parse("cancelling"), WH_STATE_UNKNOWN); /* an event, not a state */
}

static void test_terminal(void **state)
{
    (void)state;
    /* schemas/README.md 9.1: "Terminal states are succeeded, failed, dead
     * and cancelled". */
    const char *terminal = "succeeded failed dead cancelled";
    for(int s = WH_STATE_UNKNOWN; s <= WH_STATE_LAST; s++) {
        const char *name = wh_state_name((wh_state)s);
        bool listed = name[0] && strstr(terminal, name) != NULL;
        if(wh_state_terminal((wh_state)s) != listed)
            fail_msg("state %d (\"%s\"): terminal %d, the contract says %d", s, name,
                     (int)wh_state_terminal((wh_state)s), (int)listed);
    }
}

/* ---- reading the scripts ---- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The name of the last redis.call before offset `at` of `text` into cmd. */
static void last_call(const char *text, size_t at, char *cmd, size_t cap)
{
    static const char open[] = "redis.call('";
    cmd[0] = '\0';
    for(const char *p = strstr(text, open); p && (size_t)(p - text) < at; p = strstr(p + 1, open)) {
        const char *name = p + strlen(open);
        size_t n = strcspn(name, "'");
        snprintf(cmd, cap, "%.*s", (int)(n < cap ? n : cap - 1), name);
    }
}

/* Is the literal at `lit` (its opening quote) in `text` a job state? It is
 * when the script writes it as a hash's `state` (HSET ... 'state', 'x'),
 * compares a state with it (st, hs and state are the scripts' names for
 * one; HGET(..., 'state') == 'x'), or assigns it to `state`. */
static bool state_context(const char *text, const char *lit)
{
    const char *line = lit;
    while(line > text && line[-1] != '\n')
        line--;
    size_t n = (size_t)(lit - line);
    static const char *const compare[] = {"st == ",    "st ~= ",          "hs == ",         "hs ~= ",
                                          "state == ", "state ~= ",       "'state') == ", "'state') ~= "};
    for(size_t i = 0; i < sizeof(compare) / sizeof(compare[0]); i++)
        if(ends_with(line, n, compare[i]))
            return true;
    if(ends_with(line, n, "'state', ")) {
        char cmd[16];
        last_call(text, (size_t)(lit - text), cmd, sizeof(cmd));
        return strcmp(cmd, "HSET") == 0;
    }
    while(*line == ' ')
        line++;
    return strncmp(line, "state = ", 8) == 0 && (ends_with(line, (size_t)(lit - line), "and ") ||
                                                   ends_with(line, (size_t)(lit - line), "or "));
}

/* Call fn for each state literal of `text`; returns how many. */
static int each_state(const char *script, const char *text, void (*fn)(const char *, const char *, void *),
                      void *ud)
{
    int count = 0;
    for(const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        eol = eol ? eol : line + strlen(line);
        const char *end = test_lua_code_end(line, eol);
        for(const char *p = memchr(line, '\'', (size_t)(end - line)); p;) {
            const char *close = memchr(p + 1, '\'', (size_t)(end - p - 1));
            if(!close)
                break;
            char word[32];
            size_t n = (size_t)(close - p - 1);
            if(n < sizeof(word) && state_context(text, p)) {
                memcpy(word, p + 1, n);
                word[n] = '\0';
                fn(script, word, ud);
                count++;
            }
            p = close + 1 < end ? memchr(close + 1, '\'', (size_t)(end - close - 1)) : NULL;
        }
        line = *eol ? eol + 1 : eol;
    }
    return count;
}

static void check_known(const char *script, const char *word, void *ud)
{
    bool *seen = ud;
    wh_state s = wh_state_parse(word);
    if(s == WH_STATE_UNKNOWN)
        fail_msg("%s.lua uses '%s' as a job state; wh_state.c has no such state", script, word);
    seen[s] = true;
}

static void test_scripts_use_the_table(void **state)
{
    (void)state;
    bool seen[WH_STATE_LAST] = {false};
    int uses = 0;
    for(size_t i = 0; i < NSCRIPTS; i++)
        uses += each_state(scripts[i].name, scripts[i].text, check_known, seen);
    assert_true(uses > 20); /* the reading found the scripts' states */
    for(int s = WH_STATE_UNKNOWN + 1; s < WH_STATE_LAST; s++)
        if(!seen[s])
            fail_msg("no script writes or compares '%s' (wh_state.c)", wh_state_name((wh_state)s));
}

/* The comparisons `v == 'x'` of one line, in order: where each starts and
 * ends, and the state it names. */
typedef struct cmp {
    const char *from, *to;
    wh_state s;
    char word[32];
} cmp;

static int line_cmps(const char *line, const char *eol, cmp *out, int max)
{
    int n = 0;
    for(const char *p = strstr(line, " == '"); p && p < eol && n < max; p = strstr(p + 1, " == '")) {
        const char *from = p;
        while(from > line && (from[-1] == '_' || (from[-1] >= 'a' && from[-1] <= 'z')))
            from--;
        const char *w = p + 5, *end = strchr(w, '\'');
        cmp *c = &out[n];
        if(!end || end >= eol || (size_t)(end - w) >= sizeof(c->word))
            continue;
        snprintf(c->word, sizeof(c->word), "%.*s", (int)(end - w), w);
        c->from = from;
        c->to = end + 1;
        c->s = wh_state_parse(c->word);
        n++;
    }
    return n;
}

/* A chain `st == 'a' or st == 'b' ...` that names a terminal state must name
 * them all and nothing else: it is a script's test for "terminal". True
 * when it was one. */
static bool check_chain(const char *script, const cmp *c, int n)
{
    bool any = false, set[WH_STATE_LAST] = {false};
    for(int i = 0; i < n; i++) {
        any |= wh_state_terminal(c[i].s);
        set[c[i].s] = true;
    }
    if(!any || n < 2)
        return false;
    for(int i = 0; i < n; i++)
        if(c[i].s == WH_STATE_UNKNOWN)
            fail_msg("%s.lua: a terminal-state test includes '%s', which is no state", script, c[i].word);
    for(int s = WH_STATE_UNKNOWN; s < WH_STATE_LAST; s++)
        if(set[s] != wh_state_terminal((wh_state)s))
            fail_msg("%s.lua: a terminal-state test %s '%s' (wh_state.c says it is %sterminal)", script,
                     set[s] ? "includes" : "leaves out", wh_state_name((wh_state)s),
                     wh_state_terminal((wh_state)s) ? "" : "not ");
    return true;
}

static void test_scripts_agree_on_terminal(void **state)
{
    (void)state;
    int chains = 0;
    for(size_t i = 0; i < NSCRIPTS; i++) {
        for(const char *line = scripts[i].text; *line;) {
            const char *eol = strchr(line, '\n');
            eol = eol ? eol : line + strlen(line);
            cmp c[16];
            int n = line_cmps(line, test_lua_code_end(line, eol), c, 16), start = 0;
            for(int k = 1; k <= n; k++)
                if(k == n || (size_t)(c[k].from - c[k - 1].to) != 4 || memcmp(c[k - 1].to, " or ", 4) != 0) {
                    chains += check_chain(scripts[i].name, c + start, k - start);
                    start = k;
                }
            line = *eol ? eol + 1 : eol;
        }
    }
    assert_true(chains >= 3); /* start, finish and cancel each test for terminal */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_terminal),
        cmocka_unit_test(test_scripts_use_the_table),
        cmocka_unit_test(test_scripts_agree_on_terminal),
    };
    return cmocka_run_group_tests_name("wh_state", tests, NULL, NULL);
}
