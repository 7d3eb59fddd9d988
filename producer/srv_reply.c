/* srv_reply: what every route of `wharf serve` uses to read its request
 * and answer it: JSON replies, errors with their stable codes, ids, bodies
 * and query numbers. See srv.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "wh_id.h"

void srv_reply_json(srv_call *c, unsigned status, wh_json *j)
{
    srv_reply_json_h(c, status, j, NULL, 0);
}

void srv_reply_json_h(srv_call *c, unsigned status, wh_json *j, const wh_mhd_hdr *hdrs, size_t n)
{
    char *text = j ? wh_json_dump(j) : NULL;
    wh_json_free(j);
    if(!text) {
        static const char oom[] = "{\"error\":{\"code\":\"nomem\",\"message\":\"cannot build the reply\",\"field\":\"\"}}";
        wh_mhd_reply(c->req, 500, "application/json", oom, sizeof(oom) - 1, NULL, 0);
        return;
    }
    wh_mhd_reply(c->req, status, "application/json", text, strlen(text), hdrs, n);
    free(text);
}

void srv_error(srv_call *c, unsigned status, const char *code, const char *field, const char *fmt, ...)
{
    char msg[WH_ERR_MSG_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    wh_msg_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wh_json *e = wh_json_object();
    wh_json_setc(e, "code", wh_json_str(code));
    /* A message can quote user input that is not UTF-8: fall back. */
    wh_json *m = wh_json_str(msg);
    wh_json_setc(e, "message", m ? m : wh_json_str("(message not representable)"));
    wh_json *f = wh_json_str(field ? field : "");
    wh_json_setc(e, "field", f ? f : wh_json_str(""));
    wh_json *o = wh_json_object();
    wh_json_setc(o, "error", e);
    srv_reply_json(c, status, o);
}

unsigned srv_status_of(wh_code code)
{
    switch(code) {
    case WH_E_BAD_MSGPACK: case WH_E_BAD_ENVELOPE: case WH_E_UNSUPPORTED_SCHEMA: case WH_E_UNKNOWN_TYPE:
    case WH_E_BAD_ARGS: case WH_E_USAGE: case WH_E_UNKNOWN_HOST:
        return 400;
    case WH_E_UNAUTHORIZED: return 401;
    case WH_E_NOT_FOUND: return 404;
    case WH_E_CONFLICT: case WH_E_BUSY: return 409;
    case WH_E_TOO_LARGE: return 413;
    case WH_E_BROKER: case WH_E_UNROUTABLE: case WH_E_REDIS: case WH_E_TIMEOUT: case WH_E_UNREACHABLE:
    case WH_E_BROKER_BLOCKED:
        return 503;
    default: return 500;
    }
}

void srv_error_wh(srv_call *c, const wh_err *err)
{
    srv_error(c, srv_status_of(err->code), wh_err_name(err), err->field, "%s", err->msg);
}

void srv_error_client(srv_call *c, const wharf_error *err)
{
    srv_error(c, srv_status_of((wh_code)err->code), err->name, err->field, "%s", err->message);
}

bool srv_bad_id(srv_call *c)
{
    if(wh_id_valid(c->param, strlen(c->param)))
        return false;
    srv_error(c, 400, "bad_envelope", "id", "a job id is 1-64 characters of A-Z a-z 0-9 _ -");
    return true;
}

wh_json *srv_body_object(srv_call *c)
{
    const char *ct = wh_mhd_header(c->req, "Content-Type");
    size_t n = ct ? strcspn(ct, "; \t") : 0;
    if(!ct || n != 16 || strncasecmp(ct, "application/json", 16) != 0) {
        srv_error(c, 415, "bad_envelope", "Content-Type", "the body must be application/json");
        return NULL;
    }
    size_t len;
    const char *body = wh_mhd_body(c->req, &len);
    wh_err err;
    wh_json *j = wh_json_parse(body, len, &err);
    if(!j) {
        srv_error(c, 400, "bad_envelope", "body", "the body is not valid JSON: %s", err.msg);
        return NULL;
    }
    if(wh_json_kind_of(j) != WH_JSON_OBJECT) {
        wh_json_free(j);
        srv_error(c, 400, "bad_envelope", "body", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

bool srv_query_int(srv_call *c, const char *key, long lo, long hi, long def, long *out)
{
    const char *v = wh_mhd_query(c->req, key);
    if(!v) {
        *out = def;
        return true;
    }
    char *end;
    long x = strtol(v, &end, 10);
    if(!*v || *end || x < lo || x > hi) {
        srv_error(c, 400, "usage", key, "%s: expected an integer in %ld..%ld", key, lo, hi);
        return false;
    }
    *out = x;
    return true;
}
