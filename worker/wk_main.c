/* wharf-worker: consume wharf jobs from RabbitMQ and run them.
 * Configuration: defaults < --config file < WHARF_* env < flags. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "catalog.h"
#include "wh_cfg.h"
#include "wh_log.h"
#include "wh_sched.h"
#include "wh_ssh.h"
#include "wk_heartbeat.h"
#include "wk_job.h"
#include "wk_libs.h"
#include "wk_loop.h"
#include "wk_pool.h"
#include "wk_stats.h"

#define MAX_SETS 64

static void usage(FILE *out)
{
    fputs("Usage: wharf-worker [options]\n"
          "Run wharf jobs from RabbitMQ, with status in Redis.\n\n"
          "  -f, --config FILE       INI configuration file\n"
          "  -s, --set SEC.KEY=VAL   set one configuration key (repeatable)\n"
          "  -c, --concurrency N     jobs run at once (worker.concurrency)\n"
          "      --families LIST     families to consume, e.g. system,runtime\n"
          "      --check-config      print the effective configuration and exit\n"
          "  -h, --help              this help\n"
          "  -V, --version           print the version\n\n"
          "Every key can also come from the environment as WHARF_<SECTION>_<KEY>,\n"
          "e.g. WHARF_AMQP_URL, WHARF_REDIS_URL, WHARF_WORKER_CONCURRENCY.\n"
          "SIGTERM or SIGINT drains: running jobs get worker.grace_s seconds.\n",
          out);
}

typedef struct args {
    const char *config;
    const char *sets[MAX_SETS];
    char owned[MAX_SETS][256]; /* storage for sets built from short flags */
    int nsets;
    bool check;
} args;

static int add_set(args *a, const char *prefix, const char *value)
{
    if(a->nsets == MAX_SETS)
        return -1;
    snprintf(a->owned[a->nsets], sizeof(a->owned[0]), "%s%s", prefix, value);
    a->sets[a->nsets] = a->owned[a->nsets];
    a->nsets++;
    return 0;
}

/* Returns -1 to exit with failure, 1 to exit with success, 0 to run. */
static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'f'}, {"set", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'c'}, {"families", required_argument, NULL, 'F'},
        {"check-config", no_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    int o;
    while((o = getopt_long(argc, argv, "f:s:c:hV", opts, NULL)) != -1) {
        int rc = 0;
        switch(o) {
        case 'f': a->config = optarg; break;
        case 's': rc = add_set(a, "", optarg); break;
        case 'c': rc = add_set(a, "worker.concurrency=", optarg); break;
        case 'F': rc = add_set(a, "worker.families=", optarg); break;
        case 'C': a->check = true; break;
        case 'h': usage(stdout); return 1;
        case 'V': printf("wharf-worker %s\n", WHARF_VERSION); return 1;
        default: usage(stderr); return -1;
        }
        if(rc) {
            fprintf(stderr, "wharf-worker: too many --set options\n");
            return -1;
        }
    }
    if(optind < argc) {
        fprintf(stderr, "wharf-worker: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Block the stop signals in every thread and read them from a signalfd. */
static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTSTP); /* quiet (wk_loop.h) */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
    static args a;
    int pr = parse_args(argc, argv, &a);
    if(pr)
        return pr < 0 ? 2 : 0;
    static wh_cfg cfg;
    wh_err err;
    if(wh_cfg_load(&cfg, a.config, a.sets, a.nsets, &err) != WH_OK) {
        fprintf(stderr, "wharf-worker: configuration error: %s\n", err.msg);
        return 78; /* EX_CONFIG */
    }
    if(wk_families_check(&err) != WH_OK) {
        fprintf(stderr, "wharf-worker: %s\n", err.msg); /* a build that binds its catalogue wrongly */
        return 70; /* EX_SOFTWARE */
    }
    if(a.check) {
        wh_cfg_print(&cfg, stdout);
        return 0;
    }
    wh_log_setup(strcmp(cfg.log_format, "json") == 0, (wh_log_level)wh_log_level_parse(cfg.log_level),
                 "worker");
    char worker_id[sizeof(cfg.worker_id)];
    if(cfg.worker_id[0]) {
        snprintf(worker_id, sizeof(worker_id), "%s", cfg.worker_id);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(worker_id, sizeof(worker_id), "%s-%d", host, (int)getpid());
    }
    /* libcurl and libssh are loaded on demand; a worker whose inventory
     * needs one finds out now that it is missing, not on its first job. */
    if(wk_libs_load(&cfg, &err) != WH_OK) {
        wh_log(WH_LOG_ERROR, NULL, "cannot start", "code", wh_code_name(err.code), "error", err.msg);
        wh_cfg_free(&cfg);
        return 1;
    }
    int sigfd = signal_fd(); /* before any thread starts, so all inherit the mask */
    wk_stats *stats = wk_stats_new();
    wk_pool *pool = sigfd >= 0 && stats ? wk_pool_new(cfg.concurrency, &cfg, worker_id, stats, &err) : NULL;
    wk_beat *beat = pool ? wk_beat_start(&cfg, worker_id, pool, stats, &err) : NULL;
    wk_loop *loop = beat ? wk_loop_new(&cfg, worker_id, pool, sigfd, wk_beat_kick, beat) : NULL;
    if(!loop) {
        wh_log(WH_LOG_ERROR, NULL, "cannot start", "error", sigfd < 0 ? "signalfd failed" : err.msg);
        wk_beat_free(beat);
        wk_pool_free(pool);
        wk_stats_free(stats);
        return 1;
    }
    wh_log(WH_LOG_INFO, NULL, "worker started", "worker", worker_id, "families", cfg.families);
    /* Every worker is a scheduler candidate; one leader acts at a time. */
    wh_sched *sched = cfg.scheduler_on ? wh_sched_start(&cfg, worker_id, wh_cat_max_attempts, &err) : NULL;
    if(cfg.scheduler_on && !sched)
        wh_log(WH_LOG_WARN, NULL, "scheduler not started", "error", err.msg);
    int status = wk_loop_run(loop);
    wh_sched_stop(sched);
    /* Deregister first (the beat thread reads the pool's counters); join the
     * job threads before the connection closes, so no verdict is in flight
     * when unacked messages go back to the queue; flush stats last. */
    wk_beat_stop(beat);
    wk_pool_free(pool);
    wk_loop_free(loop);
    wk_beat_free(beat);
    wk_stats_free(stats);
    /* The SSH pools live as long as the process: their sweepers must not
     * close a session while exit() tears libssh down. */
    wh_ssh_pools_stop();
    close(sigfd);
    wh_cfg_free(&cfg);
    return status;
}
