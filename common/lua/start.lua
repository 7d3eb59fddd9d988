-- start: a worker received a delivery and wants to run it.
-- KEYS[1] job hash
-- ARGV id, type, target, created_at, max_attempts, now_ms, worker,
--      events_channel, max_redeliveries
-- Returns one of
--   {"skip", state, error, attempt}  job already terminal: ack, do not run
--   {"dead", "redelivery_limit", n}  delivered too often without finishing
--   {"run", attempt, max_attempts}
-- A job left `running` by a worker that died is a redelivery: it does not use
-- up an attempt but counts against max_redeliveries, so a
-- message that kills workers cannot loop forever.
local h = KEYS[1]
local st = redis.call('HGET', h, 'state')
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st, redis.call('HGET', h, 'error') or '',
          redis.call('HGET', h, 'attempt') or '0'}
end
if not st then
  -- Published straight to RabbitMQ by a client: create the hash here.
  redis.call('HSET', h, 'id', ARGV[1], 'type', ARGV[2], 'target', ARGV[3],
    'created_at', ARGV[4], 'queued_at', ARGV[6], 'max_attempts', ARGV[5],
    'attempt', '0', 'progress', '0')
end
local attempt
if st == 'running' then
  local n = redis.call('HINCRBY', h, 'redeliveries', 1)
  if n > tonumber(ARGV[9]) then
    return {'dead', 'redelivery_limit', tostring(n)}
  end
  attempt = tonumber(redis.call('HGET', h, 'attempt') or '1')
else
  attempt = redis.call('HINCRBY', h, 'attempt', 1)
end
redis.call('HSET', h, 'state', 'running', 'worker', ARGV[7],
  'started_at', ARGV[6], 'progress', '0', 'step', '')
redis.call('PUBLISH', ARGV[8], ARGV[1] .. ' running')
return {'run', tostring(attempt), redis.call('HGET', h, 'max_attempts') or ARGV[5]}
