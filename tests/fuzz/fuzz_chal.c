/* fuzz_chal: the WWW-Authenticate parser (rg_chal_parse).
 *
 * Properties beyond "no crash, no UB": the count is within [0, max], every
 * parsed field is NUL-terminated inside its buffer, and a Bearer challenge
 * found by rg_chal_find is one of the parsed ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_challenge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_terminated(const char *s, size_t cap)
{
    if(!memchr(s, '\0', cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rg_chal c[RG_CHAL_MAX];
    int n = rg_chal_parse((const char *)data, size, c, RG_CHAL_MAX);
    if(n < 0 || n > RG_CHAL_MAX)
        abort();
    for(int i = 0; i < n; i++) {
        check_terminated(c[i].realm, sizeof(c[i].realm));
        check_terminated(c[i].service, sizeof(c[i].service));
        check_terminated(c[i].scope, sizeof(c[i].scope));
        check_terminated(c[i].error, sizeof(c[i].error));
    }
    const rg_chal *b = rg_chal_find(c, n, RG_SCHEME_BEARER);
    if(b && (b < c || b >= c + n || b->scheme != RG_SCHEME_BEARER))
        abort();
    /* a short max never writes past it */
    rg_chal one[2];
    memset(one, 0x5a, sizeof(one));
    int m = rg_chal_parse((const char *)data, size, one, 1);
    if(m < 0 || m > 1 || ((unsigned char *)&one[1])[0] != 0x5a)
        abort();
    return 0;
}
