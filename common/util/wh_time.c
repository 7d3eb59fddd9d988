/* wh_time: clocks and sleeps. See wh_time.h. */
#include "wh_time.h"

#include <string.h>

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

bool wh_duration_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if(!s || *s < '0' || *s > '9')
        return false;
    int64_t v = 0;
    for(; *s >= '0' && *s <= '9'; s++) {
        if(v > INT64_MAX / 10 / 86400000)
            return false;
        v = v * 10 + (*s - '0');
    }
    for(size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if(strcmp(s, units[i].unit) == 0) {
            *out = v * units[i].ms;
            return true;
        }
    return false;
}

void wh_cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

struct timespec wh_mono_deadline(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t ns = t.tv_nsec + (ms % 1000) * 1000000;
    t.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}
