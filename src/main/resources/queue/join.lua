-- Join a concert's waiting queue, or report the live entry the user already has (idempotent).
-- KEYS: 1 wait (zset user->arrival seq), 2 active (zset user->expiry ms), 3 seen (zset user->last presence ms),
--       4 entry (hash user->entry id), 5 seq (counter), 6 policy (hash, cached from the database), 7 stats (hash),
--       8 events (shard channel)
-- ARGV: 1 userId, 2 fresh entry id, 3 default waiting timeout ms, 4 default admit-per-tick
-- Returns {status, entryId, position|activeUntil, created(0|1), observed rate, admitPerTick, policy cached (1|0)};
-- time is Redis TIME so every instance agrees.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = ARGV[1]
local rate = redis.call('HGET', KEYS[7], 'rate') or '0'
local p = redis.call('HMGET', KEYS[6], 'v', 'admitPerTick', 'waitTimeoutMs')
local cached = p[1] and '1' or '0'
local admit = tostring(tonumber(p[2]) or tonumber(ARGV[4]))
local cur = redis.call('HGET', KEYS[4], u)
if cur then
  local a = redis.call('ZSCORE', KEYS[2], u)
  if a and tonumber(a) > now then
    return {'ACTIVE', cur, a, '0', rate, admit, cached}
  end
  local r = redis.call('ZRANK', KEYS[1], u)
  if r then
    local seen = tonumber(redis.call('ZSCORE', KEYS[3], u) or '0')
    -- Without the cached policy the waiting timeout is unknown: keep the place rather than drop it on a guess.
    if not p[1] or seen >= now - (tonumber(p[3]) or tonumber(ARGV[3])) then
      redis.call('ZADD', KEYS[3], now, u)
      return {'WAITING', cur, tostring(r + 1), '0', rate, admit, cached}
    end
  end
  -- The old entry is over (expired or idle, not yet swept): clear it and queue afresh at the back.
  local wasWaiting = redis.call('ZREM', KEYS[1], u)
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
  if wasWaiting == 1 then redis.call('SPUBLISH', KEYS[8], 'C') end
end
local seq = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[1], seq, u)
redis.call('ZADD', KEYS[3], now, u)
redis.call('HSET', KEYS[4], u, ARGV[2])
return {'WAITING', ARGV[2], tostring(redis.call('ZRANK', KEYS[1], u) + 1), '1', rate, admit, cached}
