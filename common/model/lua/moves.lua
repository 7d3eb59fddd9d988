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
-- KEYS: every move's keys, one move after the other.
-- ARGV: per move, its script ('start' or 'finish'), its number of keys,
--       its number of arguments, then the arguments.
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

local function start(KEYS, ARGV)
--@include start.lua
end

local function finish(KEYS, ARGV)
--@include finish.lua
end

local scripts = {start = start, finish = finish}
local replies = {}
local k, a = 1, 1
while a <= #ARGV do
  local fn = scripts[ARGV[a]]
  local nk, na = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  -- unpack fills each table in one step: a loop of stores costs Redis
  -- more than the move's own commands.
  local keys, args = {unpack(KEYS, k, k + nk - 1)}, {unpack(ARGV, a + 3, a + 2 + na)}
  k, a = k + nk, a + 3 + na
  local ok, rep = pcall(fn, keys, args)
  if ok then
    replies[#replies + 1] = rep
  else
    -- redis.call raises a table with `err`; Lua itself raises a string.
    if type(rep) == 'table' then rep = rep.err end
    replies[#replies + 1] = {'err', tostring(rep)}
  end
end
write_counts()
return replies
