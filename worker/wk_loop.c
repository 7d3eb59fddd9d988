/* wk_loop: AMQP consume loop, verdicts and drain. See wk_loop.h. */
#include "wk_loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "wh_amqp.h"
#include "wh_log.h"
#include "wh_time.h"
#include "wh_topo.h"
#include "wk_acks.h"
#include "wk_delivery.h"
#include "wk_prefetch.h"

#define CH_CONSUME 1
#define CH_PUBLISH 2          /* confirm mode: retry and dead-letter copies */
#define EVENTS_PER_TURN 256   /* AMQP events read before serving completions */
#define HARD_EXTRA_MS 5000    /* after interrupting jobs, wait this long more */
#define BACKOFF_MAX_MS 2000   /* reconnect backoff cap: a broker that comes back
                               * is used within ~2 s (tests/fault: <= 5 s) */

/* A republished copy awaiting its confirm; then the original is acked. */
typedef struct pending {
    uint64_t seq;          /* publish sequence on CH_PUBLISH */
    uint64_t tag;          /* delivery tag of the original on CH_CONSUME */
    bool returned;         /* the broker returned it as unroutable */
    char message_id[128];
} pending;

struct wk_loop {
    const wh_cfg *cfg;
    const char *worker_id;
    wk_pool *pool;
    int sigfd;
    wh_amqp *amqp;          /* NULL while disconnected */
    wk_acks *acks;          /* acks of this connection, coalesced */
    uint32_t gen;           /* bumped per connection; stale verdicts are dropped */
    pending *pend;
    size_t npend, cappend;
    bool stopping;
    bool quiet;             /* SIGTSTP: consume nothing, keep running jobs */
    bool interrupted;
    int64_t grace_at;       /* mono ms: interrupt running jobs */
    int64_t hard_at;        /* mono ms: give up and exit */
    int64_t connect_at;     /* mono ms: next connection attempt */
    int64_t backoff_ms;
    int fatal;              /* exit status when the config cannot work */
    bool resync;            /* a copy was refused: reconnect and re-declare */
    wk_loop_ready_fn on_ready;
    void *ready_ud;
    wk_delivery *in_head, *in_tail; /* deliveries of this turn, for the pool */
    wk_prefetch prefetch;
    int nin;
};

wk_loop *wk_loop_new(const wh_cfg *cfg, const char *worker_id, wk_pool *pool, int sigfd, wk_loop_ready_fn on_ready,
                     void *ud)
{
    wk_loop *L = calloc(1, sizeof(*L));
    if(!L)
        return NULL;
    L->cfg = cfg;
    wk_prefetch_init(&L->prefetch, cfg);
    L->worker_id = worker_id;
    L->pool = pool;
    L->sigfd = sigfd;
    L->backoff_ms = 250;
    L->on_ready = on_ready;
    L->ready_ud = ud;
    if(!(L->acks = wk_acks_new())) {
        free(L);
        return NULL;
    }
    return L;
}

void wk_loop_free(wk_loop *L)
{
    if(!L)
        return;
    wh_amqp_free(L->amqp);
    wk_acks_free(L->acks);
    free(L->pend);
    free(L);
}

/* Free a list of deliveries no thread has started. */
static int drop_deliveries(wk_delivery *d)
{
    int n = 0;
    while(d) {
        wk_delivery *next = d->next;
        wk_delivery_free(d);
        d = next;
        n++;
    }
    return n;
}

/* Forget the connection: the broker requeues every unacked delivery, so
 * pending confirms and in-flight verdicts of this generation are void. The
 * deliveries no thread has started are dropped, not run: the broker hands
 * them out again, perhaps already has (a worker paused past its heartbeat
 * finds the broker's close behind deliveries it requeued long ago), and
 * running them here would run those jobs twice. */
static void disconnect(wk_loop *L, const wh_err *why)
{
    if(why)
        wh_log(WH_LOG_WARN, NULL, "broker connection lost", "error", why->msg);
    wh_amqp_free(L->amqp);
    L->amqp = NULL;
    wk_wire_down(wk_pool_wire(L->pool));
    L->npend = 0;
    wk_acks_reset(L->acks);
    L->connect_at = wh_mono_ms() + L->backoff_ms;
    int n = drop_deliveries(wk_pool_take_queued(L->pool));
    if(n)
        wh_logf(WH_LOG_DEBUG, NULL, "%d unstarted deliveries of the lost connection dropped", n);
}

/* Set the prefetch, then consume the families' queues (none while quiet):
 * a consumer's prefetch is the one in force when it starts (quorum queues
 * keep it). */
static wh_code consume(wk_loop *L, wh_err *err)
{
    int prefetch = wk_prefetch_current(&L->prefetch);
    wk_acks_set_batch(L->acks, prefetch / 4);
    wh_code rc = wh_amqp_qos(L->amqp, CH_CONSUME, (uint16_t)prefetch, err);
    for(int f = 0; !rc && f < WH_FAM__COUNT; f++) {
        char q[64];
        wh_topo_queue(q, sizeof(q), (wh_family)f);
        if(L->cfg->family_on[f] && !L->quiet)
            rc = wh_amqp_consume(L->amqp, CH_CONSUME, q, err);
    }
    return rc;
}

static wh_code setup(wk_loop *L, wh_err *err)
{
    wh_code rc = wh_topo_declare(L->amqp, CH_CONSUME, L->cfg, err);
    if(!rc)
        rc = wh_amqp_channel_open(L->amqp, CH_PUBLISH, err);
    if(!rc)
        rc = wh_amqp_confirm_select(L->amqp, CH_PUBLISH, err);
    return rc ? rc : consume(L, err);
}

static void connect_broker(wk_loop *L)
{
    char name[200];
    snprintf(name, sizeof(name), "wharf-worker %s", L->worker_id);
    wh_amqp_opts o = {L->cfg->amqp_url, L->cfg->amqp_heartbeat_s, 10000, name, (size_t)L->cfg->max_body};
    wh_err err;
    L->amqp = wh_amqp_connect(&o, &err);
    wh_code rc = L->amqp ? setup(L, &err) : err.code;
    if(rc == WH_OK) {
        L->gen++;
        wk_wire_up(wk_pool_wire(L->pool), L->gen, wh_mono_ms());
        wk_acks_reset(L->acks);
        L->backoff_ms = 250;
        wh_log(WH_LOG_INFO, NULL, "consuming", "families", L->cfg->families);
        if(L->on_ready)
            L->on_ready(L->ready_ud);
        return;
    }
    if(rc == WH_E_CONFLICT || rc == WH_E_BAD_CONFIG) {
        wh_log(WH_LOG_ERROR, NULL, "broker refused the configuration", "error", err.msg);
        L->fatal = 78;
    }
    disconnect(L, &err);
    L->backoff_ms = L->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : L->backoff_ms * 2;
}

static bool add_pending(wk_loop *L, uint64_t seq, uint64_t tag, const char *msgid)
{
    if(L->npend == L->cappend) {
        size_t cap = L->cappend ? L->cappend * 2 : 64;
        pending *p = realloc(L->pend, cap * sizeof(*p));
        if(!p)
            return false;
        L->pend = p;
        L->cappend = cap;
    }
    pending *p = &L->pend[L->npend++];
    p->seq = seq;
    p->tag = tag;
    p->returned = false;
    snprintf(p->message_id, sizeof(p->message_id), "%s", msgid);
    return true;
}

/* Publish the retry or dead-letter copy of `d`; ack follows its confirm. */
static wh_code republish(wk_loop *L, wk_delivery *d, wh_err *err)
{
    char ms[16], body_size[24];
    wh_amqp_field h[10];
    int n = 0;
    h[n++] = (wh_amqp_field){WH_HDR_SCHEMA, NULL, 1};
    const char *exchange, *key;
    if(d->verdict == WK_RETRY) {
        snprintf(ms, sizeof(ms), "%d", d->retry_ms);
        h[n++] = (wh_amqp_field){WH_HDR_RETRY_MS, ms, 0};
        if(d->waiting && d->redelivered)
            h[n++] = (wh_amqp_field){WH_HDR_REDELIVERED, NULL, 1};
        exchange = WH_EXCHANGE_RETRY;
        key = wh_family_name((wh_family)d->family);
    } else {
        h[n++] = (wh_amqp_field){"wharf-reason", wh_err_name(&d->err), 0};
        h[n++] = (wh_amqp_field){"wharf-error", d->err.msg, 0};
        h[n++] = (wh_amqp_field){"wharf-error-code", d->error_code, 0};
        h[n++] = (wh_amqp_field){"wharf-attempts", NULL, d->attempts};
        h[n++] = (wh_amqp_field){"wharf-family", d->family >= 0 ? wh_family_name((wh_family)d->family) : "", 0};
        h[n++] = (wh_amqp_field){"wharf-dead-at", NULL, wh_now_ms()};
        if(d->id[0])
            h[n++] = (wh_amqp_field){"wharf-job-id", d->id, 0};
        if(d->too_large) {
            snprintf(body_size, sizeof(body_size), "%llu", (unsigned long long)d->body_size);
            h[n++] = (wh_amqp_field){"wharf-body-size", body_size, 0};
        }
        exchange = "";
        key = WH_QUEUE_DEAD;
    }
    wh_amqp_msg m = {d->body, d->body ? d->len : 0, WH_CONTENT_TYPE, d->message_id[0] ? d->message_id : NULL,
                     d->type[0] ? d->type : NULL, h, n, d->priority};
    uint64_t seq = 0;
    wh_code rc = wh_amqp_publish(L->amqp, CH_PUBLISH, exchange, key, &m, true, &seq, err);
    wh_log(WH_LOG_DEBUG, d->id, "copy published", "to", exchange[0] ? exchange : key, "result", rc ? "failed" : "sent");
    /* An early-acked original has nothing left to ack (tag 0). */
    if(rc == WH_OK && !add_pending(L, seq, d->early_acked ? 0 : d->tag, d->message_id))
        rc = wh_err_set(err, WH_E_NOMEM, "", "out of memory tracking confirms");
    return rc;
}

static wh_code carry_out(wk_loop *L, wk_delivery *d, wh_err *err)
{
    if(d->early_acked && (d->verdict == WK_ACK || d->verdict == WK_REQUEUE))
        return WH_OK; /* acked at start; a lost copy is the reaper's to republish */
    switch(d->verdict) {
    case WK_ACK:
        wk_acks_want(L->acks, d->tag, wh_mono_ms());
        return WH_OK;
    case WK_REQUEUE:
        wk_acks_settled(L->acks, d->tag);
        return wh_amqp_nack(L->amqp, CH_CONSUME, d->tag, false, true, err);
    default: return republish(L, d, err);
    }
}

static const char *const verdict_name[] = {"ack", "requeue", "retry", "dead"};

static wh_code send_ack(void *amqp, uint64_t tag, bool multiple, wh_err *err)
{
    return wh_amqp_ack(amqp, CH_CONSUME, tag, multiple, err);
}

static void serve_done(wk_loop *L)
{
    wk_delivery *d = wk_pool_take_done(L->pool);
    while(d) {
        wk_delivery *next = d->next;
        wh_err err;
        /* A verdict from an older connection cannot be acked: the broker has
         * requeued that delivery and will hand it out again. An early-acked
         * job's copy does not depend on its delivery. */
        if(!L->amqp || (d->gen != L->gen && !d->early_acked))
            wh_log(WH_LOG_DEBUG, d->id, "verdict of a lost connection dropped", "verdict", verdict_name[d->verdict]);
        else if(carry_out(L, d, &err) != WH_OK)
            disconnect(L, &err);
        wk_delivery_free(d);
        d = next;
    }
    wh_err err;
    if(L->amqp && wk_acks_flush(L->acks, wh_mono_ms(), L->stopping, send_ack, L->amqp, &err) != WH_OK)
        disconnect(L, &err);
}

static void on_confirm(wk_loop *L, const wh_amqp_event *ev, wh_err *err)
{
    size_t keep = 0;
    for(size_t i = 0; i < L->npend; i++) {
        pending *p = &L->pend[i];
        bool covered = ev->multiple ? p->seq <= ev->tag : p->seq == ev->tag;
        if(!covered) {
            L->pend[keep++] = *p;
            continue;
        }
        /* A copy the broker did not store (nack) or could not route (its
         * queue was deleted?): leave the original unacked and reconnect with
         * backoff. The original returns to the queue, the topology is
         * declared again, and a refusing broker cannot make us spin. */
        if(ev->nack || p->returned) {
            L->resync = true;
            L->pend[keep++] = *p;
            continue;
        }
        wh_log(WH_LOG_DEBUG, p->message_id, "copy confirmed", "acked", p->tag ? "yes" : "early");
        if(p->tag) {
            wk_acks_settled(L->acks, p->tag);
            if(wh_amqp_ack(L->amqp, CH_CONSUME, p->tag, false, err))
                return;
        }
    }
    L->npend = keep;
}

static void on_return(wk_loop *L, const wh_amqp_event *ev)
{
    for(size_t i = 0; i < L->npend; i++)
        if(strcmp(L->pend[i].message_id, ev->message_id) == 0 && !L->pend[i].returned) {
            L->pend[i].returned = true;
            break;
        }
    wh_log(WH_LOG_ERROR, ev->message_id, "republished copy was unroutable", "reply", ev->reply_text);
}

static void on_delivery(wk_loop *L, wh_amqp_event *ev, wh_err *err)
{
    if(L->stopping || L->quiet) {
        wh_amqp_nack(L->amqp, CH_CONSUME, ev->tag, false, true, err);
        return;
    }
    wk_delivery *d = calloc(1, sizeof(*d));
    if(!d) {
        wh_amqp_nack(L->amqp, CH_CONSUME, ev->tag, false, true, err);
        return;
    }
    d->tag = ev->tag;
    d->gen = L->gen;
    d->body = ev->body; /* take ownership */
    ev->body = NULL;
    d->len = ev->len;
    d->too_large = ev->too_large;
    d->body_size = ev->body_size;
    d->redelivered = ev->redelivered || wh_amqp_event_header(ev, WH_HDR_REDELIVERED);
    _Static_assert(sizeof(d->message_id) == sizeof(ev->message_id), "message_id copied whole");
    memcpy(d->message_id, ev->message_id, sizeof(d->message_id)); /* NUL terminated there */
    wk_acks_open(L->acks, ev->tag); /* untracked: acks go one by one */
    d->next = NULL; /* handed to the pool at the end of the turn */
    if(L->in_tail)
        L->in_tail->next = d;
    else
        L->in_head = d;
    L->in_tail = d;
    L->nin++;
}

static void read_some_events(wk_loop *L);

/* Read what the broker sent, then hand this turn's deliveries to the pool
 * at once: one lock and one wake-up for a burst. */
static void read_events(wk_loop *L)
{
    read_some_events(L);
    if(L->amqp)
        wk_wire_heard(wk_pool_wire(L->pool), wh_mono_ms());
    if(!L->amqp && L->nin) /* this turn's deliveries came on the lost connection */
        wh_logf(WH_LOG_DEBUG, NULL, "%d deliveries of the lost connection dropped", drop_deliveries(L->in_head));
    else
        wk_pool_submit(L->pool, L->in_head, L->nin);
    L->in_head = L->in_tail = NULL;
    L->nin = 0;
}

static void read_some_events(wk_loop *L)
{
    for(int i = 0; i < EVENTS_PER_TURN && L->amqp; i++) {
        wh_amqp_event ev;
        wh_err err = {0};
        if(wh_amqp_next(L->amqp, 0, &ev, &err) != WH_OK) {
            disconnect(L, &err);
            return;
        }
        switch(ev.kind) {
        case WH_AMQP_EV_NONE: return;
        case WH_AMQP_EV_DELIVERY: on_delivery(L, &ev, &err); break;
        case WH_AMQP_EV_CONFIRM: on_confirm(L, &ev, &err); break;
        case WH_AMQP_EV_RETURN: on_return(L, &ev); break;
        case WH_AMQP_EV_CANCEL:
            wh_err_set(&err, WH_E_BROKER, "", "the broker cancelled our consumer (queue deleted?)");
            disconnect(L, &err);
            break;
        case WH_AMQP_EV_BLOCKED:
            wh_log(WH_LOG_WARN, NULL, "broker blocked publishing", "reason", ev.reply_text);
            break;
        case WH_AMQP_EV_UNBLOCKED: wh_log(WH_LOG_INFO, NULL, "broker unblocked publishing"); break;
        }
        wh_amqp_event_clear(&ev);
        if(L->amqp && !wh_amqp_alive(L->amqp))
            disconnect(L, &err);
        if(L->amqp && L->resync) {
            L->resync = false;
            wh_err_set(&err, WH_E_BROKER, "", "a retry or dead-letter copy was refused; re-declaring the topology");
            disconnect(L, &err);
            L->backoff_ms = L->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : L->backoff_ms * 2;
        }
    }
}

/* Cancel the consumers and send the deliveries no thread has started
 * straight back to the queue. */
static void stop_consuming(wk_loop *L)
{
    wh_err err;
    if(L->amqp && wh_amqp_cancel_all(L->amqp, CH_CONSUME, &err) != WH_OK)
        disconnect(L, &err);
    for(wk_delivery *d = wk_pool_take_queued(L->pool); d;) {
        wk_delivery *next = d->next;
        if(L->amqp && d->gen == L->gen) {
            wk_acks_settled(L->acks, d->tag);
            if(wh_amqp_nack(L->amqp, CH_CONSUME, d->tag, false, true, &err))
                disconnect(L, &err);
        }
        wk_delivery_free(d);
        d = next;
    }
}

/* Follow the prefetch wk_prefetch wants for the jobs of late: the
 * consumers start again with it (deliveries already here stay ours, to ack
 * as usual). A failure is a lost connection; the next one starts with the
 * new value. */
static void adapt_prefetch(wk_loop *L, int64_t now)
{
    wk_counts c;
    wk_pool_counts(L->pool, &c);
    int want = wk_prefetch_due(&L->prefetch, now, c.ran, c.ran_us, c.ran_bytes);
    if(!want || !L->amqp || L->stopping || L->quiet)
        return;
    wh_err err;
    if(wh_amqp_cancel_all(L->amqp, CH_CONSUME, &err) != WH_OK || consume(L, &err) != WH_OK) {
        disconnect(L, &err);
        return;
    }
    wh_logf(WH_LOG_DEBUG, NULL, "prefetch now %d", want);
}

static void begin_drain(wk_loop *L)
{
    int64_t now = wh_mono_ms();
    if(L->stopping) { /* second signal: stop waiting for grace */
        L->grace_at = now;
        return;
    }
    L->stopping = true;
    L->grace_at = now + (int64_t)L->cfg->grace_s * 1000;
    wh_logf(WH_LOG_INFO, NULL, "draining: %d jobs in flight, grace %d s", wk_pool_inflight(L->pool), L->cfg->grace_s);
    stop_consuming(L);
}

static void begin_quiet(wk_loop *L)
{
    if(L->quiet || L->stopping)
        return;
    L->quiet = true;
    wh_logf(WH_LOG_INFO, NULL, "quiet: taking no new jobs, %d in flight", wk_pool_inflight(L->pool));
    stop_consuming(L);
}

static void read_signals(wk_loop *L)
{
    struct signalfd_siginfo si;
    while(read(L->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        const char *name = si.ssi_signo == SIGTERM ? "TERM" : si.ssi_signo == SIGTSTP ? "TSTP" : "INT";
        wh_log(WH_LOG_INFO, NULL, "signal received", "signal", name);
        if(si.ssi_signo == SIGTSTP)
            begin_quiet(L);
        else
            begin_drain(L);
    }
}

/* During a drain: move to the next step when its time has come.
 * Returns true when the loop should end. */
static bool drain_step(wk_loop *L, int64_t now)
{
    if(wk_pool_inflight(L->pool) == 0 && L->npend == 0 && (!L->amqp || wk_acks_waiting(L->acks) == 0))
        return true;
    if(!L->interrupted && now >= L->grace_at) {
        wh_log(WH_LOG_WARN, NULL, "grace period over; interrupting running jobs");
        wk_pool_interrupt(L->pool);
        L->interrupted = true;
        L->hard_at = now + HARD_EXTRA_MS;
    }
    if(L->interrupted && now >= L->hard_at) {
        wh_log(WH_LOG_WARN, NULL, "jobs did not stop in time; their messages return to the queue");
        wk_pool_abandon(L->pool);
        return true;
    }
    return false;
}

static int poll_timeout(const wk_loop *L, int64_t now)
{
    if(L->amqp && wh_amqp_buffered(L->amqp))
        return 0;
    int64_t t = L->cfg->amqp_heartbeat_s > 0 ? L->cfg->amqp_heartbeat_s * 500 : 1000;
    if(t > 1000)
        t = 1000;
    if(!L->amqp && !L->stopping && L->connect_at - now < t)
        t = L->connect_at - now;
    if(L->stopping)
        t = t > 100 ? 100 : t;
    int64_t acks = L->amqp ? wk_acks_due_in(L->acks, now) : -1;
    if(acks >= 0 && acks < t)
        t = acks;
    return t < 0 ? 0 : (int)t;
}

int wk_loop_run(wk_loop *L)
{
    for(;;) {
        int64_t now = wh_mono_ms();
        if(!L->amqp && !L->stopping && now >= L->connect_at) {
            connect_broker(L);
            if(L->fatal)
                return L->fatal;
        }
        serve_done(L);
        adapt_prefetch(L, now);
        if(L->stopping && drain_step(L, now))
            break;
        struct pollfd fds[3] = {{L->sigfd, POLLIN, 0}, {wk_pool_fd(L->pool), POLLIN, 0}, {-1, POLLIN, 0}};
        if(L->amqp)
            fds[2].fd = wh_amqp_fd(L->amqp);
        int n = poll(fds, 3, poll_timeout(L, now));
        if(n < 0 && errno != EINTR) {
            wh_logf(WH_LOG_ERROR, NULL, "poll: %s", strerror(errno));
            return 1;
        }
        if(fds[0].revents)
            read_signals(L);
        /* Called even when the socket is quiet: heartbeats are sent in here. */
        if(L->amqp)
            read_events(L);
    }
    wh_log(WH_LOG_INFO, NULL, "drained; exiting");
    return 0;
}
