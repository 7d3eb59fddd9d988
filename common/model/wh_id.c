/* wh_id: job ids and randomness. See wh_id.h. */
#include "wh_id.h"

#include <string.h>
#include <sys/random.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void fill_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while(n) {
        ssize_t got = getrandom(p, n, 0);
        if(got <= 0)
            continue; /* EINTR; getrandom never fails once the pool is ready */
        p += got;
        n -= (size_t)got;
    }
}

uint64_t wh_random_u64(void)
{
    uint64_t v;
    fill_random(&v, sizeof(v));
    return v;
}

void wh_id_new(char *out)
{
    unsigned char raw[WH_ID_GEN_LEN];
    fill_random(raw, sizeof(raw));
    /* The first character is a letter or digit (62 of them), so an id never
     * looks like a command-line option. */
    out[0] = alphabet[raw[0] % 62];
    for(int i = 1; i < WH_ID_GEN_LEN; i++)
        out[i] = alphabet[raw[i] & 63];
    out[WH_ID_GEN_LEN] = '\0';
}

bool wh_id_valid(const char *s, size_t n)
{
    if(n < 1 || n > WH_ID_MAX)
        return false;
    for(size_t i = 0; i < n; i++)
        if(!memchr(alphabet, s[i], sizeof(alphabet) - 1))
            return false;
    return true;
}
