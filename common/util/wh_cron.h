/* wh_cron: five-field cron expressions, evaluated in UTC.
 *
 *   minute hour day-of-month month day-of-week
 *
 * Each field is `*`, a number, a range `a-b`, a step `*\/n` or `a-b/n`, or a
 * comma list of those; months and weekdays also take three-letter English
 * names (jan, mon); weekday 0 and 7 are Sunday. When both day fields are
 * restricted a day matches either one (the classic cron rule). The macros
 * @yearly, @monthly, @weekly, @daily and @hourly are accepted. */
#ifndef WH_CRON_H
#define WH_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "wh_err.h"

typedef struct wh_cron {
    uint64_t minute;  /* bit per minute 0..59 */
    uint32_t hour;    /* bit per hour 0..23 */
    uint32_t mday;    /* bit per day 1..31 */
    uint16_t month;   /* bit per month 1..12 */
    uint8_t wday;     /* bit per weekday 0..6 (Sunday 0) */
    bool mday_any, wday_any;
} wh_cron;

/* Parse `expr`. WH_E_BAD_ARGS names the field ("cron.minute", ...). */
wh_code wh_cron_parse(const char *expr, wh_cron *c, wh_err *err);

/* The first matching minute strictly after `after_s` (unix seconds), as
 * unix seconds; -1 when none comes within about five years (e.g. Feb 30). */
int64_t wh_cron_next(const wh_cron *c, int64_t after_s);

#endif
