-- State of one or many queue entries in one call (the SSE hub batches all streams of a concert).
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 ver, 6 stats (hash), 7 policy (hash)
-- ARGV: 1 default admit-per-tick, 2 default waiting timeout ms, 3 touch presence (1|0), then pairs userId, entryId
-- Returns {observed rate/s, admitPerTick, kind1, value1, kind2, value2, ...}
--   kind W: waiting, value = 1-based position; A: active, value = expiry ms; G: gone (left, ended, expired, dropped)
-- Expiry is exact: an active entry past its expiry or an idle waiting entry is removed here, not only by the sweep.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local waitMs = tonumber(redis.call('HGET', KEYS[7], 'waitTimeoutMs')) or tonumber(ARGV[2])
local admit = tonumber(redis.call('HGET', KEYS[7], 'admitPerTick')) or tonumber(ARGV[1])
local out = {redis.call('HGET', KEYS[6], 'rate') or '0', tostring(admit)}
local changed = false
local function drop(u)
  redis.call('ZREM', KEYS[1], u)
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
  changed = true
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
      if r and seen >= now - waitMs then
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
if changed then redis.call('INCR', KEYS[5]) end
return out
