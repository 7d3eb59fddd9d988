/* client_probe: a line-driven front end to the C client library, so the
 * Python integration tests can drive one long-lived wharf_client:
 *
 *   submit TYPE ARGS_JSON   -> "ok ID created|existing STATE" or "err NAME MESSAGE"
 *   wait ID MS              -> "ok STATE" or "err NAME MESSAGE"
 *   status ID               -> "ok JSON" or "err NAME MESSAGE"
 *
 * Configuration from WHARF_AMQP_URL, WHARF_REDIS_URL, WHARF_REDIS_PREFIX,
 * WHARF_AMQP_QUEUE_TYPE. One reply line per command; exits at EOF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wharf.h"

static void reply_err(const wharf_error *e)
{
    printf("err %s %s\n", e->name, e->message);
}

static void run(wharf_client *c, char *line)
{
    wharf_error err;
    char *cmd = strtok_r(line, " \n", &line), *a = strtok_r(NULL, " \n", &line), *b = strtok_r(NULL, "\n", &line);
    if(cmd && a && strcmp(cmd, "submit") == 0) {
        wharf_job job = {.type = a, .args_json = b ? b : "{}"};
        wharf_submitted s;
        if(wharf_submit(c, &job, &s, &err) == 0)
            printf("ok %s %s %s\n", s.id, s.created ? "created" : "existing", s.state);
        else
            reply_err(&err);
    } else if(cmd && a && strcmp(cmd, "wait") == 0) {
        char state[16];
        if(wharf_wait(c, a, b ? (int)strtol(b, NULL, 10) : 10000, state, &err) == 0)
            printf("ok %s\n", state);
        else
            reply_err(&err);
    } else if(cmd && a && strcmp(cmd, "status") == 0) {
        char *json;
        if(wharf_status_json(c, a, &json, &err) == 0) {
            printf("ok %s\n", json);
            free(json);
        } else {
            reply_err(&err);
        }
    } else {
        printf("err usage unknown command\n");
    }
    fflush(stdout);
}

int main(void)
{
    wharf_client_opts o = {getenv("WHARF_AMQP_URL"), getenv("WHARF_REDIS_URL"), getenv("WHARF_REDIS_PREFIX"),
                           getenv("WHARF_AMQP_QUEUE_TYPE"), 10000, 0, 0};
    wharf_error err;
    wharf_client *c = wharf_client_new(&o, &err);
    if(!c) {
        reply_err(&err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char line[4096];
    while(fgets(line, sizeof(line), stdin))
        run(c, line);
    wharf_client_free(c);
    return 0;
}
