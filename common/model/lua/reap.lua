-- reap: the leader's sweep over expired leases. A lease belongs to a job
-- whose message lives in Redis (acked early, or handed to the broker by the
-- scheduler); when it expires the job's worker is gone or its copy was lost.
-- A `running` job uses up the attempt it was on: it is queued again (and its
-- message returned for publishing) or, with no attempts left, made `dead`.
-- A `queued` or `retrying` job is simply published again.
-- KEYS[1] leases
-- ARGV[1] now_ms  [2] max jobs  [3] job key prefix  [4] events channel
--     [5] new lease until (ms)  [6] ttl_s of a dead job
-- Returns a flat array: id, action ("requeue"|"dead"), body, type, ...
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local h = ARGV[3] .. id
  local st = redis.call('HGET', h, 'state')
  local body = redis.call('GET', h .. ':body')
  if not body or not (st == 'running' or st == 'queued' or st == 'retrying') then
    redis.call('ZREM', KEYS[1], id)
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
          'finished_at', ARGV[1])
        redis.call('DEL', h .. ':body')
        redis.call('HDEL', h, 'held')
        redis.call('ZREM', KEYS[1], id)
        redis.call('EXPIRE', h, ARGV[6])
        redis.call('PUBLISH', ARGV[4], id .. ' dead')
      else
        redis.call('HSET', h, 'state', 'queued', 'queued_at', ARGV[1],
          'step', 'requeued by the reaper: its worker stopped renewing the lease')
        redis.call('ZADD', KEYS[1], ARGV[5], id)
        redis.call('PUBLISH', ARGV[4], id .. ' queued')
      end
    else
      redis.call('ZADD', KEYS[1], ARGV[5], id)
    end
    out[#out + 1] = id
    out[#out + 1] = action
    out[#out + 1] = body
    out[#out + 1] = redis.call('HGET', h, 'type') or ''
  end
end
return out
