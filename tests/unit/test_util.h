/* Helpers shared by the unit tests: file reading, reading Lua lines. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Read a whole file into a malloc'd buffer; NULL if it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if(!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
    if(buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if(buf) {
        buf[n > 0 ? n : 0] = '\0';
        *len = n > 0 ? (size_t)n : 0;
    }
    return buf;
}

/* Where the code of the Lua line [line, eol) ends: at its `--` comment
 * (outside a string) or at eol. Lua's quoted strings do not span lines;
 * the scripts quote with single quotes only. */
static inline const char *test_lua_code_end(const char *line, const char *eol)
{
    bool quoted = false;
    for(const char *p = line; p < eol; p++) {
        if(*p == '\'')
            quoted = !quoted;
        else if(!quoted && p[0] == '-' && p + 1 < eol && p[1] == '-')
            return p;
    }
    return eol;
}

#endif
