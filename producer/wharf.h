/* wharf.h: the wharf C client library (libwharfclient).
 *
 * Submit jobs to wharf workers and read their status. A client holds one
 * RabbitMQ connection (publisher confirms, mandatory routing) and one Redis
 * connection; it is used by one thread at a time (make one per thread).
 *
 *   wharf_client_opts o = {.amqp_url = "amqp://guest:guest@127.0.0.1:5672/%2f",
 *                          .redis_url = "redis://127.0.0.1:6379/0"};
 *   wharf_error err;
 *   wharf_client *c = wharf_client_new(&o, &err);
 *   wharf_job job = {.type = "system.sleep", .args_json = "{\"ms\": 100}"};
 *   wharf_submitted s;
 *   if(wharf_submit(c, &job, &s, &err) == 0)
 *       printf("queued %s\n", s.id);
 *   wharf_client_free(c);
 *
 * Submit is idempotent on the job id: the hash is created in state `queued`
 * first (only if the id is new), then the message is published and confirmed
 * by the broker. A second submit of an existing id publishes nothing and
 * reports the state it found. When the publish fails the fresh hash is
 * removed again, so the caller may simply retry with the same id.
 *
 * Every function returns 0 on success or a nonzero error code, and fills the
 * wharf_error (if not NULL) only on failure. Codes and their names are the
 * stable codes of schemas/README.md. */
#ifndef WHARF_H
#define WHARF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wharf_client wharf_client;

typedef struct wharf_error {
    int code;          /* nonzero stable code number */
    char name[40];     /* stable code name, e.g. "unroutable" */
    char field[64];    /* offending field, or "" */
    char message[256]; /* for humans; never contains secrets; cut between UTF-8 characters */
} wharf_error;

typedef struct wharf_client_opts {
    const char *amqp_url;     /* default amqp://guest:guest@127.0.0.1:5672/%2f; or the
                               * nodes of a cluster, separated by commas or spaces,
                               * tried in order on each (re)connect */
    const char *redis_url;    /* default redis://127.0.0.1:6379/0; Sentinel:
                               * redis-sentinel://[:pw@]host:port,host:port/master[/db] */
    const char *redis_prefix; /* default "wharf:" */
    const char *queue_type;   /* "quorum" (default) or "classic" */
    int timeout_ms;           /* connect, RPC and confirm timeout; default 10000 */
    int max_attempts;         /* recorded for jobs that set none; default 3 */
    int max_priority;         /* x-max-priority of classic family queues, as the
                               * workers declare them (amqp.max_priority); 0 */
} wharf_client_opts;

/* A job to submit. Either args_json (a JSON object) or args_msgpack (a packed
 * msgpack map) may give the args; neither means {}. */
typedef struct wharf_job {
    const char *id;           /* NULL: a new random id is generated */
    const char *type;         /* "family.action", e.g. "system.noop" */
    const char *target;       /* inventory host name, or NULL */
    const char *args_json;
    const void *args_msgpack;
    size_t args_msgpack_len;
    int max_attempts;         /* 0: the type's default */
    int timeout_s;            /* 0: the type's default */
    int64_t run_at;           /* ms since the epoch; 0 or past: run now. A
                               * future time parks the job in state
                               * `scheduled` (Redis, never the broker) */
    int priority;             /* 0..9, higher first; -1 or 0: normal (0) */
    int unique_for_s;         /* > 0: while a job of the same type, target and
                               * args is queued, scheduled or running (at most
                               * this long), submit returns that job's id */
    const char *lock;         /* NULL, or a resource key: jobs sharing it never
                               * run at the same time */
    const char *meta_json;    /* NULL, or a JSON object of string values */
} wharf_job;

typedef struct wharf_submitted {
    char id[65];
    int created;              /* 1: enqueued now; 0: the id (or, with
                               * unique_for_s, an equal live job) existed */
    char state[16];           /* "queued"/"scheduled", or the existing job's state */
} wharf_submitted;

/* Fill the fields of *o that are NULL or 0 from the environment, as the CLI
 * and the workers read their settings: WHARF_AMQP_URL, WHARF_REDIS_URL,
 * WHARF_REDIS_PREFIX, WHARF_AMQP_QUEUE_TYPE, WHARF_AMQP_MAX_PRIORITY and
 * WHARF_JOBS_MAX_ATTEMPTS. The strings point into the environment: keep it
 * unchanged until wharf_client_new() has returned. */
void wharf_client_opts_from_env(wharf_client_opts *o);

/* Connect to RabbitMQ and Redis and declare the topology. NULL on failure. */
wharf_client *wharf_client_new(const wharf_client_opts *opts, wharf_error *err);

/* Close both connections and free. NULL is a no-op. */
void wharf_client_free(wharf_client *c);

/* Submit one job and wait for the broker's confirm. */
int wharf_submit(wharf_client *c, const wharf_job *job, wharf_submitted *out, wharf_error *err);

/* Submit n jobs with their confirms in flight together (much faster than n
 * calls). out[i] and errs[i] (errs may be NULL) describe job i. Returns 0
 * when all succeeded, else the code of the first failure. */
int wharf_submit_many(wharf_client *c, const wharf_job *jobs, size_t n, wharf_submitted *out, wharf_error *errs);

/* The job's status hash as a JSON object (malloc'd; free() it). Returns
 * WHARF_NOT_FOUND (15) when no such job exists. */
int wharf_status_json(wharf_client *c, const char *id, char **json, wharf_error *err);

/* Wait up to timeout_ms (< 0: forever) for a terminal state, written to
 * state[16]. Returns 7 (timeout) if none arrived in time. */
int wharf_wait(wharf_client *c, const char *id, int timeout_ms, char *state, wharf_error *err);

/* wharf_wait, then the final status hash as JSON (as wharf_status_json;
 * malloc'd, free() it). On WHARF_TIMEOUT no JSON is returned. */
int wharf_wait_json(wharf_client *c, const char *id, int timeout_ms, char **json, wharf_error *err);

/* The job's result as JSON text (malloc'd; free() it): the value a
 * succeeded job returned, or "null" while it has none (not finished, or not
 * succeeded). WHARF_NOT_FOUND for an unknown job. */
int wharf_result_json(wharf_client *c, const char *id, char **json, wharf_error *err);

/* The job's log as JSON {"lines": [{"id", "s", "l"}, ...]}, as
 * GET /v1/jobs/{id}/logs gives it: every line (at most 10,000), or the last
 * `tail` lines when tail > 0 (malloc'd; free() it). Bytes that are not UTF-8
 * become '?'. WHARF_NOT_FOUND when neither the job nor its log exists. */
int wharf_logs_json(wharf_client *c, const char *id, int tail, char **json, wharf_error *err);

/* One entry of a followed log: a line, or a gap where the stream's cap
 * (jobs.log_max_lines) removed lines before they were read. Valid only
 * during the callback. */
typedef struct wharf_log_entry {
    const char *id;        /* stream entry id "ms-seq"; "" for a gap */
    const char *stream;    /* "out", "err" or "sys"; "gap" for a gap */
    const char *text;      /* the line, NUL-terminated; "" for a gap */
    size_t len;            /* bytes of text (a line may hold NUL bytes) */
    long long missing;     /* a gap: lines removed there, -1 when the number
                            * is unknown; 0 for a line */
} wharf_log_entry;

/* Called once per entry, in order; a nonzero return stops following (and
 * becomes wharf_logs_follow's return value). */
typedef int (*wharf_log_fn)(void *ud, const wharf_log_entry *e);

/* Deliver every line of the job's log, then new ones as workers write
 * them, until the job is terminal and every line was delivered (as `wharf
 * logs -f`). Blocks while the job runs. Returns 0 then, fn's nonzero value
 * if it stopped, WHARF_NOT_FOUND for an unknown job, or a Redis error. */
int wharf_logs_follow(wharf_client *c, const char *id, wharf_log_fn fn, void *ud, wharf_error *err);

/* A subscription to job state changes (the <prefix>events channel) on a
 * Redis connection of its own. Pub/sub keeps nothing for a subscriber that
 * was away (a lost connection is made again by the next call): read the
 * job for the truth after an error. */
typedef struct wharf_events wharf_events;

typedef struct wharf_event {
    char id[65];
    char state[16];        /* a state, or "cancelling" (a running job was asked to stop) */
} wharf_event;

/* Subscribe to the state changes of the n jobs `ids` (all jobs when n is 0).
 * The ids are copied. NULL on failure. */
wharf_events *wharf_events_new(wharf_client *c, const char *const *ids, size_t n, wharf_error *err);

/* Wait up to timeout_ms (< 0: forever) for the next event. Returns 0 with
 * *out filled, WHARF_TIMEOUT when none came in time, or a Redis error. */
int wharf_events_next(wharf_events *ev, int timeout_ms, wharf_event *out, wharf_error *err);

/* Unsubscribe and free. NULL is a no-op. */
void wharf_events_free(wharf_events *ev);

/* Cancel a job. A queued, scheduled or retrying job becomes `cancelled` at
 * once and never runs; a running one is asked to stop and becomes
 * `cancelled` when its handler reaches its next cancellation point
 * (state[16] receives "cancelled" or "running" accordingly). Returns
 * WHARF_NOT_FOUND for an unknown id and WHARF_CONFLICT (16) when the job
 * already finished (its state is still written to state). */
int wharf_cancel(wharf_client *c, const char *id, char *state, wharf_error *err);

/* A periodic schedule: fires `type` every `every_s` seconds or on a 5-field
 * cron expression (UTC). Each firing is a job with the deterministic id
 * "<name>-<fire time in unix s>", so two schedulers never enqueue one
 * firing twice. */
typedef struct wharf_schedule {
    const char *name;         /* [A-Za-z0-9_-]{1,40} */
    const char *type;
    const char *target;       /* NULL for none */
    const char *args_json;    /* NULL: {} */
    int every_s;              /* > 0, or 0 when cron is given */
    const char *cron;         /* 5 fields, e.g. "0 3 * * 1", or NULL */
    int max_attempts, timeout_s; /* 0: defaults */
} wharf_schedule;

/* Create or replace a schedule. WH bad_args/bad_envelope errors name the
 * field. */
int wharf_schedule_add(wharf_client *c, const wharf_schedule *s, wharf_error *err);

/* Remove a schedule; WHARF_NOT_FOUND when there is none of that name. */
int wharf_schedule_rm(wharf_client *c, const char *name, wharf_error *err);

/* Every schedule as a JSON array of objects {name, type, target, args,
 * every_s | cron, next_at, last_at, last_id} (malloc'd; free() it). */
int wharf_schedule_list_json(wharf_client *c, char **json, wharf_error *err);

#define WHARF_NOT_FOUND 15
#define WHARF_CONFLICT 16
#define WHARF_TIMEOUT 7
/* No confirm within timeout_ms while RabbitMQ blocks publishers (a memory or
 * disk alarm). Like WHARF_TIMEOUT, the job's queued status was taken back,
 * but the message was sent: the broker may still take it when the alarm
 * clears, and the job then runs. Retry with the same id: both copies carry
 * that id, so the job keeps one status (a copy arriving after it finished is
 * dropped). */
#define WHARF_BROKER_BLOCKED 34

#ifdef __cplusplus
}
#endif

#endif
