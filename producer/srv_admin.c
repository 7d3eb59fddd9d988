/* srv_admin: /v1/workers, /v1/stats, /v1/schedules and /v1/dead. The reads
 * are adm.c's, shared with `wharf workers|stats|dead`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "srv.h"
#include "wh_id.h"
#include "wh_state.h"

void srv_workers_get(srv_call *c)
{
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    wh_err err;
    wh_json *all = adm_workers_json(r, c->s->cfg->redis_prefix, &err);
    if(!all)
        return srv_error_wh(c, &err);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "workers", all);
    srv_reply_json(c, 200, o);
}

void srv_stats_get(srv_call *c)
{
    long minutes;
    if(!srv_query_int(c, "minutes", 1, 2880, 60, &minutes))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    wh_err err;
    wh_json *types = adm_stats_types(r, c->s->cfg->redis_prefix, &err);
    if(!types)
        return srv_error_wh(c, &err);
    wh_json *all = wh_json_object();
    for(size_t i = 0; i < wh_json_size(types); i++) {
        const char *type = wh_json_strv(wh_json_at(types, i), NULL);
        adm_totals t;
        if(adm_type_totals(r, c->s->cfg->redis_prefix, type, (int)minutes, &t, &err) != WH_OK) {
            wh_json_free(all);
            wh_json_free(types);
            return srv_error_wh(c, &err);
        }
        wh_json_setc(all, type, adm_totals_json(&t));
    }
    wh_json_free(types);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "minutes", wh_json_int(minutes));
    wh_json_setc(o, "types", all);
    srv_reply_json(c, 200, o);
}

/* ---- schedules (the client library owns them) ---- */

void srv_schedules_get(srv_call *c)
{
    wharf_client *wc = srv_client(c);
    if(!wc)
        return;
    char *json = NULL;
    wharf_error err;
    if(wharf_schedule_list_json(wc, &json, &err) != 0)
        return srv_error_client(c, &err);
    wh_err perr;
    wh_json *list = wh_json_parse(json, strlen(json), &perr);
    free(json);
    if(!list)
        return srv_error(c, 500, "internal", "", "schedule list is not JSON: %s", perr.msg);
    wh_json *o = wh_json_object();
    wh_json_setc(o, "schedules", list);
    srv_reply_json(c, 200, o);
}

/* An optional string member; false (after answering 400) if not a string. */
static bool opt_str(srv_call *c, const wh_json *o, const char *k, const char **out)
{
    const wh_json *v = wh_json_get(o, k);
    *out = NULL;
    if(!v || wh_json_kind_of(v) == WH_JSON_NULL)
        return true;
    if((*out = wh_json_strv(v, NULL)))
        return true;
    srv_error(c, 400, "bad_args", k, "%s must be a string", k);
    return false;
}

/* An optional integer member in lo..hi (0 when absent). */
static bool opt_int(srv_call *c, const wh_json *o, const char *k, long lo, long hi, int *out)
{
    const wh_json *v = wh_json_get(o, k);
    *out = 0;
    if(!v || wh_json_kind_of(v) == WH_JSON_NULL)
        return true;
    if(wh_json_kind_of(v) == WH_JSON_INT && wh_json_intv(v) >= lo && wh_json_intv(v) <= hi) {
        *out = (int)wh_json_intv(v);
        return true;
    }
    srv_error(c, 400, "bad_args", k, "%s must be an integer in %ld..%ld", k, lo, hi);
    return false;
}

void srv_schedules_post(srv_call *c)
{
    wh_json *o = srv_body_object(c);
    if(!o)
        return;
    wharf_schedule s = {0};
    const wh_json *args = wh_json_get(o, "args");
    char *args_json = NULL;
    bool ok = opt_str(c, o, "name", &s.name) && opt_str(c, o, "type", &s.type) &&
              opt_str(c, o, "target", &s.target) && opt_str(c, o, "cron", &s.cron) &&
              opt_int(c, o, "every_s", 1, 31536000, &s.every_s) &&
              opt_int(c, o, "max_attempts", 1, 100, &s.max_attempts) &&
              opt_int(c, o, "timeout_s", 1, 2592000, &s.timeout_s);
    if(ok && (!s.name || !s.type))
        ok = (srv_error(c, 400, "bad_args", s.name ? "type" : "name", "%s is required", s.name ? "type" : "name"),
              false);
    if(ok && args && wh_json_kind_of(args) != WH_JSON_OBJECT)
        ok = (srv_error(c, 400, "bad_args", "args", "args must be a JSON object"), false);
    if(ok && args)
        s.args_json = args_json = wh_json_dump(args);
    wharf_client *wc = ok ? srv_client(c) : NULL;
    wharf_error err;
    if(wc && wharf_schedule_add(wc, &s, &err) != 0)
        srv_error_client(c, &err);
    else if(wc) {
        wh_json *r = wh_json_object();
        wh_json_setc(r, "name", wh_json_str(s.name));
        srv_reply_json(c, 201, r);
    }
    free(args_json);
    wh_json_free(o);
}

/* Schedule names are [A-Za-z0-9_-]{1,40}: the job id charset, shorter. */
void srv_schedules_delete(srv_call *c)
{
    if(strlen(c->param) > 40 || !wh_id_valid(c->param, strlen(c->param)))
        return srv_error(c, 400, "bad_args", "name", "a schedule name is 1-40 characters of A-Z a-z 0-9 _ -");
    wharf_client *wc = srv_client(c);
    if(!wc)
        return;
    wharf_error err;
    if(wharf_schedule_rm(wc, c->param, &err) != 0)
        return srv_error_client(c, &err);
    wh_mhd_reply(c->req, 204, NULL, "", 0, NULL, 0);
}

/* ---- dead letters (one AMQP connection per request, like the CLI) ---- */

void srv_dead_get(srv_call *c)
{
    long limit;
    if(!srv_query_int(c, "limit", 1, ADM_DEAD_MAX, 100, &limit))
        return;
    wh_err err;
    wh_amqp *a = adm_connect(c->s->cfg, 10000, &err);
    if(!a)
        return srv_error_wh(c, &err);
    wh_json *arr = wh_json_array();
    if(adm_dead_list(a, (int)limit, arr, &err) != WH_OK) {
        wh_json_free(arr);
        srv_error_wh(c, &err);
    } else {
        wh_json *o = wh_json_object();
        wh_json_setc(o, "dead", arr);
        srv_reply_json(c, 200, o);
    }
    wh_amqp_free(a);
}

void srv_dead_retry(srv_call *c)
{
    wh_json *o = srv_body_object(c);
    if(!o)
        return;
    const char *id = wh_json_strv(wh_json_get(o, "id"), NULL);
    wh_err err;
    wh_redis *r = NULL;
    wh_amqp *a = NULL;
    if(!id || !wh_id_valid(id, strlen(id)))
        srv_error(c, 400, "bad_envelope", "id", "id must be a job id (1-64 characters of A-Z a-z 0-9 _ -)");
    else if(!(r = srv_redis(c)))
        ;
    else if(!(a = adm_connect(c->s->cfg, 10000, &err)))
        srv_error_wh(c, &err);
    else if(adm_dead_retry(a, r, c->s->cfg->redis_prefix, id, &err) != WH_OK)
        srv_error_wh(c, &err);
    else {
        wh_json *res = wh_json_object();
        wh_json_setc(res, "id", wh_json_str(id));
        wh_json_setc(res, "state", wh_json_str(wh_state_name(WH_STATE_QUEUED)));
        srv_reply_json(c, 200, res);
    }
    wh_amqp_free(a);
    wh_json_free(o);
}

/* Without a body: the whole dead queue. With {"id": ...}: that job's
 * dead message only (the dashboard's "Purge selected", one by one). */
void srv_dead_purge(srv_call *c)
{
    size_t len = 0;
    wh_mhd_body(c->req, &len);
    wh_json *o = len ? srv_body_object(c) : NULL;
    if(len && !o)
        return;
    const char *id = o ? wh_json_strv(wh_json_get(o, "id"), NULL) : NULL;
    if(o && (!id || !wh_id_valid(id, strlen(id)))) {
        srv_error(c, 400, "bad_envelope", "id", "id must be a job id (1-64 characters of A-Z a-z 0-9 _ -)");
        return wh_json_free(o);
    }
    wh_err err;
    wh_amqp *a = adm_connect(c->s->cfg, 10000, &err);
    uint32_t n = 0;
    wh_code rc = !a ? WH_E_BROKER : id ? adm_dead_drop(a, id, &err) : adm_dead_purge(a, &n, &err);
    if(rc != WH_OK)
        srv_error_wh(c, &err);
    else {
        wh_json *res = wh_json_object();
        wh_json_setc(res, "purged", wh_json_int(id ? 1 : n));
        srv_reply_json(c, 200, res);
    }
    wh_amqp_free(a);
    wh_json_free(o);
}
