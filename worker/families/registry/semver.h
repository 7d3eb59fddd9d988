/* semver: version tags compared by semantic-version precedence.
 *
 * Accepted: an optional "v"/"V", then MAJOR[.MINOR[.PATCH]] (decimal, no
 * leading zeros except "0", each < 2^63), then optional "-prerelease"
 * (dot-separated [0-9A-Za-z-]+ identifiers, numeric ones without leading
 * zeros) and "+build" (ignored for precedence). Image tags often omit parts
 * ("1.25", "3"), so missing MINOR or PATCH count as 0 and `parts` records
 * how many were written. Precedence is SemVer 2.0.0 section 11. */
#ifndef RG_SEMVER_H
#define RG_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_SEMVER_PRE_MAX 128

typedef struct rg_semver {
    uint64_t major, minor, patch;
    int parts;                      /* 1..3 numeric parts written */
    char pre[RG_SEMVER_PRE_MAX + 1];/* prerelease without the '-', or "" */
} rg_semver;

/* Which part differs first between two versions. */
typedef enum rg_semver_diff {
    RG_DIFF_NONE = 0,
    RG_DIFF_MAJOR,
    RG_DIFF_MINOR,
    RG_DIFF_PATCH,
    RG_DIFF_PRERELEASE
} rg_semver_diff;

/* Parse s[0..n). Returns false (leaving *v unspecified) unless all of it
 * is a version as above. */
bool rg_semver_parse(const char *s, size_t n, rg_semver *v);

/* <0, 0 or >0 as a has lower, equal or higher precedence than b. */
int rg_semver_cmp(const rg_semver *a, const rg_semver *b);

/* The most significant part that differs from `from` to `to`. */
rg_semver_diff rg_semver_diff_of(const rg_semver *from, const rg_semver *to);

/* "major", "minor", "patch", "prerelease" or "none". */
const char *rg_semver_diff_name(rg_semver_diff d);

#endif
