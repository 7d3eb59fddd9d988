/* wk_wire: the broker connection as the job threads see it.
 *
 * The loop thread owns the AMQP connection; the job threads never touch
 * it, but must not start a delivery whose connection is gone: the broker
 * has requeued that message and perhaps handed it to another worker, and
 * the verdict could not be carried out anyway. A worker paused longer than
 * its heartbeat (SIGSTOP, a frozen VM) wakes with its threads and its loop
 * at once, and a thread may reach a delivery before the loop has read the
 * broker's close; so a connection counts as current only while the loop
 * has heard it lately: within the heartbeat interval of its last turn.
 * A delivery that is not current is handed back unstarted (requeued: a
 * verdict the loop drops when its connection is gone).
 *
 * One per pool; the loop writes, the threads read; lock-free. */
#ifndef WK_WIRE_H
#define WK_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wk_wire {
    atomic_uint gen;          /* the live connection's generation; 0: none */
    atomic_llong fresh_until; /* mono ms: heard lately until then */
    int64_t window_ms;        /* the heartbeat interval; 0: no heartbeats */
} wk_wire;

/* `heartbeat_s` is amqp.heartbeat_s (0: freshness is not judged). */
void wk_wire_init(wk_wire *w, int heartbeat_s);

/* The loop: connection `gen` is up; it was heard at `now` (mono ms); it is
 * gone. */
void wk_wire_up(wk_wire *w, uint32_t gen, int64_t now);
void wk_wire_heard(wk_wire *w, int64_t now);
void wk_wire_down(wk_wire *w);

/* A thread: may a delivery of connection `gen` be started at `now`? */
bool wk_wire_current(const wk_wire *w, uint32_t gen, int64_t now);

#endif
