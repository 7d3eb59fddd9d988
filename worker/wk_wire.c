/* wk_wire: the broker connection as the job threads see it. See wk_wire.h. */
#include "wk_wire.h"

void wk_wire_init(wk_wire *w, int heartbeat_s)
{
    atomic_init(&w->gen, 0);
    atomic_init(&w->fresh_until, 0);
    w->window_ms = heartbeat_s > 0 ? (int64_t)heartbeat_s * 1000 : 0;
}

void wk_wire_up(wk_wire *w, uint32_t gen, int64_t now)
{
    wk_wire_heard(w, now);
    atomic_store(&w->gen, gen);
}

void wk_wire_heard(wk_wire *w, int64_t now)
{
    atomic_store(&w->fresh_until, w->window_ms ? now + w->window_ms : INT64_MAX);
}

void wk_wire_down(wk_wire *w)
{
    atomic_store(&w->gen, 0);
}

bool wk_wire_current(const wk_wire *w, uint32_t gen, int64_t now)
{
    return gen != 0 && atomic_load(&w->gen) == gen && now <= atomic_load(&w->fresh_until);
}
