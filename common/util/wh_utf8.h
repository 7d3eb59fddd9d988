/* wh_utf8: UTF-8 checks and cuts on byte strings. It depends on nothing
 * else of wharf, so the error module can cut messages with it. */
#ifndef WH_UTF8_H
#define WH_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool wh_utf8_valid(const char *s, size_t n);

/* How many bytes of s[0..n) to keep within `max` bytes: the longest such
 * prefix that does not end inside a UTF-8 character. A character cut
 * short (by `max`, or already at the end of s) is dropped whole; bytes that
 * are not UTF-8 at all are kept as they are. */
size_t wh_utf8_cut(const char *s, size_t n, size_t max);

#endif
