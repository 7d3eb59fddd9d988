-- enqueue: create a job hash in state `queued` (or `scheduled` when run_at
-- is in the future), unless the id exists. This is what makes submit
-- idempotent: a second submit of the same id creates nothing and tells the
-- caller the state it found. With unique_for_s, a live job holding the same
-- uniqueness key wins too, and its id is returned.
-- KEYS[1] job hash, KEYS[2] recent index (zset), KEYS[3] scheduled (zset)
-- ARGV[1] id  [2] type  [3] target  [4] created_at  [5] max_attempts
--     [6] now_ms  [7] events channel  [8] run_at ms (0: none)
--     [9] body (kept only when scheduled)  [10] unique_for_s (0: none)
--     [11] lock ('' none)  [12] priority  [13] key prefix ("wharf:")
--     [14] uniqueness material (type, target and canonical args; hashed
--     into <p>unique:<sha1>)
--     [15] '1': schedule even when run_at has come (the scheduler's firings)
-- The recent index is trimmed to its cap by the scheduler's leader.
-- Returns {created 1|0, state, id of the job that stands}.
local h = KEYS[1]
local state = redis.call('HGET', h, 'state')
if state then
  return {0, state, ARGV[1]}
end
local unique_for = tonumber(ARGV[10])
local ukey
if unique_for > 0 then
  ukey = ARGV[13] .. 'unique:' .. redis.sha1hex(ARGV[14])
  local holder = redis.call('GET', ukey)
  if holder and holder ~= ARGV[1] then
    local hs = redis.call('HGET', ARGV[13] .. 'job:' .. holder, 'state')
    if hs == 'queued' or hs == 'scheduled' or hs == 'running' or hs == 'retrying' then
      return {0, hs, holder}
    end
  end
  redis.call('SET', ukey, ARGV[1], 'EX', unique_for)
end
local run_at = tonumber(ARGV[8])
state = (run_at > tonumber(ARGV[6]) or ARGV[15] == '1') and 'scheduled' or 'queued'
redis.call('HSET', h, 'id', ARGV[1], 'type', ARGV[2], 'target', ARGV[3],
  'state', state, 'attempt', '0', 'max_attempts', ARGV[5],
  'created_at', ARGV[4], 'queued_at', ARGV[6], 'progress', '0')
if run_at > 0 then redis.call('HSET', h, 'run_at', ARGV[8]) end
if ARGV[11] ~= '' then redis.call('HSET', h, 'lock', ARGV[11]) end
if ARGV[12] ~= '0' then redis.call('HSET', h, 'priority', ARGV[12]) end
if ukey then redis.call('HSET', h, 'unique_key', ukey) end
if state == 'scheduled' then
  redis.call('SET', h .. ':body', ARGV[9])
  redis.call('HSET', h, 'held', '1')
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
end
-- The index is trimmed to its cap by the scheduler's leader, once a second.
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('PUBLISH', ARGV[7], ARGV[1] .. ' ' .. state)
return {1, state, ARGV[1]}
