/* drivers: the lxc and pct argv tables (see drivers.h), and running one
 * of their lines over SSH. */
#include <string.h>

#include "drivers.h"

struct pv_driver {
    const char *name;
    const char *const *rows[PV_ACTION_COUNT]; /* NULL-terminated templates; NULL: no-op */
};

#define ROW(...) ((const char *const[]){__VA_ARGS__, NULL})

static const pv_driver drivers[] = {
    {"lxc",
     {
         [PV_CLONE] = ROW("lxc-copy", "{-P}", "-n", "{template}", "-N", "{name}"),
         [PV_TAG] = NULL,
         [PV_START] = ROW("lxc-start", "{-P}", "-n", "{name}"),
         [PV_WAIT] = ROW("lxc-wait", "{-P}", "-n", "{name}", "-s", "RUNNING", "-t", "30"),
         [PV_EXEC] = ROW("lxc-attach", "{-P}", "-n", "{name}", "{--}"),
         [PV_STOP] = ROW("lxc-stop", "{-P}", "-n", "{name}", "-k"),
         [PV_DESTROY] = ROW("lxc-destroy", "{-P}", "-f", "-n", "{name}"),
         [PV_EXISTS] = ROW("lxc-info", "{-P}", "-n", "{name}", "-s"),
     }},
    {"pct",
     {
         [PV_CLONE] = ROW("pct", "clone", "{template}", "{name}", "--full", "1"),
         [PV_TAG] = ROW("pct", "set", "{name}", "--tags", "{tags}", "--description", "{description}"),
         [PV_START] = ROW("pct", "start", "{name}"),
         [PV_WAIT] = ROW("sh", "-c", "i=0; while [ $i -lt 60 ]; do pct status \"$1\" | grep -q running && exit 0; "
                                     "i=$((i+1)); sleep 0.5; done; exit 1",
                         "sh", "{name}"),
         [PV_EXEC] = ROW("pct", "exec", "{name}", "{--}"),
         [PV_STOP] = ROW("pct", "stop", "{name}"),
         [PV_DESTROY] = ROW("sh", "-c", "pct stop \"$1\" >/dev/null 2>&1; pct destroy \"$1\" --purge 1", "sh",
                            "{name}"),
         [PV_EXISTS] = ROW("pct", "status", "{name}"),
     }},
};

const pv_driver *pv_drv_find(const char *name, size_t n)
{
    for(size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if(strlen(drivers[i].name) == n && memcmp(drivers[i].name, name, n) == 0)
            return &drivers[i];
    return NULL;
}

static const char *value_of(const char *tok, const pv_drv_vals *v)
{
    if(strcmp(tok, "{name}") == 0)
        return v->name;
    if(strcmp(tok, "{template}") == 0)
        return v->template_;
    if(strcmp(tok, "{tags}") == 0)
        return v->tags ? v->tags : "";
    if(strcmp(tok, "{description}") == 0)
        return v->description ? v->description : "";
    return tok;
}

static int push(pv_drv_line *out, const char *s)
{
    if(out->n >= PV_DRV_ARGV_MAX)
        return -1;
    out->v[out->n++] = s;
    return 0;
}

int pv_drv_argv(const pv_driver *d, pv_action action, const pv_drv_vals *vals, pv_drv_line *out)
{
    out->n = 0;
    const char *const *row = action >= 0 && action < PV_ACTION_COUNT ? d->rows[action] : NULL;
    if(!row)
        return -1;
    for(; *row; row++) {
        int rc = 0;
        if(strcmp(*row, "{-P}") == 0) {
            if(vals->lxc_path && vals->lxc_path[0])
                rc = push(out, "-P") || push(out, vals->lxc_path);
        } else if(strcmp(*row, "{--}") == 0) {
            rc = push(out, "--");
            for(int i = 0; !rc && i < vals->ncmd; i++)
                rc = push(out, vals->cmd[i]);
        } else {
            rc = push(out, value_of(*row, vals));
        }
        if(rc) {
            out->n = 0;
            return -1;
        }
    }
    return 0;
}
