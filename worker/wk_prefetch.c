/* wk_prefetch: the consume channel's prefetch. See wk_prefetch.h. */
#include "wk_prefetch.h"

#include "wk_exec.h"

void wk_prefetch_init(wk_prefetch *p, const wh_cfg *c)
{
    p->fixed = !c->prefetch_auto;
    p->base = p->now = c->prefetch;
    p->budget = (long long)c->prefetch * c->max_body;
    p->next_ms = 0;
    p->runs = p->run_us = p->bytes = 0;
}

/* What short jobs with bodies of `avg_len` bytes may have in hand. */
static int high(const wk_prefetch *p, long long avg_len)
{
    long long n = p->budget / (avg_len > 1024 ? avg_len : 1024);
    if(n > WK_PREFETCH_HIGH_MAX)
        n = WK_PREFETCH_HIGH_MAX;
    return n > p->base ? (int)n : p->base;
}

int wk_prefetch_due(wk_prefetch *p, int64_t now_ms, long long runs, long long run_us, long long bytes)
{
    if(p->fixed || now_ms < p->next_ms)
        return 0;
    p->next_ms = now_ms + WK_PREFETCH_EVERY_MS;
    long long n = runs - p->runs;
    if(n < WK_PREFETCH_MIN_RUNS)
        return 0; /* too few to judge (or idle): keep what we have */
    long long avg_us = (run_us - p->run_us) / n, avg_len = (bytes - p->bytes) / n;
    p->runs = runs;
    p->run_us = run_us;
    p->bytes = bytes;
    int want = avg_us < WK_SHORT_US ? high(p, avg_len) : p->base;
    if(want == p->now)
        return 0;
    p->now = want;
    return want;
}
