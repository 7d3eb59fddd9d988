-- renew: a worker's heartbeat for the jobs it is running. Leases of jobs
-- whose message lives in Redis are extended, held locks are refreshed, and
-- the ids of jobs someone asked to cancel are returned.
-- KEYS[1] leases
-- ARGV[1] lease until (ms)  [2] lock ttl ms  [3] job key prefix  [4..] ids
-- Returns the ids with cancel_requested set.
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local h = ARGV[3] .. id
  if redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
  end
  local lk = redis.call('HGET', h, 'lock_key')
  if lk and redis.call('GET', lk) == id then
    redis.call('PEXPIRE', lk, ARGV[2])
  end
  if redis.call('HGET', h, 'cancel_requested') == '1' then
    out[#out + 1] = id
  end
end
return out
