/* cli: the `wharf` command line. One table of commands (cli_main.c), one
 * function per command, grouped by topic in cli_*.c. Commands read the same
 * configuration as the worker ([amqp], [redis]) and connect lazily. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "wh_cfg.h"
#include "wh_json.h"
#include "wh_redis.h"
#include "wh_xpage.h"
#include "wharf.h"

/* Exit statuses. */
#define CLI_OK 0
#define CLI_FAIL 1   /* an operation failed, or a job did not succeed */
#define CLI_USAGE 2  /* bad arguments */

typedef struct cli {
    wh_cfg cfg;
    wharf_client *client; /* for submit; NULL until needed */
    wh_redis *redis;      /* for reads; NULL until needed */
    bool tty;             /* stderr is a terminal: show progress bars */
} cli;

typedef struct cli_cmd {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
    const char *usage;    /* first line: synopsis; then details */
} cli_cmd;

/* Connections, created on first use. NULL after printing why. */
wharf_client *cli_client(cli *c);
wh_redis *cli_redis(cli *c);

/* "wharf: <message>" on stderr; returns `status`. */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a command's usage to `out`. Returns CLI_USAGE when out is stderr. */
int cli_usage(const cli_cmd *cmd, FILE *out);
const cli_cmd *cli_find(const char *name);

/* Parse a whole positive int option; false (after an error message) if bad. */
bool cli_int(const char *opt, const char *s, int lo, int hi, int *out);

/* Print a JSON value on one line of stdout; `fallback` if it cannot be
 * serialised. */
void cli_print_json(const wh_json *j, const char *fallback);

/* Format ms since the epoch as "2026-11-23T16:34:10.062Z". */
void cli_time(long long ms, char *out, size_t cap);

/* Wait for one job, with a progress bar on a terminal. Prints "<id> <state>"
 * (plus the error for failures) and returns the state's exit status. */
int cli_wait_one(cli *c, const char *id, int timeout_s);

/* Print the entries of one page of a stream (an XRANGE-shaped array),
 * updating `last` to the last id; return how many. */
typedef long (*cli_page_fn)(const wh_redis_reply *entries, void *ud, char *last, size_t cap);

/* A reader's place in a capped log stream (see wh_xpage.h). */
typedef struct cli_stream {
    const char *key;
    wh_xpage x;
} cli_stream;

/* Read one page of the stream after st->x.last, in one MULTI with XINFO, and
 * print it. When the stream was trimmed past what this reader printed (the
 * writer outran it, or the stream keeps only the newest lines), say so on
 * stderr first with how many lines are missing. With `block`, first wait up
 * to block_ms for something new (XREAD). Returns entries printed, or -1
 * after printing the error. */
long cli_stream_page(wh_redis *r, cli_stream *st, bool block, int block_ms, cli_page_fn print, void *ud);

/* A text table whose columns are as wide as their widest cell, so that every
 * row's cells start where the header's do (cli_table.c). Cells are filled
 * left to right, row after row; an empty cell shows as "-". */
typedef struct cli_table cli_table;

/* A table of `ncols` columns (1..16) with the `header` row (NULL: none).
 * NULL when out of memory. Free with cli_table_free (NULL is a no-op). */
cli_table *cli_table_new(int ncols, const char *const *header);
void cli_table_free(cli_table *t);

/* Add the next cell, printf-style (cut to 511 bytes). */
void cli_table_cell(cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print the table to `out`. CLI_OK, or CLI_FAIL after saying that a cell
 * could not be kept (out of memory, or over 2^20 cells). */
int cli_table_print(const cli_table *t, FILE *out);

int cli_submit(cli *c, int argc, char **argv);
int cli_updates(cli *c, int argc, char **argv);
int cli_cancel(cli *c, int argc, char **argv);
int cli_schedule(cli *c, int argc, char **argv);

/* Build an args JSON object from --args-json and KEY=VALUE pairs (VALUE
 * read as JSON when it parses). malloc'd text, or NULL after an error. */
char *cli_build_args(const char *json, const char **kvs, int n);

/* Check a job type and its args (JSON text) against the job catalogue the
 * workers admit with; false after printing why. */
bool cli_validate(const char *type, const char *args_json);
int cli_wait(cli *c, int argc, char **argv);
int cli_status(cli *c, int argc, char **argv);
int cli_logs(cli *c, int argc, char **argv);
int cli_ctr_logs(cli *c, int argc, char **argv); /* cli_runtime.c */
int cli_host_stats(cli *c, int argc, char **argv); /* cli_runtime.c */
int cli_workers(cli *c, int argc, char **argv);
int cli_stats(cli *c, int argc, char **argv);
int cli_dead(cli *c, int argc, char **argv);
int cli_serve(cli *c, int argc, char **argv); /* srv_main.c */

#endif
