/* runtime: what the runtime family's handler files share (handlers.c and
 * the rt_*.c files). Internal to the worker. */
#ifndef RT_FAM_H
#define RT_FAM_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "wk_job.h"

#define RT_NAME_MAX 128 /* container, volume, network names */

/* ---- shared.c ---- */

/* Docker object names and ids: [A-Za-z0-9][A-Za-z0-9_.-]{0,127}. */
bool rt_name_ok(const char *s, size_t n);

/* Image references: name[:tag][@digest], registry host and path included
 * (1..255 bytes of [A-Za-z0-9_.-/:@], not starting with - / or :). */
bool rt_ref_ok(const char *s, size_t n);

/* Copy a msgpack str of at most cap-1 bytes into out; false otherwise. */
bool rt_mp_cstr(const wh_mp_obj *o, char *out, size_t cap);

/* Open the job's target engine, polling the job for interruption. */
wh_code rt_open(wk_job *job, rt_conn *c, wh_err *err);

/* rt_open, then one rt_call on it (the common shape of a one-call verb). */
wh_code rt_open_call(wk_job *job, rt_conn *c, const char *method, const char *path, const wh_json *body,
                     const char *what, wh_json **out, wh_err *err);

/* rt_open, then one rt_request on it (for verbs that act on the status). */
wh_code rt_open_request(wk_job *job, rt_conn *c, const char *method, const char *path, const wh_json *body,
                        long *status, wh_json **out, wh_err *err);

/* End a job on object `name`: with rc set, as wk_job_fail_err; else succeed with
 * the result {"name": name}. */
wk_run rt_done_name(wk_job *job, wh_code rc, const wh_err *err, const char *name);

/* The args' `name` escaped for a URL path, into out[cap]. */
void rt_arg_name(wk_job *job, const char *key, char *out, size_t cap);

/* ---- one_call_verbs.c: one Engine call per job (the type name picks the verb) ---- */
wk_run rt_host_ping_run(wk_job *job);
wk_run rt_host_info_run(wk_job *job);
/* container.start/stop/restart/pause/unpause/kill/remove: 304 on start or
 * stop is conflict ("is already running" / "is not running"), 409 on
 * remove is busy. */
wk_run rt_verb_run(wk_job *job);
/* container.inspect, image.inspect, volume.inspect: the engine's document. */
wk_run rt_inspect_run(wk_job *job);
wk_run rt_rename_run(wk_job *job);
wk_run rt_update_run(wk_job *job);

/* Build the /containers/create body from validated args. With h == NULL
 * only the shapes are checked (admission); with the host, binds must lie
 * in its roots, exist (local unix engines) and not repeat (conflict). */
wh_code rt_create_body(const wh_mp_obj *args, const wh_inv_host *h, wh_json **body, wh_err *err);

/* POST /containers/create (path with its ?name=) as rt_call does, except
 * that the engine's refusal of a bind whose source does not exist on the
 * host (400) becomes bad_args naming the directory. */
wh_code rt_create_call(rt_conn *c, const char *path, const wh_json *body, const char *what, wh_json **out,
                       wh_err *err);

#define RT_CREATE_NARGS 21
extern const wh_arg_spec rt_create_args[RT_CREATE_NARGS];
wh_code rt_create_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run rt_create_run(wk_job *job);
wk_run rt_run_run(wk_job *job);

#define RT_LOGS_NARGS 5
extern const wh_arg_spec rt_logs_args[RT_LOGS_NARGS];
wk_run rt_logs_run(wk_job *job);

#define RT_EXEC_NARGS 5
extern const wh_arg_spec rt_exec_args[RT_EXEC_NARGS];
wh_code rt_exec_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run rt_exec_run(wk_job *job);

#define RT_PRUNE_NARGS 1
extern const wh_arg_spec rt_prune_args[RT_PRUNE_NARGS];
wk_run rt_prune_run(wk_job *job);

#define RT_PULL_NARGS 1
extern const wh_arg_spec rt_pull_args[RT_PULL_NARGS];
wh_code rt_pull_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run rt_pull_run(wk_job *job);
/* Pull image[0..n) with the inventory's credentials for its registry;
 * the digest (may be empty) into digest[dcap] when not NULL. */
wh_code rt_pull_image(wk_job *job, rt_conn *c, const char *image, size_t n, char *digest, size_t dcap, wh_err *err);

/* container.run's health check (health_check.c): args.health's shape, and the
 * startup phase; on success `result` gets healthy_at (ms), health_probes and
 * health_wait_ms; WH_E_FAILED with err->custom "unhealthy" when it never
 * became healthy. */
wh_code rt_health_check_shape(const wh_mp_obj *h, wh_err *err);
wh_code rt_health_wait(wk_job *job, rt_conn *c, const char *id, const wh_mp_obj *h, wh_json *result, wh_err *err);

/* volume.backup / volume.restore (volume_backup.c) */
#define RT_BACKUP_NARGS 4
extern const wh_arg_spec rt_backup_args[RT_BACKUP_NARGS];
wk_run rt_backup_run(wk_job *job);
wk_run rt_restore_run(wk_job *job);

/* stack.deploy / stack.remove (stack.c) */
#define RT_STACK_NARGS 4
#define RT_UNSTACK_NARGS 2
extern const wh_arg_spec rt_stack_args[RT_STACK_NARGS];
extern const wh_arg_spec rt_unstack_args[RT_UNSTACK_NARGS];
wh_code rt_stack_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run rt_stack_deploy_run(wk_job *job);
/* The same with stack args other than the job's (template.deploy). */
wk_run rt_stack_deploy_args(wk_job *job, const wh_mp_obj *args);
wk_run rt_stack_remove_run(wk_job *job);

/* template.deploy (template.c) */
#define RT_TMPL_NARGS 4
extern const wh_arg_spec rt_tmpl_args[RT_TMPL_NARGS];
wh_code rt_tmpl_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
/* The template.deploy args `a` as stack.deploy args (a new JSON object the
 * caller frees), before the stack's own checks. WH_E_BAD_ARGS naming the
 * template field that cannot be translated. */
wh_code rt_tmpl_translate(const wh_mp_obj *a, wh_json **out, wh_err *err);
wk_run rt_tmpl_run(wk_job *job);

/* Lists, images, volumes, networks (images_volumes_networks.c). rt_pick copies `keys`
 * (NULL-terminated) of `from` into a new object, skipping missing ones. */
wh_json *rt_pick(const wh_json *from, const char *const *keys);
wk_run rt_list_run(wk_job *job);
wk_run rt_image_remove_run(wk_job *job);
wk_run rt_volume_create_run(wk_job *job);
wk_run rt_remove_named_run(wk_job *job);
wk_run rt_network_create_run(wk_job *job);
wk_run rt_network_connect_run(wk_job *job);

/* host.sync (host_sync.c) */
wk_run rt_sync_run(wk_job *job);

/* host.stats (host_stats.c) */
wk_run rt_stats_run(wk_job *job);
/* CPU % of one container by the Docker CLI's formula, from the engine's
 * `cpu_stats` and the previous sample's cpu_usage.total_usage (pt) and
 * system_cpu_usage (ps): delta total / delta system x online CPUs x 100,
 * online CPUs being online_cpus, else the length of percpu_usage (cgroup
 * v1 engines before API 1.27). False (no value) when the system delta is
 * not positive, the counters went back, or the CPU count is unknown. */
bool rt_stats_cpu(const wh_json *cpu_stats, int64_t pt, int64_t ps, double *pct);
/* Memory use without the page cache, from `memory_stats`, as the CLI
 * shows it: usage - total_inactive_file (cgroup v1), else - inactive_file
 * (v2), else - cache (old engines); never below zero; usage alone when the
 * engine gives none of them. */
int64_t rt_stats_mem(const wh_json *memory_stats);

#endif
