-- GET /healthz: the trivial endpoint the ingest rate is compared with.
done = function(summary, latency, requests)
  io.write(string.format("RESULT p95_ms=%.3f errors=%d\n", latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
