-- wrk script for bench/run.sh: the method and body come from the environment.
--   BENCH_METHOD  GET or POST (default GET)
--   BENCH_BODY    request body (sent as application/json when set)
--   BENCH_COUNT   stop each thread after this many responses (a fixed sample instead of a
--                 fixed time; used where every request changes the state, such as a save)
--   BENCH_DELAY_MS wait this long before each request (requests that follow a person's pace,
--                 not back to back)
-- At the end it prints one line for run.sh:
--   RESULT <req/s> <p50 ms> <p99 ms> <mean ms> <non-2xx/3xx> <socket errors> <requests> <bytes/request>
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pause then
  function delay()
    return pause
  end
end

local count = tonumber(os.getenv("BENCH_COUNT") or "")
if count then
  local seen = 0
  function response(status, headers, body)
    seen = seen + 1
    if seen >= count then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local n = summary.requests
  io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d %d %d\n",
    n / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, n,
    n > 0 and math.floor(summary.bytes / n) or 0))
end
