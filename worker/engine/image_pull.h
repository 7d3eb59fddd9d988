/* image_pull: pull an image through a Docker Engine with the credentials
 * of the worker's inventory.
 *
 * Credentials come only from the inventory: the [registry.NAME] entry
 * serving the image's host (wh_inv_registry_serving), never from the job,
 * and the engine is never told to dial a registry the inventory does not
 * name. They travel to the engine in the X-Registry-Auth header (base64url
 * of {"username", "password", "serveraddress"}, or "registrytoken" for
 * token entries); the buffers that held them are wiped, and no message,
 * log line or result ever contains them. */
#ifndef RT_IMAGE_PULL_H
#define RT_IMAGE_PULL_H

#include <stddef.h>

#include "engine.h"

/* Receives one line for the job log (the pull announcing itself). */
typedef void rt_say_fn(void *ud, const char *line);

/* Pull image[0..n) (a reference, wh_ref grammar) through `c` with the
 * credentials of the entry of `inv` serving its host; an entry without
 * credentials allows an anonymous pull. `say` (may be NULL) gets the
 * announcing line with `ud`. On WH_OK the digest the engine reported (may
 * be empty) is copied into digest[dcap] when digest is not NULL. Errors
 * name args.image: bad_args (not a reference), unknown_host (no inventory
 * registry serves the host), auth_failed, not_found, engine_error, and the
 * transport's (unreachable, interrupted). */
wh_code rt_pull_image(rt_conn *c, const wh_inv *inv, const char *image, size_t n, rt_say_fn *say, void *ud,
                      char *digest, size_t dcap, wh_err *err);

#endif
