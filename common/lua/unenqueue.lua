-- unenqueue: undo enqueue.lua after the publish failed, so the client may
-- submit the same id again. Only a never-started job is removed.
-- KEYS[1] job hash
-- Returns 1 when removed, 0 when the job had moved on.
if redis.call('HGET', KEYS[1], 'state') == 'queued'
   and redis.call('HGET', KEYS[1], 'attempt') == '0' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
