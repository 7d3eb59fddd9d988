/* wh_amqp: librabbitmq-c adapter, connection side: connect, RPCs,
 * publishing and acks. Incoming frames are read in wh_amqp_read.c. See
 * wh_amqp.h for the design note. */
#include "wh_amqp_int.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_utf8.h"

amqp_bytes_t wh_amqp__bytes(const char *s)
{
    return amqp_cstring_bytes(s ? s : "");
}

void wh_amqp__copy(char *dst, size_t cap, amqp_bytes_t b)
{
    size_t n = b.len < cap - 1 ? b.len : wh_utf8_cut(b.bytes, b.len, cap - 1);
    if(n)
        memcpy(dst, b.bytes, n);
    dst[n] = '\0';
}

struct timeval wh_amqp__tv(int ms)
{
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

wh_code wh_amqp__broken(wh_amqp *c, wh_err *err, const char *what, const char *why)
{
    c->alive = false;
    return wh_err_set(err, WH_E_BROKER, "", "amqp %s: %s", what, why);
}

/* Interpret an RPC reply. Server closes are answered with close-ok so the
 * broker logs a clean close; either way the connection is then dead. */
wh_code wh_amqp__rpc_check(wh_amqp *c, amqp_rpc_reply_t r, uint16_t ch, const char *what, wh_err *err)
{
    char text[256];
    switch(r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return WH_OK;
    case AMQP_RESPONSE_NONE:
        return wh_amqp__broken(c, err, what, "missing RPC reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return wh_amqp__broken(c, err, what, amqp_error_string2(r.library_error));
    default:
        break;
    }
    if(r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        wh_amqp__copy(text, sizeof(text), m->reply_text);
        amqp_connection_close_ok_t ok = {0};
        amqp_send_method(c->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        c->alive = false;
        return wh_err_set(err, WH_E_BROKER, "", "amqp %s: connection closed by broker: %s", what, text);
    }
    if(r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        wh_amqp__copy(text, sizeof(text), m->reply_text);
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(c->conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        c->alive = false;
        /* 406 PRECONDITION_FAILED on a declare: the object exists with other
         * arguments; 404: it does not exist (passive declare). */
        wh_code code = m->reply_code == 406 ? WH_E_CONFLICT : m->reply_code == 404 ? WH_E_NOT_FOUND : WH_E_BROKER;
        return wh_err_set(err, code, "", "amqp %s: %s", what, text);
    }
    return wh_amqp__broken(c, err, what, "unexpected server reply");
}

static void client_properties(amqp_table_t *t, amqp_table_entry_t *e, amqp_table_entry_t *caps_e,
                              amqp_table_t *caps, const char *name)
{
    static const char *const cap_names[] = {"publisher_confirms", "consumer_cancel_notify", "connection.blocked",
                                            "basic.nack", "exchange_exchange_bindings"};
    for(int i = 0; i < 5; i++) {
        caps_e[i].key = amqp_cstring_bytes(cap_names[i]);
        caps_e[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
        caps_e[i].value.value.boolean = 1;
    }
    caps->num_entries = 5;
    caps->entries = caps_e;
    e[0].key = amqp_cstring_bytes("capabilities");
    e[0].value.kind = AMQP_FIELD_KIND_TABLE;
    e[0].value.value.table = *caps;
    e[1].key = amqp_cstring_bytes("connection_name");
    e[1].value.kind = AMQP_FIELD_KIND_UTF8;
    e[1].value.value.bytes = B(name ? name : "wharf");
    e[2].key = amqp_cstring_bytes("product");
    e[2].value.kind = AMQP_FIELD_KIND_UTF8;
    e[2].value.value.bytes = amqp_cstring_bytes("wharf");
    t->num_entries = 3;
    t->entries = e;
}

static wh_code open_socket(wh_amqp *c, const struct amqp_connection_info *ci, wh_err *err)
{
    amqp_socket_t *s;
    if(ci->ssl) {
        s = amqp_ssl_socket_new(c->conn);
        if(s) {
            amqp_ssl_socket_set_verify_peer(s, 1);
            amqp_ssl_socket_set_verify_hostname(s, 1);
            const char *ca = getenv("WHARF_AMQP_CACERT");
            if(amqp_ssl_socket_set_cacert(s, ca ? ca : "/etc/ssl/certs/ca-certificates.crt") != AMQP_STATUS_OK)
                return wh_amqp__broken(c, err, "tls", "cannot load CA certificates");
        }
    } else {
        s = amqp_tcp_socket_new(c->conn);
    }
    if(!s)
        return wh_amqp__broken(c, err, "connect", "cannot create socket");
    struct timeval tv = wh_amqp__tv(c->timeout_ms);
    int st = amqp_socket_open_noblock(s, ci->host, ci->port, &tv);
    if(st != AMQP_STATUS_OK) {
        char why[300];
        snprintf(why, sizeof(why), "%s:%d: %s", ci->host, ci->port, amqp_error_string2(st));
        return wh_amqp__broken(c, err, "connect", why);
    }
    return WH_OK;
}

static wh_code login(wh_amqp *c, const wh_amqp_opts *o, const struct amqp_connection_info *ci, wh_err *err)
{
    amqp_table_entry_t e[3], caps_e[5];
    amqp_table_t props, caps;
    client_properties(&props, e, caps_e, &caps, o->name);
    amqp_rpc_reply_t r = amqp_login_with_properties(c->conn, ci->vhost, 0, 131072, o->heartbeat_s, &props,
                                                    AMQP_SASL_METHOD_PLAIN, ci->user, ci->password);
    if(r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_CONNECTION_CLOSED)
        return wh_amqp__broken(c, err, "login", "refused (wrong user or password, or no access to the vhost)");
    return wh_amqp__rpc_check(c, r, 0, "login", err);
}

/* Connect to one broker URL (see wh_amqp_connect). */
static wh_amqp *connect_one(const wh_amqp_opts *o, const char *one, wh_err *err)
{
    wh_amqp *c = calloc(1, sizeof(*c));
    char *url = strdup(one);
    if(!c || !url) {
        free(c);
        free(url);
        wh_err_set(err, WH_E_NOMEM, "", "out of memory");
        return NULL;
    }
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    c->body_cap = o->body_cap ? o->body_cap : (1u << 20);
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    if(amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
        free(url);
        free(c);
        wh_err_set(err, WH_E_BAD_CONFIG, "url", "amqp.url: not a valid amqp:// or amqps:// URL");
        return NULL;
    }
    /* "amqp://host/" names the empty vhost to librabbitmq; users mean "/". */
    if(!ci.vhost || !ci.vhost[0])
        ci.vhost = "/";
    c->conn = amqp_new_connection();
    c->alive = c->conn != NULL;
    struct timeval tv = wh_amqp__tv(c->timeout_ms);
    wh_code rc = c->conn ? WH_OK : wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    if(!rc) {
        amqp_set_handshake_timeout(c->conn, &tv);
        amqp_set_rpc_timeout(c->conn, &tv);
        rc = open_socket(c, &ci, err);
    }
    if(!rc)
        rc = login(c, o, &ci, err);
    if(!rc)
        rc = wh_amqp_channel_open(c, 1, err);
    /* The parsed URL points into `url`, which holds the password. */
    memset(url, 0, strlen(one));
    free(url);
    if(rc) {
        wh_amqp_free(c);
        return NULL;
    }
    return c;
}

wh_amqp *wh_amqp_connect(const wh_amqp_opts *o, wh_err *err)
{
    const char *p = o->url ? o->url : "";
    char one[WH_AMQP_URL_MAX];
    int tried = 0;
    wh_err last;
    wh_err_set(&last, WH_E_BAD_CONFIG, "url", "amqp.url: no URL given");
    for(;;) {
        p += strspn(p, WH_AMQP_URL_SEPS);
        size_t n = strcspn(p, WH_AMQP_URL_SEPS);
        if(!n)
            break;
        if(n >= sizeof(one)) {
            wh_err_set(err, WH_E_BAD_CONFIG, "url", "amqp.url: a URL is longer than %d bytes", WH_AMQP_URL_MAX - 1);
            return NULL;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        p += n;
        tried++;
        wh_amqp *c = connect_one(o, one, &last);
        memset(one, 0, n); /* it may hold a password */
        if(c)
            return c;
        /* A malformed URL is a configuration error, not a broker that is down. */
        if(last.code == WH_E_BAD_CONFIG)
            break;
    }
    if(tried > 1 && last.code != WH_E_BAD_CONFIG)
        wh_err_set(err, last.code, last.field, "%.200s (tried all %d brokers of amqp.url)", last.msg, tried);
    else if(err)
        *err = last;
    return NULL;
}

void wh_amqp_free(wh_amqp *c)
{
    if(!c)
        return;
    if(c->conn) {
        if(c->alive)
            amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(c->conn);
    }
    free(c);
}

bool wh_amqp_alive(const wh_amqp *c) { return c && c->alive; }
int wh_amqp_fd(const wh_amqp *c) { return amqp_get_sockfd(c->conn); }

bool wh_amqp_buffered(const wh_amqp *c)
{
    return amqp_frames_enqueued(c->conn) || amqp_data_in_buffer(c->conn);
}

wh_code wh_amqp_channel_open(wh_amqp *c, uint16_t ch, wh_err *err)
{
    amqp_channel_open(c->conn, ch);
    return wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "channel.open", err);
}

wh_code wh_amqp_confirm_select(wh_amqp *c, uint16_t ch, wh_err *err)
{
    if(ch >= WH_AMQP_CHANNELS)
        return wh_err_set(err, WH_E_INTERNAL, "", "amqp: channel %u out of range", ch);
    amqp_confirm_select(c->conn, ch);
    wh_code rc = wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "confirm.select", err);
    if(!rc) {
        c->confirming[ch] = true;
        c->seq[ch] = 0;
    }
    return rc;
}

wh_code wh_amqp_qos(wh_amqp *c, uint16_t ch, uint16_t prefetch, wh_err *err)
{
    amqp_basic_qos(c->conn, ch, 0, prefetch, 0);
    return wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "basic.qos", err);
}

/* Build an AMQP table from fields; `e` must have room for n entries. */
static amqp_table_t make_table(const wh_amqp_field *f, int n, amqp_table_entry_t *e)
{
    amqp_table_t t = {n, e};
    for(int i = 0; i < n; i++) {
        e[i].key = amqp_cstring_bytes(f[i].key);
        if(f[i].str) {
            e[i].value.kind = AMQP_FIELD_KIND_UTF8;
            e[i].value.value.bytes = amqp_cstring_bytes(f[i].str);
        } else {
            e[i].value.kind = AMQP_FIELD_KIND_I64;
            e[i].value.value.i64 = f[i].num;
        }
    }
    return t;
}

wh_code wh_amqp_declare_exchange(wh_amqp *c, uint16_t ch, const char *name, const char *type, wh_err *err)
{
    amqp_exchange_declare(c->conn, ch, B(name), B(type), 0, 1, 0, 0, amqp_empty_table);
    return wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "exchange.declare", err);
}

wh_code wh_amqp_declare_queue(wh_amqp *c, uint16_t ch, const char *name, const wh_amqp_field *args, int nargs,
                              uint32_t *messages, wh_err *err)
{
    amqp_table_entry_t e[WH_AMQP_MAX_HEADERS];
    if(nargs > WH_AMQP_MAX_HEADERS)
        return wh_err_set(err, WH_E_INTERNAL, "", "amqp: too many queue arguments");
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(c->conn, ch, B(name), 0, 1, 0, 0, make_table(args, nargs, e));
    char what[300];
    snprintf(what, sizeof(what), "queue.declare %s", name);
    wh_code rc = wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, what, err);
    if(!rc && ok && messages)
        *messages = ok->message_count;
    return rc;
}

wh_code wh_amqp_queue_count(wh_amqp *c, uint16_t ch, const char *name, uint32_t *messages, uint32_t *consumers,
                            wh_err *err)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->conn, ch, B(name), 1, 0, 0, 0, amqp_empty_table);
    char what[300];
    snprintf(what, sizeof(what), "queue %s", name);
    wh_code rc = wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, what, err);
    if(!rc && ok) {
        if(messages)
            *messages = ok->message_count;
        if(consumers)
            *consumers = ok->consumer_count;
    }
    return rc;
}

wh_code wh_amqp_bind(wh_amqp *c, uint16_t ch, const char *queue, const char *exchange, const char *key,
                     const wh_amqp_field *args, int nargs, wh_err *err)
{
    amqp_table_entry_t e[WH_AMQP_MAX_HEADERS];
    if(nargs > WH_AMQP_MAX_HEADERS)
        return wh_err_set(err, WH_E_INTERNAL, "", "amqp: too many binding arguments");
    amqp_queue_bind(c->conn, ch, B(queue), B(exchange), B(key), make_table(args, nargs, e));
    return wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "queue.bind", err);
}

wh_code wh_amqp_purge(wh_amqp *c, uint16_t ch, const char *queue, uint32_t *purged, wh_err *err)
{
    amqp_queue_purge_ok_t *ok = amqp_queue_purge(c->conn, ch, B(queue));
    wh_code rc = wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "queue.purge", err);
    if(!rc && ok && purged)
        *purged = ok->message_count;
    return rc;
}

wh_code wh_amqp_consume(wh_amqp *c, uint16_t ch, const char *queue, wh_err *err)
{
    int slot = 0; /* a cancelled consumer's slot, or a new one */
    while(slot < c->nconsumers && c->consumers[slot][0])
        slot++;
    if(slot == WH_AMQP_CONSUMERS)
        return wh_err_set(err, WH_E_INTERNAL, "", "amqp: too many consumers");
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(c->conn, ch, B(queue), amqp_empty_bytes, 0, 0, 0,
                                                     amqp_empty_table);
    wh_code rc = wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "basic.consume", err);
    if(!rc && ok) {
        wh_amqp__copy(c->consumers[slot], sizeof(c->consumers[0]), ok->consumer_tag);
        c->consumer_ch[slot] = ch;
        if(slot == c->nconsumers)
            c->nconsumers++;
    }
    return rc;
}

wh_code wh_amqp_cancel_all(wh_amqp *c, uint16_t ch, wh_err *err)
{
    wh_code first = WH_OK;
    for(int i = 0; i < c->nconsumers; i++) {
        if(c->consumer_ch[i] != ch || !c->consumers[i][0])
            continue;
        amqp_basic_cancel(c->conn, ch, B(c->consumers[i]));
        wh_code rc = wh_amqp__rpc_check(c, amqp_get_rpc_reply(c->conn), ch, "basic.cancel", err);
        c->consumers[i][0] = '\0';
        if(rc && !first)
            first = rc;
    }
    return first;
}

wh_code wh_amqp_publish(wh_amqp *c, uint16_t ch, const char *exchange, const char *key, const wh_amqp_msg *m,
                        bool mandatory, uint64_t *seq, wh_err *err)
{
    amqp_table_entry_t e[WH_AMQP_MAX_HEADERS];
    if(m->nheaders > WH_AMQP_MAX_HEADERS)
        return wh_err_set(err, WH_E_INTERNAL, "", "amqp: too many headers");
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = 2;
    if(m->content_type) {
        p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
        p.content_type = B(m->content_type);
    }
    if(m->message_id) {
        p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p.message_id = B(m->message_id);
    }
    if(m->type) {
        p._flags |= AMQP_BASIC_TYPE_FLAG;
        p.type = B(m->type);
    }
    if(m->nheaders) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers = make_table(m->headers, m->nheaders, e);
    }
    if(m->priority > 0) {
        p._flags |= AMQP_BASIC_PRIORITY_FLAG;
        p.priority = (uint8_t)m->priority;
    }
    amqp_bytes_t body = {m->len, (void *)m->body};
    int st = amqp_basic_publish(c->conn, ch, B(exchange), B(key), mandatory, 0, &p, body);
    if(st != AMQP_STATUS_OK)
        return wh_amqp__broken(c, err, "publish", amqp_error_string2(st));
    if(ch < WH_AMQP_CHANNELS && c->confirming[ch] && seq)
        *seq = ++c->seq[ch];
    return WH_OK;
}

wh_code wh_amqp_ack(wh_amqp *c, uint16_t ch, uint64_t tag, bool multiple, wh_err *err)
{
    int st = amqp_basic_ack(c->conn, ch, tag, multiple);
    return st == AMQP_STATUS_OK ? WH_OK : wh_amqp__broken(c, err, "basic.ack", amqp_error_string2(st));
}

wh_code wh_amqp_nack(wh_amqp *c, uint16_t ch, uint64_t tag, bool multiple, bool requeue, wh_err *err)
{
    int st = amqp_basic_nack(c->conn, ch, tag, multiple, requeue);
    return st == AMQP_STATUS_OK ? WH_OK : wh_amqp__broken(c, err, "basic.nack", amqp_error_string2(st));
}

