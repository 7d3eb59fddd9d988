/* manifest: manifest media types and platform selection from an index.
 *
 * A tag resolves to an image manifest (Docker v2 schema 2 or OCI) or to an
 * index of them (Docker manifest list or OCI index) whose `manifests`
 * entries carry a `platform` {os, architecture, variant}. Schema 1 manifests
 * are not requested. Platforms are written "os/arch[/variant]"; arm64
 * without a variant means v8, arm without one v7, and "x86_64"/"aarch64"
 * are read as amd64/arm64 (the normalisation containerd applies); platforms
 * are the catalogue's (registry_args.h). */
#ifndef RG_MANI_H
#define RG_MANI_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"
#include "registry_args.h"
#include "wh_json.h"

#define RG_MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define RG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define RG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define RG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
/* The Accept header every manifest request sends. */
#define RG_MANI_ACCEPT RG_MT_OCI_INDEX ", " RG_MT_DOCKER_LIST ", " RG_MT_OCI_MANIFEST ", " RG_MT_DOCKER_V2

#define RG_MANI_BODY_MAX (4u << 20) /* bytes of manifest body accepted */

typedef enum rg_mani_kind {
    RG_MANI_UNKNOWN = 0,
    RG_MANI_DOCKER_V2,
    RG_MANI_DOCKER_LIST,
    RG_MANI_OCI_MANIFEST,
    RG_MANI_OCI_INDEX
} rg_mani_kind;

/* Kind from a Content-Type (parameters and case ignored). */
rg_mani_kind rg_mani_kind_of(const char *content_type, size_t n);

/* True for the two index kinds. */
bool rg_mani_is_index(rg_mani_kind k);

/* Short stable names for results: "docker_v2", "docker_list",
 * "oci_manifest", "oci_index", "unknown". */
const char *rg_mani_kind_name(rg_mani_kind k);

/* Pick the entry for `want` from an index body (JSON). On success writes
 * the entry's digest (at most cap bytes) and returns WH_OK. When no entry
 * matches: WH_E_NOT_FOUND with the available platforms in the message.
 * A body that is not an index: WH_E_REGISTRY. If `platforms` is not NULL
 * it receives a new JSON array of the index's platform strings (on any
 * outcome where the body parsed; NULL otherwise), which the caller frees. */
wh_code rg_mani_select(const char *body, size_t n, const rg_platform *want, char *digest, size_t cap,
                       wh_json **platforms, wh_err *err);

#endif
