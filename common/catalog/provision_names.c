/* provision_names: paths, owners, image references, hostnames and hook
 * names as the provision family's args tables and checks take them
 * (provision_args.h). */
#include <string.h>

#include "provision_args.h"
#include "wh_text.h"

/* Absolute, without empty, "." or ".." components, no trailing slash. */
bool pv_path_clean(const char *s, size_t n)
{
    if(n < 2 || s[0] != '/' || s[n - 1] == '/' || memchr(s, '\0', n))
        return false;
    for(size_t i = 0; i < n;) {
        size_t j = i + 1;
        while(j < n && s[j] != '/')
            j++;
        size_t len = j - i - 1;
        if(len == 0 || (len == 1 && s[i + 1] == '.') || (len == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
            return false;
        i = j;
    }
    return true;
}

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

static bool part_ok(const char *s, size_t n)
{
    if(n == 0 || n > 32)
        return false;
    if(wh_text_only(s, n, "0123456789"))
        return true;
    return s[0] != '-' && s[0] != '.' && !(s[0] >= '0' && s[0] <= '9') && wh_text_only(s, n, NAME_CHARS);
}

bool pv_owner_ok(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if(!colon)
        return part_ok(s, n);
    size_t un = (size_t)(colon - s);
    return part_ok(s, un) && part_ok(colon + 1, n - un - 1);
}

bool pv_dock_image_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 255 && s[0] != '-' && s[0] != '/' && s[0] != '.' && !memmem(s, n, "..", 2) &&
           wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/@-");
}

/* RFC 1123 label, lowercase: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
bool pv_label_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 63 && wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyz0123456789-") && s[0] != '-' &&
           s[n - 1] != '-';
}

bool pv_hook_name_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 63 && s[0] != '.' && s[0] != '-' &&
           wh_text_only(s, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") &&
           !memmem(s, n, "..", 2);
}
