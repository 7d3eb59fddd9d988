/* wh_err: stable error codes and the error object. See wh_err.h. */
#include "wh_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Indexed by wh_code. Names are part of the public contract: never rename. */
static const char *const code_names[WH_E__LAST] = {
    [WH_OK] = "ok",
    [WH_E_BAD_MSGPACK] = "bad_msgpack",
    [WH_E_BAD_ENVELOPE] = "bad_envelope",
    [WH_E_UNSUPPORTED_SCHEMA] = "unsupported_schema",
    [WH_E_TOO_LARGE] = "too_large",
    [WH_E_UNKNOWN_TYPE] = "unknown_type",
    [WH_E_BAD_ARGS] = "bad_args",
    [WH_E_TIMEOUT] = "timeout",
    [WH_E_CANCELLED] = "cancelled",
    [WH_E_FAILED] = "failed",
    [WH_E_REDELIVERY_LIMIT] = "redelivery_limit",
    [WH_E_BAD_CONFIG] = "bad_config",
    [WH_E_BROKER] = "broker_error",
    [WH_E_UNROUTABLE] = "unroutable",
    [WH_E_REDIS] = "redis_error",
    [WH_E_NOT_FOUND] = "not_found",
    [WH_E_CONFLICT] = "conflict",
    [WH_E_BUSY] = "busy",
    [WH_E_NOMEM] = "out_of_memory",
    [WH_E_IO] = "io_error",
    [WH_E_INTERNAL] = "internal",
    [WH_E_INTERRUPTED] = "interrupted",
    [WH_E_USAGE] = "usage",
    [WH_E_ATTEMPTS_EXHAUSTED] = "attempts_exhausted",
    [WH_E_UNKNOWN_HOST] = "unknown_host",
    [WH_E_UNREACHABLE] = "unreachable",
    [WH_E_ENGINE] = "engine_error",
    [WH_E_AUTH_FAILED] = "auth_failed",
    [WH_E_HOST_KEY] = "host_key_mismatch",
    [WH_E_COMMAND_FAILED] = "command_failed",
    [WH_E_RATE_LIMITED] = "rate_limited",
    [WH_E_UNAUTHORIZED] = "unauthorized",
    [WH_E_REGISTRY] = "registry_error",
    [WH_E_ABANDONED] = "abandoned",
    [WH_E_BROKER_BLOCKED] = "broker_blocked",
};

const char *wh_code_name(wh_code code)
{
    if((int)code < 0 || code >= WH_E__LAST || !code_names[code])
        return "unknown";
    return code_names[code];
}

wh_code wh_code_from_name(const char *name)
{
    for(int i = 0; i < WH_E__LAST; i++)
        if(code_names[i] && name && strcmp(code_names[i], name) == 0)
            return (wh_code)i;
    return WH_E__LAST;
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
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
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
