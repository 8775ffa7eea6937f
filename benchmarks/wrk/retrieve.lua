-- GET /entities/{id} on random loaded entities (N from the env var BENCH_N).
local auth = "Bearer " .. (os.getenv("BENCH_KEY") or "")  -- a platform-admin API key
local n = tonumber(os.getenv("BENCH_N") or "1000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:bench-" .. math.random(0, n - 1),
    {["Authorization"] = auth})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT p95_ms=%.3f errors=%d\n", latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
