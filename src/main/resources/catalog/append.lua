-- Appends committed seat changes of one date to its change log, each under the next version (SPEC 8 availability).
-- KEYS: 1 version counter, 2 log (sorted set: score = version, member = "version|seat|free|state|heldUntilMs|reservation"),
--       3 latest order per seat (hash: seat -> order of the newest change logged for it)
-- ARGV: 1 now in ms (a missing counter starts at now*1000, above anything an earlier, lost counter reached),
--       2 entries to keep, 3 key lifetime in seconds, 4.. changes "seat|order|free|state|heldUntilMs|reservation"
-- A change whose order is not above the seat's latest is older than what is logged (announced out of order by two
-- instances, or an expiry seen by a reader and then swept): skipped. Returns the version after the append.
local v = redis.call('GET', KEYS[1])
if v then v = tonumber(v) else v = tonumber(ARGV[1]) * 1000 end
for i = 4, #ARGV do
  local seat, order, rest = string.match(ARGV[i], '^(%d+)|(%d+)|(.*)$')
  if seat then
    local known = redis.call('HGET', KEYS[3], seat)
    if (not known) or tonumber(order) > tonumber(known) then
      redis.call('HSET', KEYS[3], seat, order)
      v = v + 1
      redis.call('ZADD', KEYS[2], string.format('%d', v), string.format('%d', v) .. '|' .. seat .. '|' .. rest)
    end
  end
end
redis.call('SET', KEYS[1], string.format('%d', v), 'EX', tonumber(ARGV[3]))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
return string.format('%d', v)
