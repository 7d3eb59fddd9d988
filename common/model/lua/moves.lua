-- moves: many jobs' state moves in one call, the worker's group commit
-- (and, as a batch of one or two, every start and finish). Each move is
-- start.lua or finish.lua, included below word for word as a function of
-- its own KEYS and ARGV, so a move in a batch is checked exactly as it
-- would be alone: idempotent, forward-only, redeliveries counted. Moves run
-- in the order given; a job thread's finish and its next start are
-- adjacent, so a lock the finish releases is free for the start.
-- What the batch shares is done once for it: the outcome counts are summed
-- and written at the end (one HINCRBY per bucket and outcome, not two per
-- job), and events are published only while someone listens on their
-- channel (asked once per batch: a script runs alone, so no subscriber
-- can come between the question and the PUBLISH, and an event nobody
-- listens to is dropped by Redis anyway).
--
-- ARGV[1]: the batch, one flat msgpack array: a header of what its moves
-- share, then the moves one after the other, each with only its own
-- values. Every string that crosses costs Redis an object and Lua a
-- string to intern, and every table Lua builds costs more than the
-- strings in it, so there is one array, and each move's KEYS and ARGV are
-- made here from the header and the move:
--   header   prefix, worker, max_redeliveries, minute, hour, ttl_minute,
--            ttl_hour, run_ms: the worker's; outcomes are counted in the
--            buckets of the batch's time
--   start    's', id, type, target, created_at, max_attempts, now, ttl
--            ('S': the same, then mode, lock, lock_ms, run_at, body,
--            lease_until, run_ms; 's' has the defaults run, '', 0, 0, '',
--            0 and the header's run_ms)
--   finish   'f', id, state, now, type, created_at, count, ttl
--            ('F': the same, then result, error_code, error_message,
--            lease_until; 'f' has '', '', '', 0)
-- The keys are not declared in KEYS: wharf runs on one Redis (with
-- replicas), never on Redis Cluster.
-- Returns one reply per move, in order: what its script returns, or
-- {'err', message} for a move that raised an error (a key of the wrong
-- type, say); the other moves of the batch are made all the same.
local listening = {}
local function publish(channel, message)
  local l = listening[channel]
  if l == nil then
    l = redis.call('PUBSUB', 'NUMSUB', channel)[2] > 0 or redis.call('PUBSUB', 'NUMPAT') > 0
    listening[channel] = l
  end
  if l then redis.call('PUBLISH', channel, message) end
end

-- Outcome counts, summed per bucket and field until the batch ends.
local counts, buckets = {}, {}
local function count(bucket, ttl, types, job_type, field)
  local c = counts[bucket]
  if not c then
    c = {}
    counts[bucket] = c
    buckets[#buckets + 1] = {bucket, ttl, types, job_type}
  end
  c[field] = (c[field] or 0) + 1
end

local function tally(minute, hour, types, job_type, field, ttl_minute, ttl_hour)
  count(minute, ttl_minute, false, job_type, field)
  count(hour, ttl_hour, types, job_type, field)
end

-- A field counted for the first time creates it: the bucket then gets its
-- expiry and, for an hour bucket, its type joins the type set.
local function write_counts()
  for _, b in ipairs(buckets) do
    for field, n in pairs(counts[b[1]]) do
      if redis.call('HINCRBY', b[1], field, n) == n then
        redis.call('EXPIRE', b[1], b[2])
        if b[3] then redis.call('SADD', b[3], b[4]) end
      end
    end
  end
end

-- start.lua's next attempt, as text (see there).
local NEXT_ATTEMPT = {['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6'}

local function start(KEYS, ARGV)
--@include start.lua
end

local function finish(KEYS, ARGV)
--@include finish.lua
end

local b = cmsgpack.unpack(ARGV[1])
local p, worker, max_redeliveries, minute, hour, ttl_minute, ttl_hour, run_ms =
  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8]
local events, recent, scheduled, leases = p .. 'events', p .. 'recent', p .. 'scheduled', p .. 'leases'
local types, no_lock, workers = p .. 'stats:types', p .. 'lock:', p .. 'worker:'
local stats = {}  -- per type: its minute and hour buckets

-- The move at b[i]: 's', then b[i + 1] .. b[i + 7] (and 'S', b[i + 8] ..).
local function make_start(i, long)
  local lock, lock_ms, run_at, body, lease, mode, run = '', '0', '0', '', '0', 'run', run_ms
  if long then
    mode, lock, lock_ms, run_at, body, lease, run =
      b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14]
  end
  local id = b[i + 1]
  return start({p .. 'job:' .. id, recent, scheduled, leases, lock == '' and no_lock or no_lock .. lock, workers},
    {id, b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], worker, events, max_redeliveries, mode, lock, lock_ms,
     run_at, body, lease, b[i + 7], run})
end

local function make_finish(i, long)
  local result, code, message, lease = '', '', '', '0'
  if long then result, code, message, lease = b[i + 8], b[i + 9], b[i + 10], b[i + 11] end
  local id, t, count = b[i + 1], b[i + 4], b[i + 6]
  local job, s = p .. 'job:' .. id, stats[t]
  if not s and count == '1' then
    s = {p .. 'stats:' .. t .. ':1m:' .. minute, p .. 'stats:' .. t .. ':1h:' .. hour}
    stats[t] = s
  end
  s = s or {'', ''}
  return finish({job, job .. ':log', leases, s[1], s[2], types},
    {id, b[i + 2], result, code, message, b[i + 3], b[i + 7], events, t, b[i + 5], lease, count, ttl_minute,
     ttl_hour})
end

-- Per kind: what makes the move, whether it is long, and its length.
local kinds = {s = {make_start, false, 8}, S = {make_start, true, 15},
               f = {make_finish, false, 8}, F = {make_finish, true, 12}}
local replies = {}
local i = 9
while i <= #b do
  local k = kinds[b[i]]
  if not k then return redis.error_reply('moves: no move kind ' .. tostring(b[i]) .. ' at ' .. i) end
  local ok, rep = pcall(k[1], i, k[2])
  if ok then
    replies[#replies + 1] = rep
  else
    -- redis.call raises a table with `err`; Lua itself raises a string.
    if type(rep) == 'table' then rep = rep.err end
    replies[#replies + 1] = {'err', tostring(rep)}
  end
  i = i + k[3]
end
write_counts()
return replies
