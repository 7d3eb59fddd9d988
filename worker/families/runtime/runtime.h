/* runtime: what the runtime family's run functions share (handlers.c binds
 * them to the catalogue's types). Internal to the worker; the family's args,
 * checks and pure helpers are the catalogue's (runtime_args.h). */
#ifndef RT_FAM_H
#define RT_FAM_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "runtime_args.h"
#include "wk_job.h"

/* ---- shared.c ---- */

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

/* An rt_say_fn (image_pull.h) writing to the job log; ud is the job. */
void rt_say(void *ud, const char *line);

/* The args' `name` escaped for a URL path, into out[cap]. */
void rt_arg_name(wk_job *job, const char *key, char *out, size_t cap);

/* Note in <p>host:<h>:reach whether the job's engine answered (rc WH_OK)
 * or not (the code and message of err, never NULL): checked_at (ms), ok (1 or 0), and
 * ok_at, or error, error_message and error_at; with `stats`, a sweep's
 * stats_at (ms) too. host.sync and host.stats call it, so `wharf serve`
 * (GET /v1/hosts) can tell a host's reachability without an engine client
 * of its own. Best effort: a Redis failure here is only logged. */
void rt_reach_note(wk_job *job, bool stats, wh_code rc, const wh_err *err);

/* Image references in `img` (an image's list entry or inspect document:
 * RepoTags, RepoDigests) as Docker shows them, when `c` is Podman:
 * "docker.io/library/busybox:1" -> "busybox:1", "docker.io/a/b" -> "a/b".
 * Others are left alone (Podman's "localhost/x" stays: Docker would name
 * a registry called localhost so too). */
void rt_image_familiar(const rt_conn *c, wh_json *img);

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

/* Build the /containers/create body from validated args
 * (rt_create_body_build), then, with the host, check that binds lie in its
 * roots, exist (local unix engines) and do not repeat (conflict). */
wh_code rt_create_body(const wh_mp_obj *args, const wh_inv_host *h, wh_json **body, wh_err *err);

/* POST /containers/create (path with its ?name=) as rt_call does, except
 * that the engine's refusal of a bind whose source does not exist on the
 * host (400) becomes bad_args naming the directory. */
wh_code rt_create_call(rt_conn *c, const char *path, const wh_json *body, const char *what, wh_json **out,
                       wh_err *err);

wk_run rt_create_run(wk_job *job);
wk_run rt_run_run(wk_job *job);

wk_run rt_logs_run(wk_job *job);

wk_run rt_exec_run(wk_job *job);

wk_run rt_prune_run(wk_job *job);

wk_run rt_pull_run(wk_job *job);

/* container.run's health check (health_check.c; its shape is the
 * catalogue's rt_health_check_shape): the startup phase; on success `result`
 * gets healthy_at (ms), health_probes and health_wait_ms; WH_E_FAILED with
 * err->custom "unhealthy" when it never became healthy. */
wh_code rt_health_wait(wk_job *job, rt_conn *c, const char *id, const wh_mp_obj *h, wh_json *result, wh_err *err);

/* volume.backup / volume.restore (volume_backup.c) */
wk_run rt_backup_run(wk_job *job);
wk_run rt_restore_run(wk_job *job);

/* stack.deploy / stack.remove (stack.c) */
wk_run rt_stack_deploy_run(wk_job *job);
/* The same with stack args other than the job's (template.deploy). */
wk_run rt_stack_deploy_args(wk_job *job, const wh_mp_obj *args);
wk_run rt_stack_remove_run(wk_job *job);

/* template.deploy (stack.c): the catalogue's translation as a stack */
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
