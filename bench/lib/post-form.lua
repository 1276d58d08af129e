-- wrk script: POSTs one form body with one Authorization header, counts every answer other than 200 as an
-- error (wrk itself only counts >= 400), and prints one machine-readable line for the bench scripts:
--   BENCH <successful requests/s> <p50 ms> <p99 ms> <errors>
-- usage: wrk … -s post-form.lua <url> -- "<Authorization header value>" "<form body>"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = args[1]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = args[2]
  non200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
  end
  local e = summary.errors
  local socketErrors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format("BENCH %.0f %.2f %.2f %d\n",
    (summary.requests - bad) / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    bad + socketErrors))
end
