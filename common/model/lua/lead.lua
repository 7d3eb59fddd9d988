-- lead: take or keep the scheduler leadership. One leader at a time runs
-- the due-job mover, the schedule firings and the reaper; if it dies its
-- lease runs out and another candidate takes over.
-- Returns 1 when the candidate leads (now until the lease ends), else 0.
local leader = KEYS[1]       -- the leader key
local candidate = ARGV[1]    -- the candidate's id
local lease_ms = ARGV[2]
local cur = redis.call('GET', leader)
if cur == candidate then
  redis.call('PEXPIRE', leader, lease_ms)
  return 1
end
if not cur then
  redis.call('SET', leader, candidate, 'PX', lease_ms)
  return 1
end
return 0
