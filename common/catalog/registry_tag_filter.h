/* registry_tag_filter: tag filters for registry.tags and update checks.
 *
 *   include    POSIX extended regex a tag must match (unanchored unless the
 *              pattern anchors itself), or none
 *   exclude    regex a tag must not match, or none
 *   transform  "REGEX => TEMPLATE": when REGEX matches, the tag's version
 *              text is TEMPLATE with $0..$9 replaced by the groups ("$$" is
 *              a '$'); a tag it does not match is used as is. Example:
 *              "^([0-9]+)-ls.* => $1" maps "12-ls33" to "12".
 *
 * Patterns are POSIX ERE (regcomp REG_EXTENDED) with \d and \D accepted as
 * [0-9] and [^0-9]; back-references are refused, so matching stays linear
 * in practice. Each pattern is at most RG_TAGF_PATTERN_MAX bytes. */
#ifndef RG_TAGF_H
#define RG_TAGF_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"

#define RG_TAGF_PATTERN_MAX 256
#define RG_TAGF_OUT_MAX 256 /* bytes of a transformed tag */

typedef struct rg_tagf rg_tagf;

/* Compile the filters (each may be NULL or "" for none). On failure
 * returns WH_E_BAD_ARGS naming args.include, args.exclude or args.transform
 * and the regcomp reason; *out is untouched. Free with rg_tagf_free. */
wh_code rg_tagf_new(const char *include, const char *exclude, const char *transform, rg_tagf **out,
                    wh_err *err);
void rg_tagf_free(rg_tagf *f);

/* True when `tag` passes include and exclude. */
bool rg_tagf_keep(const rg_tagf *f, const char *tag);

/* The tag's transformed text into out (cap bytes). Returns false when the
 * result does not fit (out is then ""), true otherwise. */
bool rg_tagf_transform(const rg_tagf *f, const char *tag, char *out, size_t cap);

#endif
