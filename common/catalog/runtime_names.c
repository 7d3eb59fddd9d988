/* runtime_names: Docker object names, image references and msgpack strings
 * as the runtime family's args tables and checks take them (runtime_args.h). */
#include <string.h>

#include "runtime_args.h"
#include "wh_env.h"

/* The same alphabet as an envelope target: [A-Za-z0-9][A-Za-z0-9._-]*. */
bool rt_name_ok(const char *s, size_t n)
{
    return n <= RT_NAME_MAX && wh_env_target_valid(s, n);
}

bool rt_ref_ok(const char *s, size_t n)
{
    if(n < 1 || n > 255 || s[0] == '-' || s[0] == '/' || s[0] == ':')
        return false;
    for(size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if(!alnum && !strchr("_.-/:@", c))
            return false;
    }
    return true;
}

bool rt_mp_cstr(const wh_mp_obj *o, char *out, size_t cap)
{
    const char *p;
    size_t n;
    if(!o || !wh_mp_str(o, &p, &n) || n >= cap || memchr(p, '\0', n))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}
