/* wh_time: clocks and sleeps, in milliseconds. */
#ifndef WH_TIME_H
#define WH_TIME_H

#include <stdbool.h>
#include <stdint.h>

/* Wall-clock time, ms since the Unix epoch (for timestamps users read). */
int64_t wh_now_ms(void);

/* Monotonic time, ms (for deadlines and durations). */
int64_t wh_mono_ms(void);

/* Monotonic time, microseconds (for job durations in stats). */
int64_t wh_mono_us(void);

/* Sleep `ms` milliseconds, resuming after signals. */
void wh_sleep_ms(int64_t ms);

/* Parse a duration: an integer with an optional unit, ms, s, m, h or d
 * (no unit: seconds), e.g. "250ms", "60s", "5m". False on anything else or
 * on overflow. */
bool wh_duration_ms(const char *s, int64_t *out);

#endif
