/* srv_jobs: POST /v1/jobs, GET /v1/jobs/{id}, POST /v1/jobs/{id}/cancel
 * (GET /v1/jobs, the list, is srv_jobs_list.c).
 *
 * The JSON envelope is checked field by field here (types and ranges of
 * schemas/envelope.schema.json, naming the field), then the type and args
 * against the job catalogue the workers admit with, exactly like `wharf
 * submit`, and then handed to wharf_submit(), which owns idempotency and
 * the publish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "srv.h"
#include "wh_keys.h"
#include "wh_status.h"

/* Integer envelope fields and their ranges (null means absent). */
typedef struct int_field {
    const char *key;
    int64_t lo, hi;
} int_field;

static const int_field int_fields[] = {
    {"v", 1, 1},
    {"max_attempts", 1, 100},
    {"timeout_s", 1, 2592000},
    {"run_at", 0, INT64_MAX},
    {"priority", 0, 9},
    {"unique_for_s", 1, 2592000},
    {"created_at", 0, INT64_MAX}, /* accepted for symmetry with the envelope; the client stamps its own */
};
#define NINT (sizeof(int_fields) / sizeof(int_fields[0]))

/* String fields: key, required. */
static const char *const str_fields[] = {"id", "type", "target", "lock"};

/* Read the fields of `o` into *job. false after answering 400. Strings are
 * borrowed from `o`; *args and *meta are malloc'd JSON texts. */
static bool read_envelope(srv_call *c, const wh_json *o, wharf_job *job, int64_t *ints, char **args, char **meta)
{
    const char *strs[4] = {NULL, NULL, NULL, NULL};
    for(size_t i = 0; i < 4; i++) {
        const wh_json *v = wh_json_get(o, str_fields[i]);
        if(!v || wh_json_kind_of(v) == WH_JSON_NULL)
            continue;
        if(!(strs[i] = wh_json_strv(v, NULL)))
            return srv_error(c, 400, "bad_envelope", str_fields[i], "%s must be a string", str_fields[i]), false;
    }
    if(!strs[1])
        return srv_error(c, 400, "bad_envelope", "type", "type is required (\"family.action\")"), false;
    for(size_t i = 0; i < NINT; i++) {
        const wh_json *v = wh_json_get(o, int_fields[i].key);
        ints[i] = 0;
        if(!v || wh_json_kind_of(v) == WH_JSON_NULL)
            continue;
        bool is_int = wh_json_kind_of(v) == WH_JSON_INT;
        if(!is_int || wh_json_intv(v) < int_fields[i].lo || wh_json_intv(v) > int_fields[i].hi) {
            /* As the worker decodes: an int v other than 1 is an unknown
             * version, anything else a bad envelope. */
            const char *code = i == 0 && is_int ? "unsupported_schema" : "bad_envelope";
            srv_error(c, 400, code, int_fields[i].key, "%s must be an integer in %lld..%lld", int_fields[i].key,
                      (long long)int_fields[i].lo, (long long)int_fields[i].hi);
            return false;
        }
        ints[i] = wh_json_intv(v);
    }
    const wh_json *a = wh_json_get(o, "args"), *m = wh_json_get(o, "meta");
    if(a && wh_json_kind_of(a) != WH_JSON_OBJECT)
        return srv_error(c, 400, "bad_envelope", "args", "args must be a JSON object"), false;
    if(m && wh_json_kind_of(m) != WH_JSON_OBJECT && wh_json_kind_of(m) != WH_JSON_NULL)
        return srv_error(c, 400, "bad_envelope", "meta", "meta must be an object of strings"), false;
    *args = a ? wh_json_dump(a) : strdup("{}");
    *meta = m && wh_json_kind_of(m) == WH_JSON_OBJECT ? wh_json_dump(m) : NULL;
    *job = (wharf_job){.id = strs[0], .type = strs[1], .target = strs[2], .lock = strs[3], .args_json = *args,
                       .max_attempts = (int)ints[1], .timeout_s = (int)ints[2], .run_at = ints[3],
                       .priority = (int)ints[4], .unique_for_s = (int)ints[5], .meta_json = *meta};
    return *args != NULL;
}

/* The catalogue's verdict on type and args (as `wharf submit` checks). */
static bool admit(srv_call *c, const char *type, const char *args_json)
{
    wh_err err;
    wh_code rc = wh_cat_admit_json(type, args_json, &err);
    if(rc == WH_E_UNKNOWN_TYPE)
        srv_error(c, 400, "unknown_type", "type", "unknown job type \"%s\"", type);
    else if(rc)
        srv_error_wh(c, &err);
    return rc == WH_OK;
}

void srv_reply_job(srv_call *c, unsigned status, const char *id, const char *state)
{
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    wh_err err;
    wh_json *j = wh_status_json(r, c->s->cfg->redis_prefix, id, &err);
    if(!j && err.code != WH_E_NOT_FOUND)
        return srv_error_wh(c, &err);
    if(!j) {
        j = wh_json_object();
        wh_json_setc(j, "id", wh_json_str(id));
        wh_json_setc(j, "state", wh_json_str(state));
    }
    char location[96];
    snprintf(location, sizeof(location), "/v1/jobs/%s", id);
    wh_mhd_hdr h[] = {{"Location", location}};
    srv_reply_json_h(c, status, j, h, 1);
}

void srv_jobs_post(srv_call *c)
{
    wh_json *o = srv_body_object(c);
    if(!o)
        return;
    wharf_job job;
    int64_t ints[NINT];
    char *args = NULL, *meta = NULL;
    if(read_envelope(c, o, &job, ints, &args, &meta) && admit(c, job.type, args)) {
        wharf_client *wc = srv_client(c);
        wharf_submitted out;
        wharf_error err;
        if(wc && wharf_submit(wc, &job, &out, &err) != 0)
            srv_error_client(c, &err);
        else if(wc)
            srv_reply_job(c, out.created ? 201 : 200, out.id, out.state);
    }
    free(args);
    free(meta);
    wh_json_free(o);
}

void srv_jobs_get(srv_call *c)
{
    if(srv_bad_id(c))
        return;
    wh_redis *r = srv_redis(c);
    if(!r)
        return;
    wh_err err;
    wh_json *j = wh_status_json(r, c->s->cfg->redis_prefix, c->param, &err);
    if(!j)
        return srv_error_wh(c, &err);
    srv_reply_json(c, 200, j);
}

void srv_jobs_cancel(srv_call *c)
{
    if(srv_bad_id(c))
        return;
    wharf_client *wc = srv_client(c);
    if(!wc)
        return;
    char state[16] = "";
    wharf_error err;
    if(wharf_cancel(wc, c->param, state, &err) != 0) {
        if(err.code == WHARF_CONFLICT)
            return srv_error(c, 409, err.name, "state", "job %s already finished (%s)", c->param, state);
        return srv_error_client(c, &err);
    }
    wh_json *o = wh_json_object();
    wh_json_setc(o, "id", wh_json_str(c->param));
    wh_json_setc(o, "state", wh_json_str(state));
    srv_reply_json(c, wh_state_parse(state) == WH_STATE_CANCELLED ? 200 : 202, o);
}
