-- wrk script: sends the requests of a prepared file, one per line, tab-separated:
--   METHOD  PATH  ACCESS_TOKEN|-  QUEUE_TOKEN|-  BODY|-
-- Threads take interleaved lines (thread t of n takes lines t, t+n, t+2n, ... from the offset) so that every
-- request of a write run is distinct (a hold on its own free seat, a pay of its own hold, a cancel of its own
-- reservation). Arguments: FILE OFFSET wrap|once THREADS. With "once" a thread stops when its lines run out
-- (writes never repeat); with "wrap" (reads) it starts over.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local lines, idx, step, mode, stopped

function init(args)
  local file, offset = args[1], tonumber(args[2] or "0")
  mode = args[3] or "wrap"
  step = tonumber(args[4] or "2")
  lines = {}
  for line in io.lines(file) do
    lines[#lines + 1] = line
  end
  idx = offset + tid
end

local function build(line)
  local method, path, access, queue, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  local headers = { ["Accept"] = "application/json" }
  if access ~= "-" then headers["Authorization"] = "Bearer " .. access end
  if queue ~= "-" then headers["Queue-Token"] = queue end
  if body == "-" then
    body = nil
  else
    headers["Content-Type"] = "application/json"
    if method == "POST" and path == "/api/v1/payments/pay" then
      headers["Idempotency-Key"] = "wrk-" .. tostring(idx)
    end
  end
  return wrk.format(method, path, headers, body)
end

function request()
  if idx >= #lines then
    if mode == "once" then
      if not stopped then stopped = true; wrk.thread:stop() end
      idx = #lines - 1 -- keep answering wrk until the thread has stopped
    else
      idx = idx % #lines
    end
  end
  local req = build(lines[idx + 1])
  idx = idx + step
  return req
end
