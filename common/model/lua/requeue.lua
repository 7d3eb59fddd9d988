-- requeue: a worker hands a job back to the queue: at shutdown (it was
-- running), or when the job must wait for a lock (it never started).
-- The next start.lua sees `queued` and adds one to `attempt`, so taking one
-- away here means the interrupted attempt is not counted and the job keeps
-- its retries. The lock is released; a job whose message lives in Redis
-- keeps a short lease so the reaper republishes it if our copy is lost.
-- Returns 1 when requeued, 0 when the job is not ours or not running.
local job = KEYS[1]          -- the job hash
local leases = KEYS[2]       -- the leases zset
local id = ARGV[1]
local worker = ARGV[2]
local events = ARGV[3]       -- the events channel
local step = ARGV[4]         -- why, for the hash's `step`
local lease_until = ARGV[5]  -- ms
if redis.call('HGET', job, 'state') ~= 'running' or redis.call('HGET', job, 'worker') ~= worker then
  return 0
end
redis.call('HSET', job, 'state', 'queued', 'step', step)
redis.call('HINCRBY', job, 'attempt', -1)
local lk = redis.call('HGET', job, 'lock_key')
if lk then
  if redis.call('GET', lk) == id then redis.call('DEL', lk) end
  redis.call('HDEL', job, 'lock_key')
end
if redis.call('HGET', job, 'held') then
  redis.call('ZADD', leases, lease_until, id)
end
redis.call('PUBLISH', events, id .. ' queued')
return 1
