-- renew: a worker's heartbeat for the jobs it is running. Leases of jobs
-- whose message lives in Redis are extended, held locks are refreshed, and
-- the ids of jobs someone asked to cancel are returned.
-- Returns the ids with cancel_requested set.
local leases = KEYS[1]       -- the leases zset
local lease_until = ARGV[1]  -- ms
local lock_ms = ARGV[2]      -- the locks' new ttl
local job_prefix = ARGV[3]   -- the job key prefix ("wharf:job:")
-- From the fourth argument on: the ids of the running jobs.
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local h = job_prefix .. id
  if redis.call('ZSCORE', leases, id) then
    redis.call('ZADD', leases, lease_until, id)
  end
  local lk = redis.call('HGET', h, 'lock_key')
  if lk and redis.call('GET', lk) == id then
    redis.call('PEXPIRE', lk, lock_ms)
  end
  if redis.call('HGET', h, 'cancel_requested') == '1' then
    out[#out + 1] = id
  end
end
return out
