/* wh_text: byte-string checks. See wh_text.h. */
#include "wh_text.h"

#include <stdint.h>
#include <string.h>

bool wh_text_only(const char *s, size_t n, const char *allowed)
{
    for(size_t i = 0; i < n; i++)
        if(!s[i] || !strchr(allowed, s[i]))
            return false;
    return true;
}

bool wh_text_ident(const char *s, size_t n, size_t max)
{
    return n >= 1 && n <= max && s[0] && strchr(WH_CS_LOWER, s[0]) &&
           wh_text_only(s + 1, n - 1, WH_CS_LOWER WH_CS_DIGIT "_");
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

wh_code wh_text_base64_check(const char *s, size_t n, size_t *pad, const char *field, wh_err *err)
{
    if(n % 4)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: base64 length must be a multiple of 4", field);
    size_t np = 0;
    for(size_t i = 0; i < n; i++) {
        bool tail = i >= n - 2 && s[i] == '=' && (i == n - 1 || s[n - 1] == '=');
        if(tail)
            np++;
        else if(!b64_char(s[i]))
            return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: not base64 at byte %zu", field, i);
    }
    if(n > (size_t)0x7fffffff)
        return wh_err_set(err, WH_E_TOO_LARGE, field, "%s: too long", field);
    if(pad)
        *pad = np;
    return WH_OK;
}

wh_code wh_text_pubkey_split(const char *text, size_t n, const char *field, size_t *type_len, const char **b64,
                             size_t *b64_len, wh_err *err)
{
    if(n > WH_TEXT_PUBKEY_MAX || memchr(text, '\n', n) || memchr(text, '\0', n))
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: must be one public key line", field);
    if(n >= 10 && memcmp(text, "-----BEGIN", 10) == 0)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: this is a PRIVATE key; give the public key", field);
    const char *sp = memchr(text, ' ', n);
    if(!sp)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: expected \"type base64 [comment]\"", field);
    size_t tn = (size_t)(sp - text);
    if(tn == 0 || tn >= 64)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: bad key type", field);
    const char *b = sp + 1, *end = text + n;
    const char *bend = memchr(b, ' ', (size_t)(end - b));
    *type_len = tn;
    *b64 = b;
    *b64_len = (size_t)((bend ? bend : end) - b);
    return WH_OK;
}

size_t wh_text_i64(char *out, int64_t v)
{
    char tmp[WH_TEXT_I64_MAX];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while(u);
    if(v < 0)
        out[len++] = '-';
    while(n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}
