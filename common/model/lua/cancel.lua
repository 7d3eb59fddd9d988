-- cancel: stop a job. A job that has not started (queued, scheduled,
-- retrying) is cancelled at once and will be skipped when its message
-- arrives; a running job is flagged, and its worker interrupts it at the
-- next cancellation point (it then finishes `cancelled`).
-- Returns {"missing"} | {"finished", state} | {"requested", "running"} |
--         {"cancelled", previous state}
local job = KEYS[1]          -- the job hash
local log = KEYS[2]          -- the job's log stream
local scheduled = KEYS[3]    -- the scheduled zset
local leases = KEYS[4]       -- the leases zset
local id = ARGV[1]
local now = ARGV[2]          -- ms
local ttl = ARGV[3]          -- s, of the cancelled job
local events = ARGV[4]       -- the events channel
local st = redis.call('HGET', job, 'state')
if not st then return {'missing'} end
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'finished', st}
end
if st == 'running' then
  redis.call('HSET', job, 'cancel_requested', '1')
  redis.call('PUBLISH', events, id .. ' cancelling')
  return {'requested', 'running'}
end
redis.call('HSET', job, 'state', 'cancelled', 'error', 'cancelled',
  'error_message', 'cancelled before it ran (was ' .. st .. ')', 'finished_at', now)
redis.call('DEL', job .. ':body')
redis.call('HDEL', job, 'held')
redis.call('ZREM', scheduled, id)
redis.call('ZREM', leases, id)
local uk = redis.call('HGET', job, 'unique_key')
if uk and redis.call('GET', uk) == id then redis.call('DEL', uk) end
redis.call('EXPIRE', job, ttl)
redis.call('EXPIRE', log, ttl)
redis.call('PUBLISH', events, id .. ' cancelled')
return {'cancelled', st}
