/* update_container: registry.update_container {name, tag?, dry_run?, health_timeout_s?}
 * on a target host: move a container to a new image (the same tag's new
 * digest, or `tag`) keeping its configuration, with rollback.
 *
 *   1. inspect the container and its current image;
 *   2. plan: the new reference (same repository, `tag` or the current tag);
 *      its host must be served by an inventory registry (else
 *      unknown_host) and every bind source must lie in the host's roots
 *      (else conflict); dry_run stops here and returns the plan;
 *   3. pull it with the inventory's credentials (rt_pull_image);
 *   4. create "<name>-wharf-new" from the old Config (image defaults of the
 *      OLD image - Env entries, Labels, Cmd, Entrypoint equal to the old
 *      image's - are dropped so the new image's apply; the default hostname
 *      is dropped), the old HostConfig (binds, ports, restart policy,
 *      resources, network mode) and its primary network's endpoint
 *      (aliases, IPAM), then connect its other networks;
 *   5. stop the old one, rename it "<name>-wharf-old", rename the new one to
 *      <name>, start it, and wait for it: healthy when it has a health
 *      check, else still running (not restarting) after a settle time;
 *   6. success: remove the old container. Failure: remove the new one,
 *      rename the old one back and start it if it was running; the job
 *      fails `rolled_back` (permanent), naming the reason.
 * The lock key is "ctr:<name>", shared with the runtime family; args and
 * lock are the catalogue's (common/catalog/registry.c). */
#ifndef RG_CUPD_H
#define RG_CUPD_H

#include "wk_job.h"

#define RG_CUPD_SETTLE_MS 3000 /* a container without health check must run this long */

wk_run rg_cupd_run(wk_job *job);

#endif
