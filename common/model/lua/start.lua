-- start: a worker received a delivery and wants to run (or park) it.
-- The body of a function in moves.lua (the worker's batches), which gives
-- it `publish`.
-- The recent index is trimmed to its cap by the scheduler's leader.
-- Returns one of
--   {"skip", state, error, attempt}  terminal (or a live duplicate): ack, do not run
--   {"dead", "redelivery_limit", n}  delivered too often without finishing
--   {"parked"}                       held in `scheduled` until run_at
--   {"locked", holder}               the lock is held by another job: wait
--   {"busy", worker}                 running on a worker that is alive: wait
--   "run <attempt> <max_attempts>"  (one string: cheaper than a table)
-- A job left `running` by a worker that died is a redelivery: it does not use
-- up an attempt but counts against max_redeliveries, so a message that kills
-- workers cannot loop forever. A job `running` under a live lease is not
-- abandoned: a second copy of it is dropped. Nor is a job `running` on a
-- worker that is still alive: that worker lost its broker connection (or
-- was paused past its heartbeat), the broker handed the job out again, and
-- the run there goes on and records the outcome; this copy waits for it,
-- as for a lock, and runs only once that worker is gone (its registry key
-- expires three heartbeats after its last beat) or the run is older than
-- the longest it can last (`run_ms`): past its timeout, that worker would
-- have ended it, so it has lost the job and the copy runs. The same start sent again (its
-- reply was lost, or Redis ran it but could not reach its replicas in time)
-- is recognized by its worker and its `now`, which the worker keeps across
-- the retries of one start: it answers "run" again and counts nothing.
local job = KEYS[1]          -- the job hash
local recent = KEYS[2]       -- the recent index (zset)
local scheduled = KEYS[3]    -- the scheduled zset
local leases = KEYS[4]       -- the leases zset
local lock_key = KEYS[5]     -- the lock's key (ignored when lock is '')
local workers = KEYS[6]      -- the workers' registry keys, less the worker id
local id = ARGV[1]
local job_type = ARGV[2]
local target = ARGV[3]
local created_at = ARGV[4]
local max_attempts = ARGV[5]
local now = ARGV[6]          -- ms
local worker = ARGV[7]
local events = ARGV[8]       -- the events channel
local max_redeliveries = ARGV[9]
local mode = ARGV[10]        -- 'run', or 'park' (run_at is in the future)
local lock = ARGV[11]        -- the lock's name; '': none
local lock_ms = ARGV[12]     -- the lock's ttl
local run_at = ARGV[13]      -- ms
local body = ARGV[14]        -- '' for a normal job; the message for a parked
                             -- job or a job acked early (it then lives in
                             -- Redis, under a lease)
local lease_until = ARGV[15] -- ms
local ttl = ARGV[16]         -- s, of a job ended here (cancelled); '0': none
local run_ms = ARGV[17]      -- ms: the longest a run of this job lasts (its
                             -- timeout and a lease); '0': no bound
local now_ms = tonumber(now)
-- One read for every field this script looks at (`held`: the message lives
-- in <p>job:<id>:body).
local f = redis.call('HMGET', job, 'state', 'attempt', 'max_attempts', 'cancel_requested', 'held', 'error',
  'worker', 'started_at', 'step', 'lock_key', 'unique_key', 'log')
local st = f[1]
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'cancelled' then
  return {'skip', st, f[6] or '', f[2] or '0'}
end
if st == 'running' and mode == 'run' and f[7] == worker and f[8] == now then
  if lock ~= '' then
    -- The tries of this start may have taken longer than the lock's ttl
    -- (no replica answered the WAIT): the lock lapsed, as nothing renews it
    -- before the handler runs. Take it again, or wait if another job has it.
    local holder = redis.call('GET', lock_key)
    if holder and holder ~= id then
      redis.call('HSET', job, 'step', 'waiting for lock ' .. lock)
      return {'locked', holder}
    end
    redis.call('SET', lock_key, id, 'PX', lock_ms)
  end
  return 'run ' .. (f[2] or '1') .. ' ' .. (f[3] or max_attempts)
end
if st == 'running' and f[5] then
  local lease = redis.call('ZSCORE', leases, id)
  if lease and tonumber(lease) > now_ms then
    return {'skip', 'running', '', f[2] or '0'}
  end
end
if not st then
  -- Published straight to RabbitMQ by a client: create the hash here.
  redis.call('HSET', job, 'id', id, 'type', job_type, 'target', target,
    'state', 'queued', 'created_at', created_at, 'queued_at', now,
    'max_attempts', max_attempts, 'attempt', '0', 'progress', '0')
  if lock ~= '' then redis.call('HSET', job, 'lock', lock) end
  redis.call('ZADD', recent, created_at, id)
  redis.call('ZADD', recent .. ':type:' .. job_type, created_at, id)
  redis.call('SADD', recent .. ':indexes', 'type:' .. job_type)
  if target ~= '' then
    redis.call('ZADD', recent .. ':target:' .. target, created_at, id)
    redis.call('SADD', recent .. ':indexes', 'target:' .. target)
  end
  st = 'queued'
  f = {st, '0', max_attempts, false, false, false}
end
if mode == 'park' then
  redis.call('HSET', job, 'state', 'scheduled', 'run_at', run_at, 'held', '1')
  redis.call('SET', job .. ':body', body)
  redis.call('ZADD', scheduled, run_at, id)
  if st ~= 'scheduled' then publish(events, id .. ' scheduled') end
  return {'parked'}
end
-- The lock is looked at before a redelivery is counted: a redelivered job
-- that waits for its lock keeps its state and comes back, and each of its
-- waits would otherwise count as one more redelivery. A redelivered job
-- whose own lock is still held waits too: its earlier run holds it, and
-- that run's worker may be alive, renewing it (only its broker connection
-- was lost). Running now would overlap that run, and the next holder
-- would overlap it once this copy ended and released the lock.
if lock ~= '' then
  local holder = redis.call('GET', lock_key)
  if holder and (holder ~= id or st == 'running') then
    redis.call('HSET', job, 'step', 'waiting for lock ' .. lock)
    return {'locked', holder}
  end
end
local redelivery = st == 'running'
if redelivery and f[7] and not f[5] then
  -- Alive: its registry key lives, and this incarnation of it (a worker id
  -- may be reused) started before the run did, and the run is not past
  -- the longest it can last. A job held under a lease was judged by its
  -- lease above.
  local started = tonumber(f[8] or '0')
  local since = redis.call('HGET', workers .. f[7], 'started_at')
  if since and tonumber(since) <= started and (run_ms == '0' or now_ms < started + tonumber(run_ms)) then
    return {'busy', f[7]}
  end
end
if f[4] == '1' then
  -- Cancelled while its worker died: finish it instead of running it, and
  -- release what a finish releases (finish.lua): its lock, uniqueness key,
  -- lease and body, and the hash and log expire. Only here, after the lock
  -- and busy checks: while the earlier run's worker lives, or its lock
  -- does, that run may still be going, and it sees the cancel itself;
  -- ending the job here would free its lock under it.
  redis.call('HSET', job, 'state', 'cancelled', 'error', 'cancelled',
    'error_message', 'cancelled while running; its worker stopped', 'finished_at', now)
  redis.call('HDEL', job, 'cancel_requested')
  if f[5] then
    redis.call('DEL', job .. ':body')
    redis.call('HDEL', job, 'held')
  end
  redis.call('ZREM', leases, id)
  if f[10] then
    if redis.call('GET', f[10]) == id then redis.call('DEL', f[10]) end
    redis.call('HDEL', job, 'lock_key')
  end
  if f[11] and redis.call('GET', f[11]) == id then redis.call('DEL', f[11]) end
  if tonumber(ttl) > 0 then
    redis.call('EXPIRE', job, ttl)
    if f[12] then redis.call('EXPIRE', job .. ':log', ttl) end
  end
  publish(events, id .. ' cancelled')
  return {'skip', 'cancelled', 'cancelled', f[2] or '0'}
end
if redelivery then
  local n = redis.call('HINCRBY', job, 'redeliveries', 1)
  if n > tonumber(max_redeliveries) then
    return {'dead', 'redelivery_limit', tostring(n)}
  end
end
if lock ~= '' then
  redis.call('SET', lock_key, id, 'PX', lock_ms)
  redis.call('HSET', job, 'lock_key', lock_key)
end
-- The attempt as text: a number turned into a string costs a sprintf, more
-- than the rest of this step, so the common ones are looked up.
local attempt
if redelivery then
  attempt = f[2] or '1'
else
  attempt = NEXT_ATTEMPT[f[2] or '0'] or tostring(tonumber(f[2] or '0') + 1)
end
if st == 'scheduled' then redis.call('ZREM', scheduled, id) end
if body ~= '' then
  redis.call('SET', job .. ':body', body)
  redis.call('HSET', job, 'held', '1')
  redis.call('ZADD', leases, lease_until, id)
elseif f[5] then
  redis.call('DEL', job .. ':body')
  redis.call('HDEL', job, 'held')
  redis.call('ZREM', leases, id)
end
if attempt == '1' and not f[9] then
  -- A first run with no step written (a lock wait, a requeue): progress
  -- is still 0, as the job has never run.
  redis.call('HSET', job, 'state', 'running', 'worker', worker, 'started_at', now, 'attempt', attempt)
else
  redis.call('HSET', job, 'state', 'running', 'worker', worker,
    'started_at', now, 'progress', '0', 'step', '', 'attempt', attempt)
end
publish(events, id .. ' running')
-- A flat string: a table reply costs Redis more than a PUBLISH.
return 'run ' .. attempt .. ' ' .. (f[3] or max_attempts)
