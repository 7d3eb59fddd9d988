/* docker_driver: the `docker` driver of provision.container and the `docker`
 * recipe step: a long-lived container on the target's Docker Engine,
 * through the runtime family's Engine client (engine.h), so the target
 * needs a `docker` endpoint in the inventory and no SSH.
 *
 * The driver actions (drivers.h) map to Engine calls:
 *   PV_CLONE    POST /containers/create from the image `image`, named
 *               `name`, labelled wharf.provision=<name>, restart policy
 *               unless-stopped, command a sleep loop (the container lives
 *               until destroyed; services are started with exec)
 *   PV_TAG      nothing (the labels are set at create)
 *   PV_START    POST /containers/<name>/start (already running is fine)
 *   PV_WAIT     GET /containers/<name>/json until State.Running (30 s)
 *   PV_EXEC     exec `argv` inside, output streamed into the job log line by
 *               line; stdin data (the Engine API has no stdin without a
 *               hijacked connection) is written first as a 0600 file under
 *               /tmp of the container with PUT /archive, opened as the
 *               command's stdin and removed before the command starts
 *   PV_STOP     POST /containers/<name>/stop?t=5
 *   PV_DESTROY  DELETE /containers/<name>?force=true&v=true (absent is fine)
 *   PV_EXISTS   GET /containers/<name>/json, or /images/<image>/json
 * Names are checked by the callers: container names are RFC 1123 labels or
 * Docker names, images [A-Za-z0-9_.:/@-]; both are escaped in the path. */
#ifndef PV_DOCK_H
#define PV_DOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provision.h"
#include "drivers.h"

typedef struct pv_dock_op {
    pv_action act;
    const char *name;            /* the container */
    const char *image;           /* PV_CLONE; PV_EXISTS of an image when name is NULL */
    const char *const *argv;     /* PV_EXEC */
    int argc;
    const void *stdin_data;      /* PV_EXEC, may be NULL */
    size_t stdin_len;            /* <= WH_SSH_STDIN_MAX */
    int64_t timeout_ms;          /* PV_EXEC: 0 for the job's own limit */
    bool rollback;               /* stop only for shutdown (see pv_cmd) */
} pv_dock_op;

/* Run one action on the job's target engine. On WH_OK *exit_code is the
 * command's status for PV_EXEC, 0/1 (exists / not) for PV_EXISTS and 0
 * otherwise; `tail` (may be NULL) gets the last output lines of an exec.
 * Errors: unreachable (transient), interrupted, conflict (create: the name
 * is taken), not_found (no such container or image), engine_error, timeout
 * (PV_WAIT, or an exec past timeout_ms). */
wh_code pv_dock_run(wk_job *job, const pv_dock_op *op, int *exit_code, pv_tail *tail, wh_err *err);

/* Docker image references as accepted here: 1..255 of [A-Za-z0-9_.:/@-],
 * not starting with '-', '/' or '.', without "..". */
bool pv_dock_image_ok(const char *s, size_t n);

/* Write one file (`len` bytes, `mode`, owned by root) at `dir`/`base`
 * inside the container with PUT /archive; `dir` must exist. */
wh_code pv_dock_put(wk_job *job, const char *name, const char *dir, const char *base, const void *data, size_t len,
                    int mode, bool rollback, wh_err *err);

#endif
