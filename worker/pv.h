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

/* Convert a validated args array of strings into wh_shq_str items (at most
 * `cap`); returns the count or -1 when an element is not a string. */
int pv_str_array(const wh_mp_obj *arr, void *items, int cap);

#endif
