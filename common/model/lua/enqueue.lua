-- enqueue: create a job hash in state `queued` (or `scheduled` when run_at
-- is in the future), unless the id exists. This is what makes submit
-- idempotent: a second submit of the same id creates nothing and tells the
-- caller the state it found. With unique_for_s, a live job holding the same
-- uniqueness key wins too, and its id is returned.
-- The recent index is trimmed to its cap by the scheduler's leader.
-- The job's args are kept in the hash as `args` (canonical JSON, the text
-- the HTTP API shows) so the dashboard can show, search and resubmit them;
-- past ARGS_CAP bytes only `args_truncated` (their size) is kept.
-- Returns {created 1|0, state, id of the job that stands}.
local job = KEYS[1]          -- the job hash
local recent = KEYS[2]       -- the recent index (zset)
local scheduled = KEYS[3]    -- the scheduled zset
local id = ARGV[1]
local job_type = ARGV[2]
local target = ARGV[3]
local created_at = ARGV[4]
local max_attempts = ARGV[5]
local now = ARGV[6]          -- ms
local events = ARGV[7]       -- the events channel
local run_at = ARGV[8]       -- ms; 0: none
local body = ARGV[9]         -- the message, kept only when scheduled
local unique_for = ARGV[10]  -- unique_for_s; 0: none
local lock = ARGV[11]        -- '': none
local priority = ARGV[12]
local prefix = ARGV[13]      -- the key prefix ("wharf:")
local unique = ARGV[14]      -- uniqueness material (type, target and
                             -- canonical args), hashed into <p>unique:<sha1>
local park = ARGV[15]        -- '1': schedule even when run_at has come
                             -- (the scheduler's firings)
local args = ARGV[16]        -- the args as canonical JSON (keys sorted,
                             -- compact); '' or absent (an older client): none
local ARGS_CAP = 8192        -- bytes of args kept in the hash, at most
local state = redis.call('HGET', job, 'state')
if state then
  return {0, state, id}
end
local ukey
if tonumber(unique_for) > 0 then
  ukey = prefix .. 'unique:' .. redis.sha1hex(unique)
  local holder = redis.call('GET', ukey)
  if holder and holder ~= id then
    local hs = redis.call('HGET', prefix .. 'job:' .. holder, 'state')
    if hs == 'queued' or hs == 'scheduled' or hs == 'running' or hs == 'retrying' then
      return {0, hs, holder}
    end
  end
  redis.call('SET', ukey, id, 'EX', unique_for)
end
local due = tonumber(run_at)
state = (due > tonumber(now) or park == '1') and 'scheduled' or 'queued'
-- One HSET for the common job: each call costs more than its fields.
local keep_args = args and args ~= '' and #args <= ARGS_CAP
if keep_args then
  redis.call('HSET', job, 'id', id, 'type', job_type, 'target', target,
    'state', state, 'attempt', '0', 'max_attempts', max_attempts,
    'created_at', created_at, 'queued_at', now, 'progress', '0', 'args', args)
else
  redis.call('HSET', job, 'id', id, 'type', job_type, 'target', target,
    'state', state, 'attempt', '0', 'max_attempts', max_attempts,
    'created_at', created_at, 'queued_at', now, 'progress', '0')
  if args and args ~= '' then redis.call('HSET', job, 'args_truncated', #args) end
end
if due > 0 then redis.call('HSET', job, 'run_at', run_at) end
if lock ~= '' then redis.call('HSET', job, 'lock', lock) end
if priority ~= '0' then redis.call('HSET', job, 'priority', priority) end
if ukey then redis.call('HSET', job, 'unique_key', ukey) end
if state == 'scheduled' then
  redis.call('SET', job .. ':body', body)
  redis.call('HSET', job, 'held', '1')
  redis.call('ZADD', scheduled, run_at, id)
end
-- The index is trimmed to its cap by the scheduler's leader, once a second,
-- and with it the per-type and per-target indexes named after it, which the
-- HTTP API's job list reads for its filters (schemas/README.md section 15).
redis.call('ZADD', recent, created_at, id)
redis.call('ZADD', recent .. ':type:' .. job_type, created_at, id)
redis.call('SADD', recent .. ':indexes', 'type:' .. job_type)
if target ~= '' then
  redis.call('ZADD', recent .. ':target:' .. target, created_at, id)
  redis.call('SADD', recent .. ':indexes', 'target:' .. target)
end
redis.call('PUBLISH', events, id .. ' ' .. state)
return {1, state, id}
