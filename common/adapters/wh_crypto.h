/* wh_crypto: the libcrypto (OpenSSL) adapter. No other file includes
 * <openssl/...>. SHA-256 digests (one shot and streaming, as lowercase hex)
 * and strict base64 decoding. */
#ifndef WH_CRYPTO_H
#define WH_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"

#define WH_SHA256_HEX 65 /* 64 hex digits and a NUL */

typedef struct wh_sha256 wh_sha256;

/* A streaming SHA-256; NULL on ENOMEM. Free with wh_sha256_free (NULL ok). */
wh_sha256 *wh_sha256_new(void);
void wh_sha256_free(wh_sha256 *h);
void wh_sha256_update(wh_sha256 *h, const void *p, size_t n);
/* Write the digest of everything fed so far as hex into `hex`. The hasher
 * must not be updated afterwards. */
void wh_sha256_hex_final(wh_sha256 *h, char hex[WH_SHA256_HEX]);

/* One shot: hex digest of `n` bytes. */
void wh_sha256_hex(const void *p, size_t n, char hex[WH_SHA256_HEX]);

/* Decode standard base64 (with padding, no whitespace) of `n` chars. On
 * WH_OK *out is malloc'd (caller frees) and *outlen its length. Anything
 * else is WH_E_BAD_ARGS naming `field`. */
wh_code wh_base64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen, const char *field,
                         wh_err *err);

/* Encode `n` bytes as standard base64 with padding. Returns a malloc'd
 * NUL-terminated string (caller frees), NULL on ENOMEM or n > 1 GiB. */
char *wh_base64_encode(const void *p, size_t n);

#endif
