-- State of one or many queue entries in one call (the SSE hub batches all streams of a concert).
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 stats (hash), 6 policy (hash), 7 events (shard channel), 8 cohort,
--       9 sale (hash)
-- ARGV: 1 default admit-per-tick, 2 default waiting timeout ms, 3 touch presence (1|0), 4 default max-active,
--       then pairs userId, entryId
-- Returns {admitPerTick, maxActive, active count, policy cached (1|0), now ms, opens ms|'', message|'',
--          sold out (1|0), kind1, value1, kind2, value2, ...} or {'NOSALE'} (schedule not cached: restore, ask again)
--   kind W: waiting, value = 1-based position; P: pre-queue (before opensAt, no position); A: active, value = expiry
--   ms; G: gone (left, ended, expired, dropped)
-- Expiry is exact: an active entry past its expiry or an idle waiting entry is removed here, not only by the sweep.
local s = redis.call('HMGET', KEYS[9], 'v', 'opens')
if not s[1] then
  return {'NOSALE'}
end
local opens = tonumber(s[2])
local now = now_ms()
local p = redis.call('HMGET', KEYS[6], 'v', 'admitPerTick', 'waitTimeoutMs', 'maxActive', 'msg')
-- Without the cached policy the waiting timeout is unknown: nobody is dropped as idle on a guess.
local idleSince = idle_before(now, p[1] and (tonumber(p[3]) or tonumber(ARGV[2])) or nil, opens)
local admit = tonumber(p[2]) or tonumber(ARGV[1])
local maxActive = tonumber(p[4]) or tonumber(ARGV[4])
local out = {tostring(admit), tostring(maxActive), 0, p[1] and '1' or '0', tostring(now), s[2] or '', p[5] or '',
             redis.call('HGET', KEYS[5], 'soldout') or '0'}
local movedUp = false
local function drop(u, d)
  if redis.call('ZREM', KEYS[1], u) == 1 then movedUp = true end
  if d and redis.call('ZREM', KEYS[8], d .. u) == 1 then movedUp = true end
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
end
for i = 5, #ARGV, 2 do
  local u, e = ARGV[i], ARGV[i + 1]
  local kind, value = 'G', ''
  local cur = redis.call('HGET', KEYS[4], u)
  local ce, d
  if cur then ce, d = entry_of(cur) end
  if ce == e then
    local a = redis.call('ZSCORE', KEYS[2], u)
    if a then
      if tonumber(a) > now then kind, value = 'A', a else drop(u, d) end
    else
      local r
      if d then r = redis.call('ZRANK', KEYS[8], d .. u) else r = redis.call('ZRANK', KEYS[1], u) end
      local seen = tonumber(redis.call('ZSCORE', KEYS[3], u) or '0')
      if r and (not idleSince or seen >= idleSince) then
        if ARGV[3] == '1' then redis.call('ZADD', KEYS[3], now, u) end
        if not d then
          kind, value = 'W', tostring(redis.call('ZCARD', KEYS[8]) + r + 1)
        elseif opens and now < opens then
          kind = 'P'
        else
          kind, value = 'W', tostring(r + 1)
        end
      else
        drop(u, d)
      end
    end
  end
  out[#out + 1] = kind
  out[#out + 1] = value
end
out[3] = redis.call('ZCARD', KEYS[2])
-- Someone left the waiting line: everyone behind moved up, so streams refresh their positions.
if movedUp then redis.call('SPUBLISH', KEYS[7], 'C') end
return out
