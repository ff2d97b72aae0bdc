-- End one entry (leave, or pass used by a payment) if it is still the user's live entry.
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 events (shard channel). ARGV: 1 userId, 2 entryId.
-- Returns 1 if ended, 0 if already gone.
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then
  return 0
end
local wasWaiting = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
-- Only a waiting user leaving moves others up; an active pass ending frees cap room for the next tick.
if wasWaiting == 1 then redis.call('SPUBLISH', KEYS[5], 'C') end
return 1
