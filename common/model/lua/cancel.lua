-- cancel: stop a job. A job that has not started (queued, scheduled,
-- retrying) is cancelled at once and will be skipped when its message
-- arrives; a running job is flagged, and its worker interrupts it at the
-- next cancellation point (it then finishes `cancelled`).
-- KEYS[1] job hash, KEYS[2] job log, KEYS[3] scheduled, KEYS[4] leases
-- ARGV[1] id  [2] now_ms  [3] ttl_s  [4] events channel
-- Returns {"missing"} | {"finished", state} | {"requested", "running"} |
--         {"cancelled", previous state}
local h = KEYS[1]
local id = ARGV[1]
local st = redis.call('HGET', h, 'state')
if not st then return {'missing'} end
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'finished', st}
end
if st == 'running' then
  redis.call('HSET', h, 'cancel_requested', '1')
  redis.call('PUBLISH', ARGV[4], id .. ' cancelling')
  return {'requested', 'running'}
end
redis.call('HSET', h, 'state', 'cancelled', 'error', 'cancelled',
  'error_message', 'cancelled before it ran (was ' .. st .. ')', 'finished_at', ARGV[2])
redis.call('DEL', h .. ':body')
redis.call('HDEL', h, 'held')
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
local uk = redis.call('HGET', h, 'unique_key')
if uk and redis.call('GET', uk) == id then redis.call('DEL', uk) end
redis.call('EXPIRE', h, ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. ' cancelled')
return {'cancelled', st}
