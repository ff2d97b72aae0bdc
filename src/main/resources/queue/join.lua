-- Join a concert's queue, or report the live entry the user already has (idempotent: same entry, same place).
-- KEYS: 1 wait (zset user->arrival seq), 2 active (zset user->expiry ms), 3 seen (zset user->last presence ms),
--       4 entry (hash user->entry value, see lib.lua), 5 seq (counter), 6 policy (hash, cached from the database),
--       7 stats (hash), 8 events (shard channel), 9 cohort (zset digest..user, all scores 0), 10 sale (hash, cached
--       schedule: v = version, 0 when the concert has none; pre, opens ms; size once opened)
-- ARGV: 1 userId, 2 fresh entry id, 3 default waiting timeout ms, 4 default admit-per-tick, 5 default max-active,
--       6 the user's draw digest ('' when the service has no seed yet), 7 sold out (1|0, for new entries only)
-- Returns {status, entryId, position|activeUntil|'', created (1|0), admitPerTick, maxActive, active count,
--          policy cached (1|0), now ms, opens ms|'', message|'', sold out (1|0)} with status WAITING, ACTIVE or
-- PREQUEUE; or, writing nothing: {'NOSALE'} (schedule not cached: the caller restores it and asks again),
-- {'NOTOPEN', now, pre, opens}, {'NEEDSEED', now} (the pre-queue is open and the caller has no seed yet),
-- {'SOLDOUT', now}. Time is Redis TIME: a join at or after opensAt queues behind the cohort, whatever any clock says.
local now = now_ms()
local s = redis.call('HMGET', KEYS[10], 'v', 'pre', 'opens')
if not s[1] then
  return {'NOSALE'}
end
local pre, opens = tonumber(s[2]), tonumber(s[3])
local u = ARGV[1]
local p = redis.call('HMGET', KEYS[6], 'v', 'admitPerTick', 'maxActive', 'waitTimeoutMs', 'msg')
local cached = p[1] and '1' or '0'
local admit = tostring(tonumber(p[2]) or tonumber(ARGV[4]))
local maxActive = tostring(tonumber(p[3]) or tonumber(ARGV[5]))
-- Without the cached policy the waiting timeout is unknown: keep the place rather than drop it on a guess.
local idleSince = idle_before(now, p[1] and (tonumber(p[4]) or tonumber(ARGV[3])) or nil, opens)
local function answer(status, entry, value, created)
  return {status, entry, value, created, admit, maxActive, redis.call('ZCARD', KEYS[2]), cached, tostring(now),
          s[3] or '', p[5] or '', ARGV[7]}
end

local cur = redis.call('HGET', KEYS[4], u)
if cur then
  local e, d = entry_of(cur)
  local a = redis.call('ZSCORE', KEYS[2], u)
  if a and tonumber(a) > now then
    return answer('ACTIVE', e, a, '0')
  end
  local seen = tonumber(redis.call('ZSCORE', KEYS[3], u) or '0')
  local live = not idleSince or seen >= idleSince
  local r
  if d then r = redis.call('ZRANK', KEYS[9], d .. u) else r = redis.call('ZRANK', KEYS[1], u) end
  if r and live then
    redis.call('ZADD', KEYS[3], now, u)
    if not d then
      return answer('WAITING', e, tostring(redis.call('ZCARD', KEYS[9]) + r + 1), '0')
    elseif opens and now < opens then
      return answer('PREQUEUE', e, '', '0')
    end
    return answer('WAITING', e, tostring(r + 1), '0')
  end
  -- The old entry is over (expired or idle, not yet swept): clear it and queue afresh below.
  local moved = redis.call('ZREM', KEYS[1], u)
  if d then moved = moved + redis.call('ZREM', KEYS[9], d .. u) end
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZREM', KEYS[3], u)
  redis.call('HDEL', KEYS[4], u)
  if moved > 0 then redis.call('SPUBLISH', KEYS[8], 'C') end
end

if pre and now < pre then
  return {'NOTOPEN', tostring(now), s[2], s[3]}
end
if ARGV[7] == '1' then
  return {'SOLDOUT', tostring(now)}
end
if opens and now < opens then
  -- The pre-queue: no arrival order. The cohort set orders itself by digest (equal scores sort by bytes), so the
  -- opening moves nobody: a member's place is its rank, read when asked, and only shown from opensAt on.
  if ARGV[6] == '' then
    return {'NEEDSEED', tostring(now)}
  end
  redis.call('ZADD', KEYS[9], 0, ARGV[6] .. u)
  redis.call('ZADD', KEYS[3], now, u)
  redis.call('HSET', KEYS[4], u, ARGV[2] .. '|' .. ARGV[6])
  return answer('PREQUEUE', ARGV[2], '', '1')
end
local seq = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[1], seq, u)
redis.call('ZADD', KEYS[3], now, u)
redis.call('HSET', KEYS[4], u, ARGV[2])
-- Arrivals queue behind whatever is left of the cohort.
return answer('WAITING', ARGV[2], tostring(redis.call('ZCARD', KEYS[9]) + redis.call('ZRANK', KEYS[1], u) + 1), '1')
