-- wrk script: GET /api/v1/queues/status as the fans of pairs.txt ("<bearer token> <queue token>" a line), round robin.
-- env: PAIRS (file). Prints one JSON line with the latency percentiles at the end.
local pairs_, counter, threads = {}, 0, {}
for line in io.lines(os.getenv("PAIRS")) do
  local b, q = line:match("(%S+)%s+(%S+)")
  pairs_[#pairs_ + 1] = {b, q}
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = id * 100003
end

function request()
  counter = counter + 1
  local p = pairs_[(counter % #pairs_) + 1]
  return wrk.format("GET", "/api/v1/queues/status", {["Authorization"] = "Bearer " .. p[1], ["Queue-Token"] = p[2]})
end

function done(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%.2f,"errors":%d,"non2xx":%d,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
