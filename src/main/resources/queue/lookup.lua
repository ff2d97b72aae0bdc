-- Support's look-up of one user's entry (read only: counts as no presence and drops nobody).
-- KEYS: 1 wait, 2 active, 3 seen, 4 entry, 5 cohort, 6 sale. ARGV: 1 userId.
-- Returns {} when the user has no entry, else {entryId, state (PREQUEUE|WAITING|ACTIVE), position|'',
--          last presence ms|'', active until ms|''}.
local u = ARGV[1]
local cur = redis.call('HGET', KEYS[4], u)
if not cur then
  return {}
end
local e, d = entry_of(cur)
local seen = redis.call('ZSCORE', KEYS[3], u) or ''
local a = redis.call('ZSCORE', KEYS[2], u)
if a then
  return {e, 'ACTIVE', '', seen, a}
end
if d then
  local r = redis.call('ZRANK', KEYS[5], d .. u)
  if not r then return {} end
  local opens = tonumber(redis.call('HGET', KEYS[6], 'opens') or '')
  if opens and now_ms() < opens then
    return {e, 'PREQUEUE', '', seen, ''}
  end
  return {e, 'WAITING', tostring(r + 1), seen, ''}
end
local r = redis.call('ZRANK', KEYS[1], u)
if not r then return {} end
return {e, 'WAITING', tostring(redis.call('ZCARD', KEYS[5]) + r + 1), seen, ''}
