-- Shared by every queue script: prepended to each when it is loaded (QueueStore.source).
-- Redis TIME in ms: every instance agrees on expiry, slots, idleness and the sale's opening.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- An entry hash value: 'entryId' for an arrival-ordered entry, 'entryId|digest' for a member of a scheduled sale's
-- pre-queue cohort, whose member in the cohort set is digest .. userId (see join.lua).
local function entry_of(v)
  local i = string.find(v, '|', 1, true)
  if i then return string.sub(v, 1, i - 1), string.sub(v, i + 1) end
  return v, nil
end
-- The waiting timeout's cut-off: presence older than this is idle. Before opensAt + timeout nobody of a scheduled
-- sale is idle (SPEC 14: the pre-queue is not dropped while it waits for the opening; later joiners came after opensAt).
local function idle_before(now, waitMs, opens)
  if not waitMs then return nil end
  local cut = now - waitMs
  if opens and cut < opens then return nil end
  return cut
end
