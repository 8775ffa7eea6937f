-- POST /ingest/chirpstack?event=up: a ChirpStack v4 uplink per request, each with its own
-- deduplicationId, rotating over BENCH_DEVICES devices with increasing fCnt and time.
-- The body template (BENCH_TEMPLATE, a file) has __DEDUP__, __TIME__, __EUI__, __FCNT__.
-- BENCH_RUN (unique per run) prefixes the deduplicationIds; times start at BENCH_TIME_BASE
-- (later for each run) and advance a second every ten uplinks: a run never replays
-- another's uplinks.
local thread_id = 0
setup = function(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
local f = assert(io.open(os.getenv("BENCH_TEMPLATE"), "r"))
local template = f:read("*a")
f:close()
local devices = tonumber(os.getenv("BENCH_DEVICES"))
local run = os.getenv("BENCH_RUN")
local headers = {["Content-Type"] = "application/json",
                 ["Authorization"] = "Bearer " .. os.getenv("BENCH_SECRET")}
local base = tonumber(os.getenv("BENCH_TIME_BASE") or "1700000000")
local counter = 0
request = function()
  counter = counter + 1
  local body = template:gsub("__DEDUP__", run .. "-" .. tid .. "-" .. counter)
    :gsub("__TIME__", os.date("!%Y-%m-%dT%H:%M:%SZ", base + math.floor(counter / 10)))
    :gsub("__EUI__", string.format("%016X", (counter * 7 + tid) % devices + 1))
    :gsub("__FCNT__", tostring(counter))
  return wrk.format("POST", "/ingest/chirpstack?event=up", headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT p95_ms=%.3f errors=%d\n", latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
