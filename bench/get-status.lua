-- wrk script: GET /orders/<id>/status for random ids of preloaded orders (pre-<n>, n < PRELOADED),
-- or GET /metrics when PATH_KIND=metrics, GET /health when PATH_KIND=health, GET /orders?limit=500
-- when PATH_KIND=list. Each connection pauses PAUSE_MS between requests (wrk
-- measures latency from the send, so the pause is not in it). Prints one JSON line like post-orders.lua.
local preloaded = tonumber(os.getenv("PRELOADED") or "1000")
local kind = os.getenv("PATH_KIND") or "status"
local pause = tonumber(os.getenv("PAUSE_MS") or "0")

function delay()
  return pause
end

function request()
  if kind == "metrics" then return wrk.format("GET", "/metrics") end
  if kind == "health" then return wrk.format("GET", "/health") end
  if kind == "list" then return wrk.format("GET", "/orders?limit=500") end
  return wrk.format("GET", "/orders/pre-" .. math.random(0, preloaded - 1) .. "/status")
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
