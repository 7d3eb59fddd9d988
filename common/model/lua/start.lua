-- start: a worker received a delivery and wants to run (or park) it.
-- KEYS[1] job hash, KEYS[2] recent index, KEYS[3] scheduled, KEYS[4] leases,
-- KEYS[5] lock key (ignored when ARGV[11] is '')
-- ARGV[1] id  [2] type  [3] target  [4] created_at  [5] max_attempts
--     [6] now_ms  [7] worker  [8] events channel  [9] max_redeliveries
--     [10] mode: 'run' or 'park' (run_at is in the future)
--     [11] lock ('' none)  [12] lock ttl ms  [13] run_at
--     [14] body: '' for a normal job; the message for a parked job or a job
--          acked early (it then lives in Redis, under a lease)
--     [15] lease until (ms)
-- The recent index is trimmed to its cap by the scheduler's leader.
-- Returns one of
--   {"skip", state, error, attempt}  terminal (or a live duplicate): ack, do not run
--   {"dead", "redelivery_limit", n}  delivered too often without finishing
--   {"parked"}                       held in `scheduled` until run_at
--   {"locked", holder}               the lock is held by another job: wait
--   "run <attempt> <max_attempts>"  (one string: cheaper than a table)
-- A job left `running` by a worker that died is a redelivery: it does not use
-- up an attempt but counts against max_redeliveries, so a message that kills
-- workers cannot loop forever. A job `running` under a live lease is not
-- abandoned: a second copy of it is dropped.
local h = KEYS[1]
local id = ARGV[1]
local now = tonumber(ARGV[6])
-- One read for every field this script looks at (`held`: the message lives
-- in <p>job:<id>:body).
local f = redis.call('HMGET', h, 'state', 'attempt', 'max_attempts', 'cancel_requested', 'held', 'error')
local st = f[1]
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st, f[6] or '', f[2] or '0'}
end
if st == 'running' and f[5] then
  local lease = redis.call('ZSCORE', KEYS[4], id)
  if lease and tonumber(lease) > now then
    return {'skip', 'running', '', f[2] or '0'}
  end
end
if not st then
  -- Published straight to RabbitMQ by a client: create the hash here.
  redis.call('HSET', h, 'id', id, 'type', ARGV[2], 'target', ARGV[3],
    'state', 'queued', 'created_at', ARGV[4], 'queued_at', ARGV[6],
    'max_attempts', ARGV[5], 'attempt', '0', 'progress', '0')
  if ARGV[11] ~= '' then redis.call('HSET', h, 'lock', ARGV[11]) end
  redis.call('ZADD', KEYS[2], ARGV[4], id)
  st = 'queued'
  f = {st, '0', ARGV[5], false, false, false}
end
if ARGV[10] == 'park' then
  redis.call('HSET', h, 'state', 'scheduled', 'run_at', ARGV[13], 'held', '1')
  redis.call('SET', h .. ':body', ARGV[14])
  redis.call('ZADD', KEYS[3], ARGV[13], id)
  if st ~= 'scheduled' then redis.call('PUBLISH', ARGV[8], id .. ' scheduled') end
  return {'parked'}
end
if f[4] == '1' then
  -- Cancelled while its worker died: finish it instead of running it.
  redis.call('HSET', h, 'state', 'cancelled', 'error', 'cancelled',
    'error_message', 'cancelled while running; its worker stopped', 'finished_at', ARGV[6])
  if f[5] then
    redis.call('DEL', h .. ':body')
    redis.call('HDEL', h, 'held')
  end
  redis.call('ZREM', KEYS[4], id)
  redis.call('PUBLISH', ARGV[8], id .. ' cancelled')
  return {'skip', 'cancelled', 'cancelled', f[2] or '0'}
end
local redelivery = st == 'running'
if redelivery then
  local n = redis.call('HINCRBY', h, 'redeliveries', 1)
  if n > tonumber(ARGV[9]) then
    return {'dead', 'redelivery_limit', tostring(n)}
  end
end
if ARGV[11] ~= '' then
  local holder = redis.call('GET', KEYS[5])
  if holder and holder ~= id then
    redis.call('HSET', h, 'step', 'waiting for lock ' .. ARGV[11])
    return {'locked', holder}
  end
  redis.call('SET', KEYS[5], id, 'PX', ARGV[12])
  redis.call('HSET', h, 'lock_key', KEYS[5])
end
local attempt
if redelivery then
  attempt = tonumber(f[2] or '1')
else
  attempt = tonumber(f[2] or '0') + 1
end
if st == 'scheduled' then redis.call('ZREM', KEYS[3], id) end
if ARGV[14] ~= '' then
  redis.call('SET', h .. ':body', ARGV[14])
  redis.call('HSET', h, 'held', '1')
  redis.call('ZADD', KEYS[4], ARGV[15], id)
elseif f[5] then
  redis.call('DEL', h .. ':body')
  redis.call('HDEL', h, 'held')
  redis.call('ZREM', KEYS[4], id)
end
redis.call('HSET', h, 'state', 'running', 'worker', ARGV[7],
  'started_at', ARGV[6], 'progress', '0', 'step', '', 'attempt', tostring(attempt))
redis.call('PUBLISH', ARGV[8], id .. ' running')
-- A flat string: a table reply costs Redis more than the whole PUBLISH.
return 'run ' .. attempt .. ' ' .. (f[3] or ARGV[5])
