-- finish: record the outcome of an attempt, publish the event and roll up
-- stats, in one atomic step. States only move forward: a terminal job is
-- never rewritten, so a late or duplicate finish changes nothing.
-- KEYS[1] job hash, KEYS[2] job log stream, KEYS[3] stats minute bucket,
-- KEYS[4] stats hour bucket, KEYS[5] stats type set
-- ARGV[1] id          ARGV[2] new state (succeeded|failed|dead|retrying)
-- ARGV[3] result JSON or ''                ARGV[4] error code or ''
-- ARGV[5] error message or ''              ARGV[6] now_ms
-- ARGV[7] ttl_s for a terminal job         ARGV[8] run time us, or -1
-- ARGV[9] events channel   ARGV[10] type
-- ARGV[11] stats counter (ok|failed|retried|dead), '' for no stats
-- ARGV[12] histogram field
-- ARGV[13] minute bucket ttl_s   ARGV[14] hour bucket ttl_s
-- ARGV[15] created_at for a job first seen here ('' if unknown)
-- Returns {"skip", state} or {"ok", previous state}.
local h = KEYS[1]
local st = redis.call('HGET', h, 'state')
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st}
end
if not st then
  redis.call('HSET', h, 'id', ARGV[1], 'type', ARGV[10], 'attempt', '0',
    'created_at', ARGV[15], 'queued_at', ARGV[6])
end
redis.call('HSET', h, 'state', ARGV[2])
if ARGV[4] == '' then
  redis.call('HDEL', h, 'error', 'error_message')
else
  redis.call('HSET', h, 'error', ARGV[4], 'error_message', ARGV[5])
end
if ARGV[3] ~= '' then
  redis.call('HSET', h, 'result', ARGV[3])
end
if ARGV[2] ~= 'retrying' then
  redis.call('HSET', h, 'finished_at', ARGV[6])
  if ARGV[2] == 'succeeded' then
    redis.call('HSET', h, 'progress', '100')
  end
  redis.call('EXPIRE', h, ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
end
redis.call('PUBLISH', ARGV[9], ARGV[1] .. ' ' .. ARGV[2])
if ARGV[11] ~= '' then
  local d = tonumber(ARGV[8])
  for i = 3, 4 do
    local k = KEYS[i]
    redis.call('HINCRBY', k, ARGV[11], 1)
    if d >= 0 then
      redis.call('HINCRBY', k, 'dur_us_sum', d)
      redis.call('HINCRBY', k, ARGV[12], 1)
      if d > tonumber(redis.call('HGET', k, 'dur_us_max') or '0') then
        redis.call('HSET', k, 'dur_us_max', d)
      end
    end
    redis.call('EXPIRE', k, i == 3 and ARGV[13] or ARGV[14])
  end
  redis.call('SADD', KEYS[5], ARGV[10])
end
return {'ok', st or ''}
