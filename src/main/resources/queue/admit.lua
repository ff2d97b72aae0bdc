-- One admission step for one concert: open a scheduled sale when its time has come, sweep expired active and idle
-- waiting entries, then admit from the front (the pre-queue cohort in draw order first, then arrivals).
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 stats, 6 tick (last slot), 7 policy (hash, cached from the database),
--       8 events (shard channel), 9 cohort, 10 sale (hash, cached schedule)
-- ARGV: 1 mode ('tick' or 'admit'), 2 tick ms, 3 count (admit mode), 4 default admit-per-tick, 5 default max-active,
--       6 default active ttl ms, 7 default waiting timeout ms, 8 sweep limit, 9 front budget, 10 max ids per message,
--       11 sold out now (1|0; tick mode: the ticking instance's view of the seats, recorded for every script)
-- Returns {admitted, slot, expired, dropped, waiting (cohort + arrivals), active, admitPerTick, maxActive,
--          waitTimeoutMs, admitted total, cohort left, cohort size (-1: no schedule or not opened yet),
--          opened now (1|0), sold out (1|0), open (1|0: false before a scheduled opening), ids...},
-- or {'NOPOLICY'} / {'NOSALE'} when the policy or the schedule is not cached: nothing is admitted on assumed defaults
-- (a paused queue stays paused, a scheduled sale does not open early when Redis lost them); the caller restores the
-- copy from the database and runs the step again.
-- Exactly-once: a 'tick' claims the slot floor(now / tick) and a slot is claimed once, so however many instances
-- call this, one admits per tick; ZPOPMIN moves each user from waiting to active once, inside this atomic script.
-- The opening happens once too: the first step at or after opensAt (Redis TIME) freezes the cohort's size in the
-- sale hash; every later step sees it frozen.
local p = redis.call('HMGET', KEYS[7], 'v', 'admitPerTick', 'maxActive', 'activeTtlMs', 'waitTimeoutMs')
if not p[1] then
  return {'NOPOLICY'}
end
local s = redis.call('HMGET', KEYS[10], 'v', 'opens', 'size')
if not s[1] then
  return {'NOSALE'}
end
local now = now_ms()
local admitPer = tonumber(p[2]) or tonumber(ARGV[4])
local maxActive = tonumber(p[3]) or tonumber(ARGV[5])
local ttl = tonumber(p[4]) or tonumber(ARGV[6])
local waitMs = tonumber(p[5]) or tonumber(ARGV[7])
local tickMs = tonumber(ARGV[2])
local limit = tonumber(ARGV[8])
local tick = ARGV[1] == 'tick'
local opens = tonumber(s[2])
local size = tonumber(s[3]) or -1
local open = not opens or now >= opens

local function counts(admitted, slot, expired, dropped, opened, ids)
  local out = {admitted, slot, expired, dropped, redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[9]),
               redis.call('ZCARD', KEYS[2]), admitPer, maxActive, waitMs,
               tonumber(redis.call('HGET', KEYS[5], 'admitted') or '0'), redis.call('ZCARD', KEYS[9]), size, opened,
               tonumber(redis.call('HGET', KEYS[5], 'soldout') or '0'), open and 1 or 0}
  for _, u in ipairs(ids) do out[#out + 1] = u end
  return out
end

-- The opening, by whichever call comes first at or after opensAt (tick or not, slot won or not): the cohort is
-- whoever joined before opensAt (later joins went to the arrivals), already in draw order; its size is what the
-- reveal publishes. Nothing moves: positions are ranks, read when asked.
local opened = 0
if opens and open and size < 0 then
  size = redis.call('ZCARD', KEYS[9])
  redis.call('HSET', KEYS[10], 'size', size, 'opened', now)
  redis.call('SPUBLISH', KEYS[8], 'C')
  opened = 1
end

local slot = -1
if tick then
  slot = math.floor(now / tickMs)
  local last = tonumber(redis.call('GET', KEYS[6]) or '-1')
  if slot <= last then
    return counts(0, -1, 0, 0, opened, {})
  end
  redis.call('SET', KEYS[6], slot)
end

local changed = false
if tick and ARGV[11] ~= '' and (redis.call('HGET', KEYS[5], 'soldout') or '0') ~= ARGV[11] then
  redis.call('HSET', KEYS[5], 'soldout', ARGV[11])
  changed = true
end
local soldout = redis.call('HGET', KEYS[5], 'soldout') == '1'

-- Active passes past their expiry free their slot.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, u in ipairs(expired) do
  redis.call('ZREM', KEYS[2], u)
  redis.call('HDEL', KEYS[4], u)
end
-- Waiting users with neither a poll nor an open stream for the waiting timeout are dropped (bounded per step).
local idleSince = idle_before(now, waitMs, opens)
local dropped = 0
if idleSince then
  local idle = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. idleSince, 'LIMIT', 0, limit)
  for _, u in ipairs(idle) do
    local _, d = entry_of(redis.call('HGET', KEYS[4], u) or '')
    redis.call('ZREM', KEYS[1], u)
    if d then redis.call('ZREM', KEYS[9], d .. u) end
    redis.call('ZREM', KEYS[3], u)
    redis.call('HDEL', KEYS[4], u)
  end
  dropped = #idle
end

-- Nobody is admitted before the opening, and ticks admit nobody while nothing is left to buy (an operator may).
local n = 0
if open and not (tick and soldout) then
  n = tick and admitPer or tonumber(ARGV[3])
end
local room = maxActive - redis.call('ZCARD', KEYS[2])
if room < n then n = room end
local ids, entries = {}, {}
-- Take from the front, but admit only users still present: an idle user the bounded sweep above did not reach
-- yet is dropped here instead, whatever the backlog. The budget bounds one step's work; what it leaves, the next
-- step continues. The cohort's front (lowest digest) comes first, then the arrivals.
local budget = tonumber(ARGV[9])
while #ids < n and budget > 0 do
  local take = n - #ids
  if take > budget then take = budget end
  local fromCohort = redis.call('ZCARD', KEYS[9]) > 0
  local popped = redis.call('ZPOPMIN', fromCohort and KEYS[9] or KEYS[1], take)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local u = popped[i]
    if fromCohort then u = string.sub(u, 65) end
    budget = budget - 1
    local seen = tonumber(redis.call('ZSCORE', KEYS[3], u))
    redis.call('ZREM', KEYS[3], u)
    if seen and (not idleSince or seen >= idleSince) then
      redis.call('ZADD', KEYS[2], now + ttl, u)
      ids[#ids + 1] = u
      entries[#entries + 1] = entry_of(redis.call('HGET', KEYS[4], u) or '')
    else
      redis.call('HDEL', KEYS[4], u)
      dropped = dropped + 1
    end
  end
end
if #ids > 0 then redis.call('HINCRBY', KEYS[5], 'admitted', #ids) end

-- Tell the streams: 'A<activeUntil>|entry,entry,...' names the admitted entries (their streams say active at once,
-- without a lookup) and means positions moved; 'C' only that positions moved (also for admissions too large to
-- list, the opening, and a change of the sold-out state).
if #ids > 0 and #ids <= tonumber(ARGV[10]) then
  redis.call('SPUBLISH', KEYS[8], 'A' .. (now + ttl) .. '|' .. table.concat(entries, ','))
elseif #ids > 0 or dropped > 0 or changed then
  redis.call('SPUBLISH', KEYS[8], 'C')
end
return counts(#ids, slot, #expired, dropped, opened, ids)
