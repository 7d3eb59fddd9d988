/* owner: the `owner` of an upload, "user[:group]" where each part is a
 * number or a name (its shape is the catalogue's pv_owner_ok). Names are
 * resolved on the target host (id -u, then getent group or /etc/group), so
 * they mean what they mean there; the names travel as argv words of a
 * fixed script, never inside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provision.h"
#include "wh_shq.h"

static bool numeric(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

static const char script[] =
    "u=; g=; "
    "if [ -n \"$1\" ]; then u=$(id -u \"$1\") || exit 3; fi; "
    "if [ -n \"$2\" ]; then "
    "g=$(getent group \"$2\" 2>/dev/null | cut -d: -f3); "
    "[ -n \"$g\" ] || g=$(awk -F: -v n=\"$2\" '$1 == n { print $3; exit }' /etc/group); "
    "[ -n \"$g\" ] || { echo \"no group $2\" >&2; exit 4; }; fi; "
    "echo \"owner=$u:$g\"";

wh_code pv_owner_resolve(wk_job *job, const char *s, size_t n, const char *field, long *uid, long *gid, wh_err *err)
{
    char buf[72], user[72] = "", group[72] = "";
    snprintf(buf, sizeof(buf), "%.*s", (int)(n < 70 ? n : 70), s);
    char *colon = strchr(buf, ':');
    if(colon)
        *colon = '\0';
    snprintf(user, sizeof(user), "%s", buf);
    if(colon)
        snprintf(group, sizeof(group), "%s", colon + 1);
    *uid = numeric(user) ? strtol(user, NULL, 10) : -1;
    *gid = numeric(group) ? strtol(group, NULL, 10) : -1;
    const char *ask_u = user[0] && !numeric(user) ? user : "", *ask_g = group[0] && !numeric(group) ? group : "";
    if(!ask_u[0] && !ask_g[0])
        return WH_OK;
    wh_shq_str argv[] = {{"sh", 2}, {"-c", 2}, {script, strlen(script)}, {"sh", 2}, {ask_u, strlen(ask_u)},
                         {ask_g, strlen(ask_g)}};
    wh_shq_cmd c = {argv, 6, NULL, NULL, NULL, 0};
    char *line = NULL;
    wh_code rc = wh_shq_build(&c, &line, err);
    int code = -1;
    pv_tail tail = {0};
    pv_cmd cmd = {.command = line, .timeout_ms = 30000, .log = false};
    if(!rc)
        rc = pv_exec(job, &cmd, &code, &tail, err);
    free(line);
    if(rc)
        return rc;
    const char *last = tail.count ? tail.line[(tail.next + PV_TAIL_LINES - 1) % PV_TAIL_LINES] : "";
    if(code != 0 || strncmp(last, "owner=", 6) != 0)
        return wh_err_set(err, WH_E_BAD_ARGS, field, "%s: no %s %s on host.%s", field, code == 4 ? "group" : "user",
                          code == 4 ? group : user, wk_job_host(job)->name);
    const char *v = last + 6, *c2 = strchr(v, ':');
    if(ask_u[0])
        *uid = strtol(v, NULL, 10);
    if(ask_g[0] && c2)
        *gid = strtol(c2 + 1, NULL, 10);
    return WH_OK;
}
