-- One admission step for one concert: sweep expired active and idle waiting entries, then admit from the front.
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 ver, 6 stats, 7 hist (list of 'ms:total' samples), 8 tick (last slot),
--       9 policy, 10 registry
-- ARGV: 1 mode ('tick' or 'admit'), 2 tick ms, 3 count (admit mode), 4 default admit-per-tick, 5 default max-active,
--       6 default active ttl ms, 7 default waiting timeout ms, 8 concertId, 9 sweep limit
-- Returns {admitted, slot, expired, dropped, waiting, active, admitPerTick, maxActive, waitTimeoutMs, rate, ids...}
-- Exactly-once: a 'tick' claims the slot floor(now / tick) and a slot is claimed once, so however many instances
-- call this, one admits per tick; ZPOPMIN moves each user from wait to active once, inside this atomic script.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local p = redis.call('HMGET', KEYS[9], 'admitPerTick', 'maxActive', 'activeTtlMs', 'waitTimeoutMs')
local admitPer = tonumber(p[1]) or tonumber(ARGV[4])
local maxActive = tonumber(p[2]) or tonumber(ARGV[5])
local ttl = tonumber(p[3]) or tonumber(ARGV[6])
local waitMs = tonumber(p[4]) or tonumber(ARGV[7])
local tickMs = tonumber(ARGV[2])
local limit = tonumber(ARGV[9])
local tick = ARGV[1] == 'tick'

local slot = -1
if tick then
  slot = math.floor(now / tickMs)
  local last = tonumber(redis.call('GET', KEYS[8]) or '-1')
  if slot <= last then
    return {0, -1, 0, 0, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), admitPer, maxActive, waitMs,
            redis.call('HGET', KEYS[6], 'rate') or '0'}
  end
  redis.call('SET', KEYS[8], slot)
end

-- Active passes past their expiry free their slot.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, u in ipairs(expired) do
  redis.call('ZREM', KEYS[2], u)
  redis.call('HDEL', KEYS[4], u)
end
-- Waiting users with neither a poll nor an open stream for the waiting timeout are dropped.
local idle = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now - waitMs), 'LIMIT', 0, limit)
for _, u in ipairs(idle) do
  redis.call('ZREM', KEYS[1], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
end

local n = admitPer
if not tick then
  n = tonumber(ARGV[3])
  -- Mark the throughput baseline before an operator admission, so the next ticks observe it as a rate.
  if redis.call('ZCARD', KEYS[1]) > 0 then
    redis.call('LPUSH', KEYS[7], now .. ':' .. (redis.call('HGET', KEYS[6], 'admitted') or '0'))
    redis.call('LTRIM', KEYS[7], 0, 59)
  end
end
local room = maxActive - redis.call('ZCARD', KEYS[2])
if room < n then n = room end
local ids = {}
if n > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], n)
  for i = 1, #popped, 2 do
    local u = popped[i]
    redis.call('ZADD', KEYS[2], now + ttl, u)
    redis.call('ZREM', KEYS[3], u)
    ids[#ids + 1] = u
  end
  if #ids > 0 then redis.call('HINCRBY', KEYS[6], 'admitted', #ids) end
end

local waiting = redis.call('ZCARD', KEYS[1])
local active = redis.call('ZCARD', KEYS[2])
local rate = redis.call('HGET', KEYS[6], 'rate') or '0'
if tick then
  -- Observed admission rate over the last minute, sampled only while someone waits (idle time says nothing).
  local total = tonumber(redis.call('HGET', KEYS[6], 'admitted') or '0')
  if #ids > 0 or waiting > 0 then
    redis.call('LPUSH', KEYS[7], now .. ':' .. total)
    redis.call('LTRIM', KEYS[7], 0, 59)
  end
  local hist = redis.call('LRANGE', KEYS[7], 0, -1)
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
  redis.call('HSET', KEYS[6], 'rate', rate)
end

if #ids > 0 or #expired > 0 or #idle > 0 then
  redis.call('INCR', KEYS[5])
end
if waiting == 0 and active == 0 then
  -- Nothing left to tick: schedulers stop visiting this concert until someone joins again (join re-adds it).
  redis.call('SREM', KEYS[10], ARGV[8])
end
local out = {#ids, slot, #expired, #idle, waiting, active, admitPer, maxActive, waitMs, rate}
for _, u in ipairs(ids) do out[#out + 1] = u end
return out
