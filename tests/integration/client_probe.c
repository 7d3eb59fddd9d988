/* client_probe: a line-driven front end to the C client library, so the
 * Python integration tests can drive one long-lived wharf_client:
 *
 *   submit TYPE ARGS_JSON   -> "ok ID created|existing STATE" or "err NAME MESSAGE"
 *   submitj SPEC_JSON       -> the same; SPEC is {"type", "args", "id", "target",
 *                              "max_attempts", "timeout_s", "run_at", "priority",
 *                              "unique_for_s", "lock", "meta"}
 *   many [SPEC, ...]        -> "ok JSON": [{"id","created","state"} | {"error","field"}]
 *   wait ID MS              -> "ok STATE" or "err NAME MESSAGE"
 *   waitjson ID MS          -> "ok JSON" (the final job)
 *   status ID               -> "ok JSON"
 *   result ID               -> "ok JSON"
 *   logs ID TAIL            -> "ok JSON" ({"lines": [...]}; TAIL 0: all)
 *   follow ID               -> "line ID STREAM TEXT" / "gap N" lines, then "ok end"
 *   cancel ID               -> "ok STATE"
 *   sub IDS|*               -> "ok" (IDS comma-separated; * for all jobs)
 *   next MS                 -> "ok ID STATE" (the next event of the subscription)
 *   unsub                   -> "ok"
 *
 * Configuration from the environment (wharf_client_opts_from_env). One reply
 * line per command (follow: its lines, then one); exits at EOF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_json.h"
#include "wharf.h"

typedef struct probe {
    wharf_client *c;
    wharf_events *ev;
} probe;

static void reply_err(const wharf_error *e)
{
    printf("err %s %s\n", e->name, e->message);
}

static void reply_json(int rc, char *json, const wharf_error *e)
{
    if(rc) {
        reply_err(e);
        return;
    }
    printf("ok %s\n", json);
    free(json);
}

static int num(const wh_json *spec, const char *key)
{
    const wh_json *v = wh_json_get(spec, key);
    return v ? (int)wh_json_intv(v) : 0;
}

/* A wharf_job from a JSON spec; the strings it points to live in `spec`
 * and in texts[2] (args and meta as JSON text, freed by the caller). */
static void job_of(const wh_json *spec, wharf_job *j, char **texts)
{
    memset(j, 0, sizeof(*j));
    j->type = wh_json_strv(wh_json_get(spec, "type"), NULL);
    j->id = wh_json_strv(wh_json_get(spec, "id"), NULL);
    j->target = wh_json_strv(wh_json_get(spec, "target"), NULL);
    j->lock = wh_json_strv(wh_json_get(spec, "lock"), NULL);
    j->max_attempts = num(spec, "max_attempts");
    j->timeout_s = num(spec, "timeout_s");
    j->priority = num(spec, "priority");
    j->unique_for_s = num(spec, "unique_for_s");
    const wh_json *run_at = wh_json_get(spec, "run_at");
    j->run_at = run_at ? wh_json_intv(run_at) : 0;
    const wh_json *args = wh_json_get(spec, "args"), *meta = wh_json_get(spec, "meta");
    texts[0] = args ? wh_json_dump(args) : NULL;
    texts[1] = meta ? wh_json_dump(meta) : NULL;
    j->args_json = texts[0] ? texts[0] : "{}";
    j->meta_json = texts[1];
}

static void print_submitted(int rc, const wharf_submitted *s, const wharf_error *e)
{
    if(rc)
        reply_err(e);
    else
        printf("ok %s %s %s\n", s->id, s->created ? "created" : "existing", s->state);
}

static void cmd_submit(probe *p, char *a, char *b)
{
    wharf_error err;
    wharf_job job = {.type = a, .args_json = b ? b : "{}"};
    wharf_submitted s;
    print_submitted(wharf_submit(p->c, &job, &s, &err), &s, &err);
}

static void cmd_submitj(probe *p, char *a, char *b)
{
    size_t n = strlen(a) + (b ? strlen(b) + 1 : 0);
    char *text = malloc(n + 1);
    snprintf(text, n + 1, "%s%s%s", a, b ? " " : "", b ? b : "");
    wh_json *spec = wh_json_parse(text, strlen(text), NULL);
    free(text);
    wharf_job job;
    char *texts[2];
    job_of(spec, &job, texts);
    wharf_error err;
    wharf_submitted s;
    print_submitted(wharf_submit(p->c, &job, &s, &err), &s, &err);
    free(texts[0]);
    free(texts[1]);
    wh_json_free(spec);
}

static void cmd_many(probe *p, char *a, char *b)
{
    size_t n = strlen(a) + (b ? strlen(b) + 1 : 0);
    char *text = malloc(n + 1);
    snprintf(text, n + 1, "%s%s%s", a, b ? " " : "", b ? b : "");
    wh_json *specs = wh_json_parse(text, strlen(text), NULL);
    free(text);
    size_t k = wh_json_size(specs);
    wharf_job *jobs = calloc(k + 1, sizeof(*jobs));
    char **texts = calloc(2 * k + 2, sizeof(*texts));
    wharf_submitted *out = calloc(k + 1, sizeof(*out));
    wharf_error *errs = calloc(k + 1, sizeof(*errs));
    for(size_t i = 0; i < k; i++)
        job_of(wh_json_at(specs, i), &jobs[i], &texts[2 * i]);
    wharf_submit_many(p->c, jobs, k, out, errs);
    wh_json *res = wh_json_array();
    for(size_t i = 0; i < k; i++) {
        wh_json *o = wh_json_object();
        if(out[i].id[0] && !errs[i].code) {
            wh_json_setc(o, "id", wh_json_str(out[i].id));
            wh_json_setc(o, "created", wh_json_bool(out[i].created));
            wh_json_setc(o, "state", wh_json_str(out[i].state));
        } else {
            wh_json_setc(o, "error", wh_json_str(errs[i].name));
            wh_json_setc(o, "field", wh_json_str(errs[i].field));
        }
        wh_json_push(res, o);
        free(texts[2 * i]);
        free(texts[2 * i + 1]);
    }
    reply_json(0, wh_json_dump(res), NULL);
    wh_json_free(res);
    wh_json_free(specs);
    free(jobs);
    free(texts);
    free(out);
    free(errs);
}

static void cmd_wait(probe *p, char *a, char *b)
{
    char state[16];
    wharf_error err;
    if(wharf_wait(p->c, a, b ? (int)strtol(b, NULL, 10) : 10000, state, &err) == 0)
        printf("ok %s\n", state);
    else
        reply_err(&err);
}

static void cmd_waitjson(probe *p, char *a, char *b)
{
    char *json = NULL;
    wharf_error err;
    int rc = wharf_wait_json(p->c, a, b ? (int)strtol(b, NULL, 10) : 10000, &json, &err);
    reply_json(rc, json, &err);
}

static void cmd_status(probe *p, char *a, char *b)
{
    (void)b;
    char *json = NULL;
    wharf_error err;
    int rc = wharf_status_json(p->c, a, &json, &err);
    reply_json(rc, json, &err);
}

static void cmd_result(probe *p, char *a, char *b)
{
    (void)b;
    char *json = NULL;
    wharf_error err;
    int rc = wharf_result_json(p->c, a, &json, &err);
    reply_json(rc, json, &err);
}

static void cmd_logs(probe *p, char *a, char *b)
{
    char *json = NULL;
    wharf_error err;
    int rc = wharf_logs_json(p->c, a, b ? (int)strtol(b, NULL, 10) : 0, &json, &err);
    reply_json(rc, json, &err);
}

static int print_entry(void *ud, const wharf_log_entry *e)
{
    (void)ud;
    if(e->missing)
        printf("gap %lld\n", e->missing);
    else
        printf("line %s %s %.*s\n", e->id, e->stream, (int)e->len, e->text);
    return 0;
}

static void cmd_follow(probe *p, char *a, char *b)
{
    (void)b;
    wharf_error err;
    if(wharf_logs_follow(p->c, a, print_entry, NULL, &err) == 0)
        printf("ok end\n");
    else
        reply_err(&err);
}

static void cmd_cancel(probe *p, char *a, char *b)
{
    (void)b;
    char state[16];
    wharf_error err;
    if(wharf_cancel(p->c, a, state, &err) == 0)
        printf("ok %s\n", state);
    else
        reply_err(&err);
}

static void cmd_sub(probe *p, char *a, char *b)
{
    (void)b;
    const char *ids[64];
    size_t n = 0;
    char *save = NULL;
    for(char *t = strtok_r(a, ",", &save); t && n < 64 && strcmp(t, "*") != 0; t = strtok_r(NULL, ",", &save))
        ids[n++] = t;
    wharf_error err;
    wharf_events_free(p->ev);
    p->ev = wharf_events_new(p->c, ids, n, &err);
    if(p->ev)
        printf("ok\n");
    else
        reply_err(&err);
}

static void cmd_next(probe *p, char *a, char *b)
{
    (void)b;
    wharf_event e;
    wharf_error err;
    if(!p->ev)
        printf("err usage no subscription\n");
    else if(wharf_events_next(p->ev, (int)strtol(a, NULL, 10), &e, &err) == 0)
        printf("ok %s %s\n", e.id, e.state);
    else
        reply_err(&err);
}

static void cmd_unsub(probe *p, char *a, char *b)
{
    (void)a;
    (void)b;
    wharf_events_free(p->ev);
    p->ev = NULL;
    printf("ok\n");
}

static const struct {
    const char *name;
    void (*fn)(probe *p, char *a, char *b);
} cmds[] = {
    {"submit", cmd_submit}, {"submitj", cmd_submitj}, {"many", cmd_many}, {"wait", cmd_wait},
    {"waitjson", cmd_waitjson}, {"status", cmd_status}, {"result", cmd_result}, {"logs", cmd_logs},
    {"follow", cmd_follow}, {"cancel", cmd_cancel}, {"sub", cmd_sub}, {"next", cmd_next},
    {"unsub", cmd_unsub},
};

static void run(probe *p, char *line)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \n", &save), *a = strtok_r(NULL, " \n", &save), *b = strtok_r(NULL, "\n", &save);
    size_t i = 0;
    while(cmd && i < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmds[i].name, cmd) != 0)
        i++;
    if(cmd && i < sizeof(cmds) / sizeof(cmds[0]) && (a || strcmp(cmd, "unsub") == 0))
        cmds[i].fn(p, a, b);
    else
        printf("err usage unknown command\n");
    fflush(stdout);
}

int main(void)
{
    wharf_client_opts o = {.timeout_ms = 10000};
    wharf_client_opts_from_env(&o);
    const char *t = getenv("WHARF_PROBE_TIMEOUT_MS");
    if(t && *t)
        o.timeout_ms = (int)strtol(t, NULL, 10);
    wharf_error err;
    probe p = {wharf_client_new(&o, &err), NULL};
    if(!p.c) {
        reply_err(&err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    static char line[1 << 20];
    while(fgets(line, sizeof(line), stdin))
        run(&p, line);
    wharf_events_free(p.ev);
    wharf_client_free(p.c);
    return 0;
}
