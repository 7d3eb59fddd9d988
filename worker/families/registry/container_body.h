/* container_body: what registry.update_container recreates a container from,
 * computed from the engine's inspection of the container
 * (GET /containers/{id}/json) and of its old image. Pure functions over
 * wh_json: no I/O, nothing kept.
 *
 * The create body is the container's Config minus what came from the OLD
 * image (Env entries, Labels, Cmd and Entrypoint equal to the old image's,
 * so the new image's apply) and minus the generated hostname (the short
 * id), with Image replaced, the whole HostConfig, and the endpoint of its
 * primary network (aliases without the old short id, static IPAM config).
 * Other networks are joined after create (engine API < 1.44 takes one
 * endpoint at create). */
#ifndef RG_CBODY_H
#define RG_CBODY_H

#include <stdbool.h>

#include "wh_json.h"

/* o[k] as a string, "" when o is NULL or o[k] is missing or not a string. */
const char *rg_cbody_str(const wh_json *o, const char *k);

/* The /containers/create body for `ctr` on `image`; the caller frees it. */
wh_json *rg_cbody_create(const wh_json *ctr, const wh_json *oldimg, const char *image);

/* ctr's NetworkSettings.Networks object, or NULL. */
const wh_json *rg_cbody_networks(const wh_json *ctr);

/* True when network `net` is joined after create: not the primary network
 * and not none/host, and ctr's network mode is not none, host or
 * container:<id>. */
bool rg_cbody_joins_later(const wh_json *ctr, const char *net);

/* The EndpointConfig to recreate endpoint `e` of ctr; the caller frees it. */
wh_json *rg_cbody_endpoint(const wh_json *ctr, const wh_json *e);

/* Push to array `out` the host paths ctr binds: HostConfig.Binds entries
 * "src:dst[:opts]" with an absolute src, and HostConfig.Mounts of Type
 * "bind". */
void rg_cbody_binds(const wh_json *ctr, wh_json *out);

#endif
