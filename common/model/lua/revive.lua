-- revive: make a dead or failed job runnable again (`wharf dead retry`).
-- Attempts start over, the last error is cleared and the expiry removed.
-- Returns 0 when the job is running (refused), 1 otherwise. A job whose
-- hash already expired is recreated by the worker when the message arrives.
local job = KEYS[1]          -- the job hash
local id = ARGV[1]
local now = ARGV[2]          -- ms
local events = ARGV[3]       -- the events channel
local st = redis.call('HGET', job, 'state')
if st == 'running' then
  return 0
end
if st then
  redis.call('HSET', job, 'state', 'queued', 'attempt', '0', 'queued_at', now,
    'progress', '0', 'step', 'revived from wharf.dead')
  redis.call('HDEL', job, 'finished_at', 'error', 'error_message', 'redeliveries', 'result')
  redis.call('PERSIST', job)
  redis.call('PUBLISH', events, id .. ' queued')
end
return 1
