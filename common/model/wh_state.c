/* wh_state: the state table. See wh_state.h. */
#include "wh_state.h"

#include <string.h>

static const struct {
    const char *name;
    bool terminal;
} states[WH_STATE_LAST] = {
    [WH_STATE_UNKNOWN] = {"", false},
    [WH_STATE_QUEUED] = {"queued", false},
    [WH_STATE_SCHEDULED] = {"scheduled", false},
    [WH_STATE_RUNNING] = {"running", false},
    [WH_STATE_RETRYING] = {"retrying", false},
    [WH_STATE_SUCCEEDED] = {"succeeded", true},
    [WH_STATE_FAILED] = {"failed", true},
    [WH_STATE_DEAD] = {"dead", true},
    [WH_STATE_CANCELLED] = {"cancelled", true},
};

const char *wh_state_name(wh_state s)
{
    return s > WH_STATE_UNKNOWN && s < WH_STATE_LAST ? states[s].name : "";
}

wh_state wh_state_parse(const char *name)
{
    if(!name)
        return WH_STATE_UNKNOWN;
    for(int s = WH_STATE_UNKNOWN + 1; s < WH_STATE_LAST; s++)
        if(strcmp(states[s].name, name) == 0)
            return (wh_state)s;
    return WH_STATE_UNKNOWN;
}

bool wh_state_terminal(wh_state s)
{
    return s > WH_STATE_UNKNOWN && s < WH_STATE_LAST && states[s].terminal;
}
