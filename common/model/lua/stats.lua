-- stats: add one worker's aggregated counts for one job type to its minute
-- and hour buckets. Workers aggregate in memory and call this about once a
-- second per type, so stats cost a few commands per second, not per job.
local minute = KEYS[1]       -- the minute bucket
local hour = KEYS[2]         -- the hour bucket
local types = KEYS[3]        -- the stats type set
local job_type = ARGV[1]
local ttl_minute = ARGV[2]   -- s
local ttl_hour = ARGV[3]     -- s
local dur_us_max = ARGV[4]
-- From the fifth argument on: field, increment pairs (ok, failed, retried,
-- dead, cancelled, dur_us_sum, h_*).
for i = 1, 2 do
  local k = i == 1 and minute or hour
  for j = 5, #ARGV, 2 do
    redis.call('HINCRBY', k, ARGV[j], ARGV[j + 1])
  end
  if tonumber(dur_us_max) > tonumber(redis.call('HGET', k, 'dur_us_max') or '0') then
    redis.call('HSET', k, 'dur_us_max', dur_us_max)
  end
  redis.call('EXPIRE', k, i == 1 and ttl_minute or ttl_hour)
end
redis.call('SADD', types, job_type)
return 1
