-- PATCH /entities/{id}/attrs/fillingLevel on random loaded entities (N from the env var BENCH_N).
local auth = "Bearer " .. (os.getenv("BENCH_KEY") or "")  -- a platform-admin API key
local n = tonumber(os.getenv("BENCH_N") or "1000")
math.randomseed(os.time())
request = function()
  local id = math.random(0, n - 1)
  local body = '{"value":' .. math.random(0, 100) .. '}'
  return wrk.format("PATCH", "/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:bench-" .. id ..
    "/attrs/fillingLevel", {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT p95_ms=%.3f errors=%d\n", latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
