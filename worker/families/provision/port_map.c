/* port_map: the port map the reverse proxy reads, <prefix>portmap.
 *
 * One hash; field = the container's hostname, value = JSON
 *   {"host": "<inventory host>", "container": "<name or VMID>",
 *    "driver": "lxc", "ip": "", "ports": {"http": 8080},
 *    "protocols": ["http", "ssh"], "job": "<job id>", "state": "reserved" | "ready"}
 * Reservation is one Lua script, so two jobs can never hold the same
 * hostname, nor the same http port on one host. The job that reserved an
 * entry owns it: only that job (or provision.destroy) releases it, and a
 * retried job finds its own reservation again. */
#include <stdio.h>
#include <string.h>

#include "provision.h"

static wh_redis_script reserve_lua = {"pv_reserve",
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if cur then\n"
    "  local o = cjson.decode(cur)\n"
    "  if o.job == ARGV[3] then return 1 end\n"
    "  return -1\n"
    "end\n"
    "local port = tonumber(ARGV[5])\n"
    "if port and port > 0 then\n"
    "  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do\n"
    "    local ok, o = pcall(cjson.decode, v)\n"
    "    if ok and o.host == ARGV[4] and type(o.ports) == 'table' and tonumber(o.ports.http) == port then\n"
    "      return -2\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n",
    {0}};

/* ARGV: hostname, job id ("" = any owner), host, new state ("" = delete). */
static wh_redis_script update_lua = {"pv_portmap_update",
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not cur then return 0 end\n"
    "local o = cjson.decode(cur)\n"
    "if (ARGV[2] ~= '' and o.job ~= ARGV[2]) or o.host ~= ARGV[3] then return -1 end\n"
    "if ARGV[4] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end\n"
    "o.state = ARGV[4]\n"
    "redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(o))\n"
    "return 1\n",
    {0}};

static void map_key(wk_job *job, char *out, size_t cap)
{
    snprintf(out, cap, "%sportmap", wk_job_prefix(job));
}

static wh_code eval_int(wk_job *job, wh_redis_script *s, int argc, const char **argv, long long *out, wh_err *err)
{
    size_t lens[8];
    for(int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    wh_redis_reply *rep = NULL;
    wk_job_flush(job);
    wh_code rc = wh_redis_eval(wk_job_redis(job), s, &rep, 1, argc, argv, lens, err);
    if(!rc)
        *out = wh_redis_reply_int(rep);
    wh_redis_reply_free(rep);
    return rc;
}

wh_code pv_portmap_reserve(wk_job *job, const char *hostname, const char *json, int http_port, wh_err *err)
{
    char key[300], port[16];
    map_key(job, key, sizeof(key));
    snprintf(port, sizeof(port), "%d", http_port);
    const char *argv[] = {key, hostname, json, wk_job_env(job)->id, wk_job_host(job)->name, port};
    long long r = 0;
    wh_code rc = eval_int(job, &reserve_lua, 6, argv, &r, err);
    if(rc)
        return rc;
    if(r == -1)
        return wh_err_set(err, WH_E_CONFLICT, "args.hostname", "args.hostname: %s is taken in the port map", hostname);
    if(r == -2)
        return wh_err_set(err, WH_E_CONFLICT, "args.http_port", "args.http_port: %d is taken on host.%s", http_port,
                          wk_job_host(job)->name);
    return WH_OK;
}

wh_code pv_portmap_update(wk_job *job, const char *hostname, bool any_owner, const char *state, int *found,
                          wh_err *err)
{
    char key[300];
    map_key(job, key, sizeof(key));
    const char *argv[] = {key, hostname, any_owner ? "" : wk_job_env(job)->id, wk_job_host(job)->name, state};
    long long r = 0;
    wh_code rc = eval_int(job, &update_lua, 5, argv, &r, err);
    if(found)
        *found = (int)r;
    return rc;
}

bool pv_portmap_taken(wk_job *job, const char *hostname)
{
    char key[300];
    map_key(job, key, sizeof(key));
    const char *argv[] = {"HEXISTS", key, hostname};
    wh_redis_reply *rep = NULL;
    wh_err err;
    wk_job_flush(job);
    bool taken = wh_redis_cmdv(wk_job_redis(job), &rep, &err, 3, argv) == WH_OK && wh_redis_reply_int(rep) == 1;
    wh_redis_reply_free(rep);
    return taken;
}
