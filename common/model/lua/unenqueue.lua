-- unenqueue: undo enqueue.lua after the publish failed, so the client may
-- submit the same id again. Only a never-started job is removed.
-- Returns 1 when removed, 0 when the job had moved on.
local job = KEYS[1]          -- the job hash
local recent = KEYS[2]       -- the recent index (zset)
local scheduled = KEYS[3]    -- the scheduled zset
local id = ARGV[1]
local st = redis.call('HGET', job, 'state')
if (st == 'queued' or st == 'scheduled') and redis.call('HGET', job, 'attempt') == '0' then
  local uk = redis.call('HGET', job, 'unique_key')
  if uk and redis.call('GET', uk) == id then redis.call('DEL', uk) end
  redis.call('DEL', job, job .. ':body')
  redis.call('ZREM', recent, id)
  redis.call('ZREM', scheduled, id)
  return 1
end
return 0
