/* cli_table: the CLI's text tables. Cells are kept until the table is
 * printed, so each column is as wide as its widest cell (header included) and
 * every row's cells start where the header's do, whatever the values. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_TABLE_COLS_MAX 16
#define CLI_TABLE_CELL_MAX 512          /* bytes of one cell; longer ones are cut */
#define CLI_TABLE_CELLS_MAX (1u << 20)  /* cells of one table; more are dropped */
#define CLI_TABLE_GAP 2                 /* spaces between columns */

struct cli_table {
    int ncols;
    char **cells;     /* row-major, the header's row first when there is one */
    size_t n, cap;    /* cells held, and room for */
    bool failed;      /* a cell could not be kept: print says so */
};

cli_table *cli_table_new(int ncols, const char *const *header)
{
    cli_table *t = ncols > 0 && ncols <= CLI_TABLE_COLS_MAX ? calloc(1, sizeof(*t)) : NULL;
    if(!t)
        return NULL;
    t->ncols = ncols;
    for(int i = 0; header && i < ncols; i++)
        cli_table_cell(t, "%s", header[i]);
    return t;
}

void cli_table_free(cli_table *t)
{
    if(!t)
        return;
    for(size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void cli_table_cell(cli_table *t, const char *fmt, ...)
{
    if(!t || t->failed)
        return;
    if(t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **grown = cap <= CLI_TABLE_CELLS_MAX ? realloc(t->cells, cap * sizeof(*grown)) : NULL;
        if(!grown) {
            t->failed = true;
            return;
        }
        t->cells = grown;
        t->cap = cap;
    }
    char buf[CLI_TABLE_CELL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* An empty cell would shift the words after it for a reader (and a
     * script) splitting on blanks. */
    char *cell = strdup(buf[0] ? buf : "-");
    if(!cell)
        t->failed = true;
    else
        t->cells[t->n++] = cell;
}

int cli_table_print(const cli_table *t, FILE *out)
{
    if(!t || t->failed)
        return cli_error(CLI_FAIL, "out of memory building the table");
    size_t w[CLI_TABLE_COLS_MAX] = {0};
    for(size_t i = 0; i < t->n; i++) {
        size_t len = strlen(t->cells[i]);
        if(len > w[i % (size_t)t->ncols])
            w[i % (size_t)t->ncols] = len;
    }
    for(size_t i = 0; i < t->n; i++) {
        size_t col = i % (size_t)t->ncols;
        bool last = col + 1 == (size_t)t->ncols || i + 1 == t->n;
        /* The last column is not padded: no trailing blanks. */
        fprintf(out, "%-*s%s", last ? 0 : (int)(w[col] + CLI_TABLE_GAP), t->cells[i], last ? "\n" : "");
    }
    return CLI_OK;
}
