-- finish: record the outcome of an attempt and publish the event, in one
-- atomic step. States only move forward: a terminal job is never rewritten,
-- so a late or duplicate finish changes nothing.
-- Stats are not rolled up here: workers aggregate them (stats.lua).
-- KEYS[1] job hash, KEYS[2] job log stream
-- ARGV[1] id          ARGV[2] new state (succeeded|failed|dead|retrying)
-- ARGV[3] result JSON or ''                ARGV[4] error code or ''
-- ARGV[5] error message or ''              ARGV[6] now_ms
-- ARGV[7] ttl_s for a terminal job         ARGV[8] events channel
-- ARGV[9] type, ARGV[10] created_at, for a job first seen here
-- Returns {"skip", state} or {"ok", previous state}.
local h = KEYS[1]
local st = redis.call('HGET', h, 'state')
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st}
end
if not st then
  redis.call('HSET', h, 'id', ARGV[1], 'type', ARGV[9], 'attempt', '0',
    'created_at', ARGV[10], 'queued_at', ARGV[6])
end
if ARGV[4] == '' then
  redis.call('HDEL', h, 'error', 'error_message')
  if ARGV[3] == '' then
    redis.call('HSET', h, 'state', ARGV[2])
  else
    redis.call('HSET', h, 'state', ARGV[2], 'result', ARGV[3])
  end
else
  redis.call('HSET', h, 'state', ARGV[2], 'error', ARGV[4], 'error_message', ARGV[5])
end
if ARGV[2] ~= 'retrying' then
  if ARGV[2] == 'succeeded' then
    redis.call('HSET', h, 'finished_at', ARGV[6], 'progress', '100')
  else
    redis.call('HSET', h, 'finished_at', ARGV[6])
  end
  redis.call('EXPIRE', h, ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
end
redis.call('PUBLISH', ARGV[8], ARGV[1] .. ' ' .. ARGV[2])
return {'ok', st or ''}
