-- Cache a concert's sale schedule read from the database (v = its version; 0: the concert has no schedule),
-- unless the cache already holds that version or a newer one. Once the cohort is frozen (size set by admit.lua at
-- the opening) the times never change here: an opened sale cannot move.
-- KEYS: 1 sale (hash), 2 events (shard channel). ARGV: 1 version, 2 pre ms|'', 3 opens ms|'', 4 cohort size|''
-- (when the database has recorded the opening).
-- Returns 1 if written, 0 if the cached copy was as new or newer, 2 if the sale had already opened here.
local cur = tonumber(redis.call('HGET', KEYS[1], 'v'))
local function keep_size()
  if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'size', ARGV[4]) end
end
if cur and cur >= tonumber(ARGV[1]) then
  keep_size()
  return 0
end
if redis.call('HEXISTS', KEYS[1], 'size') == 1 then
  return 2
end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'pre', ARGV[2], 'opens', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'pre', 'opens')
end
keep_size()
-- Streams show the new times.
redis.call('SPUBLISH', KEYS[2], 'C')
return 1
