-- requeue: a worker hands a job back to the queue: at shutdown (it was
-- running), or when the job must wait for a lock (it never started).
-- The next start.lua sees `queued` and adds one to `attempt`, so taking one
-- away here means the interrupted attempt is not counted and the job keeps
-- its retries. The lock is released; a job whose message lives in Redis
-- keeps a short lease so the reaper republishes it if our copy is lost.
-- KEYS[1] job hash, KEYS[2] leases
-- ARGV id, worker, events_channel, step text, lease until (ms)
-- Returns 1 when requeued, 0 when the job is not ours or not running.
local h = KEYS[1]
if redis.call('HGET', h, 'state') ~= 'running' or redis.call('HGET', h, 'worker') ~= ARGV[2] then
  return 0
end
redis.call('HSET', h, 'state', 'queued', 'step', ARGV[4])
redis.call('HINCRBY', h, 'attempt', -1)
local lk = redis.call('HGET', h, 'lock_key')
if lk then
  if redis.call('GET', lk) == ARGV[1] then redis.call('DEL', lk) end
  redis.call('HDEL', h, 'lock_key')
end
if redis.call('HGET', h, 'held') then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' queued')
return 1
