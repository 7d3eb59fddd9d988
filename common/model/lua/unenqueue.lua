-- unenqueue: undo enqueue.lua after the publish failed, so the client may
-- submit the same id again. Only a never-started job is removed.
-- KEYS[1] job hash, KEYS[2] recent index, KEYS[3] scheduled
-- ARGV[1] id
-- Returns 1 when removed, 0 when the job had moved on.
local st = redis.call('HGET', KEYS[1], 'state')
if (st == 'queued' or st == 'scheduled') and redis.call('HGET', KEYS[1], 'attempt') == '0' then
  local uk = redis.call('HGET', KEYS[1], 'unique_key')
  if uk and redis.call('GET', uk) == ARGV[1] then redis.call('DEL', uk) end
  redis.call('DEL', KEYS[1], KEYS[1] .. ':body')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 1
end
return 0
