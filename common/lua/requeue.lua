-- requeue: a worker shutting down hands a running job back to the queue.
-- The next start.lua sees `queued` and adds one to `attempt`, so taking one
-- away here means the interrupted attempt is not counted and the job keeps
-- its retries.
-- KEYS[1] job hash
-- ARGV id, worker, events_channel
-- Returns 1 when requeued, 0 when the job is not ours or not running.
local h = KEYS[1]
if redis.call('HGET', h, 'state') ~= 'running' or redis.call('HGET', h, 'worker') ~= ARGV[2] then
  return 0
end
redis.call('HSET', h, 'state', 'queued', 'step', 'requeued: worker shutdown')
redis.call('HINCRBY', h, 'attempt', -1)
redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' queued')
return 1
