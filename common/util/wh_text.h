/* wh_text: small byte-string checks shared by the validators. */
#ifndef WH_TEXT_H
#define WH_TEXT_H

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

/* True when every byte of s[0..n) is in the NUL-terminated set `allowed`. */
bool wh_text_only(const char *s, size_t n, const char *allowed);

/* Character sets for wh_text_only. */
#define WH_CS_LOWER "abcdefghijklmnopqrstuvwxyz"
#define WH_CS_DIGIT "0123456789"
#define WH_CS_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ" WH_CS_LOWER WH_CS_DIGIT

/* True when s[0..n) is a lowercase identifier: [a-z][a-z0-9_]{0,max-1}. */
bool wh_text_ident(const char *s, size_t n, size_t max);

#endif
