-- wrk script: POST /api/v1/queues/token, each request as the next fan of tokens.txt (one bearer token a line),
-- so joins are spread over many users (first join: appended at the back; later ones: the idempotent re-join).
-- env: CONCERT (id), TOKENS (file). Prints one JSON line with the latency percentiles at the end.
local tokens, counter, threads = {}, 0, {}
local concert = os.getenv("CONCERT")
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = id * 100003 -- threads start at different fans
  body = '{"concertId":' .. concert .. '}'
end

function request()
  counter = counter + 1
  local t = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/api/v1/queues/token",
    {["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%.2f,"errors":%d,"non2xx":%d,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
