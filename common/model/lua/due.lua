-- due: the scheduler takes jobs whose run_at has come. Each one is moved to
-- `queued` and its message returned for publishing; the message stays in
-- <p>job:<id>:body, under a lease, until a worker starts the job, so a publish lost on
-- the way is republished by the reaper.
-- Returns a flat array id1, body1, id2, body2, ...
local scheduled = KEYS[1]    -- the scheduled zset
local leases = KEYS[2]       -- the leases zset
local now = ARGV[1]          -- ms
local batch = ARGV[2]        -- at most this many jobs
local job_prefix = ARGV[3]   -- the job key prefix ("wharf:job:")
local events = ARGV[4]       -- the events channel
local lease_until = ARGV[5]  -- ms
local out = {}
local ids = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, tonumber(batch))
for _, id in ipairs(ids) do
  redis.call('ZREM', scheduled, id)
  local h = job_prefix .. id
  if redis.call('HGET', h, 'state') == 'scheduled' then
    local body = redis.call('GET', h .. ':body')
    if body then
      redis.call('HSET', h, 'state', 'queued', 'queued_at', now)
      redis.call('ZADD', leases, lease_until, id)
      redis.call('PUBLISH', events, id .. ' queued')
      out[#out + 1] = id
      out[#out + 1] = body
    end
  end
end
return out
