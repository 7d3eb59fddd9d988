-- enqueue: create a job hash in state `queued`, unless the id exists.
-- This is what makes submit idempotent: a second submit of the same id
-- creates nothing and tells the caller the state it found.
-- KEYS[1] job hash
-- ARGV id, type, target, created_at, max_attempts, now_ms, events_channel
-- Returns {1, "queued"} when created, {0, <existing state>} otherwise.
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  return {0, state}
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'type', ARGV[2], 'target', ARGV[3],
  'state', 'queued', 'attempt', '0', 'max_attempts', ARGV[5],
  'created_at', ARGV[4], 'queued_at', ARGV[6], 'progress', '0')
redis.call('PUBLISH', ARGV[7], ARGV[1] .. ' queued')
return {1, 'queued'}
