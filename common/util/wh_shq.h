/* wh_shq: the one place where job data becomes a POSIX shell line.
 *
 * An SSH exec request is a single string that the remote sshd hands to the
 * user's shell (`sh -c LINE`). Every word that comes from a job (argv
 * elements, env values, the working directory) is written here as a single
 * quoted word: the bytes between '...' are taken literally by every POSIX
 * shell (no expansion of $, `, \, globs or newlines), and a ' in the data is
 * written as '\'' (close, escaped quote, reopen). Nothing else in wharf
 * builds remote shell text. NUL bytes cannot be passed through argv and
 * are refused. Env names must match [A-Za-z_][A-Za-z0-9_]{0,127}. */
#ifndef WH_SHQ_H
#define WH_SHQ_H

#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"

#define WH_SHQ_LINE_MAX (256u * 1024) /* bytes of a built command line */

/* A string with its length (job strings are not NUL-terminated). */
typedef struct wh_shq_str {
    const char *p;
    size_t n;
} wh_shq_str;

/* What to run: `argv` (argc >= 1), or when argc == 0 a shell reading its
 * script from stdin (`sh -s`). Optional cwd (NULL/empty: the login
 * directory) and env pairs (names are checked). */
typedef struct wh_shq_cmd {
    const wh_shq_str *argv;
    int argc;
    const wh_shq_str *cwd;        /* NULL: none */
    const wh_shq_str *env_names;  /* nenv names ... */
    const wh_shq_str *env_values; /* ... and their values */
    int nenv;
} wh_shq_cmd;

/* Bytes wh_shq_word writes for `n` bytes of `s` (without a terminator). */
size_t wh_shq_word_len(const char *s, size_t n);

/* Write `s` as one single-quoted shell word into `out`, which must hold
 * wh_shq_word_len(s, n) bytes; returns that length. No terminator. */
size_t wh_shq_word(const char *s, size_t n, char *out);

/* True when `s` is a valid environment variable name. */
bool wh_shq_env_name(const char *s, size_t n);

/* Build the remote line for `c`:
 *     [cd -- 'CWD' &&] [NAME='v' ...] exec 'argv0' 'argv1' ...
 * or, with argc == 0, `... exec sh -s`. On WH_OK *out is a malloc'd
 * NUL-terminated string the caller frees. Fails with WH_E_BAD_ARGS (field
 * "args.argv", "args.env" or "args.cwd") on a NUL byte or a bad env name,
 * and WH_E_TOO_LARGE past WH_SHQ_LINE_MAX. */
wh_code wh_shq_build(const wh_shq_cmd *c, char **out, wh_err *err);

#endif
