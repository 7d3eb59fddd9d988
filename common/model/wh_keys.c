/* wh_keys: Redis key names. See wh_keys.h. */
#include "wh_keys.h"

#include <stdio.h>

void wh_key_job(char *out, const char *p, const char *id) { snprintf(out, WH_KEY_MAX, "%sjob:%s", p, id); }
void wh_key_log(char *out, const char *p, const char *id) { snprintf(out, WH_KEY_MAX, "%sjob:%s:log", p, id); }
void wh_key_events(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sevents", p); }
void wh_key_worker(char *out, const char *p, const char *w) { snprintf(out, WH_KEY_MAX, "%sworker:%s", p, w); }
void wh_key_worker_control(char *out, const char *p, const char *w)
{
    snprintf(out, WH_KEY_MAX, "%sworker:%s:control", p, w);
}

void wh_key_host(char *out, const char *p, const char *host, const char *what)
{
    snprintf(out, WH_KEY_MAX, "%shost:%s:%s", p, host, what);
}

void wh_key_updates(char *out, const char *p, const char *host) { snprintf(out, WH_KEY_MAX, "%supdates:%s", p, host); }
void wh_key_workers(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sworkers", p); }
void wh_key_stats_types(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sstats:types", p); }

void wh_key_stats(char *out, const char *p, const char *type, const char *span, int64_t bucket_s)
{
    snprintf(out, WH_KEY_MAX, "%sstats:%s:%s:%lld", p, type, span, (long long)bucket_s);
}

void wh_key_scheduled(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sscheduled", p); }
void wh_key_recent(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%srecent", p); }
void wh_key_leases(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sleases", p); }
void wh_key_lock(char *out, const char *p, const char *lock) { snprintf(out, WH_KEY_MAX, "%slock:%s", p, lock); }
void wh_key_schedules(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sschedules", p); }
void wh_key_schedules_next(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sschedules:next", p); }
void wh_key_leader(char *out, const char *p) { snprintf(out, WH_KEY_MAX, "%sleader", p); }
