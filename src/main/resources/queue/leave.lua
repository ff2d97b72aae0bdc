-- End one entry (leave, or pass used by a payment) if it is still the user's live entry.
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 events (shard channel), 6 cohort. ARGV: 1 userId, 2 entryId.
-- Returns 1 if ended, 0 if already gone.
local cur = redis.call('HGET', KEYS[4], ARGV[1])
if not cur then
  return 0
end
local e, d = entry_of(cur)
if e ~= ARGV[2] then
  return 0
end
local moved = redis.call('ZREM', KEYS[1], ARGV[1])
if d then moved = moved + redis.call('ZREM', KEYS[6], d .. ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
-- Only a waiting user leaving moves others up; an active pass ending frees cap room for the next tick.
if moved > 0 then redis.call('SPUBLISH', KEYS[5], 'C') end
return 1
