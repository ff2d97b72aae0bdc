-- The version of a date's change log and its entries after a version (oldest first, at most a limit).
-- KEYS: 1 version counter, 2 log. ARGV: 1 after this version, 2 limit. Returns {version or "0", member, ...}.
local v = redis.call('GET', KEYS[1])
if not v then return {'0'} end
local out = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
table.insert(out, 1, v)
return out
