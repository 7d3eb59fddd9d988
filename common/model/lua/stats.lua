-- stats: add one worker's aggregated counts for one job type to its minute
-- and hour buckets. Workers aggregate in memory and call this about once a
-- second per type, so stats cost a few commands per second, not per job.
-- KEYS[1] minute bucket, KEYS[2] hour bucket, KEYS[3] stats type set
-- ARGV[1] type, ARGV[2] minute ttl_s, ARGV[3] hour ttl_s, ARGV[4] dur_us_max,
-- then field, increment pairs (ok, failed, retried, dead, dur_us_sum, h_*).
for i = 1, 2 do
  local k = KEYS[i]
  for j = 5, #ARGV, 2 do
    redis.call('HINCRBY', k, ARGV[j], ARGV[j + 1])
  end
  if tonumber(ARGV[4]) > tonumber(redis.call('HGET', k, 'dur_us_max') or '0') then
    redis.call('HSET', k, 'dur_us_max', ARGV[4])
  end
  redis.call('EXPIRE', k, i == 1 and ARGV[2] or ARGV[3])
end
redis.call('SADD', KEYS[3], ARGV[1])
return 1
