/* wh_time: clocks and sleeps, in milliseconds. */
#ifndef WH_TIME_H
#define WH_TIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock time, ms since the Unix epoch (for timestamps users read). */
int64_t wh_now_ms(void);

/* Monotonic time, ms (for deadlines and durations). */
int64_t wh_mono_ms(void);

/* Monotonic time, microseconds (for job durations in stats). */
int64_t wh_mono_us(void);

/* Sleep `ms` milliseconds, resuming after signals. */
void wh_sleep_ms(int64_t ms);

/* Initialise a condition variable whose timed waits use the monotonic clock
 * (so a wall-clock jump cannot stretch or cut a wait). */
void wh_cond_init_mono(pthread_cond_t *c);

/* The monotonic instant `ms` from now, for pthread_cond_timedwait on a
 * condition made by wh_cond_init_mono. */
struct timespec wh_mono_deadline(int64_t ms);

/* Parse a duration: an integer with an optional unit, ms, s, m, h or d
 * (no unit: seconds), e.g. "250ms", "60s", "5m". False on anything else or
 * on overflow. */
bool wh_duration_ms(const char *s, int64_t *out);

#endif
