/* pv: internals shared by the provision family's modules (fam_provision.c,
 * pv_*.c). Not a public API. */
#ifndef PV_H
#define PV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_ssh.h"
#include "wk_job.h"

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

/* Turn a failed wh_code into the handler's return: WK_RUN_INTERRUPTED for
 * WH_E_INTERRUPTED, a transient failure for WH_E_UNREACHABLE, else a
 * permanent one with err's message. */
wk_run pv_fail(wk_job *job, wh_code rc, const wh_err *err);


/* Absolute, no empty, "." or ".." components, no trailing slash. */
bool pv_path_clean(const char *s, size_t n);

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
} pv_recipe;

/* Run a recipe for `job` with resume and rollback (see pv_run.c). Returns
 * the handler's verdict; *ended is false when the job will run again
 * (shutdown or a retried transient failure: nothing was rolled back). */
wk_run pv_recipe_run(wk_job *job, const pv_recipe *rp, bool *ended);

/* The port map (pv_portmap.c). Reserve `hostname` -> `json` for this job
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

/* provision.validate, provision.container, provision.destroy (pv_ct.c). */
#define PV_CT_NARGS 10
#define PV_DESTROY_NARGS 3
extern const wh_arg_spec pv_ct_args[PV_CT_NARGS];
extern const wh_arg_spec pv_destroy_args[PV_DESTROY_NARGS];
wh_code pv_ct_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run pv_validate_run(wk_job *job);
wk_run pv_ct_run(wk_job *job);
wh_code pv_destroy_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run pv_destroy_run(wk_job *job);

/* The recipe job: provision.run (pv_run.c). */
wh_code pv_run_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wk_run pv_run(wk_job *job);
#define PV_RUN_NARGS 3
extern const wh_arg_spec pv_run_args[PV_RUN_NARGS];

#define PV_TPL_MAX (1 << 20) /* bytes of one rendered template */

/* Render {{name}} references in `n` bytes of `s` from `vars` (a map of
 * strings). A reference to a var that is absent or not a string is
 * WH_E_BAD_ARGS naming `field`; "{{" not followed by a valid name and "}}"
 * is kept as is. On WH_OK *out is malloc'd and NUL-terminated. */
wh_code pv_tpl_render(const char *s, size_t n, const wh_mp_obj *vars, char **out, size_t *outn, const char *field,
                      wh_err *err);

/* Build the remote line for a command map {argv | script, env?, cwd?}
 * (see pv_cmd.c), rendering templates from `vars` (may be NULL: then any
 * reference is an error) when `render`. `fp` names the map in messages
 * ("args" or "args.steps[2]"). *line is malloc'd. */
wh_code pv_cmd_build(const wh_mp_obj *m, bool render, const wh_mp_obj *vars, const char *fp, char **line,
                     wh_err *err);

#endif
