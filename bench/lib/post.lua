-- wrk script: POSTs one body with the given headers, counts every answer that is not a 200 holding the
-- expected Lua pattern as an error (wrk itself only counts >= 400), and prints one line for the bench scripts:
--   BENCH <good answers/s> <p50 ms> <p99 ms> <errors>
-- usage: wrk … -s post.lua <url> -- "<Content-Type>" "<body>" "<expected Lua pattern or empty>" ["Name: value"]…

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[1]
  wrk.body = args[2]
  expected = args[3]
  for i = 4, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  bad = 0
end

function response(status, headers, body)
  if status ~= 200 or (expected ~= "" and not string.find(body, expected)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("bad")
  end
  local good = summary.requests - errors
  local e = summary.errors
  errors = errors + e.connect + e.read + e.write + e.timeout
  io.write(string.format("BENCH %.0f %.2f %.2f %d\n",
    good / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
