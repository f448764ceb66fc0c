-- wrk script: POST /orders with a unique order_id per request (unique across threads and runs).
-- Prints one JSON line at the end with throughput, latency percentiles and error counts.
-- API_KEY set: every request carries it (X-API-Key), for a service with API_KEYS on.
-- ORDER_LINES=N: orders with N priced lines in EUR (items, shipping), not the seed's shape.
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local headers = { ["Content-Type"] = "application/json" }
if os.getenv("API_KEY") then headers["X-API-Key"] = os.getenv("API_KEY") end
local threads = {}
local counter = 0
local lines = tonumber(os.getenv("ORDER_LINES") or "0")
local items = nil
if lines > 0 then
  local parts = {}
  for i = 1, lines do
    parts[i] = '{"sku":"SKU-' .. i .. '","quantity":' .. (i % 3 + 1) .. ',"unit_price":' .. (i + 0.99) .. ',"name":"Item ' .. i .. '"}'
  end
  items = '"currency":"EUR","items":[' .. table.concat(parts, ",") .. '],"shipping_amount":4.9'
end

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local id = run .. "-" .. tid .. "-" .. counter
  local body = '{"user_id":"user_' .. (counter % 1000) .. '","order_id":"' .. id .. '",' ..
    (items or '"item_ids":["item_1","item_2"],"total_amount":150.99') .. '}'
  return wrk.format("POST", "/orders", headers, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
