-- enqueue_many: many jobs' enqueue in one call (wharf_submit_many). Each job
-- is enqueue.lua, included below word for word as a function of its own
-- KEYS and ARGV, so each is checked exactly as it would be alone
-- (idempotent ids, uniqueness, scheduling). Clients that ship enqueue.lua
-- alone call it once per job with the same effect.
--
-- ARGV[1]: one flat msgpack array: prefix, now, then each job with only its
-- own values (every string that crosses costs Redis an object and Lua a
-- string to intern, so the keys are made here from the prefix and the id):
--   'e', id, type, target, created_at, max_attempts, args
--   'E', the same, then run_at, body, unique_for, lock, priority, unique,
--        park ('e' has 0, '', 0, '', 0, '', 0: due now, no uniqueness, no
--        lock, priority 0, not parked; its message is then never kept)
-- Returns one reply per job, in order: what enqueue.lua returns, or
-- {'err', message} for a job that raised an error (its hash key holds
-- another type, say); the other jobs are enqueued all the same.
local function enqueue(KEYS, ARGV)
--@include enqueue.lua
end

local b = cmsgpack.unpack(ARGV[1])
local p, now = b[1], b[2]
local recent, scheduled, events = p .. 'recent', p .. 'scheduled', p .. 'events'
local replies = {}
local i = 3
while i <= #b do
  local kind = b[i]
  local run_at, body, unique_for, lock, priority, unique, park = '0', '', '0', '', '0', '', '0'
  if kind == 'E' then
    run_at, body, unique_for, lock, priority, unique, park =
      b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13]
  elseif kind ~= 'e' then
    return redis.error_reply('enqueue_many: no job kind ' .. tostring(kind) .. ' at ' .. i)
  end
  local id = b[i + 1]
  local ok, rep = pcall(enqueue, {p .. 'job:' .. id, recent, scheduled},
    {id, b[i + 2], b[i + 3], b[i + 4], b[i + 5], now, events, run_at, body, unique_for, lock, priority, p, unique,
     park, b[i + 6]})
  if not ok then
    -- redis.call raises a table with `err`; Lua itself raises a string.
    if type(rep) == 'table' then rep = rep.err end
    rep = {'err', tostring(rep)}
  end
  replies[#replies + 1] = rep
  i = i + (kind == 'E' and 14 or 7)
end
return replies
