/* fuzz_ref: the image reference parser (wh_ref_parse).
 *
 * Properties beyond "no crash, no UB": a failure is bad_args naming the
 * field; a parsed reference formats to a canonical text that parses back
 * to the same reference, and formatting that again is a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wh_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wh_ref r;
    wh_err err = {0};
    if(wh_ref_parse((const char *)data, size, &r, "args.image", &err) != WH_OK) {
        if(err.code != WH_E_BAD_ARGS || strcmp(err.field, "args.image") != 0 || err.msg[0] == '\0')
            abort();
        return 0;
    }
    if(r.tag[0] && !wh_ref_tag_valid(r.tag, strlen(r.tag)))
        abort();
    if(r.digest[0] && !wh_ref_digest_valid(r.digest, strlen(r.digest)))
        abort();
    char text[WH_REF_MAX * 2];
    size_t n = wh_ref_format(&r, text, sizeof(text));
    if(n >= sizeof(text))
        abort();
    wh_ref again;
    if(wh_ref_parse(text, n, &again, "args.image", &err) != WH_OK)
        abort();
    if(strcmp(r.host, again.host) || strcmp(r.path, again.path) || strcmp(r.tag, again.tag) ||
       strcmp(r.digest, again.digest))
        abort();
    char text2[sizeof(text)];
    size_t n2 = wh_ref_format(&again, text2, sizeof(text2));
    if(n2 != n || memcmp(text, text2, n) != 0)
        abort();
    return 0;
}
