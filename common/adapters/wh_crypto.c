/* wh_crypto: SHA-256 and base64 through OpenSSL's libcrypto. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wh_crypto.h"
#include "wh_text.h"

struct wh_sha256 {
    EVP_MD_CTX *ctx;
};

wh_sha256 *wh_sha256_new(void)
{
    wh_sha256 *h = calloc(1, sizeof(*h));
    if(!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if(!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        wh_sha256_free(h);
        return NULL;
    }
    return h;
}

void wh_sha256_free(wh_sha256 *h)
{
    if(!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void wh_sha256_update(wh_sha256 *h, const void *p, size_t n)
{
    if(n)
        EVP_DigestUpdate(h->ctx, p, n);
}

static void to_hex(const unsigned char *md, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for(unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
}

void wh_sha256_hex_final(wh_sha256 *h, char hex[WH_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    to_hex(md, n > 32 ? 32 : n, hex);
}

void wh_sha256_hex(const void *p, size_t n, char hex[WH_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn = 0;
    EVP_Digest(p, n, md, &mdn, EVP_sha256(), NULL);
    to_hex(md, mdn > 32 ? 32 : mdn, hex);
}

wh_code wh_base64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen, const char *field,
                         wh_err *err)
{
    size_t pad = 0;
    wh_code rc = wh_text_base64_check(s, n, &pad, field, err);
    if(rc)
        return rc;
    unsigned char *buf = malloc(n / 4 * 3 + 1);
    if(!buf)
        return wh_err_set(err, WH_E_NOMEM, field, "out of memory");
    int got = n ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n) : 0;
    if(got < 0) {
        free(buf);
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: not base64", field);
    }
    *out = buf;
    *outlen = (size_t)got - pad; /* EVP_DecodeBlock counts padding as zero bytes */
    return WH_OK;
}

char *wh_base64_encode(const void *p, size_t n)
{
    if(n > (1u << 30))
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if(!out)
        return NULL;
    int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    out[len < 0 ? 0 : len] = '\0';
    return out;
}
