/* wh_ref: container image references, parsed per the distribution
 * reference grammar and normalised the way the Docker CLI does.
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path        (at most 255 bytes)
 *   domain    := host [ ":" port ]          host: DNS name, IPv4 or [IPv6]
 *   path      := component ( "/" component )*
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest    := algorithm ":" hex          sha256: 64, sha512: 128 lowercase hex
 *
 * The first path element is a domain only when it contains "." or ":" or
 * is "localhost" (or holds an uppercase letter, which a path never may);
 * otherwise the domain is "docker.io", and a one-element path gets
 * "library/". "index.docker.io" is normalised to "docker.io". A reference
 * with neither tag nor digest gets tag "latest". */
#ifndef WH_REF_H
#define WH_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"

#define WH_REF_MAX 512         /* bytes of a whole reference accepted */
#define WH_REF_NAME_MAX 255    /* domain + "/" + path, per the grammar */
#define WH_REF_TAG_MAX 128
#define WH_REF_DIGEST_MAX 160  /* "sha512:" + 128 hex, with room */
#define WH_REF_DOCKERHUB "docker.io"

typedef struct wh_ref {
    char host[WH_REF_NAME_MAX + 1];   /* "docker.io", "ghcr.io", "127.0.0.1:5000" */
    char path[WH_REF_NAME_MAX + 1];   /* "library/nginx" */
    char tag[WH_REF_TAG_MAX + 1];     /* "latest" when neither tag nor digest was given */
    char digest[WH_REF_DIGEST_MAX + 1]; /* "" or "sha256:<hex>" */
    bool tag_given;                   /* the text named a tag */
} wh_ref;

/* Parse s[0..n) into *out. On failure returns WH_E_BAD_ARGS naming `field`
 * (e.g. "args.image") and what is wrong; *out is then unspecified. */
wh_code wh_ref_parse(const char *s, size_t n, wh_ref *out, const char *field, wh_err *err);

/* True when s[0..n) is a valid tag. */
bool wh_ref_tag_valid(const char *s, size_t n);

/* True when s[0..n) is a valid digest (algorithm:hex, with the exact
 * lengths for sha256 and sha512). */
bool wh_ref_digest_valid(const char *s, size_t n);

/* True when the host is the public default registry (docker.io). */
bool wh_ref_is_dockerhub(const char *host);

/* The canonical text "host/path[:tag][@digest]" into out (cap bytes,
 * truncated and NUL-terminated). Returns the length it needed. */
size_t wh_ref_format(const wh_ref *r, char *out, size_t cap);

#endif
