/* wh_state: the job states of the wire contract as one C enum, and the one
 * table that spells them (schemas/README.md, sections 9.1 and 15).
 *
 * The strings are the contract: the job hash's `state` field holds them,
 * `<prefix>events` messages carry them, and the Lua scripts in
 * common/model/lua/ write and compare them. C names a state by its enum and
 * turns it into text here, and only here; tests/unit/test_wh_state.c checks
 * the table against the scripts. */
#ifndef WH_STATE_H
#define WH_STATE_H

#include <stdbool.h>

typedef enum wh_state {
    WH_STATE_UNKNOWN = 0, /* not a state: "" or text the table does not hold */
    WH_STATE_QUEUED,      /* waiting for a worker */
    WH_STATE_SCHEDULED,   /* waiting for its run_at (message kept in Redis) */
    WH_STATE_RUNNING,
    WH_STATE_RETRYING,    /* between attempts */
    WH_STATE_SUCCEEDED,   /* terminal */
    WH_STATE_FAILED,      /* terminal */
    WH_STATE_DEAD,        /* terminal: attempts or redeliveries used up */
    WH_STATE_CANCELLED,   /* terminal */
    WH_STATE_LAST         /* never a state; numbers are never reused */
} wh_state;

/* The wire name of `s` ("queued"); "" for WH_STATE_UNKNOWN and anything
 * out of range. Never NULL. */
const char *wh_state_name(wh_state s);

/* The state whose wire name is `name` (exactly, case-sensitive);
 * WH_STATE_UNKNOWN for NULL or any other text. */
wh_state wh_state_parse(const char *name);

/* True for succeeded, failed, dead and cancelled: a job hash in one of
 * them never changes again. */
bool wh_state_terminal(wh_state s);

#endif
