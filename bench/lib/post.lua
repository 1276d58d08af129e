-- wrk script: POSTs one body with the given headers and prints one line for the bench scripts:
--   BENCH <good answers/s> <p50 ms> <p99 ms> <errors>
-- usage: wrk … -s post.lua <url> -- "<Content-Type>" "<body>" "<expected Lua pattern or empty>" ["Name: value"]…
--
-- Two ways to tell good answers from bad, chosen by BENCH_WRK_CHECK:
--   body (default)  every answer must be a 200 whose body holds the expected pattern: for endpoints whose 200 can
--                   still mean no (introspection's {"active":false});
--   status          every answer below 400 counts as good, from wrk's own status count: for endpoints that answer
--                   200 only with what was asked for (a token endpoint). wrk then hands no answer to Lua, which
--                   saves it ≈ 4 µs of CPU per request on the cores the servers share.

local threads = {}
local check_body = os.getenv("BENCH_WRK_CHECK") ~= "status"

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

-- wrk parses headers and bodies for Lua only when this function exists when the script is loaded.
if check_body then
  function response(status, headers, body)
    if status ~= 200 or (expected ~= "" and not string.find(body, expected)) then
      bad = bad + 1
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad_answers = e.status
  if check_body then
    bad_answers = 0
    for _, thread in ipairs(threads) do
      bad_answers = bad_answers + thread:get("bad")
    end
  end
  local good = summary.requests - bad_answers
  local errors = bad_answers + e.connect + e.read + e.write + e.timeout
  io.write(string.format("BENCH %.0f %.2f %.2f %d\n",
    good / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
