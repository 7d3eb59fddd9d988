/* fuzz_demux: the Docker log stream demultiplexer and line splitter.
 *
 * Input: one flags byte (bit 0: raw TTY stream; the rest seeds the cut
 * points), then the stream. Properties beyond "no crash, no UB":
 *  - the stream cut into arbitrary pieces demultiplexes exactly like the
 *    whole stream fed at once (same bytes, same streams, same verdict);
 *  - lines never hold a newline and never exceed RT_LINE_MAX bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream_demux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    unsigned char *buf; /* stream byte, then payload bytes, per callback */
    size_t len, cap;
} sink;

static void put(sink *s, const void *p, size_t n)
{
    if(s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 64;
        s->buf = realloc(s->buf, s->cap);
        if(!s->buf)
            abort();
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

/* Payload is recorded byte by byte with its stream, so the record does not
 * depend on how the input was cut. */
static wh_code on_payload(void *ud, rt_stream st, const char *data, size_t len)
{
    sink *s = ud;
    for(size_t i = 0; i < len; i++) {
        unsigned char rec[2] = {(unsigned char)st, (unsigned char)data[i]};
        put(s, rec, 2);
    }
    return WH_OK;
}

static wh_code on_line(void *ud, rt_stream st, const char *line, size_t len, bool cut)
{
    (void)ud;
    (void)cut;
    if(st != RT_STDOUT && st != RT_STDERR && st != RT_STDIN)
        abort();
    if(len > RT_LINE_MAX || memchr(line, '\n', len))
        abort();
    return WH_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if(size < 1)
        return 0;
    bool raw = data[0] & 1;
    unsigned seed = data[0] >> 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    sink whole = {0}, cut = {0};
    rt_demux d;
    wh_err err = {0};
    rt_demux_init(&d, raw, on_payload, &whole);
    wh_code rc_whole = rt_demux_feed(&d, in, n, &err);
    bool clean_whole = rt_demux_clean(&d);

    rt_demux_init(&d, raw, on_payload, &cut);
    wh_code rc_cut = WH_OK;
    size_t off = 0, step = 1 + seed % 13;
    while(off < n && rc_cut == WH_OK) {
        size_t k = step < n - off ? step : n - off;
        rc_cut = rt_demux_feed(&d, in + off, k, &err);
        off += k;
        step = 1 + (step * 7 + seed) % 17;
    }
    if(rc_cut != rc_whole)
        abort();
    if(rc_whole == WH_OK && (rt_demux_clean(&d) != clean_whole || cut.len != whole.len ||
                             (whole.len && memcmp(cut.buf, whole.buf, whole.len) != 0)))
        abort();
    if(rc_whole != WH_OK && rc_whole != WH_E_ENGINE)
        abort();

    rt_lines *lines = malloc(sizeof(*lines));
    if(!lines)
        abort();
    rt_lines_init(lines, on_line, NULL);
    rt_demux_init(&d, raw, rt_lines_feed, lines);
    if(rt_demux_feed(&d, in, n, &err) == WH_OK)
        rt_lines_flush(lines);
    free(lines);
    free(whole.buf);
    free(cut.buf);
    return 0;
}
