-- Cache a concert's policy read from the database, unless the cache already holds that version or a newer one
-- (two instances may write in either order; the database's version decides).
-- KEYS: 1 policy (hash), 2 events (shard channel). ARGV: 1 version, then field, value pairs (absent = default).
-- Returns 1 if written, 0 if the cached copy was as new or newer.
local cur = tonumber(redis.call('HGET', KEYS[1], 'v'))
if cur and cur >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
-- Estimates follow the policy: open streams refresh.
redis.call('SPUBLISH', KEYS[2], 'C')
return 1
