-- One admission step for one concert: sweep expired active and idle waiting entries, then admit from the front.
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 stats, 6 hist (list of 'ms:total' samples), 7 tick (last slot),
--       8 policy (hash, cached from the database), 9 events (shard channel)
-- ARGV: 1 mode ('tick' or 'admit'), 2 tick ms, 3 count (admit mode), 4 default admit-per-tick, 5 default max-active,
--       6 default active ttl ms, 7 default waiting timeout ms, 8 sweep limit, 9 front budget, 10 max ids per message
-- Returns {admitted, slot, expired, dropped, waiting, active, admitPerTick, maxActive, waitTimeoutMs, rate, ids...},
-- or {'NOPOLICY'} when the policy is not cached: nothing is admitted on assumed defaults (a paused queue stays
-- paused when Redis lost the policy); the caller restores it from the database and runs the step again.
-- Exactly-once: a 'tick' claims the slot floor(now / tick) and a slot is claimed once, so however many instances
-- call this, one admits per tick; ZPOPMIN moves each user from wait to active once, inside this atomic script.
local p = redis.call('HMGET', KEYS[8], 'v', 'admitPerTick', 'maxActive', 'activeTtlMs', 'waitTimeoutMs')
if not p[1] then
  return {'NOPOLICY'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local admitPer = tonumber(p[2]) or tonumber(ARGV[4])
local maxActive = tonumber(p[3]) or tonumber(ARGV[5])
local ttl = tonumber(p[4]) or tonumber(ARGV[6])
local waitMs = tonumber(p[5]) or tonumber(ARGV[7])
local tickMs = tonumber(ARGV[2])
local limit = tonumber(ARGV[8])
local tick = ARGV[1] == 'tick'

local slot = -1
if tick then
  slot = math.floor(now / tickMs)
  local last = tonumber(redis.call('GET', KEYS[7]) or '-1')
  if slot <= last then
    return {0, -1, 0, 0, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), admitPer, maxActive, waitMs,
            redis.call('HGET', KEYS[5], 'rate') or '0'}
  end
  redis.call('SET', KEYS[7], slot)
end

-- Active passes past their expiry free their slot.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, u in ipairs(expired) do
  redis.call('ZREM', KEYS[2], u)
  redis.call('HDEL', KEYS[4], u)
end
-- Waiting users with neither a poll nor an open stream for the waiting timeout are dropped (bounded per step).
local idleSince = now - waitMs
local idle = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. idleSince, 'LIMIT', 0, limit)
for _, u in ipairs(idle) do
  redis.call('ZREM', KEYS[1], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
end
local dropped = #idle

local n = admitPer
if not tick then
  n = tonumber(ARGV[3])
  -- Mark the throughput baseline before an operator admission, so the next ticks observe it as a rate.
  if redis.call('ZCARD', KEYS[1]) > 0 then
    redis.call('LPUSH', KEYS[6], now .. ':' .. (redis.call('HGET', KEYS[5], 'admitted') or '0'))
    redis.call('LTRIM', KEYS[6], 0, 59)
  end
end
local room = maxActive - redis.call('ZCARD', KEYS[2])
if room < n then n = room end
local ids, entries = {}, {}
-- Take from the front, but admit only users still present: an idle user the bounded sweep above did not reach
-- yet is dropped here instead, whatever the backlog. The budget bounds one step's work; what it leaves, the next
-- step continues.
local budget = tonumber(ARGV[9])
while #ids < n and budget > 0 do
  local take = n - #ids
  if take > budget then take = budget end
  local popped = redis.call('ZPOPMIN', KEYS[1], take)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local u = popped[i]
    budget = budget - 1
    local seen = tonumber(redis.call('ZSCORE', KEYS[3], u))
    redis.call('ZREM', KEYS[3], u)
    if seen and seen >= idleSince then
      redis.call('ZADD', KEYS[2], now + ttl, u)
      ids[#ids + 1] = u
      entries[#entries + 1] = redis.call('HGET', KEYS[4], u) or ''
    else
      redis.call('HDEL', KEYS[4], u)
      dropped = dropped + 1
    end
  end
end
if #ids > 0 then redis.call('HINCRBY', KEYS[5], 'admitted', #ids) end

local waiting = redis.call('ZCARD', KEYS[1])
local active = redis.call('ZCARD', KEYS[2])
local rate = redis.call('HGET', KEYS[5], 'rate') or '0'
if tick then
  -- Observed admission rate over the last minute, sampled only while someone waits (idle time says nothing).
  local total = tonumber(redis.call('HGET', KEYS[5], 'admitted') or '0')
  if #ids > 0 or waiting > 0 then
    redis.call('LPUSH', KEYS[6], now .. ':' .. total)
    redis.call('LTRIM', KEYS[6], 0, 59)
  end
  local hist = redis.call('LRANGE', KEYS[6], 0, -1)
  local r = 0
  for i = #hist, 1, -1 do
    local ts, c = string.match(hist[i], '(%d+):(%d+)')
    ts = tonumber(ts)
    if ts >= now - 60000 then
      if now - ts >= tickMs then r = (total - tonumber(c)) * 1000 / (now - ts) end
      break
    end
  end
  rate = string.format('%.3f', r)
  redis.call('HSET', KEYS[5], 'rate', rate)
end

-- Tell the streams: 'A<activeUntil>|entry,entry,...' names the admitted entries (their streams say active at once,
-- without a lookup) and means positions moved; 'C' only that positions moved (also for admissions too large to list).
if #ids > 0 and #ids <= tonumber(ARGV[10]) then
  redis.call('SPUBLISH', KEYS[9], 'A' .. (now + ttl) .. '|' .. table.concat(entries, ','))
elseif #ids > 0 or dropped > 0 then
  redis.call('SPUBLISH', KEYS[9], 'C')
end
local out = {#ids, slot, #expired, dropped, waiting, active, admitPer, maxActive, waitMs, rate}
for _, u in ipairs(ids) do out[#out + 1] = u end
return out
