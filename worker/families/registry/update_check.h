/* update_check: registry.update_check {containers?} on an inventory host: which
 * containers run an image that has a newer digest for the same tag, or a
 * newer version tag.
 *
 * For each container (all of them, or the named ones) on the job's target
 * engine (the runtime family's rt_engine client):
 *   1. its configured image reference (Config.Image) is parsed; an image
 *      given by id is "unsupported", a host no inventory registry serves is
 *      "no_registry";
 *   2. the registry's digest for the tag (HEAD) is compared with the local
 *      image's RepoDigests for that repository: differing is kind "digest";
 *   3. when the tag (after the container's transform) is a version, the
 *      repository's tags are filtered by the container's labels
 *        wharf.update.include / wharf.update.exclude / wharf.update.transform
 *      (the watcher-style wud.tag.include / wud.tag.exclude /
 *      wud.tag.transform are read too) and the highest version above the
 *      current one (prereleases only when the current tag is one) is
 *      kind "tag", with semver_diff major/minor/patch/prerelease.
 * Results go to the job result and to Redis, replacing the host's entry:
 *   <prefix>updates:<host>  hash  container name -> JSON object
 *     {container, image, status, kind, digest_changed, current_tag,
 *      current_digests, registry_digest, candidate_tag, candidate_digest,
 *      semver_diff, error, error_message, checked_at (ms)}
 * Registry answers are memoised for the job (rg_memo): containers on the
 * same image cost one HEAD and one tag listing; the result's
 * registry_lookups {digests, tag_lists} counts what reached registries.
 * A container's permanent registry error (auth_failed, not_found) is kept
 * in its entry; a transient one (rate_limited, unreachable) fails the job
 * so it is retried. */
#ifndef RG_UPD_H
#define RG_UPD_H

#include "wk_job.h"

#define RG_UPD_MAX_CONTAINERS 500 /* containers checked by one job */

wk_run rg_upd_run(wk_job *job);

#endif
