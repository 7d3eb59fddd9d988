/* provision: internals shared by the provision family's run functions
 * (handlers.c binds them to the catalogue's types). Not a public API; the
 * family's args, checks and pure helpers are the catalogue's
 * (provision_args.h). */
#ifndef PV_H
#define PV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers.h"
#include "provision_args.h"
#include "wh_ssh.h"
#include "wk_job.h"

/* The args tables cap stdin at the SSH adapter's limit. */
_Static_assert(PV_STDIN_MAX == WH_SSH_STDIN_MAX, "provision stdin cap differs from the SSH adapter's");

#define PV_TAIL_LINES 3     /* last output lines kept for a command_failed message */
#define PV_TAIL_BYTES 72    /* bytes kept of each */

/* The worker's SSH session pool, created on first use and shared by every
 * job thread of the process (the family API has no init hook yet). */
wh_ssh_pool *pv_pool(void);

/* Last lines of a command's output (stderr and stdout, interleaved). */
typedef struct pv_tail {
    char line[PV_TAIL_LINES][PV_TAIL_BYTES + 1];
    int next, count;
} pv_tail;

/* Write the tail as "a | b | c" into out. */
void pv_tail_text(const pv_tail *t, char *out, size_t cap);

/* Keep `len` bytes of `line` (cut to PV_TAIL_BYTES) as the newest line;
 * empty lines are not kept. */
void pv_tail_push(pv_tail *t, const char *line, size_t len);

typedef struct pv_cmd {
    const char *command;        /* remote line, from wh_shq_build */
    const void *stdin_data;
    size_t stdin_len;
    int64_t timeout_ms;         /* 0: only the job's own limit */
    bool log;                   /* stream output lines into the job log */
    bool rollback;              /* cleanup after a cancel or timeout: stop only for
                                 * shutdown, ignore the job's deadline */
} pv_cmd;

/* Run `cmd` on the job's host through the pool. On WH_OK *exit_code is
 * the remote status (the caller decides whether non-zero fails) and
 * `tail` (if not NULL) the last lines. A session found dead when a channel
 * is opened is replaced once (the command had not started). Errors: see
 * wh_ssh_exec; WH_E_INTERRUPTED means wk_job_interrupted() became true. */
wh_code pv_exec(wk_job *job, const pv_cmd *cmd, int *exit_code, pv_tail *tail, wh_err *err);

/* A pooled session to the job's host (put it back with pv_conn_put). */
wh_code pv_conn_get(wk_job *job, wh_ssh_conn **out, wh_err *err);
void pv_conn_put(wh_ssh_conn *c);

/* The abort callback for wh_ssh: wk_job_interrupted(ud). */
bool pv_abort(void *ud);


/* Check `path` against the job host's roots (WH_E_BAD_ARGS naming `field`). */
wh_code pv_path_allowed(wk_job *job, const char *path, const char *field, wh_err *err);

/* True when the job should stop what it is doing: in rollback mode only for
 * worker shutdown, else wk_job_interrupted(). */
bool pv_stop(wk_job *job, bool rollback);

/* A recipe: steps (array of step maps, validated by pv_run_check's rules),
 * an optional rollback list and vars; `field` names the steps in messages
 * ("args.steps"). */
typedef struct pv_recipe {
    const wh_mp_obj *steps, *rollback, *vars;
    const char *field;
    int rerun;      /* a step that a resumed run does again even when it was
                     * completed before (its effect depends on this attempt:
                     * a fresh random password); -1 none */
} pv_recipe;

/* Run a recipe for `job` with resume and rollback (see recipe.c). Returns
 * the handler's verdict; *ended is false when the job will run again
 * (shutdown or a retried transient failure: nothing was rolled back). */
wk_run pv_recipe_run(wk_job *job, const pv_recipe *rp, bool *ended);

/* The port map (port_map.c). Reserve `hostname` -> `json` for this job
 * (WH_E_CONFLICT naming the field when the hostname, or `http_port` on
 * this host, belongs to another job; WH_OK again for the same job). */
wh_code pv_portmap_reserve(wk_job *job, const char *hostname, const char *json, int http_port, wh_err *err);
/* Set the entry's state, or delete it when `state` is "". Only this job's
 * entry unless `any_owner`; never another host's. *found (if not NULL):
 * 1 done, 0 no entry, -1 not ours. */
wh_code pv_portmap_update(wk_job *job, const char *hostname, bool any_owner, const char *state, int *found,
                          wh_err *err);
/* True when `hostname` has an entry. */
bool pv_portmap_taken(wk_job *job, const char *hostname);

/* provision.validate, provision.container, provision.destroy (container.c,
 * container_check.c). pv_ct_admit is provision.container's admission in
 * the worker, in place of the catalogue's pv_ct_check: it accepts every
 * args map, because the run checks them all at once before it reserves
 * anything (the args table, the checks without I/O with the key read by
 * libssh, and those with I/O), and an admission that refused a first
 * problem would hide the rest (docs/families/provision.md, step 1). */
wh_code pv_ct_admit(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run pv_validate_run(wk_job *job);
wk_run pv_ct_run(wk_job *job);
wk_run pv_destroy_run(wk_job *job);

/* provision.container's recipe (container_plan.c). */
typedef struct pv_blob {
    char name[64];              /* a hook's file name */
    unsigned char *data;
    size_t len;
} pv_blob;

typedef struct pv_plan_in {
    const wh_mp_obj *args;      /* validated provision.container args */
    const char *password;       /* root's new password, or NULL to lock it */
    const pv_blob *hooks;       /* read from the hook directory, in args order */
    int nhooks;
    const pv_blob *repo;        /* a tar of the app, or NULL */
} pv_plan_in;

/* The recipe for `in` as a parsed msgpack array of steps (free the doc,
 * then *packer, which holds its bytes). *rerun is the index of the step a
 * resumed job runs again (the random password), or -1. */
wh_mp_doc *pv_ct_plan(wk_job *job, const pv_plan_in *in, wh_mp_pack **packer, int *rerun, wh_err *err);

/* The driver values of provision.container args `a` (name and template
 * copied into the buffers). */
void pv_ct_vals(wk_job *job, const wh_mp_obj *a, pv_drv_vals *v, char *name, size_t ncap, char *tmpl, size_t tcap);

/* The container's name on its host: the hostname (lxc, docker) or the VMID (pct). */
void pv_ct_name(const wh_mp_obj *a, char *out, size_t cap);

/* The checks with I/O (container_check.c; those without are the
 * catalogue's pv_ct_check_static): port map, hooks, repo, target and
 * template. */
void pv_ct_check_live(wk_job *job, const wh_mp_obj *a, wh_json *problems);
/* Read hook `name` from [provision] hook_dir (a regular file of at most
 * 256 KiB, not a symlink) into *out; bad_args naming `field` (the element
 * of args.hooks, "args.hooks[1]") when the worker has no hook directory or
 * no such hook. */
wh_code pv_hook_read(wk_job *job, const char *name, const char *field, pv_blob *out, wh_err *err);
/* Run one lxc/pct driver action over SSH (drivers.c; 2 min limit). */
wh_code pv_ct_drv_run(wk_job *job, const pv_driver *d, pv_action act, const pv_drv_vals *v, int *exit_code,
                      wh_err *err);

/* An upload's owner (owner.c; its shape is the catalogue's pv_owner_ok).
 * Resolve it on the job's host: numbers as given, names with id -u /
 * getent group there; -1 for a part not given. An unknown name is bad_args
 * naming `field`. */
wh_code pv_owner_resolve(wk_job *job, const char *s, size_t n, const char *field, long *uid, long *gid, wh_err *err);

/* The app's repository (git_fetch.c): `git clone --single-branch --no-checkout` of `url` on the
 * worker, then `git archive HEAD` as a tar into *tar (malloc'd, at most
 * PV_GIT_MAX bytes). No credentials, no prompts; http, https and file only.
 * Errors: bad_args naming args.repo (clone failed, too large), interrupted. */
#define PV_GIT_MAX (1u << 20)
wh_code pv_git_archive(wk_job *job, const char *url, unsigned char **tar, size_t *len, wh_err *err);

/* One step of a recipe being run. */
typedef struct pv_step_ctx {
    wk_job *job;
    const wh_mp_obj *vars;
    char field[48];     /* "args.steps[3]": names the step in messages */
    bool rollback;      /* running a rollback step */
} pv_step_ctx;

#define PV_ROLLBACK_S 120 /* default limit of one rollback step, in seconds */

/* Run a (validated) step by its kind (steps.c's table). */
wh_code pv_step_run(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err);
/* True when steps.c has a function for step kind `kind`. */
bool pv_step_bound(const char *kind);

/* The SSH step kinds (ssh_steps.c): exec and check, upload, wait_port and
 * wait_http, lxc. A non-zero exit is command_failed naming rc->field. */
wh_code pv_step_exec(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err);
wh_code pv_step_upload(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err);
wh_code pv_step_wait(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err);
wh_code pv_step_lxc(pv_step_ctx *rc, const wh_mp_obj *st, wh_err *err);

/* The recipe job: provision.run (handlers.c). */
wk_run pv_run(wk_job *job);

/* The `docker` recipe step (docker_step.c): run it on the job's target
 * engine. A non-zero exit of exec is command_failed. */
wh_code pv_dstep_run(wk_job *job, const wh_mp_obj *st, const wh_mp_obj *vars, const char *fp, bool rollback,
                     int64_t default_timeout_s, wh_err *err);

#endif
