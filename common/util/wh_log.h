/* wh_log: line-oriented logs on stderr, as logfmt or JSON lines.
 *
 * One line per event: ts, level, msg, then key=value fields. Lines about a job
 * carry job=<id>. Writes are atomic per line (one write(2) of a buffer capped at
 * WH_LOG_LINE_MAX bytes), so threads never interleave within a line.
 * Never pass secrets to these functions. */
#ifndef WH_LOG_H
#define WH_LOG_H

#include <stdbool.h>

#define WH_LOG_LINE_MAX 4096 /* bytes in one emitted line, longer is cut */

typedef enum wh_log_level {
    WH_LOG_DEBUG = 0,
    WH_LOG_INFO = 1,
    WH_LOG_WARN = 2,
    WH_LOG_ERROR = 3
} wh_log_level;

/* Set the process-wide format and threshold. Call once at start, before any
 * thread logs. `json` selects JSON lines instead of logfmt. */
void wh_log_setup(bool json, wh_log_level min_level, const char *component);

/* Parse "debug"/"info"/"warn"/"error"; returns -1 if unknown. */
int wh_log_level_parse(const char *s);

/* Log `msg` with optional fields given as key, value string pairs. `job`
 * may be NULL. The macro ends the list itself, so call sites cannot forget
 * the terminator:
 *   wh_log(WH_LOG_INFO, id, "job finished", "state", "succeeded"); */
#define wh_log(level, job, ...) wh_log_fields(level, job, __VA_ARGS__, (const char *)0)

/* What wh_log expands to: the field list ends with a (const char *)0. */
void wh_log_fields(wh_log_level level, const char *job, const char *msg, ...) __attribute__((sentinel));

/* printf-style message without extra fields. */
void wh_logf(wh_log_level level, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
