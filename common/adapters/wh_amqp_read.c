/* wh_amqp_read: the AMQP adapter's incoming side. Frames are read one by
 * one and turned into events (deliveries, confirms, returns, cancels,
 * blocked/unblocked); the body cap is checked from the content header before
 * the body is allocated. See wh_amqp.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_amqp_int.h"
#include "wh_text.h"

static void copy_headers(wh_amqp_event *ev, const amqp_table_t *t)
{
    for(int i = 0; i < t->num_entries && ev->nheaders < WH_AMQP_MAX_HEADERS; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        wh_amqp_header *h = &ev->headers[ev->nheaders];
        const amqp_field_value_t *v = &e->value;
        h->is_num = true;
        switch(v->kind) {
        case AMQP_FIELD_KIND_I8: h->num = (int64_t)v->value.i8; break; /* signed: sign-extends */
        case AMQP_FIELD_KIND_U8: h->num = v->value.u8; break;
        case AMQP_FIELD_KIND_I16: h->num = v->value.i16; break;
        case AMQP_FIELD_KIND_U16: h->num = v->value.u16; break;
        case AMQP_FIELD_KIND_I32: h->num = v->value.i32; break;
        case AMQP_FIELD_KIND_U32: h->num = v->value.u32; break;
        case AMQP_FIELD_KIND_I64: h->num = v->value.i64; break;
        case AMQP_FIELD_KIND_U64:
        case AMQP_FIELD_KIND_TIMESTAMP: h->num = (int64_t)v->value.u64; break;
        case AMQP_FIELD_KIND_BOOLEAN: h->num = v->value.boolean; break;
        case AMQP_FIELD_KIND_UTF8:
        case AMQP_FIELD_KIND_BYTES:
            h->is_num = false;
            wh_amqp__copy(h->str, sizeof(h->str), v->value.bytes);
            break;
        default: continue; /* tables, arrays, floats: not used by wharf */
        }
        if(h->is_num)
            wh_text_i64(h->str, h->num);
        wh_amqp__copy(h->key, sizeof(h->key), e->key);
        ev->nheaders++;
    }
}

static wh_code wait_frame(wh_amqp *c, uint16_t ch, uint8_t type, amqp_frame_t *f, wh_err *err)
{
    struct timeval tv = wh_amqp__tv(c->timeout_ms);
    int st = amqp_simple_wait_frame_noblock(c->conn, f, &tv);
    if(st != AMQP_STATUS_OK)
        return wh_amqp__broken(c, err, "read content", amqp_error_string2(st));
    if(f->frame_type != type || f->channel != ch)
        return wh_amqp__broken(c, err, "read content", "unexpected frame inside a message");
    return WH_OK;
}

/* Read the header and body frames that follow a deliver/get-ok/return. The
 * size cap is enforced here, before any allocation for the body. */
static wh_code read_content(wh_amqp *c, uint16_t ch, wh_amqp_event *ev, wh_err *err)
{
    amqp_frame_t f;
    wh_code rc = wait_frame(c, ch, AMQP_FRAME_HEADER, &f, err);
    if(rc)
        return rc;
    ev->body_size = f.payload.properties.body_size;
    const amqp_basic_properties_t *p = f.payload.properties.decoded;
    if(p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        wh_amqp__copy(ev->message_id, sizeof(ev->message_id), p->message_id);
    if(p->_flags & AMQP_BASIC_TYPE_FLAG)
        wh_amqp__copy(ev->type, sizeof(ev->type), p->type);
    if(p->_flags & AMQP_BASIC_HEADERS_FLAG)
        copy_headers(ev, &p->headers);
    ev->too_large = ev->body_size > c->body_cap;
    if(!ev->too_large && !(ev->body = malloc(ev->body_size ? ev->body_size : 1)))
        return wh_amqp__broken(c, err, "read content", "out of memory");
    uint64_t got = 0;
    while(got < ev->body_size) {
        if((rc = wait_frame(c, ch, AMQP_FRAME_BODY, &f, err)))
            return rc;
        size_t n = f.payload.body_fragment.len;
        if(n > ev->body_size - got)
            return wh_amqp__broken(c, err, "read content", "body longer than declared");
        if(ev->body)
            memcpy(ev->body + got, f.payload.body_fragment.bytes, n);
        got += n;
    }
    ev->len = ev->body ? (size_t)ev->body_size : 0;
    return WH_OK;
}

static wh_code on_close(wh_amqp *c, const amqp_frame_t *f, wh_err *err)
{
    char why[300];
    const amqp_channel_close_t *m = f->payload.method.decoded; /* same layout as connection.close */
    char text[256];
    wh_amqp__copy(text, sizeof(text), m->reply_text);
    snprintf(why, sizeof(why), "closed by broker: %u %s", m->reply_code, text);
    if(f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(c->conn, f->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    } else {
        amqp_connection_close_ok_t ok = {0};
        amqp_send_method(c->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    }
    return wh_amqp__broken(c, err, "session", why);
}

static wh_code on_method(wh_amqp *c, const amqp_frame_t *f, wh_amqp_event *ev, wh_err *err)
{
    const void *d = f->payload.method.decoded;
    ev->channel = f->channel;
    switch(f->payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
        const amqp_basic_deliver_t *m = d;
        ev->kind = WH_AMQP_EV_DELIVERY;
        ev->tag = m->delivery_tag;
        ev->redelivered = m->redelivered;
        wh_amqp__copy(ev->routing_key, sizeof(ev->routing_key), m->routing_key);
        return read_content(c, f->channel, ev, err);
    }
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_ack_t *m = d; /* nack shares the leading fields */
        ev->kind = WH_AMQP_EV_CONFIRM;
        ev->tag = m->delivery_tag;
        ev->multiple = m->multiple;
        ev->nack = f->payload.method.id == AMQP_BASIC_NACK_METHOD;
        return WH_OK;
    }
    case AMQP_BASIC_RETURN_METHOD: {
        const amqp_basic_return_t *m = d;
        ev->kind = WH_AMQP_EV_RETURN;
        ev->reply_code = m->reply_code;
        wh_amqp__copy(ev->reply_text, sizeof(ev->reply_text), m->reply_text);
        wh_amqp__copy(ev->routing_key, sizeof(ev->routing_key), m->routing_key);
        return read_content(c, f->channel, ev, err);
    }
    case AMQP_BASIC_CANCEL_METHOD:
        ev->kind = WH_AMQP_EV_CANCEL;
        return WH_OK;
    case AMQP_CONNECTION_BLOCKED_METHOD:
        ev->kind = WH_AMQP_EV_BLOCKED;
        wh_amqp__copy(ev->reply_text, sizeof(ev->reply_text), ((const amqp_connection_blocked_t *)d)->reason);
        return WH_OK;
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
        ev->kind = WH_AMQP_EV_UNBLOCKED;
        return WH_OK;
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        return on_close(c, f, err);
    default:
        return WH_OK; /* stray replies (e.g. a late cancel-ok) carry nothing */
    }
}

wh_code wh_amqp_next(wh_amqp *c, int timeout_ms, wh_amqp_event *ev, wh_err *err)
{
    memset(ev, 0, offsetof(wh_amqp_event, headers));
    if(!c->alive)
        return wh_err_set(err, WH_E_BROKER, "", "amqp: connection is closed");
    struct timeval tv = wh_amqp__tv(timeout_ms < 0 ? 0 : timeout_ms);
    amqp_frame_t f;
    int st = amqp_simple_wait_frame_noblock(c->conn, &f, &tv);
    if(st == AMQP_STATUS_TIMEOUT)
        return WH_OK;
    if(st != AMQP_STATUS_OK)
        return wh_amqp__broken(c, err, "connection", amqp_error_string2(st));
    wh_code rc = f.frame_type == AMQP_FRAME_METHOD ? on_method(c, &f, ev, err)
                                                   : wh_amqp__broken(c, err, "connection", "unexpected content frame");
    if(rc)
        wh_amqp_event_clear(ev);
    amqp_maybe_release_buffers(c->conn);
    return rc;
}

wh_code wh_amqp_get(wh_amqp *c, uint16_t ch, const char *queue, wh_amqp_event *ev, bool *empty, wh_err *err)
{
    memset(ev, 0, offsetof(wh_amqp_event, headers));
    *empty = false;
    amqp_rpc_reply_t r = amqp_basic_get(c->conn, ch, B(queue), 0);
    wh_code rc = wh_amqp__rpc_check(c, r, ch, "basic.get", err);
    if(rc)
        return rc;
    if(r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
        *empty = true;
        return WH_OK;
    }
    const amqp_basic_get_ok_t *m = r.reply.decoded;
    ev->kind = WH_AMQP_EV_DELIVERY;
    ev->channel = ch;
    ev->tag = m->delivery_tag;
    ev->redelivered = m->redelivered;
    wh_amqp__copy(ev->routing_key, sizeof(ev->routing_key), m->routing_key);
    rc = read_content(c, ch, ev, err);
    amqp_maybe_release_buffers(c->conn);
    return rc;
}

void wh_amqp_event_clear(wh_amqp_event *ev)
{
    free(ev->body);
    ev->body = NULL;
    ev->len = 0;
}

const wh_amqp_header *wh_amqp_event_header(const wh_amqp_event *ev, const char *key)
{
    for(int i = 0; i < ev->nheaders; i++)
        if(strcmp(ev->headers[i].key, key) == 0)
            return &ev->headers[i];
    return NULL;
}
