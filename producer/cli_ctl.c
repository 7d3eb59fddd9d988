/* cli_ctl: `wharf cancel` and `wharf schedule`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "wh_state.h"
#include "wh_time.h"

#define MAX_ARGS 128

int cli_cancel(cli *c, int argc, char **argv)
{
    const cli_cmd *self = cli_find("cancel");
    if(argc < 2)
        return cli_usage(self, stderr);
    if(strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return cli_usage(self, stdout);
    wharf_client *client = cli_client(c);
    if(!client)
        return CLI_FAIL;
    int status = CLI_OK;
    for(int i = 1; i < argc; i++) {
        char state[16];
        wharf_error err;
        if(wharf_cancel(client, argv[i], state, &err) != 0) {
            cli_error(CLI_FAIL, "%s: %s (%s)", argv[i], err.message, err.name);
            status = CLI_FAIL;
            continue;
        }
        bool running = wh_state_parse(state) == WH_STATE_RUNNING;
        printf("%s %s\n", argv[i], running ? "cancelling" : wh_state_name(WH_STATE_CANCELLED));
    }
    return status;
}

static int schedule_add(cli *c, int argc, char **argv, const cli_cmd *self)
{
    static const struct option opts[] = {
        {"every", required_argument, NULL, 'e'}, {"cron", required_argument, NULL, 'c'},
        {"target", required_argument, NULL, 't'}, {"arg", required_argument, NULL, 'a'},
        {"args-json", required_argument, NULL, 'j'}, {"max-attempts", required_argument, NULL, 'm'},
        {"job-timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    wharf_schedule s = {0};
    const char *kvs[MAX_ARGS], *args_json = NULL;
    int nkv = 0, opt;
    int64_t ms;
    optind = 0; /* 0: a full restart of GNU getopt (main already used it) */
    while((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch(opt) {
        case 'e':
            if(!wh_duration_ms(optarg, &ms) || ms < 1000 || ms % 1000 || ms > 31536000000LL)
                return cli_error(CLI_USAGE, "--every %s: expected whole seconds from 1s to 365d (60s, 5m)", optarg);
            s.every_s = (int)(ms / 1000);
            break;
        case 'c': s.cron = optarg; break;
        case 't': s.target = optarg; break;
        case 'a':
            if(nkv == MAX_ARGS)
                return cli_error(CLI_USAGE, "at most %d --arg options", MAX_ARGS);
            kvs[nkv++] = optarg;
            break;
        case 'j': args_json = optarg; break;
        case 'm': if(!cli_int("--max-attempts", optarg, 1, 100, &s.max_attempts)) return CLI_USAGE; break;
        case 'T': if(!cli_int("--job-timeout", optarg, 1, 2592000, &s.timeout_s)) return CLI_USAGE; break;
        case 'h': return cli_usage(self, stdout);
        default: return cli_usage(self, stderr);
        }
    }
    if(argc - optind != 2)
        return cli_error(CLI_USAGE, "schedule add: expected NAME and TYPE");
    s.name = argv[optind];
    s.type = argv[optind + 1];
    char *args = cli_build_args(args_json, kvs, nkv);
    if(!args)
        return CLI_USAGE;
    if(!cli_validate(s.type, args)) { /* a typo fails now, not at every firing */
        free(args);
        return CLI_USAGE;
    }
    s.args_json = args;
    wharf_client *client = cli_client(c);
    wharf_error err;
    int rc = client ? wharf_schedule_add(client, &s, &err) : -1;
    free(args);
    if(rc > 0)
        return cli_error(rc == WH_E_BAD_ARGS || rc == WH_E_UNKNOWN_TYPE ? CLI_USAGE : CLI_FAIL, "%s (%s)", err.message, err.name);
    if(rc < 0)
        return CLI_FAIL;
    printf("%s\n", s.name);
    return CLI_OK;
}

static int schedule_list(cli *c, bool json)
{
    wharf_client *client = cli_client(c);
    char *text = NULL;
    wharf_error err;
    if(!client)
        return CLI_FAIL;
    if(wharf_schedule_list_json(client, &text, &err) != 0)
        return cli_error(CLI_FAIL, "%s (%s)", err.message, err.name);
    wh_json *all = wh_json_parse(text, strlen(text), NULL);
    free(text);
    int status = CLI_OK;
    if(json) {
        cli_print_json(all, "[]");
    } else {
        cli_table *tab = cli_table_new(4, NULL);
        for(size_t i = 0; all && i < wh_json_size(all); i++) {
            const wh_json *s = wh_json_at(all, i);
            const char *cron = wh_json_strv(wh_json_get(s, "cron"), NULL);
            const char *target = wh_json_strv(wh_json_get(s, "target"), NULL);
            char when[64], next[40];
            if(cron)
                snprintf(when, sizeof(when), "cron '%s'", cron);
            else
                snprintf(when, sizeof(when), "every %llds", (long long)wh_json_intv(wh_json_get(s, "every_s")));
            cli_time(wh_json_intv(wh_json_get(s, "next_at")), next, sizeof(next));
            const char *name = wh_json_strv(wh_json_get(s, "name"), NULL);
            const char *type = wh_json_strv(wh_json_get(s, "type"), NULL);
            cli_table_cell(tab, "%s", name ? name : "");
            cli_table_cell(tab, "%s", type ? type : "");
            cli_table_cell(tab, "%s", when);
            cli_table_cell(tab, "next %s%s%s", next, target ? " target " : "", target ? target : "");
        }
        status = cli_table_print(tab, stdout);
        cli_table_free(tab);
    }
    wh_json_free(all);
    return status;
}

int cli_schedule(cli *c, int argc, char **argv)
{
    const cli_cmd *self = cli_find("schedule");
    if(argc < 2)
        return cli_usage(self, stderr);
    const char *sub = argv[1];
    if(strcmp(sub, "add") == 0)
        return schedule_add(c, argc - 1, argv + 1, self);
    if(strcmp(sub, "list") == 0)
        return schedule_list(c, argc > 2 && strcmp(argv[2], "--json") == 0);
    if(strcmp(sub, "rm") == 0 && argc == 3) {
        wharf_client *client = cli_client(c);
        wharf_error err;
        if(!client)
            return CLI_FAIL;
        if(wharf_schedule_rm(client, argv[2], &err) != 0)
            return cli_error(CLI_FAIL, "%s (%s)", err.message, err.name);
        printf("%s removed\n", argv[2]);
        return CLI_OK;
    }
    if(strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return cli_usage(self, stdout);
    return cli_usage(self, stderr);
}
