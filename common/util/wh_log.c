/* wh_log: logfmt / JSON-lines logger. See wh_log.h.
 *
 * Settings are written once by wh_log_setup before threads start and only read
 * afterwards, so no lock is needed. */
#include "wh_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    bool json;
    wh_log_level min;
    char component[32];
} log_conf = {false, WH_LOG_INFO, "wharf"};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void wh_log_setup(bool json, wh_log_level min_level, const char *component)
{
    log_conf.json = json;
    log_conf.min = min_level;
    if(component)
        snprintf(log_conf.component, sizeof(log_conf.component), "%s", component);
}

int wh_log_level_parse(const char *s)
{
    for(int i = 0; i < 4; i++)
        if(strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

/* A line under construction; appends past the cap are dropped. */
typedef struct {
    char buf[WH_LOG_LINE_MAX];
    size_t len;
} line_buf;

static void put(line_buf *b, const char *s, size_t n)
{
    size_t room = sizeof(b->buf) - 1 - b->len; /* keep one byte for '\n' */
    if(n > room)
        n = room;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static void puts_(line_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Append `v` quoted for the active format; control bytes are escaped so a
 * value can never break the one-event-per-line rule. */
static void put_value(line_buf *b, const char *v)
{
    bool plain = !log_conf.json && v[0] && strcspn(v, " =\"\\\t\r\n") == strlen(v);
    if(plain) {
        puts_(b, v);
        return;
    }
    put(b, "\"", 1);
    for(const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        if(*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(b, esc, 2);
        } else if(*p < 0x20) {
            int n = snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put(b, esc, (size_t)n);
        } else {
            put(b, (const char *)p, 1);
        }
    }
    put(b, "\"", 1);
}

static void put_field(line_buf *b, const char *k, const char *v, bool first)
{
    if(log_conf.json) {
        if(!first)
            put(b, ",", 1);
        put_value(b, k);
        put(b, ":", 1);
    } else {
        if(!first)
            put(b, " ", 1);
        puts_(b, k);
        put(b, "=", 1);
    }
    put_value(b, v ? v : "");
}

static void emit(wh_log_level level, const char *job, const char *msg, va_list *fields)
{
    if(level < log_conf.min)
        return;
    line_buf b;
    b.len = 0;
    char ts[40];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

    if(log_conf.json)
        put(&b, "{", 1);
    put_field(&b, "ts", ts, true);
    put_field(&b, "level", level_names[level], false);
    put_field(&b, "component", log_conf.component, false);
    put_field(&b, "msg", msg, false);
    if(job && job[0])
        put_field(&b, "job", job, false);
    if(fields) {
        const char *k;
        while((k = va_arg(*fields, const char *)) != NULL) {
            const char *v = va_arg(*fields, const char *);
            put_field(&b, k, v, false);
        }
    }
    if(log_conf.json)
        put(&b, "}", 1);
    b.buf[b.len++] = '\n';
    /* One write per line keeps lines whole across threads; a failed log write
     * has nowhere better to go, so it is ignored. */
    ssize_t w = write(STDERR_FILENO, b.buf, b.len);
    (void)w;
}

void wh_log_fields(wh_log_level level, const char *job, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit(level, job, msg, &ap);
    va_end(ap);
}

void wh_logf(wh_log_level level, const char *job, const char *fmt, ...)
{
    if(level < log_conf.min)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, job, msg, NULL);
}
