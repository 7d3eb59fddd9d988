-- finish: record the outcome of an attempt and publish the event, in one
-- atomic step. States only move forward: a terminal job is never rewritten,
-- so a late or duplicate finish changes nothing. The job's lock is released;
-- a terminal job also releases its uniqueness key, its lease and its body.
-- The outcome is counted here too, in the same atomic step (the batch's),
-- so the ok / failed / retried / dead / cancelled counts are exact: a duplicate finish
-- is skipped before it counts, and a worker killed after this step has
-- counted already. Run times (sums, maxima, histograms) are aggregated by
-- workers and flushed about once a second (stats.lua).
-- The body of a function in moves.lua (the worker's batches), which gives
-- it `publish` and `tally` (the counts, summed over the batch).
-- Returns {"skip", state}, or "ok" (one string: cheaper than a table).
local job = KEYS[1]            -- the job hash
local log = KEYS[2]            -- the job's log stream
local leases = KEYS[3]         -- the leases zset
local stats_minute = KEYS[4]   -- the stats minute bucket
local stats_hour = KEYS[5]     -- the stats hour bucket
local stats_types = KEYS[6]    -- the stats type set
local id = ARGV[1]
local state = ARGV[2]          -- succeeded|failed|dead|retrying|cancelled
local result = ARGV[3]         -- JSON, or ''
local error_code = ARGV[4]     -- or ''
local error_message = ARGV[5]  -- or ''
local now = ARGV[6]            -- ms
local ttl = ARGV[7]            -- s, for a terminal job
local events = ARGV[8]         -- the events channel
local job_type = ARGV[9]       -- for a job first seen here
local created_at = ARGV[10]    -- for a job first seen here
local lease_until = ARGV[11]   -- ms, for a retrying job whose message lives
                               -- in Redis
local count = ARGV[12]         -- '1': count the outcome (a known type)
local ttl_minute = ARGV[13]    -- s, of the minute bucket
local ttl_hour = ARGV[14]      -- s, of the hour bucket
local f = redis.call('HMGET', job, 'state', 'lock_key', 'unique_key', 'held', 'cancel_requested', 'error', 'log')
local st = f[1]
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st}
end
if not st then
  redis.call('HSET', job, 'id', id, 'type', job_type, 'attempt', '0',
    'created_at', created_at, 'queued_at', now)
end
-- One HSET for the whole outcome: each call costs more than its fields,
-- and the common outcomes are spelled out (building a table costs too).
local terminal = state ~= 'retrying'
if result == '' and error_code == '' then
  if f[6] then redis.call('HDEL', job, 'error', 'error_message') end
  if state == 'succeeded' then
    redis.call('HSET', job, 'state', state, 'finished_at', now, 'progress', '100')
  elseif terminal then
    redis.call('HSET', job, 'state', state, 'finished_at', now)
  else
    redis.call('HSET', job, 'state', state)
  end
else
  local set = {'HSET', job, 'state', state}
  if result ~= '' then
    set[#set + 1] = 'result'; set[#set + 1] = result
  end
  if error_code ~= '' then
    set[#set + 1] = 'error'; set[#set + 1] = error_code
    set[#set + 1] = 'error_message'; set[#set + 1] = error_message
  elseif f[6] then
    redis.call('HDEL', job, 'error', 'error_message')
  end
  if terminal then
    set[#set + 1] = 'finished_at'; set[#set + 1] = now
    if state == 'succeeded' then
      set[#set + 1] = 'progress'; set[#set + 1] = '100'
    end
  end
  redis.call(unpack(set))
end
local lk = f[2]
if lk then
  if redis.call('GET', lk) == id then redis.call('DEL', lk) end
  redis.call('HDEL', job, 'lock_key')
end
if terminal then
  local uk = f[3]
  if uk and redis.call('GET', uk) == id then redis.call('DEL', uk) end
  if f[5] then redis.call('HDEL', job, 'cancel_requested') end
  if f[4] then
    redis.call('DEL', job .. ':body')
    redis.call('HDEL', job, 'held')
    redis.call('ZREM', leases, id)
  end
  redis.call('EXPIRE', job, ttl)
  -- `log`: a worker wrote lines into the job's stream (wk_job_log).
  if f[7] then redis.call('EXPIRE', log, ttl) end
elseif f[4] then
  redis.call('ZADD', leases, lease_until, id)
end
if count == '1' then
  local field = 'failed'
  if state == 'succeeded' then field = 'ok'
  elseif state == 'retrying' then field = 'retried'
  elseif state == 'dead' then field = 'dead'
  elseif state == 'cancelled' then field = 'cancelled' end
  tally(stats_minute, stats_hour, stats_types, job_type, field, ttl_minute, ttl_hour)
end
publish(events, id .. ' ' .. state)
return 'ok'
