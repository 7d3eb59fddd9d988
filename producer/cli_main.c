/* wharf: submit jobs and inspect them. See cli.h. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const cli_cmd commands[] = {
    {"submit", cli_submit,
     "wharf submit TYPE [options]\n"
     "Submit a job and print its id.\n"
     "  --target HOST         inventory host the job acts on\n"
     "  --arg KEY=VALUE       one argument (repeatable); VALUE is read as JSON when it\n"
     "                        parses (42, true, null, [1,2], {\"a\":1}), else as a string\n"
     "  --args-json JSON      all arguments as one JSON object (--arg adds to it)\n"
     "  --id ID               job id ([A-Za-z0-9_-]{1,64}); resubmitting an id is a no-op\n"
     "  --max-attempts N      attempts before the job is dead (1..100)\n"
     "  --job-timeout S       the job's own timeout in seconds\n"
     "  --delay DURATION      run no earlier than now + DURATION (30s, 5m, 250ms)\n"
     "  --at MS               run no earlier than MS (ms since the Unix epoch)\n"
     "  --priority N          0..9, higher first (classic queues with amqp.max_priority)\n"
     "  --unique-for DURATION while an equal job (type, target, args) is live, return its id\n"
     "  --lock KEY            jobs sharing KEY never run at the same time\n"
     "  --wait                wait for the job to finish; exit 0 only if it succeeded\n"
     "  --timeout S           give up waiting after S seconds (with --wait)\n"
     "  --no-validate         skip the local type and args check (newer workers)\n"},
    {"status", cli_status,
     "wharf status ID [--json]\n"
     "Show a job's status hash (--json: as one JSON object).\n"},
    {"logs", cli_logs,
     "wharf logs ID [-f]\n"
     "Print a job's log lines; -f follows them until the job finishes.\n"},
    {"ctr-logs", cli_ctr_logs,
     "wharf ctr-logs HOST NAME [-f] [-t]\n"
     "Print a container's log lines that runtime.container.logs jobs copied to Redis\n"
     "(stdout lines on stdout, stderr lines on stderr).\n"
     "  -f, --follow       keep printing new lines until interrupted\n"
     "  -t, --timestamps   prefix lines with the engine's timestamp, when recorded\n"},
    {"host-stats", cli_host_stats,
     "wharf host-stats HOST [CONTAINER] [--minutes N | --hours N] [--json]\n"
     "Per-minute (or per-hour) CPU and memory rollups that runtime.host.stats wrote for\n"
     "a container, or for the whole host without CONTAINER (default: last 10 minutes).\n"},
    {"wait", cli_wait,
     "wharf wait ID... [--timeout S]\n"
     "Wait for jobs to finish; exit 0 only if all succeeded.\n"},
    {"workers", cli_workers,
     "wharf workers [--json] | workers quiet ID | workers drain ID\n"
     "List live workers from the registry, or ask one (within one heartbeat):\n"
     "  quiet ID  take no new jobs, finish the running ones, stay up\n"
     "  drain ID  stop taking jobs, finish or requeue the running ones, exit\n"},
    {"stats", cli_stats,
     "wharf stats [--minutes N] [--json]\n"
     "Per job type counts and run times over the last N minutes (default 60).\n"
     "wharf stats HOST [CONTAINER] [--minutes N | --hours N] [--json]\n"
     "The same as host-stats: a host's container rollups from runtime.host.stats.\n"},
    {"updates", cli_updates,
     "wharf updates HOST [--json]\n"
     "Show the last registry.update_check of an inventory host: per container, the\n"
     "status, kind (tag, digest, none), current and candidate tag, semver diff.\n"},
    {"dead", cli_dead,
     "wharf dead list [--limit N] [--json] | dead retry ID | dead purge [ID]\n"
     "Inspect, retry or purge the dead-letter queue wharf.dead.\n"
     "  list      show dead messages (they stay in the queue)\n"
     "  retry ID  republish job ID with fresh attempts\n"
     "  purge     delete every dead message\n"
     "  purge ID  delete job ID's dead message only (the job stays dead)\n"},
    {"cancel", cli_cancel,
     "wharf cancel ID...\n"
     "Cancel jobs: a queued, scheduled or retrying job never runs; a running one is\n"
     "interrupted at its next cancellation point. Cancelling a finished job fails.\n"},
    {"schedule", cli_schedule,
     "wharf schedule add NAME (--every DURATION | --cron 'M H DOM MON DOW') TYPE [--target H]\n"
     "               [--arg K=V]... [--args-json JSON] [--max-attempts N] [--job-timeout S]\n"
     "       schedule list [--json] | schedule rm NAME\n"
     "Periodic jobs, stored in Redis and fired by the leader among workers and servers.\n"
     "Each firing is job NAME-<unix seconds of the firing>, so none fires twice. Cron is UTC.\n"},
    {"serve", cli_serve,
     "wharf serve [--listen HOST:PORT] [--token-file FILE] [--insecure-no-auth]\n"
     "Serve the HTTP API (schemas/openapi.yaml) until SIGINT or SIGTERM.\n"
     "  --listen HOST:PORT    numeric address and port (default serve.listen, 127.0.0.1:8080)\n"
     "  --token-file FILE     bearer tokens, one per line (default serve.token_file)\n"
     "  --insecure-no-auth    no tokens; refused unless HOST is loopback\n"},
};

static void main_usage(FILE *out)
{
    fputs("Usage: wharf [--config FILE] [--set SEC.KEY=VAL]... COMMAND [ARGS]\n\n"
          "Commands:\n",
          out);
    for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %.*s\n", (int)strcspn(commands[i].usage, "\n"), commands[i].usage);
    fputs("\nRun 'wharf COMMAND --help' for a command's options. Configuration comes from\n"
          "--config, then WHARF_<SECTION>_<KEY> variables (WHARF_AMQP_URL, WHARF_REDIS_URL,\n"
          "WHARF_REDIS_PREFIX, ...), then --set.\n",
          out);
}

const cli_cmd *cli_find(const char *name)
{
    for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if(strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int cli_usage(const cli_cmd *cmd, FILE *out)
{
    fprintf(out, "Usage: %s", cmd->usage);
    return out == stderr ? CLI_USAGE : CLI_OK;
}

int cli_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wharf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

bool cli_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if(!*s || *end || v < lo || v > hi) {
        cli_error(CLI_USAGE, "%s: expected an integer in %d..%d, got \"%s\"", opt, lo, hi, s);
        return false;
    }
    *out = (int)v;
    return true;
}

void cli_print_json(const wh_json *j, const char *fallback)
{
    char *text = j ? wh_json_dump(j) : NULL;
    printf("%s\n", text ? text : fallback);
    free(text);
}

void cli_time(long long ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03lldZ", ms % 1000);
}

wharf_client *cli_client(cli *c)
{
    if(c->client)
        return c->client;
    wharf_client_opts o = {c->cfg.amqp_url, c->cfg.redis_url, c->cfg.redis_prefix, c->cfg.queue_type, 10000,
                           c->cfg.max_attempts, c->cfg.max_priority};
    wharf_error err;
    if(!(c->client = wharf_client_new(&o, &err)))
        cli_error(CLI_FAIL, "%s (%s)", err.message, err.name);
    return c->client;
}

wh_redis *cli_redis(cli *c)
{
    if(c->redis)
        return c->redis;
    wh_err err;
    wh_redis *r = wh_redis_new(c->cfg.redis_url, 10000, &err);
    if(!r || wh_redis_connect(r, &err) != WH_OK) {
        wh_redis_free(r);
        cli_error(CLI_FAIL, "%s", err.msg);
        return NULL;
    }
    return c->redis = r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'f'},
                                         {"set", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *sets[64];
    int nsets = 0, o;
    /* "+": stop at the command name; its options are the command's own. */
    while((o = getopt_long(argc, argv, "+f:s:hV", opts, NULL)) != -1) {
        if(o == 'f')
            config = optarg;
        else if(o == 's' && nsets < 64)
            sets[nsets++] = optarg;
        else if(o == 'h')
            return main_usage(stdout), CLI_OK;
        else if(o == 'V')
            return printf("wharf %s\n", WHARF_VERSION), CLI_OK;
        else
            return main_usage(stderr), CLI_USAGE;
    }
    if(optind >= argc)
        return main_usage(stderr), CLI_USAGE;
    const cli_cmd *cmd = cli_find(argv[optind]);
    if(!cmd)
        return cli_error(CLI_USAGE, "unknown command \"%s\" (see wharf --help)", argv[optind]);
    static cli c;
    wh_err err;
    if(wh_cfg_load(&c.cfg, config, sets, nsets, &err) != WH_OK)
        return cli_error(CLI_USAGE, "configuration error: %s", err.msg);
    c.tty = isatty(STDERR_FILENO);
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* reset getopt for the command's own parse (glibc: 0 reinitialises) */
    int status = cmd->run(&c, sub_argc, sub_argv);
    wharf_client_free(c.client);
    wh_redis_free(c.redis);
    return status;
}
