/* link_header: the pagination link of a registry listing (RFC 8288 Link header)
 * and resolving it against the request URL.
 *
 *   Link: </v2/_catalog?last=b&n=2>; rel="next"
 *   Link: <https://quay.io/v2/x/tags/list?next_page=abc>; rel="next", <...>; rel="prev"
 *
 * A next link is followed only on the same scheme, host and port as the
 * request: credentials are never sent to a host the inventory did not
 * name. */
#ifndef RG_LINK_H
#define RG_LINK_H

#include <stdbool.h>
#include <stddef.h>

#define RG_LINK_HEADER_MAX 8192 /* bytes of a Link header parsed */

/* The target of the first link with rel "next" (rel may list several
 * space-separated relations) into out. Returns false when there is none,
 * or it does not fit in cap bytes. */
bool rg_link_next(const char *hdr, size_t n, char *out, size_t cap);

/* Resolve `ref` (an absolute path "/v2/..." or an absolute URL) against
 * `base` (an absolute http(s) URL) into out. Returns false when ref is
 * relative without a leading '/', holds spaces or control bytes, names
 * another scheme/host/port than base, or the result does not fit. */
bool rg_link_resolve(const char *base, const char *ref, char *out, size_t cap);

#endif
