-- due: the scheduler takes jobs whose run_at has come. Each one is moved to
-- `queued` and its message returned for publishing; the message stays in
-- <p>job:<id>:body, under a lease, until a worker starts the job, so a publish lost on
-- the way is republished by the reaper.
-- KEYS[1] scheduled, KEYS[2] leases
-- ARGV[1] now_ms  [2] max jobs  [3] job key prefix  [4] events channel
--     [5] lease until (ms)
-- Returns a flat array id1, body1, id2, body2, ...
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local h = ARGV[3] .. id
  if redis.call('HGET', h, 'state') == 'scheduled' then
    local body = redis.call('GET', h .. ':body')
    if body then
      redis.call('HSET', h, 'state', 'queued', 'queued_at', ARGV[1])
      redis.call('ZADD', KEYS[2], ARGV[5], id)
      redis.call('PUBLISH', ARGV[4], id .. ' queued')
      out[#out + 1] = id
      out[#out + 1] = body
    end
  end
end
return out
