-- revive: make a dead or failed job runnable again (`wharf dead retry`).
-- Attempts start over, the last error is cleared and the expiry removed.
-- KEYS[1] job hash
-- ARGV id, now_ms, events_channel
-- Returns 0 when the job is running (refused), 1 otherwise. A job whose
-- hash already expired is recreated by the worker when the message arrives.
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'running' then
  return 0
end
if st then
  redis.call('HSET', KEYS[1], 'state', 'queued', 'attempt', '0', 'queued_at', ARGV[2],
    'progress', '0', 'step', 'revived from wharf.dead')
  redis.call('HDEL', KEYS[1], 'finished_at', 'error', 'error_message', 'redeliveries', 'result')
  redis.call('PERSIST', KEYS[1])
  redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' queued')
end
return 1
