/* stream_demux: see stream_demux.h. */
#include "stream_demux.h"

#include <string.h>

void rt_demux_init(rt_demux *d, bool raw, rt_demux_fn fn, void *ud)
{
    memset(d, 0, sizeof(*d));
    d->raw = raw;
    d->fn = fn;
    d->ud = ud;
}

bool rt_demux_clean(const rt_demux *d)
{
    return d->raw || (d->hdr_len == 0 && d->left == 0);
}

wh_code rt_demux_feed(rt_demux *d, const char *data, size_t len, wh_err *err)
{
    if(d->raw)
        return len ? d->fn(d->ud, RT_STDOUT, data, len) : WH_OK;
    while(len > 0) {
        if(d->left == 0) {
            size_t take = 8 - d->hdr_len < len ? 8 - d->hdr_len : len;
            memcpy(d->hdr + d->hdr_len, data, take);
            d->hdr_len += take;
            data += take;
            len -= take;
            if(d->hdr_len < 8)
                return WH_OK;
            d->hdr_len = 0;
            if(d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3])
                return wh_err_set(err, WH_E_ENGINE, "", "engine stream: bad frame header (byte 0 = %u)",
                                  (unsigned)d->hdr[0]);
            d->cur = (rt_stream)d->hdr[0];
            d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 | (uint32_t)d->hdr[6] << 8 |
                      (uint32_t)d->hdr[7];
            continue;
        }
        size_t take = d->left < len ? d->left : len;
        wh_code rc = d->fn(d->ud, d->cur, data, take);
        if(rc)
            return wh_err_set(err, rc, "", "stream consumer stopped");
        d->left -= (uint32_t)take;
        data += take;
        len -= take;
    }
    return WH_OK;
}

void rt_lines_init(rt_lines *l, rt_line_fn fn, void *ud)
{
    memset(l, 0, sizeof(*l));
    l->fn = fn;
    l->ud = ud;
}

wh_code rt_lines_feed(void *lines, rt_stream s, const char *data, size_t len)
{
    rt_lines *l = lines;
    int i = s == RT_STDERR ? 1 : 0;
    while(len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        if(!l->dropping[i]) {
            size_t room = RT_LINE_MAX - l->len[i];
            size_t take = seg < room ? seg : room;
            memcpy(l->buf[i] + l->len[i], data, take);
            l->len[i] += take;
            if(seg > room) {
                /* Over the cap: emit what fits now, drop the rest of the line. */
                wh_code rc = l->fn(l->ud, s == RT_STDERR ? RT_STDERR : RT_STDOUT, l->buf[i], l->len[i], true);
                l->len[i] = 0;
                l->dropping[i] = true;
                if(rc)
                    return rc;
            }
        }
        if(!nl)
            return WH_OK;
        if(!l->dropping[i]) {
            size_t n = l->len[i];
            if(n && l->buf[i][n - 1] == '\r')
                n--;
            wh_code rc = l->fn(l->ud, s == RT_STDERR ? RT_STDERR : RT_STDOUT, l->buf[i], n, false);
            if(rc)
                return rc;
        }
        l->len[i] = 0;
        l->dropping[i] = false;
        data += seg + 1;
        len -= seg + 1;
    }
    return WH_OK;
}

wh_code rt_lines_flush(rt_lines *l)
{
    for(int i = 0; i < 2; i++) {
        if(l->len[i]) {
            wh_code rc = l->fn(l->ud, i ? RT_STDERR : RT_STDOUT, l->buf[i], l->len[i], false);
            l->len[i] = 0;
            if(rc)
                return rc;
        }
    }
    return WH_OK;
}
