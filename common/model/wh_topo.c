/* wh_topo: topology declaration and retry tiers. See wh_topo.h. */
#include "wh_topo.h"

#include <stdio.h>
#include <string.h>

void wh_topo_queue(char *out, size_t cap, wh_family f)
{
    snprintf(out, cap, "wharf.%s", wh_family_name(f));
}

/* Arguments for a queue of the configured type. Quorum retry queues use
 * at-least-once dead-lettering, so a message cannot be lost between the
 * retry queue and wharf.jobs. */
static int queue_args(const wh_cfg *cfg, wh_amqp_field *a, int ttl_ms, bool family)
{
    int n = 0;
    a[n++] = (wh_amqp_field){"x-queue-type", cfg->queue_type, 0};
    if(family && cfg->max_priority > 0)
        a[n++] = (wh_amqp_field){"x-max-priority", NULL, cfg->max_priority};
    if(ttl_ms > 0) {
        a[n++] = (wh_amqp_field){"x-message-ttl", NULL, ttl_ms};
        a[n++] = (wh_amqp_field){"x-dead-letter-exchange", WH_EXCHANGE_JOBS, 0};
        if(strcmp(cfg->queue_type, "quorum") == 0) {
            a[n++] = (wh_amqp_field){"x-dead-letter-strategy", "at-least-once", 0};
            a[n++] = (wh_amqp_field){"x-overflow", "reject-publish", 0};
        }
    }
    return n;
}

wh_code wh_topo_declare(wh_amqp *c, uint16_t ch, const wh_cfg *cfg, wh_err *err)
{
    wh_amqp_field a[8];
    char name[64];
    wh_code rc;
    if((rc = wh_amqp_declare_exchange(c, ch, WH_EXCHANGE_JOBS, "topic", err)))
        return rc;
    if((rc = wh_amqp_declare_exchange(c, ch, WH_EXCHANGE_RETRY, "headers", err)))
        return rc;
    for(int f = 0; f < WH_FAM__COUNT; f++) {
        wh_topo_queue(name, sizeof(name), (wh_family)f);
        if((rc = wh_amqp_declare_queue(c, ch, name, a, queue_args(cfg, a, 0, true), NULL, err)))
            return rc;
        if((rc = wh_amqp_bind(c, ch, name, WH_EXCHANGE_JOBS, wh_family_name((wh_family)f), NULL, 0, err)))
            return rc;
    }
    if((rc = wh_amqp_declare_queue(c, ch, WH_QUEUE_DEAD, a, queue_args(cfg, a, 0, false), NULL, err)))
        return rc;
    for(int t = 0; t < cfg->ntiers; t++) {
        char ms[16];
        snprintf(name, sizeof(name), "wharf.retry.%d", cfg->tiers[t]);
        snprintf(ms, sizeof(ms), "%d", cfg->tiers[t]);
        if((rc = wh_amqp_declare_queue(c, ch, name, a, queue_args(cfg, a, cfg->tiers[t], false), NULL, err)))
            return rc;
        wh_amqp_field match[2] = {{"x-match", "all", 0}, {WH_HDR_RETRY_MS, ms, 0}};
        if((rc = wh_amqp_bind(c, ch, name, WH_EXCHANGE_RETRY, "", match, 2, err)))
            return rc;
    }
    return WH_OK;
}

int wh_topo_retry_tier(const wh_cfg *cfg, int attempt, uint64_t rnd)
{
    int64_t d = cfg->retry_base_ms;
    for(int i = 1; i < attempt && d < cfg->retry_cap_ms; i++)
        d *= 2;
    if(d > cfg->retry_cap_ms)
        d = cfg->retry_cap_ms;
    d = d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
    for(int t = 0; t < cfg->ntiers; t++)
        if(cfg->tiers[t] >= d)
            return cfg->tiers[t];
    return cfg->tiers[cfg->ntiers - 1];
}
