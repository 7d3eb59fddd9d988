-- lead: take or keep the scheduler leadership. One leader at a time runs
-- the due-job mover, the schedule firings and the reaper; if it dies its
-- lease runs out and another candidate takes over.
-- KEYS[1] leader key
-- ARGV[1] candidate id  [2] lease ms
-- Returns 1 when the candidate leads (now until the lease ends), else 0.
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
