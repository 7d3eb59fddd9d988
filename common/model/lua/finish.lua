-- finish: record the outcome of an attempt and publish the event, in one
-- atomic step. States only move forward: a terminal job is never rewritten,
-- so a late or duplicate finish changes nothing. The job's lock is released;
-- a terminal job also releases its uniqueness key, its lease and its body.
-- The outcome is counted here too, in the same atomic step, so the ok /
-- failed / retried / dead counts are exact: a duplicate finish is skipped
-- before it counts, and a worker killed after this step has counted
-- already. Run times (sums, maxima, histograms) are aggregated by workers
-- and flushed about once a second (stats.lua).
-- KEYS[1] job hash, KEYS[2] job log stream, KEYS[3] leases,
-- KEYS[4] stats minute bucket, KEYS[5] stats hour bucket, KEYS[6] stats types
-- ARGV[1] id          ARGV[2] new state (succeeded|failed|dead|retrying|cancelled)
-- ARGV[3] result JSON or ''                ARGV[4] error code or ''
-- ARGV[5] error message or ''              ARGV[6] now_ms
-- ARGV[7] ttl_s for a terminal job         ARGV[8] events channel
-- ARGV[9] type, ARGV[10] created_at, for a job first seen here
-- ARGV[11] lease until (ms) for a retrying job whose message lives in Redis
-- ARGV[12] '1': count the outcome (a known type), ARGV[13] minute bucket
-- ttl_s, ARGV[14] hour bucket ttl_s
-- Returns {"skip", state}, or "ok" (one string: cheaper than a table).
local h = KEYS[1]
local id = ARGV[1]
local f = redis.call('HMGET', h, 'state', 'lock_key', 'unique_key', 'held', 'cancel_requested', 'error', 'log')
local st = f[1]
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st}
end
if not st then
  redis.call('HSET', h, 'id', id, 'type', ARGV[9], 'attempt', '0',
    'created_at', ARGV[10], 'queued_at', ARGV[6])
end
-- One HSET for the whole outcome: each call costs more than its fields,
-- and the common outcomes are spelled out (building a table costs too).
local terminal = ARGV[2] ~= 'retrying'
if ARGV[3] == '' and ARGV[4] == '' then
  if f[6] then redis.call('HDEL', h, 'error', 'error_message') end
  if ARGV[2] == 'succeeded' then
    redis.call('HSET', h, 'state', ARGV[2], 'finished_at', ARGV[6], 'progress', '100')
  elseif terminal then
    redis.call('HSET', h, 'state', ARGV[2], 'finished_at', ARGV[6])
  else
    redis.call('HSET', h, 'state', ARGV[2])
  end
else
  local set = {'HSET', h, 'state', ARGV[2]}
  if ARGV[3] ~= '' then
    set[#set + 1] = 'result'; set[#set + 1] = ARGV[3]
  end
  if ARGV[4] ~= '' then
    set[#set + 1] = 'error'; set[#set + 1] = ARGV[4]
    set[#set + 1] = 'error_message'; set[#set + 1] = ARGV[5]
  elseif f[6] then
    redis.call('HDEL', h, 'error', 'error_message')
  end
  if terminal then
    set[#set + 1] = 'finished_at'; set[#set + 1] = ARGV[6]
    if ARGV[2] == 'succeeded' then
      set[#set + 1] = 'progress'; set[#set + 1] = '100'
    end
  end
  redis.call(unpack(set))
end
local lk = f[2]
if lk then
  if redis.call('GET', lk) == id then redis.call('DEL', lk) end
  redis.call('HDEL', h, 'lock_key')
end
if terminal then
  local uk = f[3]
  if uk and redis.call('GET', uk) == id then redis.call('DEL', uk) end
  if f[5] then redis.call('HDEL', h, 'cancel_requested') end
  if f[4] then
    redis.call('DEL', h .. ':body')
    redis.call('HDEL', h, 'held')
    redis.call('ZREM', KEYS[3], id)
  end
  redis.call('EXPIRE', h, ARGV[7])
  -- `log`: a worker wrote lines into the job's stream (wk_job_log).
  if f[7] then redis.call('EXPIRE', KEYS[2], ARGV[7]) end
elseif f[4] then
  redis.call('ZADD', KEYS[3], ARGV[11], id)
end
if ARGV[12] == '1' then
  local field = 'failed'
  if ARGV[2] == 'succeeded' then field = 'ok'
  elseif ARGV[2] == 'retrying' then field = 'retried'
  elseif ARGV[2] == 'dead' then field = 'dead' end
  if redis.call('HINCRBY', KEYS[4], field, 1) == 1 then redis.call('EXPIRE', KEYS[4], ARGV[13]) end
  if redis.call('HINCRBY', KEYS[5], field, 1) == 1 then
    redis.call('EXPIRE', KEYS[5], ARGV[14])
    redis.call('SADD', KEYS[6], ARGV[9])
  end
end
redis.call('PUBLISH', ARGV[8], id .. ' ' .. ARGV[2])
return 'ok'
