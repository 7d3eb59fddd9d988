/* drivers: container drivers for provision.container and destroy, as tables
 * of argv templates run on the target over SSH (so every value stays one
 * quoted word). One table per driver, one row per action:
 *   lxc  Debian's lxc tools (lxc-copy, lxc-start, lxc-wait, lxc-attach,
 *        lxc-stop, lxc-destroy, lxc-info); `-P <lxc_path>` when the host sets one
 *   pct  Proxmox VE's pct (clone, set, start, status, exec, push, stop,
 *        destroy); the container is its numeric VMID. Untested against a
 *        real Proxmox: only its command lines are (unit.pv_drv).
 * Template tokens, each a whole argv element: {name} {template} {tags}
 * {description} {src} {dst}; "{-P}" becomes "-P", path (or nothing); "{--}"
 * ends driver options before an attached command, which follows as given.
 * The actions (pv_action) and the driver names are the catalogue's
 * (provision_args.h); pv_ct_drv_run (provision.h, in ssh_pool.c) runs a line over SSH. */
#ifndef PV_DRV_H
#define PV_DRV_H

#include <stddef.h>

#include "provision_args.h"

#define PV_DRV_ARGV_MAX 64

typedef struct pv_drv_vals {
    const char *lxc_path;     /* "" for the default */
    const char *name;         /* lxc: the name; pct: the VMID */
    const char *template_;    /* lxc: a container name; pct: a template VMID */
    const char *tags;         /* pct: "a;b" */
    const char *description;
    const char *const *cmd;   /* PV_EXEC: the command to run inside */
    int ncmd;
} pv_drv_vals;

typedef struct pv_drv_argv {
    const char *v[PV_DRV_ARGV_MAX];
    int n;
} pv_drv_line;

typedef struct pv_driver pv_driver;

/* The driver called `name` ("lxc", "pct"); NULL when unknown. */
const pv_driver *pv_drv_find(const char *name, size_t n);

/* Fill `out` with the argv of `action` (pointers borrow from `vals` and
 * static text). Returns 0, or -1 when the driver has nothing to run for
 * the action (out->n = 0) or the argv would exceed PV_DRV_ARGV_MAX. */
int pv_drv_argv(const pv_driver *d, pv_action action, const pv_drv_vals *vals, pv_drv_line *out);

#endif
