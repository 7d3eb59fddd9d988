/* srv_fleet: what acts on the fleet, and container logs.
 *
 *   POST /v1/hosts/{host}/containers/{name}/{action}   action = start, stop,
 *        restart, remove or update: submits the matching job (actions[]
 *        below) with args {name} plus the body's members, and answers 202
 *        with the job; GET /v1/jobs/{id} follows it.
 *   GET  /v1/hosts/{host}/containers/{name}/logs[?tail=N][&follow=1]
 *        the stream runtime.container.logs fills, read as job logs are
 *        (srv_logs.c: the same `gap` events and Last-Event-ID resume).
 *   POST /v1/workers/{id}/{quiet|drain}   worker control through Redis (adm.h).
 *
 * The job's own checks (the catalogue, as `wharf submit` runs them) judge the
 * args, so a bad `tag` or `timeout_s` is bad_args naming args.tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adm.h"
#include "catalog.h"
#include "srv.h"
#include "wh_keys.h"

/* One action and the job type it submits. */
typedef struct fleet_action {
    const char *name;
    const char *type;
} fleet_action;

static const fleet_action actions[] = {
    {"start", "runtime.container.start"},     {"stop", "runtime.container.stop"},
    {"restart", "runtime.container.restart"}, {"remove", "runtime.container.remove"},
    {"update", "registry.update_container"},
};

/* The body's args (an optional JSON object; no body: none) with `name` set
 * from the path. malloc'd JSON text, or NULL after answering. */
static char *action_args(srv_call *c)
{
    size_t len = 0;
    wh_mhd_body(c->req, &len);
    wh_json *o = len ? srv_body_object(c) : wh_json_object();
    if(!o)
        return NULL;
    if(wh_json_get(o, "name")) {
        wh_json_free(o);
        srv_error(c, 400, "bad_args", "args.name", "the container is named by the path, not the body");
        return NULL;
    }
    wh_json_setc(o, "name", wh_json_str(c->param2));
    char *text = wh_json_dump(o);
    wh_json_free(o);
    if(!text)
        srv_error(c, 500, "nomem", "", "out of memory");
    return text;
}

void srv_fleet_action(srv_call *c)
{
    const fleet_action *a = NULL;
    for(size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if(strcmp(actions[i].name, c->param3) == 0)
            a = &actions[i];
    if(!a)
        return srv_error(c, 404, "not_found", "action", "no container action \"%s\" (start, stop, restart, remove, "
                                                         "update)", c->param3);
    if(!srv_host(c) || srv_bad_ctr(c))
        return;
    char *args = action_args(c);
    if(!args)
        return;
    wh_err e;
    wharf_client *wc = NULL;
    if(wh_cat_admit_json(a->type, args, &e) != WH_OK)
        srv_error_wh(c, &e);
    else if((wc = srv_client(c))) {
        wharf_job job = {.type = a->type, .target = c->param, .args_json = args};
        wharf_submitted out;
        wharf_error err;
        if(wharf_submit(wc, &job, &out, &err) != 0)
            srv_error_client(c, &err);
        else
            srv_reply_job(c, 202, out.id, out.state);
    }
    free(args);
}

void srv_fleet_logs(srv_call *c)
{
    long tail, follow;
    if(!srv_host(c) || srv_bad_ctr(c) || !srv_query_int(c, "tail", 1, SRV_LOG_MAX, 0, &tail) ||
       !srv_query_int(c, "follow", 0, 1, 0, &follow))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    char what[300], key[WH_KEY_MAX];
    snprintf(what, sizeof(what), "ctr:%s:log", c->param2);
    wh_key_host(key, c->s->cfg->redis_prefix, c->param, what);
    /* No stream yet is not an error while following: the next
     * runtime.container.logs job creates it. Without follow, say so. */
    const char *exists[] = {"EXISTS", key};
    wh_redis_reply *rep;
    wh_err err;
    if(wh_redis_cmdv(r, &rep, &err, 2, exists) != WH_OK)
        return srv_error_wh(c, &err);
    long long there = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    if(!there && !follow)
        return srv_error(c, 404, "not_found", "name", "no log stream for container \"%s\" on host %s (run "
                         "runtime.container.logs first)", c->param2, c->param);
    srv_logs_stream(c, r, key, NULL, tail, follow);
}

void srv_workers_control(srv_call *c)
{
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    wh_err err;
    if(strcmp(c->param2, "quiet") != 0 && strcmp(c->param2, "drain") != 0)
        return srv_error(c, 404, "not_found", "command", "no worker command \"%s\" (quiet, drain)", c->param2);
    if(adm_worker_control(r, c->s->cfg->redis_prefix, c->param, c->param2, &err) != WH_OK)
        return srv_error_wh(c, &err);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "id", wh_json_str(c->param));
    wh_json_setc(o, "command", wh_json_str(c->param2));
    srv_reply_json(c, 202, o);
}
