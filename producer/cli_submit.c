/* cli_submit: `wharf submit` and `wharf wait`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "wh_json.h"
#include "wh_status.h"
#include "wh_time.h"

#define MAX_ARGS 128

/* Parse "--arg key=value" into obj. The value is JSON when it parses as
 * JSON, else a plain string, so `--arg ms=100` is a number and `--arg
 * name=web` a string; quote to force a string: `--arg tag='"1.0"'`. */
static bool add_arg(wh_json *obj, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if(!eq || eq == kv) {
        cli_error(CLI_USAGE, "--arg %s: expected KEY=VALUE", kv);
        return false;
    }
    const char *v = eq + 1;
    wh_json *val = wh_json_parse(v, strlen(v), NULL);
    if(!val)
        val = wh_json_str(v);
    if(!val || wh_json_set(obj, kv, (size_t)(eq - kv), val) != 0) {
        cli_error(CLI_USAGE, "--arg %s: not valid UTF-8", kv);
        return false;
    }
    return true;
}

char *cli_build_args(const char *json, const char **kvs, int n)
{
    wh_err err;
    wh_json *obj = json ? wh_json_parse(json, strlen(json), &err) : wh_json_object();
    if(!obj) {
        cli_error(CLI_USAGE, "--args-json: %s", err.msg);
        return NULL;
    }
    if(wh_json_kind_of(obj) != WH_JSON_OBJECT) {
        wh_json_free(obj);
        cli_error(CLI_USAGE, "--args-json: must be a JSON object");
        return NULL;
    }
    for(int i = 0; i < n; i++)
        if(!add_arg(obj, kvs[i])) {
            wh_json_free(obj);
            return NULL;
        }
    char *text = wh_json_dump(obj);
    wh_json_free(obj);
    return text;
}

/* Check the type and args against the job catalogue the workers admit
 * with, so a typo fails here, at once, rather than in wharf.dead. */
bool cli_validate(const char *type, const char *args_json)
{
    wh_err err;
    wh_code rc = wh_cat_admit_json(type, args_json, &err);
    if(rc == WH_E_UNKNOWN_TYPE)
        cli_error(CLI_USAGE, "unknown job type \"%s\" (use --no-validate if your workers are newer)", type);
    else if(rc)
        cli_error(CLI_USAGE, "%s (%s)", err.msg, wh_code_name(err.code));
    return rc == WH_OK;
}

/* What `wharf submit` was asked to do. */
typedef struct submit_opts {
    wharf_job job;
    const char *kvs[MAX_ARGS];  /* --arg KEY=VALUE */
    int nkv;
    const char *args_json;      /* --args-json */
    bool wait, check;
    int wait_timeout;           /* s; -1: forever */
} submit_opts;

/* Returns -1 to go on, else the exit status. */
static int parse_submit(int argc, char **argv, submit_opts *o)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'}, {"arg", required_argument, NULL, 'a'},
        {"args-json", required_argument, NULL, 'j'}, {"id", required_argument, NULL, 'i'},
        {"max-attempts", required_argument, NULL, 'm'}, {"job-timeout", required_argument, NULL, 'T'},
        {"wait", no_argument, NULL, 'w'}, {"timeout", required_argument, NULL, 'o'},
        {"no-validate", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {"delay", required_argument, NULL, 'D'}, {"at", required_argument, NULL, 'A'},
        {"priority", required_argument, NULL, 'P'}, {"unique-for", required_argument, NULL, 'U'},
        {"lock", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
    int64_t ms;
    const cli_cmd *self = cli_find("submit");
    int opt;
    while((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch(opt) {
        case 't': o->job.target = optarg; break;
        case 'a':
            if(o->nkv == MAX_ARGS)
                return cli_error(CLI_USAGE, "at most %d --arg options", MAX_ARGS);
            o->kvs[o->nkv++] = optarg;
            break;
        case 'j': o->args_json = optarg; break;
        case 'i': o->job.id = optarg; break;
        case 'm': if(!cli_int("--max-attempts", optarg, 1, 100, &o->job.max_attempts)) return CLI_USAGE; break;
        case 'T': if(!cli_int("--job-timeout", optarg, 1, 2592000, &o->job.timeout_s)) return CLI_USAGE; break;
        case 'w': o->wait = true; break;
        case 'o': if(!cli_int("--timeout", optarg, 0, 31536000, &o->wait_timeout)) return CLI_USAGE; break;
        case 'n': o->check = false; break;
        case 'D':
            if(!wh_duration_ms(optarg, &ms))
                return cli_error(CLI_USAGE, "--delay %s: expected a duration such as 30s, 5m or 250ms", optarg);
            o->job.run_at = wh_now_ms() + ms;
            break;
        case 'A': {
            char *end;
            long long at = strtoll(optarg, &end, 10);
            if(*end || at < 0)
                return cli_error(CLI_USAGE, "--at %s: expected ms since the Unix epoch", optarg);
            o->job.run_at = at;
            break;
        }
        case 'P': if(!cli_int("--priority", optarg, 0, 9, &o->job.priority)) return CLI_USAGE; break;
        case 'U':
            if(!wh_duration_ms(optarg, &ms) || ms < 1000 || ms > 2592000000LL)
                return cli_error(CLI_USAGE, "--unique-for %s: expected a duration from 1s to 30d", optarg);
            o->job.unique_for_s = (int)(ms / 1000);
            break;
        case 'L': o->job.lock = optarg; break;
        case 'h': return cli_usage(self, stdout);
        default: return cli_usage(self, stderr);
        }
    }
    if(optind != argc - 1)
        return optind >= argc ? cli_error(CLI_USAGE, "submit: missing TYPE (e.g. system.noop)")
                              : cli_error(CLI_USAGE, "submit: unexpected argument \"%s\"", argv[optind + 1]);
    o->job.type = argv[optind];
    return -1;
}

int cli_submit(cli *c, int argc, char **argv)
{
    submit_opts o = {.check = true, .wait_timeout = -1};
    int st = parse_submit(argc, argv, &o);
    if(st >= 0)
        return st;
    char *args = cli_build_args(o.args_json, o.kvs, o.nkv);
    if(!args)
        return CLI_USAGE;
    o.job.args_json = args;
    if(o.check && !cli_validate(o.job.type, args)) {
        free(args);
        return CLI_USAGE;
    }
    wharf_client *client = cli_client(c);
    wharf_submitted s;
    wharf_error err;
    int rc = client ? wharf_submit(client, &o.job, &s, &err) : -1;
    free(args);
    if(rc > 0)
        return cli_error(rc == WH_E_BAD_ARGS || rc == WH_E_BAD_ENVELOPE || rc == WH_E_UNKNOWN_TYPE ? CLI_USAGE
                                                                                                    : CLI_FAIL,
                         "%s (%s)", err.message, err.name);
    if(rc < 0)
        return CLI_FAIL;
    printf("%s\n", s.id);
    fflush(stdout);
    if(!s.created)
        fprintf(stderr, "wharf: job %s already exists (state %s); nothing was enqueued\n", s.id, s.state);
    else if(wh_state_parse(s.state) == WH_STATE_SCHEDULED)
        fprintf(stderr, "wharf: job %s is scheduled\n", s.id);
    return o.wait ? cli_wait_one(c, s.id, o.wait_timeout) : CLI_OK;
}

static void draw_bar(const char *id, const char *state, int pct, const char *step)
{
    char bar[21];
    int fill = pct / 5;
    for(int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[K[%s] %3d%% %-9s %s %.40s", bar, pct, state, id, step);
    fflush(stderr);
}

int cli_wait_one(cli *c, const char *id, int timeout_s)
{
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    int64_t deadline = wh_mono_ms() + (int64_t)timeout_s * 1000;
    char state[16], step[128];
    int pct = 0;
    wh_err err;
    for(;;) {
        if(wh_status_state(r, c->cfg.redis_prefix, id, state, &pct, step, sizeof(step), &err) != WH_OK)
            return cli_error(CLI_FAIL, "%s", err.msg);
        if(c->tty)
            draw_bar(id, state, pct, step);
        if(wh_status_terminal(state))
            break;
        if(timeout_s >= 0 && wh_mono_ms() >= deadline) {
            if(c->tty)
                fputc('\n', stderr);
            return cli_error(CLI_FAIL, "timed out waiting for %s (state %s)", id, state);
        }
        wh_sleep_ms(50);
    }
    if(c->tty)
        fputc('\n', stderr);
    printf("%s %s\n", id, state);
    if(wh_state_parse(state) == WH_STATE_SUCCEEDED)
        return CLI_OK;
    wh_json *j = wh_status_json(r, c->cfg.redis_prefix, id, &err);
    const char *code = j ? wh_json_strv(wh_json_get(j, "error"), NULL) : NULL;
    const char *msg = j ? wh_json_strv(wh_json_get(j, "error_message"), NULL) : NULL;
    if(code)
        fprintf(stderr, "wharf: %s: %s: %s\n", id, code, msg ? msg : "");
    wh_json_free(j);
    return CLI_FAIL;
}

int cli_wait(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const cli_cmd *self = cli_find("wait");
    int timeout = -1, o;
    while((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if(o == 'o' && !cli_int("--timeout", optarg, 0, 31536000, &timeout))
            return CLI_USAGE;
        if(o == 'h')
            return cli_usage(self, stdout);
        if(o != 'o')
            return cli_usage(self, stderr);
    }
    if(optind >= argc)
        return cli_error(CLI_USAGE, "wait: name at least one job id");
    int status = CLI_OK;
    for(int i = optind; i < argc; i++)
        if(cli_wait_one(c, argv[i], timeout) != CLI_OK)
            status = CLI_FAIL;
    return status;
}
