/* wh_cron: cron expression parsing and next-fire computation. See wh_cron.h. */
#include "wh_cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i, or NULL */
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field_def fields[5] = {
    {"cron.minute", 0, 59, NULL},
    {"cron.hour", 0, 23, NULL},
    {"cron.day_of_month", 1, 31, NULL},
    {"cron.month", 1, 12, month_names},
    {"cron.day_of_week", 0, 7, wday_names},
};

/* A number or a name of field f at *p; advances *p. */
static bool value(const field_def *f, const char **p, int *out)
{
    if(isdigit((unsigned char)**p)) {
        char *end;
        long v = strtol(*p, &end, 10);
        if(end - *p > 2 || v < f->lo || v > f->hi)
            return false;
        *out = (int)v;
        *p = end;
        return true;
    }
    for(int i = 0; f->names && f->names[i]; i++)
        if(strncasecmp(*p, f->names[i], 3) == 0 && !isalpha((unsigned char)(*p)[3])) {
            *out = f->lo + i;
            *p += 3;
            return true;
        }
    return false;
}

/* Parse one field's text (n bytes) into a bit set. */
static bool parse_field(const field_def *f, const char *s, size_t n, uint64_t *bits, bool *any)
{
    char buf[128];
    if(n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *bits = 0;
    *any = strcmp(buf, "*") == 0;
    const char *p = buf;
    for(;;) {
        int lo, hi, step = 1;
        bool range = true;
        if(*p == '*') {
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            if(!value(f, &p, &lo))
                return false;
            hi = lo;
            range = *p == '-';
            if(range) {
                p++;
                if(!value(f, &p, &hi) || hi < lo)
                    return false;
            }
        }
        if(*p == '/') {
            char *end;
            p++;
            if(!isdigit((unsigned char)*p))
                return false;
            long v = strtol(p, &end, 10);
            if(v < 1 || v > f->hi)
                return false;
            step = (int)v;
            p = end;
            if(!range)
                hi = f->hi; /* "5/15" means 5-max/15 */
        }
        for(int v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
        if(*p == '\0')
            return true;
        if(*p++ != ',')
            return false;
    }
}

static const struct {
    const char *macro, *expr;
} macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
              {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
              {"@hourly", "0 * * * *"}};

wh_code wh_cron_parse(const char *expr, wh_cron *c, wh_err *err)
{
    memset(c, 0, sizeof(*c));
    for(size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
        if(strcasecmp(expr, macros[i].macro) == 0)
            expr = macros[i].expr;
    const char *p = expr;
    uint64_t bits[5];
    bool any[5];
    for(int f = 0; f < 5; f++) {
        while(*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, " \t");
        if(n == 0)
            return wh_err_set(err, WH_E_BAD_ARGS, "cron", "cron: expected 5 fields (minute hour day month weekday)");
        if(!parse_field(&fields[f], p, n, &bits[f], &any[f]))
            return wh_err_set(err, WH_E_BAD_ARGS, fields[f].name, "%s: \"%.*s\" is not a valid field (%d..%d)",
                              fields[f].name, (int)(n > 32 ? 32 : n), p, fields[f].lo, fields[f].hi);
        p += n;
    }
    while(*p == ' ' || *p == '\t')
        p++;
    if(*p)
        return wh_err_set(err, WH_E_BAD_ARGS, "cron", "cron: more than 5 fields");
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->mday = (uint32_t)bits[2];
    c->month = (uint16_t)bits[3];
    c->wday = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    c->mday_any = any[2];
    c->wday_any = any[4];
    return WH_OK;
}

static bool day_matches(const wh_cron *c, const struct tm *tm)
{
    bool md = c->mday & (1u << tm->tm_mday), wd = c->wday & (1u << tm->tm_wday);
    if(c->mday_any || c->wday_any)
        return md && wd;
    return md || wd;
}

int64_t wh_cron_next(const wh_cron *c, int64_t after_s)
{
    time_t t = (time_t)(after_s - after_s % 60 + 60); /* next whole minute */
    time_t limit = t + (time_t)5 * 366 * 86400;
    struct tm tm;
    while(t < limit) {
        gmtime_r(&t, &tm);
        if(!(c->month & (1u << (tm.tm_mon + 1)))) { /* jump to the next month's first day */
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if(!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if(!(c->hour & (1u << tm.tm_hour))) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if(!(c->minute & (1ULL << tm.tm_min))) {
            t += 60;
            continue;
        }
        return (int64_t)t;
    }
    return -1;
}
