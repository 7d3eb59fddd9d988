/* wh_err: the one status enum and the error object every module fills.
 *
 * A wh_code is stable: its number is never reused and its name (wh_code_name)
 * is what users see in Redis `error` fields, dead-letter `wharf-reason`
 * headers and HTTP error bodies. New codes are appended before WH_E__LAST.
 *
 * Functions that can fail take a `wh_err *err` (may be NULL), return 0 on
 * success or a wh_code, and fill `err` only on failure. */
#ifndef WH_ERR_H
#define WH_ERR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum wh_code {
    WH_OK = 0,
    WH_E_BAD_MSGPACK = 1,        /* body is not one well-formed msgpack object */
    WH_E_BAD_ENVELOPE = 2,       /* a required envelope field is missing or ill-typed */
    WH_E_UNSUPPORTED_SCHEMA = 3, /* envelope `v` is not a version we speak */
    WH_E_TOO_LARGE = 4,          /* body or field over its documented cap */
    WH_E_UNKNOWN_TYPE = 5,       /* job type not in the job catalogue */
    WH_E_BAD_ARGS = 6,           /* args fail the type's validation */
    WH_E_TIMEOUT = 7,            /* an operation or the job ran out of time */
    WH_E_CANCELLED = 8,          /* cancelled on request */
    WH_E_FAILED = 9,             /* a handler failed without a more specific code */
    WH_E_REDELIVERY_LIMIT = 10,  /* delivered too often without finishing */
    WH_E_BAD_CONFIG = 11,        /* configuration key or value rejected */
    WH_E_BROKER = 12,            /* RabbitMQ refused or dropped an operation */
    WH_E_UNROUTABLE = 13,        /* published message matched no queue */
    WH_E_REDIS = 14,             /* Redis refused or dropped an operation */
    WH_E_NOT_FOUND = 15,         /* the named job or resource does not exist */
    WH_E_CONFLICT = 16,          /* the resource is in a state that forbids it */
    WH_E_BUSY = 17,              /* the resource is in use */
    WH_E_NOMEM = 18,             /* allocation failed */
    WH_E_IO = 19,                /* a local system call failed */
    WH_E_INTERNAL = 20,          /* a bug: an invariant did not hold */
    WH_E_INTERRUPTED = 21,       /* stopped by worker shutdown; the job is requeued */
    WH_E_USAGE = 22,             /* bad command-line usage */
    WH_E_ATTEMPTS_EXHAUSTED = 23,/* transient failures used up max_attempts */
    WH_E_UNKNOWN_HOST = 24,      /* the job's target is not in the worker's inventory */
    WH_E_UNREACHABLE = 25,       /* a host, engine or registry could not be reached (transient) */
    WH_E_ENGINE = 26,            /* the Docker Engine answered with an error */
    WH_E_AUTH_FAILED = 27,       /* credentials were refused */
    WH_E_HOST_KEY = 28,          /* an SSH host key is unknown or changed */
    WH_E_COMMAND_FAILED = 29,    /* a remote command exited non-zero */
    WH_E_RATE_LIMITED = 30,      /* the remote side asked us to slow down (transient) */
    WH_E_UNAUTHORIZED = 31,      /* an API request lacked a valid token */
    WH_E_REGISTRY = 32,          /* a registry answered with an unexpected error */
    WH_E_ABANDONED = 33,         /* its worker stopped renewing the job's lease */
    WH_E_BROKER_BLOCKED = 34,    /* the broker blocks publishers (resource alarm) */
    WH_E_TLS = 35,               /* a TLS handshake failed: a certificate refused or untrusted */
    WH_E_UNSUPPORTED = 36,       /* the engine (e.g. Podman) lacks what the job needs */
    WH_E__LAST                   /* sentinel, never a real code */
} wh_code;

/* Whether a failure with a code may succeed if tried again. */
typedef enum wh_class {
    WH_CLASS_NONE = 0, /* WH_OK, out of range, or a code the table misses (a bug) */
    WH_PERMANENT,      /* the same attempt would fail the same way: no retry */
    WH_TRANSIENT       /* the cause may pass (network, rate limit, a busy Redis): retried */
} wh_class;

/* Longest message an error carries, in bytes: the documented limit of a
 * job's error_message (schemas/README.md). Longer text is cut between UTF-8
 * characters, never inside one. */
#define WH_ERR_MSG_MAX 1024
#define WH_ERR_CUSTOM_MAX 39 /* bytes of a job-defined code name */

/* The error lives on the object that failed: a code, an optional custom code
 * name (for job-defined codes such as system.fail's), the field it concerns
 * and a message for a human. Messages never contain secrets. */
typedef struct wh_err {
    wh_code code;
    char custom[WH_ERR_CUSTOM_MAX + 1]; /* job-defined code name; empty when `code` names it */
    char field[64];   /* offending field, e.g. "args.ms"; empty if none */
    char msg[WH_ERR_MSG_MAX + 1]; /* human-readable reason, UTF-8 when its parts are */
} wh_err;

/* Return the stable name of `code` ("bad_args"); "unknown" if out of range. */
const char *wh_code_name(wh_code code);

/* Look up a code by its stable name; WH_E__LAST when none matches. */
wh_code wh_code_from_name(const char *name);

/* The class of `code`, from the one table next to the names (wh_err.c):
 * the single rule every family fails jobs by. */
wh_class wh_code_class(wh_code code);

/* True when a failure with `code` is retried while attempts remain. */
bool wh_code_transient(wh_code code);

/* Fill `err` (if not NULL) and return `code`, so callers can write
 * `return wh_err_set(err, WH_E_BAD_ARGS, "args.ms", "must be >= 0");`.
 * A message over WH_ERR_MSG_MAX bytes is cut between characters. */
wh_code wh_err_set(wh_err *err, wh_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* wh_err_set for a message that starts with the path at fault, which
 * becomes the field: "args.ports[1]: must be ..." names "args.ports[1]"
 * (the text before the first ": "; none, no field). For paths built at run
 * time, so field and message cannot disagree. */
wh_code wh_err_at(wh_err *err, wh_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Append formatted text to err->msg, cut between characters to fit. NULL
 * is a no-op. */
void wh_err_append(wh_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset `err` to WH_OK with empty strings. NULL is a no-op. */
void wh_err_clear(wh_err *err);

/* The name users see: err->custom if set, else wh_code_name(err->code). */
const char *wh_err_name(const wh_err *err);

/* Format into buf[cap] like vsnprintf, but never end inside a UTF-8
 * character: a character the cap would split is left out whole. Returns
 * the length the full text has (as vsnprintf), so n >= cap says it was cut. */
int wh_msg_vformat(char *buf, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int wh_msg_format(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
