/* wh_err: stable error codes and the error object. See wh_err.h. */
#include "wh_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wh_utf8.h"

/* Indexed by wh_code: the stable name and the class of every code. Names
 * are part of the public contract: never rename. The class is the one rule
 * for retrying: a transient failure is retried while attempts remain, a
 * permanent one ends the job `failed` at once (wk_job_fail_err). A code
 * added without a class reads WH_CLASS_NONE, which unit.wh_err rejects. */
static const struct {
    const char *name;
    wh_class cls;
} codes[WH_E__LAST] = {
    [WH_OK] = {"ok", WH_CLASS_NONE}, /* not a failure */
    [WH_E_BAD_MSGPACK] = {"bad_msgpack", WH_PERMANENT},
    [WH_E_BAD_ENVELOPE] = {"bad_envelope", WH_PERMANENT},
    [WH_E_UNSUPPORTED_SCHEMA] = {"unsupported_schema", WH_PERMANENT},
    [WH_E_TOO_LARGE] = {"too_large", WH_PERMANENT},
    [WH_E_UNKNOWN_TYPE] = {"unknown_type", WH_PERMANENT},
    [WH_E_BAD_ARGS] = {"bad_args", WH_PERMANENT},
    [WH_E_TIMEOUT] = {"timeout", WH_PERMANENT}, /* a job that timed out is `failed` (contract) */
    [WH_E_CANCELLED] = {"cancelled", WH_PERMANENT},
    [WH_E_FAILED] = {"failed", WH_PERMANENT},
    [WH_E_REDELIVERY_LIMIT] = {"redelivery_limit", WH_PERMANENT},
    [WH_E_BAD_CONFIG] = {"bad_config", WH_PERMANENT},
    [WH_E_BROKER] = {"broker_error", WH_TRANSIENT},
    [WH_E_UNROUTABLE] = {"unroutable", WH_PERMANENT},
    [WH_E_REDIS] = {"redis_error", WH_TRANSIENT}, /* a family's own writes (the pipe retries its own) */
    [WH_E_NOT_FOUND] = {"not_found", WH_PERMANENT},
    [WH_E_CONFLICT] = {"conflict", WH_PERMANENT},
    [WH_E_BUSY] = {"busy", WH_PERMANENT},
    [WH_E_NOMEM] = {"out_of_memory", WH_TRANSIENT}, /* this worker, now: another attempt may fit */
    [WH_E_IO] = {"io_error", WH_PERMANENT}, /* e.g. an archive that cannot be written */
    [WH_E_INTERNAL] = {"internal", WH_PERMANENT},
    [WH_E_INTERRUPTED] = {"interrupted", WH_TRANSIENT}, /* requeued, never recorded as a failure */
    [WH_E_USAGE] = {"usage", WH_PERMANENT},
    [WH_E_ATTEMPTS_EXHAUSTED] = {"attempts_exhausted", WH_PERMANENT},
    [WH_E_UNKNOWN_HOST] = {"unknown_host", WH_PERMANENT},
    [WH_E_UNREACHABLE] = {"unreachable", WH_TRANSIENT},
    [WH_E_ENGINE] = {"engine_error", WH_PERMANENT},
    [WH_E_AUTH_FAILED] = {"auth_failed", WH_PERMANENT},
    [WH_E_HOST_KEY] = {"host_key_mismatch", WH_PERMANENT},
    [WH_E_COMMAND_FAILED] = {"command_failed", WH_PERMANENT},
    [WH_E_RATE_LIMITED] = {"rate_limited", WH_TRANSIENT},
    [WH_E_UNAUTHORIZED] = {"unauthorized", WH_PERMANENT},
    [WH_E_REGISTRY] = {"registry_error", WH_PERMANENT},
    [WH_E_ABANDONED] = {"abandoned", WH_TRANSIENT}, /* requeued by the reaper while attempts remain */
    [WH_E_BROKER_BLOCKED] = {"broker_blocked", WH_TRANSIENT}, /* retry with the same id */
    [WH_E_TLS] = {"tls_error", WH_PERMANENT}, /* certificates do not change between attempts */
    [WH_E_UNSUPPORTED] = {"unsupported", WH_PERMANENT}, /* the engine will not grow the feature */
};

const char *wh_code_name(wh_code code)
{
    if((int)code < 0 || code >= WH_E__LAST || !codes[code].name)
        return "unknown";
    return codes[code].name;
}

wh_code wh_code_from_name(const char *name)
{
    for(int i = 0; i < WH_E__LAST; i++)
        if(codes[i].name && name && strcmp(codes[i].name, name) == 0)
            return (wh_code)i;
    return WH_E__LAST;
}

wh_class wh_code_class(wh_code code)
{
    if((int)code <= 0 || code >= WH_E__LAST)
        return WH_CLASS_NONE;
    return codes[code].cls;
}

bool wh_code_transient(wh_code code)
{
    return wh_code_class(code) == WH_TRANSIENT;
}

wh_code wh_err_set(wh_err *err, wh_code code, const char *field, const char *fmt, ...)
{
    if(!err)
        return code;
    err->code = code;
    err->custom[0] = '\0';
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    wh_msg_vformat(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

wh_code wh_err_at(wh_err *err, wh_code code, const char *fmt, ...)
{
    if(!err)
        return code;
    err->code = code;
    err->custom[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    wh_msg_vformat(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    const char *head = strstr(err->msg, ": ");
    size_t n = head ? (size_t)(head - err->msg) : 0;
    snprintf(err->field, sizeof(err->field), "%.*s", (int)(n < sizeof(err->field) ? n : sizeof(err->field) - 1),
             err->msg);
    return code;
}

void wh_err_append(wh_err *err, const char *fmt, ...)
{
    if(!err)
        return;
    size_t n = strlen(err->msg);
    va_list ap;
    va_start(ap, fmt);
    wh_msg_vformat(err->msg + n, sizeof(err->msg) - n, fmt, ap);
    va_end(ap);
}

int wh_msg_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    if(!cap)
        return 0;
    int n = vsnprintf(buf, cap, fmt, ap);
    if(n < 0) {
        buf[0] = '\0';
        return n;
    }
    /* Also drops a character that arrived already cut (a part formatted
     * into a smaller buffer elsewhere). */
    size_t have = (size_t)n < cap ? (size_t)n : cap - 1;
    buf[wh_utf8_cut(buf, have, have)] = '\0';
    return n;
}

int wh_msg_format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = wh_msg_vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void wh_err_clear(wh_err *err)
{
    if(!err)
        return;
    memset(err, 0, sizeof(*err));
}

const char *wh_err_name(const wh_err *err)
{
    if(err->custom[0])
        return err->custom;
    return wh_code_name(err->code);
}
