/* srv_main: `wharf serve`: flags, bearer tokens, the listen address, then
 * serve until SIGINT or SIGTERM. See srv.h. */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "srv.h"
#include "wh_log.h"
#include "wh_sched.h"

/* Add one token (trimmed); false after printing why. A token from
 * serve.read_token_file is read-only. */
static bool add_token(srv *s, const char *tok, size_t n, const char *where)
{
    while(n && (tok[n - 1] == ' ' || tok[n - 1] == '\t' || tok[n - 1] == '\r'))
        n--;
    while(n && (*tok == ' ' || *tok == '\t'))
        tok++, n--;
    if(n == 0 || *tok == '#')
        return true;
    if(n < SRV_TOKEN_MIN || n > SRV_TOKEN_MAX) {
        cli_error(CLI_USAGE, "%s: a token must be %d..%d bytes long", where, SRV_TOKEN_MIN, SRV_TOKEN_MAX);
        return false;
    }
    for(size_t i = 0; i < n; i++)
        if((unsigned char)tok[i] <= ' ' || (unsigned char)tok[i] >= 0x7f) {
            cli_error(CLI_USAGE, "%s: a token must be printable ASCII without spaces", where);
            return false;
        }
    if(s->ntokens == SRV_MAX_TOKENS) {
        cli_error(CLI_USAGE, "%s: more than %d tokens", where, SRV_MAX_TOKENS);
        return false;
    }
    s->read_only[s->ntokens] = strstr(where, "read_token") != NULL;
    return (s->tokens[s->ntokens++] = strndup(tok, n)) != NULL;
}

/* One token per line; blank lines and lines starting with '#' are skipped.
 * `key` names the setting (serve.token_file or serve.read_token_file). */
static bool load_token_file(srv *s, const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if(!f) {
        cli_error(CLI_USAGE, "%s: cannot open %s", key, path);
        return false;
    }
    char line[SRV_TOKEN_MAX + 8];
    bool ok = true;
    while(ok && fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\n");
        if(line[n] != '\n' && !feof(f)) {
            ok = (cli_error(CLI_USAGE, "%s: a line is longer than %d bytes", key, SRV_TOKEN_MAX), false);
            break;
        }
        ok = add_token(s, line, n, key);
    }
    fclose(f);
    return ok;
}

/* Split "host:port" or "[v6]:port". */
static bool parse_listen(const char *spec, char *host, size_t cap, uint16_t *port)
{
    const char *colon;
    if(spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if(!close || close[1] != ':' || (size_t)(close - spec - 1) >= cap)
            return false;
        snprintf(host, cap, "%.*s", (int)(close - spec - 1), spec + 1);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if(!colon || (size_t)(colon - spec) >= cap || memchr(spec, ':', (size_t)(colon - spec)))
            return false;
        snprintf(host, cap, "%.*s", (int)(colon - spec), spec);
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if(!colon[1] || *end || p < 0 || p > 65535)
        return false;
    if(strcmp(host, "localhost") == 0)
        snprintf(host, cap, "127.0.0.1");
    *port = (uint16_t)p;
    unsigned char addr[16]; /* names other than localhost are not resolved */
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static void srv_free_tokens(srv *s)
{
    for(int i = 0; i < s->ntokens; i++)
        free(s->tokens[i]);
    srv_sessions_free(s->sessions);
    for(int i = 0; i < SRV_POOL; i++) {
        wharf_client_free(s->pool[i].client);
        wh_redis_free(s->pool[i].redis);
    }
}

/* Flags and tokens into *s and the listen address; a CLI status on failure. */
static int configure(cli *c, srv *s, int argc, char **argv, char *host, size_t cap, uint16_t *port)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"insecure-no-auth", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *listen = c->cfg.serve_listen, *token_file = c->cfg.serve_token_file;
    int o;
    while((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if(o == 'l')
            listen = optarg;
        else if(o == 't')
            token_file = optarg;
        else if(o == 'n')
            s->no_auth = true;
        else
            return cli_usage(cli_find("serve"), o == 'h' ? stdout : stderr) == CLI_OK ? -1 : CLI_USAGE;
    }
    if(optind != argc)
        return cli_usage(cli_find("serve"), stderr);
    if(!parse_listen(listen, host, cap, port))
        return cli_error(CLI_USAGE, "serve.listen: expected HOST:PORT or [IPV6]:PORT with a numeric address, got "
                                    "\"%s\"", listen);
    if(s->no_auth && !wh_mhd_host_is_loopback(host))
        return cli_error(CLI_USAGE, "--insecure-no-auth is only allowed on a loopback address (127.0.0.0/8 or "
                                    "::1), not %s; configure serve.token or serve.token_file", host);
    if(c->cfg.serve_token[0] && !add_token(s, c->cfg.serve_token, strlen(c->cfg.serve_token), "serve.token"))
        return CLI_USAGE;
    if(*token_file && !load_token_file(s, token_file, "serve.token_file"))
        return CLI_USAGE;
    if(c->cfg.serve_read_token_file[0] &&
       !load_token_file(s, c->cfg.serve_read_token_file, "serve.read_token_file"))
        return CLI_USAGE;
    if(!(s->sessions = srv_sessions_new(c->cfg.serve_session_ttl_s)))
        return cli_error(CLI_FAIL, "out of memory");
    if(!s->no_auth && s->ntokens == 0)
        return cli_error(CLI_USAGE, "no bearer token: set serve.token or serve.token_file (or --token-file), or "
                                    "use --insecure-no-auth on a loopback address");
    return CLI_OK;
}

int cli_serve(cli *c, int argc, char **argv)
{
    static srv s; /* lives as long as the daemon's threads */
    char host[64];
    uint16_t port = 0;
    s.cfg = &c->cfg;
    int rc = configure(c, &s, argc, argv, host, sizeof(host), &port);
    if(rc) {
        srv_free_tokens(&s);
        return rc < 0 ? CLI_OK : rc;
    }
    int level = wh_log_level_parse(c->cfg.log_level);
    wh_log_setup(strcmp(c->cfg.log_format, "json") == 0, level < 0 ? WH_LOG_INFO : (wh_log_level)level, "serve");
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    wh_mhd_opts o = {.host = host, .port = port, .max_body = (size_t)c->cfg.serve_max_body,
                     .timeout_s = (unsigned)c->cfg.serve_timeout_s,
                     .max_connections = (unsigned)c->cfg.serve_max_connections,
                     .per_ip_limit = (unsigned)c->cfg.serve_max_per_ip,
                     .head_timeout_s = (unsigned)c->cfg.serve_header_timeout_s, .handler = srv_handle, .ud = &s};
    wh_err err;
    wh_mhd *d = wh_mhd_start(&o, &err);
    if(!d) {
        srv_free_tokens(&s);
        return cli_error(CLI_FAIL, "%s", err.msg);
    }
    /* Like every worker, the server is a scheduler candidate (delayed jobs,
     * schedules, the reaper); a Redis lease lets one leader act at a time. */
    char me[128], hostname[64] = "host";
    gethostname(hostname, sizeof(hostname) - 1);
    snprintf(me, sizeof(me), "serve-%s-%ld", hostname, (long)getpid());
    wh_sched *sched = c->cfg.scheduler_on ? wh_sched_start(&c->cfg, me, wh_cat_max_attempts, &err) : NULL;
    if(c->cfg.scheduler_on && !sched)
        wh_log(WH_LOG_WARN, NULL, "scheduler not started", "error", err.msg);
    char addr[96], sigs[8];
    snprintf(addr, sizeof(addr), "%s%s%s:%u", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
             wh_mhd_port(d));
    wh_log(WH_LOG_INFO, NULL, "listening", "addr", addr, "auth", s.no_auth ? "NO AUTH" : "bearer tokens");
    int sig = 0;
    sigwait(&stop, &sig);
    snprintf(sigs, sizeof(sigs), "%d", sig);
    wh_log(WH_LOG_INFO, NULL, "stopping", "signal", sigs);
    wh_mhd_stop(d);
    wh_sched_stop(sched);
    srv_free_tokens(&s);
    return CLI_OK;
}
