/* wh_time: clocks and sleeps. See wh_time.h. */
#include "wh_time.h"

#include <errno.h>
#include <time.h>

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wh_now_ms(void) { return clock_us(CLOCK_REALTIME) / 1000; }
int64_t wh_mono_ms(void) { return clock_us(CLOCK_MONOTONIC) / 1000; }
int64_t wh_mono_us(void) { return clock_us(CLOCK_MONOTONIC); }

void wh_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while(nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
