/* wh_utf8: UTF-8 checks and cuts. See wh_utf8.h. */
#include "wh_utf8.h"

#include <stdint.h>

bool wh_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while(i < n) {
        unsigned char c = p[i];
        if(c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return false;
        if(n - i < (size_t)len)
            return false;
        for(int k = 1; k < len; k++) {
            if((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if(cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += (size_t)len;
    }
    return true;
}

/* Bytes of the UTF-8 character that starts with lead byte c; 0 when c
 * cannot start one (ASCII counts as 1). */
static size_t utf8_len(unsigned char c)
{
    if(c < 0x80)
        return 1;
    if((c & 0xe0) == 0xc0)
        return 2;
    if((c & 0xf0) == 0xe0)
        return 3;
    if((c & 0xf8) == 0xf0)
        return 4;
    return 0;
}

size_t wh_utf8_cut(const char *s, size_t n, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k = n < max ? n : max;
    /* Back over at most three continuation bytes to the lead byte; if the
     * character it starts needs more bytes than are left, drop it. */
    size_t j = k;
    while(j > 0 && k - j < 3 && (p[j - 1] & 0xc0) == 0x80)
        j--;
    if(j == 0)
        return k;
    size_t len = utf8_len(p[j - 1]);
    return len > 1 && k - (j - 1) < len ? j - 1 : k;
}
