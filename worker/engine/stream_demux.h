/* stream_demux: Docker's multiplexed stdout/stderr stream, as a pure function.
 *
 * A container without a TTY answers logs, attach and exec with frames:
 *   byte 0      stream: 0 stdin, 1 stdout, 2 stderr
 *   bytes 1..3  zero
 *   bytes 4..7  payload length, big endian
 *   payload
 * Frames arrive cut anywhere by the transport, so the demuxer keeps the
 * partial header and the bytes still owed to the current frame. Nothing is
 * allocated: payload bytes are handed on as they come, and rt_lines then
 * cuts them into lines of at most RT_LINE_MAX bytes per stream. With a TTY
 * the stream is raw (all stdout): set `raw`. */
#ifndef RT_DEMUX_H
#define RT_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wh_err.h"

#define RT_LINE_MAX 8192 /* bytes of one log line kept; the rest of the line is dropped */

typedef enum rt_stream { RT_STDIN = 0, RT_STDOUT = 1, RT_STDERR = 2 } rt_stream;

/* Receives demultiplexed payload bytes; return WH_OK to go on. */
typedef wh_code (*rt_demux_fn)(void *ud, rt_stream s, const char *data, size_t len);

typedef struct rt_demux {
    bool raw;               /* TTY stream: everything is stdout, no headers */
    unsigned char hdr[8];   /* header bytes seen so far */
    size_t hdr_len;
    uint32_t left;          /* payload bytes still owed to the current frame */
    rt_stream cur;
    rt_demux_fn fn;
    void *ud;
} rt_demux;

/* Start a demuxer that hands payload to fn(ud, ...). */
void rt_demux_init(rt_demux *d, bool raw, rt_demux_fn fn, void *ud);

/* Feed `len` bytes. Returns WH_OK, the callback's code, or WH_E_ENGINE for
 * a header that is not a Docker frame header (stream byte > 2 or non-zero
 * padding); the demuxer must not be fed again after an error. */
wh_code rt_demux_feed(rt_demux *d, const char *data, size_t len, wh_err *err);

/* True when the input ended on a frame boundary. */
bool rt_demux_clean(const rt_demux *d);

/* ---- lines ---- */

/* Receives one line without its newline (cut lines come with cut = true). */
typedef wh_code (*rt_line_fn)(void *ud, rt_stream s, const char *line, size_t len, bool cut);

typedef struct rt_lines {
    char buf[2][RT_LINE_MAX]; /* stdout, stderr partial lines */
    size_t len[2];
    bool dropping[2];         /* the current line passed RT_LINE_MAX */
    rt_line_fn fn;
    void *ud;
} rt_lines;

void rt_lines_init(rt_lines *l, rt_line_fn fn, void *ud);

/* An rt_demux_fn: split payload into lines per stream. */
wh_code rt_lines_feed(void *lines, rt_stream s, const char *data, size_t len);

/* Emit the partial lines left at the end of the stream. */
wh_code rt_lines_flush(rt_lines *l);

#endif
