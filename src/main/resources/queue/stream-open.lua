-- Open one SSE stream of a queue entry, if fewer than the limit are open (across all instances).
-- Each open stream holds a lease (member = stream id, score = lease end ms) that its instance renews; a crashed
-- instance's streams stop being counted when their leases run out.
-- KEYS: 1 streams (zset of the entry). ARGV: 1 stream id, 2 max streams, 3 lease ms.
-- Returns {1, 0} when opened, {0, ms until the oldest lease ends} when the limit is reached.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) - now}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, 0}
