-- POST /entities with unique ids; prints the p95 latency in ms at the end.
local auth = "Bearer " .. (os.getenv("BENCH_KEY") or "")  -- a platform-admin API key
local thread_id = 0
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
local counter = 0
request = function()
  counter = counter + 1
  local body = '{"id":"urn:ngsi-ld:WasteContainer:wrk-' .. tid .. '-' .. counter ..
    '","type":"WasteContainer","fillingLevel":{"type":"Property","value":' .. (counter % 100) ..
    ',"unitCode":"P1"},"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[5.3,45.9]}}}'
  return wrk.format("POST", "/ngsi-ld/v1/entities", {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT p95_ms=%.3f errors=%d\n", latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
