-- Operator view of one concert's queue.
-- KEYS: 1 wait, 2 active, 3 stats, 4 policy, 5 cohort, 6 sale. ARGV: 1 default admit-per-tick, 2 default max-active,
--       3 default active ttl ms, 4 default waiting timeout ms
-- Returns {waiting (cohort + arrivals), active, admitPerTick, maxActive, activeTtlMs, waitTimeoutMs, admittedTotal,
--          cohort left, sold out (1|0), message|'', now ms},
-- or {'NOPOLICY'} when the policy is not cached (the caller restores it from the database and asks again).
local p = redis.call('HMGET', KEYS[4], 'v', 'admitPerTick', 'maxActive', 'activeTtlMs', 'waitTimeoutMs', 'msg')
if not p[1] then
  return {'NOPOLICY'}
end
local cohort = redis.call('ZCARD', KEYS[5])
return {redis.call('ZCARD', KEYS[1]) + cohort, redis.call('ZCARD', KEYS[2]),
        tonumber(p[2]) or tonumber(ARGV[1]), tonumber(p[3]) or tonumber(ARGV[2]),
        tonumber(p[4]) or tonumber(ARGV[3]), tonumber(p[5]) or tonumber(ARGV[4]),
        tonumber(redis.call('HGET', KEYS[3], 'admitted') or '0'), cohort,
        tonumber(redis.call('HGET', KEYS[3], 'soldout') or '0'), p[6] or '', tostring(now_ms())}
