/* cli_updates: `wharf updates HOST [--json]`, the last registry.update_check
 * of a host, read from <prefix>updates:<host> (see worker/families/registry/update_check.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fleet.h"
#include "wh_keys.h"

static const char *str(const wh_json *e, const char *key)
{
    const char *s = wh_json_strv(wh_json_get(e, key), NULL);
    return s ? s : "-";
}

/* One table row: what runs, what is newer, and how much. */
static void add_row(cli_table *tab, const wh_json *e)
{
    char when[40] = "-";
    const wh_json *t = wh_json_get(e, "checked_at");
    if(t)
        cli_time((long long)wh_json_intv(t), when, sizeof(when));
    const char *status = str(e, "status");
    cli_table_cell(tab, "%s", str(e, "container"));
    cli_table_cell(tab, "%s", strcmp(status, "error") == 0 ? str(e, "error") : status);
    cli_table_cell(tab, "%s", str(e, "kind"));
    cli_table_cell(tab, "%s", str(e, "current_tag"));
    cli_table_cell(tab, "%s", str(e, "candidate_tag"));
    cli_table_cell(tab, "%s", str(e, "semver_diff"));
    cli_table_cell(tab, "%s", when);
}

int cli_updates(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
    bool json = false;
    int o;
    while((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if(o == 'h')
            return cli_usage(cli_find("updates"), stdout), CLI_OK;
        if(o != 'j')
            return cli_usage(cli_find("updates"), stderr);
        json = true;
    }
    if(optind != argc - 1)
        return cli_usage(cli_find("updates"), stderr);
    wh_redis *r = cli_redis(c);
    if(!r)
        return CLI_FAIL;
    wh_err err;
    char key[WH_KEY_MAX];
    wh_key_updates(key, c->cfg.redis_prefix, argv[optind]);
    wh_json *all = fleet_hash_json(r, key, &err);
    if(!all)
        return cli_error(CLI_FAIL, "%s", err.msg);
    int status = CLI_OK;
    if(json) {
        cli_print_json(all, "{}");
    } else if(wh_json_size(all) == 0) {
        fprintf(stderr, "no update check recorded for host %s (run registry.update_check --target %s)\n",
                argv[optind], argv[optind]);
    } else {
        static const char *const head[] = {"CONTAINER", "STATUS", "KIND", "CURRENT", "CANDIDATE", "DIFF",
                                           "CHECKED"};
        cli_table *tab = cli_table_new(7, head);
        for(wh_json_iter *it = wh_json_iter_first(all); it; it = wh_json_iter_next(all, it))
            add_row(tab, wh_json_iter_val(it));
        status = cli_table_print(tab, stdout);
        cli_table_free(tab);
    }
    wh_json_free(all);
    return status;
}
