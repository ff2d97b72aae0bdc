-- State of one or many queue entries in one call (the SSE hub batches all streams of a concert).
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 stats (hash), 6 policy (hash), 7 events (shard channel)
-- ARGV: 1 default admit-per-tick, 2 default waiting timeout ms, 3 touch presence (1|0), then pairs userId, entryId
-- Returns {observed rate/s, admitPerTick, policy cached (1|0), kind1, value1, kind2, value2, ...}
--   kind W: waiting, value = 1-based position; A: active, value = expiry ms; G: gone (left, ended, expired, dropped)
-- Expiry is exact: an active entry past its expiry or an idle waiting entry is removed here, not only by the sweep.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local p = redis.call('HMGET', KEYS[6], 'v', 'admitPerTick', 'waitTimeoutMs')
-- Without the cached policy the waiting timeout is unknown: nobody is dropped as idle on a guess.
local waitMs = p[1] and (tonumber(p[3]) or tonumber(ARGV[2])) or nil
local admit = tonumber(p[2]) or tonumber(ARGV[1])
local out = {redis.call('HGET', KEYS[5], 'rate') or '0', tostring(admit), p[1] and '1' or '0'}
local movedUp = false
local function drop(u)
  if redis.call('ZREM', KEYS[1], u) == 1 then movedUp = true end
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
end
for i = 4, #ARGV, 2 do
  local u, e = ARGV[i], ARGV[i + 1]
  local kind, value = 'G', ''
  if redis.call('HGET', KEYS[4], u) == e then
    local a = redis.call('ZSCORE', KEYS[2], u)
    if a then
      if tonumber(a) > now then kind, value = 'A', a else drop(u) end
    else
      local r = redis.call('ZRANK', KEYS[1], u)
      local seen = tonumber(redis.call('ZSCORE', KEYS[3], u) or '0')
      if r and (not waitMs or seen >= now - waitMs) then
        if ARGV[3] == '1' then redis.call('ZADD', KEYS[3], now, u) end
        kind, value = 'W', tostring(r + 1)
      else
        drop(u)
      end
    end
  end
  out[#out + 1] = kind
  out[#out + 1] = value
end
-- Someone left the waiting line: everyone behind moved up, so streams refresh their positions.
if movedUp then redis.call('SPUBLISH', KEYS[7], 'C') end
return out
