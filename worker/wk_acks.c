/* wk_acks: coalesced acknowledgements. See wk_acks.h. */
#include "wk_acks.h"

#include <stdlib.h>
#include <string.h>

enum { OPEN, WANT, DONE };

typedef struct ent {
    uint64_t tag;
    uint8_t st;
} ent;

struct wk_acks {
    ent *v;             /* tracked tags, increasing, live in v[h..n) */
    size_t h, n, cap;
    uint64_t *lone;     /* wanted tags not tracked: acked alone */
    size_t nlone, caplone;
    int nwant;          /* WANT entries in v */
    bool held;          /* a WANT entry may wait behind an open one... */
    int64_t held_since; /* ...since this time (mono ms) */
    bool untracked;     /* a tag could not be tracked: no multiple acks until reset */
    int batch;          /* a multiple ack waits for this many tags... */
    uint64_t due_upto;  /* ...the highest tag it will cover... */
    int due_n;          /* ...how many wanted tags it covers so far... */
    int64_t due_since;  /* ...and since when the first of them waits */
};

wk_acks *wk_acks_new(void)
{
    wk_acks *a = calloc(1, sizeof(wk_acks));
    if(a)
        a->batch = 1;
    return a;
}

void wk_acks_set_batch(wk_acks *a, int batch)
{
    a->batch = batch > 0 ? batch : 1;
}

void wk_acks_free(wk_acks *a)
{
    if(!a)
        return;
    free(a->v);
    free(a->lone);
    free(a);
}

void wk_acks_reset(wk_acks *a)
{
    a->h = a->n = 0;
    a->nlone = 0;
    a->nwant = 0;
    a->held = false;
    a->untracked = false;
    a->due_n = 0;
}

/* A full array: keep what still matters, open and wanted tags, in order
 * (behind a long job the settled ones would otherwise pile up without
 * bound); grow when that frees too little for compaction to stay rare. */
static bool make_room(wk_acks *a)
{
    size_t k = 0;
    for(size_t i = a->h; i < a->n; i++)
        if(a->v[i].st != DONE)
            a->v[k++] = a->v[i];
    a->h = 0;
    a->n = k;
    if(a->n < a->cap / 2 + a->cap / 4)
        return true;
    size_t cap = a->cap ? a->cap * 2 : 256;
    ent *v = realloc(a->v, cap * sizeof(*v));
    if(!v)
        return a->n < a->cap;
    a->v = v;
    a->cap = cap;
    return true;
}

bool wk_acks_open(wk_acks *a, uint64_t tag)
{
    if(a->n == a->cap && !make_room(a)) {
        a->untracked = true;
        return false;
    }
    a->v[a->n++] = (ent){tag, OPEN};
    return true;
}

static ent *find(wk_acks *a, uint64_t tag)
{
    size_t lo = a->h, hi = a->n;
    while(lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if(a->v[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->n && a->v[lo].tag == tag ? &a->v[lo] : NULL;
}

void wk_acks_want(wk_acks *a, uint64_t tag, int64_t now_ms)
{
    ent *e = find(a, tag);
    if(e && e->st == OPEN) {
        e->st = WANT;
        a->nwant++;
        if(!a->held) {
            a->held = true;
            a->held_since = now_ms;
        }
        return;
    }
    if(e) /* wanted twice: the first want stands */
        return;
    if(a->nlone == a->caplone) {
        size_t cap = a->caplone ? a->caplone * 2 : 16;
        uint64_t *l = realloc(a->lone, cap * sizeof(*l));
        if(!l)
            return; /* unacked: the broker redelivers it, and start skips it */
        a->lone = l;
        a->caplone = cap;
    }
    a->lone[a->nlone++] = tag;
}

void wk_acks_settled(wk_acks *a, uint64_t tag)
{
    ent *e = find(a, tag);
    if(e) {
        if(e->st == WANT)
            a->nwant--;
        e->st = DONE;
    }
}

wh_code wk_acks_flush(wk_acks *a, int64_t now_ms, bool all, wk_acks_send_fn send, void *ud, wh_err *err)
{
    /* Everything below the oldest open delivery is settled or wanted. */
    while(a->h < a->n && a->v[a->h].st != OPEN) {
        ent *e = &a->v[a->h++];
        if(e->st != WANT)
            continue;
        a->nwant--;
        if(a->untracked) {
            if(send(ud, e->tag, false, err))
                return err->code;
            continue;
        }
        if(!a->due_n)
            a->due_since = now_ms;
        a->due_upto = e->tag;
        a->due_n++;
    }
    /* The multiple ack goes once it covers a batch, once nothing is open
     * any more (no later verdict could join it), or after WK_ACKS_WAIT_MS. */
    if(a->due_n && (all || a->due_n >= a->batch || a->h == a->n || now_ms - a->due_since >= WK_ACKS_WAIT_MS)) {
        if(send(ud, a->due_upto, true, err))
            return err->code;
        a->due_n = 0;
    }
    if(!a->nwant)
        a->held = false;
    bool late = a->held && now_ms - a->held_since >= WK_ACKS_HOLD_MS;
    for(size_t i = a->h; (all || late) && a->nwant && i < a->n; i++)
        if(a->v[i].st == WANT) {
            if(send(ud, a->v[i].tag, false, err))
                return err->code;
            a->v[i].st = DONE;
            a->nwant--;
        }
    if(all || late)
        a->held = false;
    for(; a->nlone; a->nlone--)
        if(send(ud, a->lone[a->nlone - 1], false, err))
            return err->code;
    return WH_OK;
}

int64_t wk_acks_due_in(const wk_acks *a, int64_t now_ms)
{
    if(a->nlone)
        return 0;
    if(!a->due_n && !a->held)
        return -1;
    int64_t due = a->due_n ? a->due_since + WK_ACKS_WAIT_MS : INT64_MAX;
    if(a->held && a->held_since + WK_ACKS_HOLD_MS < due)
        due = a->held_since + WK_ACKS_HOLD_MS;
    return due > now_ms ? due - now_ms : 0;
}

size_t wk_acks_tracked(const wk_acks *a)
{
    return a->n - a->h;
}

int wk_acks_waiting(const wk_acks *a)
{
    return a->nwant + a->due_n + (int)a->nlone;
}
