/* wharf-job-types: the job catalogue's per-type defaults as JSON, for the
 * Python and TypeScript clients (producer/python, producer/typescript).
 *
 * The C library records a job's max_attempts as the job's own value, else
 * its type's default (wh_cat_max_attempts), else the configuration's. The
 * other clients cannot link the catalogue, so they ship its defaults as
 * package data: producer/job_types.json, which this program writes. The
 * file is checked in (the package builds need no C build) and the ctest
 * unit.job_types_json runs `--check` so it can never drift from the rows.
 *
 *   wharf-job-types                  the JSON on stdout
 *   wharf-job-types --check FILE     exit 0 when FILE holds exactly that,
 *                                    else 1 with a hint on stderr
 *
 * Per type: max_attempts (0: the configuration's jobs.max_attempts; the
 * value producers record) and timeout_s (0: the configuration's; only the
 * worker applies it, producers record nothing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

#define OUT_MAX (64u * 1024u) /* bytes of JSON at most (38 types take ~3 KB) */
#define MAX_TYPES 256         /* rows at most, over every family */

/* Compare two rows by name (qsort). */
static int by_name(const void *a, const void *b)
{
    const wh_job_type *x = *(const wh_job_type *const *)a, *y = *(const wh_job_type *const *)b;
    return strcmp(x->name, y->name);
}

/* Every row of every family, sorted by name; the count, or -1 when there
 * are more than MAX_TYPES. */
static int sorted_rows(const wh_job_type **rows)
{
    int n = 0;
    for(const wh_job_family *const *f = wh_cat_families; *f; f++)
        for(int i = 0; i < (*f)->ntypes; i++) {
            if(n == MAX_TYPES)
                return -1;
            rows[n++] = &(*f)->types[i];
        }
    qsort(rows, (size_t)n, sizeof(*rows), by_name);
    return n;
}

/* The JSON into out[0..cap): one type a line, so a diff shows the row that
 * changed. Type names are [a-z0-9_.] (the envelope's rule), so they need
 * no escaping. Returns the length, or 0 when it does not fit. */
static size_t render(char *out, size_t cap)
{
    const wh_job_type *rows[MAX_TYPES] = {0};
    int n = sorted_rows(rows);
    if(n < 0)
        return 0;
    size_t len = 0;
    int w = snprintf(out, cap, "{\"generated\": \"by wharf-job-types (producer/job_types.c) from common/catalog; "
                               "do not edit\",\n \"types\": {\n");
    for(int i = 0; w >= 0 && (size_t)w < cap - len && i < n; i++) {
        len += (size_t)w;
        w = snprintf(out + len, cap - len, "  \"%s\": {\"max_attempts\": %d, \"timeout_s\": %d}%s\n", rows[i]->name,
                     rows[i]->max_attempts, rows[i]->timeout_s, i + 1 < n ? "," : "");
    }
    if(w < 0 || (size_t)w >= cap - len)
        return 0;
    len += (size_t)w;
    w = snprintf(out + len, cap - len, " }}\n");
    return w < 0 || (size_t)w >= cap - len ? 0 : len + (size_t)w;
}

/* 0 when `path` holds exactly want[0..n), else 1 (why on stderr). */
static int check(const char *path, const char *want, size_t n)
{
    FILE *f = fopen(path, "rb");
    if(!f) {
        perror(path);
        return 1;
    }
    static char have[OUT_MAX + 1];
    size_t got = fread(have, 1, sizeof(have), f);
    fclose(f);
    if(got == n && memcmp(have, want, n) == 0)
        return 0;
    fprintf(stderr, "%s differs from the catalogue's defaults; regenerate it:\n"
                    "  build/asan/bin/wharf-job-types > %s\n", path, path);
    return 1;
}

int main(int argc, char **argv)
{
    static char out[OUT_MAX];
    size_t n = render(out, sizeof(out));
    if(!n) {
        fputs("wharf-job-types: the catalogue does not fit the output buffer\n", stderr);
        return 2;
    }
    if(argc == 3 && strcmp(argv[1], "--check") == 0)
        return check(argv[2], out, n);
    if(argc != 1) {
        fputs("usage: wharf-job-types [--check FILE]\n", stderr);
        return 2;
    }
    return fwrite(out, 1, n, stdout) == n ? 0 : 1;
}
