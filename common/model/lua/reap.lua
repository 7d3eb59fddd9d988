-- reap: the leader's sweep over expired leases. A lease belongs to a job
-- whose message lives in Redis (acked early, or handed to the broker by the
-- scheduler); when it expires the job's worker is gone or its copy was lost.
-- A `running` job uses up the attempt it was on: it is queued again (and its
-- message returned for publishing) or, with no attempts left, made `dead`.
-- A `queued` or `retrying` job is simply published again.
-- Returns a flat array: id, action ("requeue"|"dead"), body, type, ...
local leases = KEYS[1]       -- the leases zset
local now = ARGV[1]          -- ms
local batch = ARGV[2]        -- at most this many jobs
local job_prefix = ARGV[3]   -- the job key prefix ("wharf:job:")
local events = ARGV[4]       -- the events channel
local lease_until = ARGV[5]  -- ms, the new lease of a job published again
local ttl = ARGV[6]          -- s, of a dead job
local out = {}
local ids = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, tonumber(batch))
for _, id in ipairs(ids) do
  local h = job_prefix .. id
  local st = redis.call('HGET', h, 'state')
  local body = redis.call('GET', h .. ':body')
  if not body or not (st == 'running' or st == 'queued' or st == 'retrying') then
    redis.call('ZREM', leases, id)
  else
    local action = 'requeue'
    if st == 'running' then
      local attempt = tonumber(redis.call('HGET', h, 'attempt') or '1')
      local max = tonumber(redis.call('HGET', h, 'max_attempts') or '1')
      local lk = redis.call('HGET', h, 'lock_key')
      if lk then
        if redis.call('GET', lk) == id then redis.call('DEL', lk) end
        redis.call('HDEL', h, 'lock_key')
      end
      if attempt >= max then
        action = 'dead'
        redis.call('HSET', h, 'state', 'dead', 'error', 'abandoned',
          'error_message', 'its worker stopped renewing the lease on attempt ' .. attempt .. ' of ' .. max,
          'finished_at', now)
        redis.call('DEL', h .. ':body')
        redis.call('HDEL', h, 'held')
        redis.call('ZREM', leases, id)
        redis.call('EXPIRE', h, ttl)
        redis.call('PUBLISH', events, id .. ' dead')
      else
        redis.call('HSET', h, 'state', 'queued', 'queued_at', now,
          'step', 'requeued by the reaper: its worker stopped renewing the lease')
        redis.call('ZADD', leases, lease_until, id)
        redis.call('PUBLISH', events, id .. ' queued')
      end
    else
      redis.call('ZADD', leases, lease_until, id)
    end
    out[#out + 1] = id
    out[#out + 1] = action
    out[#out + 1] = body
    out[#out + 1] = redis.call('HGET', h, 'type') or ''
  end
end
return out
