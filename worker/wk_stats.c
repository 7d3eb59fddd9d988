/* wk_stats: stats aggregation. See wk_stats.h. */
#include "wk_stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wh_env.h"
#include "wh_time.h"

typedef struct slot {
    char type[WH_TYPE_MAX + 1]; /* "" when free */
    int64_t minute_s;           /* bucket start, unix seconds */
    wh_stats_counts c;
} slot;

struct wk_stats {
    pthread_mutex_t mu;
    slot slots[WK_STATS_SLOTS];
};

wk_stats *wk_stats_new(void)
{
    wk_stats *s = calloc(1, sizeof(*s));
    if(s)
        pthread_mutex_init(&s->mu, NULL);
    return s;
}

void wk_stats_free(wk_stats *s)
{
    if(!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* The slot for (type, minute), taking a free one or, when full, the oldest.
 * Call with the lock held. */
static slot *slot_for(wk_stats *s, const char *type, int64_t minute_s)
{
    slot *free_slot = NULL, *oldest = &s->slots[0];
    for(int i = 0; i < WK_STATS_SLOTS; i++) {
        slot *x = &s->slots[i];
        if(!x->type[0]) {
            if(!free_slot)
                free_slot = x;
            continue;
        }
        if(x->minute_s == minute_s && strcmp(x->type, type) == 0)
            return x;
        if(x->minute_s < oldest->minute_s)
            oldest = x;
    }
    slot *x = free_slot ? free_slot : oldest;
    memset(x, 0, sizeof(*x));
    snprintf(x->type, sizeof(x->type), "%s", type);
    x->minute_s = minute_s;
    return x;
}

static void merge(wh_stats_counts *into, const wh_stats_counts *c)
{
    into->ok += c->ok;
    into->failed += c->failed;
    into->retried += c->retried;
    into->dead += c->dead;
    into->cancelled += c->cancelled;
    into->dur_us_sum += c->dur_us_sum;
    if(c->dur_us_max > into->dur_us_max)
        into->dur_us_max = c->dur_us_max;
    for(int i = 0; i < WH_STATS_HIST; i++)
        into->hist[i] += c->hist[i];
}

void wk_stats_add(wk_stats *s, const char *type, int64_t run_us)
{
    if(run_us < 0)
        return;
    wh_stats_counts c;
    memset(&c, 0, sizeof(c));
    c.dur_us_sum = c.dur_us_max = run_us;
    c.hist[wh_status_hist_index(run_us)] = 1;
    int64_t now = wh_now_ms() / 1000;
    pthread_mutex_lock(&s->mu);
    merge(&slot_for(s, type, now - now % 60)->c, &c);
    pthread_mutex_unlock(&s->mu);
}

wh_code wk_stats_flush(wk_stats *s, wh_redis *r, const char *prefix, wh_err *err)
{
    static slot taken[WK_STATS_SLOTS]; /* only the flushing thread uses it */
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for(int i = 0; i < WK_STATS_SLOTS; i++)
        if(s->slots[i].type[0]) {
            taken[n++] = s->slots[i];
            s->slots[i].type[0] = '\0';
        }
    pthread_mutex_unlock(&s->mu);
    wh_code first = WH_OK;
    for(int i = 0; i < n; i++) {
        wh_code rc = first ? first : wh_status_stats_add(r, prefix, taken[i].type, taken[i].minute_s, &taken[i].c, err);
        if(!rc)
            continue;
        first = rc;
        pthread_mutex_lock(&s->mu); /* keep it for the next flush */
        merge(&slot_for(s, taken[i].type, taken[i].minute_s)->c, &taken[i].c);
        pthread_mutex_unlock(&s->mu);
    }
    return first;
}
