/* wh_text: small byte-string checks shared by the validators. */
#ifndef WH_TEXT_H
#define WH_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"

/* True when every byte of s[0..n) is in the NUL-terminated set `allowed`. */
bool wh_text_only(const char *s, size_t n, const char *allowed);

/* Character sets for wh_text_only. */
#define WH_CS_LOWER "abcdefghijklmnopqrstuvwxyz"
#define WH_CS_DIGIT "0123456789"
#define WH_CS_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ" WH_CS_LOWER WH_CS_DIGIT

/* Write v in decimal into out (WH_TEXT_I64_MAX bytes at least), NUL
 * terminated; returns its length. What snprintf("%lld") writes, without
 * the cost of a format: the worker writes a dozen numbers per job. */
#define WH_TEXT_I64_MAX 21
size_t wh_text_i64(char *out, int64_t v);

/* True when s[0..n) is a lowercase identifier: [a-z][a-z0-9_]{0,max-1}. */
bool wh_text_ident(const char *s, size_t n, size_t max);

/* Check that s[0..n) is standard base64 as wh_base64_decode takes it: a
 * multiple of 4 chars of [A-Za-z0-9+/], padded with "=" or "==" at the end
 * only, no whitespace. *pad (if not NULL) gets the number of '='. Returns
 * WH_E_BAD_ARGS naming `field` (WH_E_TOO_LARGE past 2 GiB) otherwise. */
wh_code wh_text_base64_check(const char *s, size_t n, size_t *pad, const char *field, wh_err *err);

#define WH_TEXT_PUBKEY_MAX 16384 /* bytes of one public key line */

/* Split one OpenSSH public key line "type base64 [comment]": the type is
 * text[0..*type_len), the key data *b64[0..*b64_len) (up to the next blank).
 * Only the shape is checked (reading the key is wh_ssh_pubkey_check's):
 * WH_E_BAD_ARGS naming `field` when the text is not one line of at most
 * WH_TEXT_PUBKEY_MAX bytes, is a private key ("-----BEGIN"), or lacks a
 * type of 1..63 bytes and a blank after it. */
wh_code wh_text_pubkey_split(const char *text, size_t n, const char *field, size_t *type_len, const char **b64,
                             size_t *b64_len, wh_err *err);

#endif
