-- unsent: the scheduler could not hand these jobs to the broker (no
-- connection, a failed write, or a nack): due.lua or reap.lua had leased
-- them until `lease_until` (jobs.republish_s ahead), and the reaper would
-- publish them again only then. Their leases now end at `retry_at`, soon.
-- A lease that changed meanwhile (a worker started the job, or someone
-- else leased it) is left alone: the broker never had this copy, so no
-- worker can be running it, and nothing is published twice.
-- Returns the number of leases shortened.
local leases = KEYS[1]       -- the leases zset
local lease_until = ARGV[1]  -- ms, the lease the sweep gave them
local retry_at = ARGV[2]     -- ms, the lease they get now
-- From the third argument on: the ids.
local n = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', leases, ARGV[i]) == lease_until then
    redis.call('ZADD', leases, retry_at, ARGV[i])
    n = n + 1
  end
end
return n
