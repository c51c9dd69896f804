// The load generator, run as its own process (pinned to its own core by load.ts) so it never shares
// the event loop or the CPU of the server it measures. argv[2] is a JSON LoadSpec (see load.ts);
// the autocannon result, trimmed to what the report needs, is printed as one JSON line.
import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
const options = {
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSeconds,
  pipelining: 1,
  timeout: 10,
};
// Each connection cycles through `requests` in order: with one cookie per entry this spreads the
// load round robin over the sessions.
if (Array.isArray(spec.requests) && spec.requests.length > 0) options.requests = spec.requests.map((r) => ({ method: 'GET', path: r.path, headers: r.headers ?? {} }));

// autocannon's own histogram keeps whole milliseconds (p50 of a hello world reads 0 or 1), so the
// latencies of 2xx responses (what autocannon counts too) are also kept here at full resolution.
let latencies = new Float64Array(1 << 20);
let count = 0;
const instance = autocannon(options, (err, result) => {
  if (err) {
    process.stderr.write(`autocannon failed: ${err.message}\n`);
    process.exit(1);
  }
  const out = {
    requestsPerSecond: result.requests.average,
    totalRequests: result.requests.total,
    latencyP50Ms: percentile(0.5),
    latencyP99Ms: percentile(0.99),
    latencyMaxMs: percentile(1),
    latencyMeanMs: mean(),
    // autocannon's own whole-millisecond figures, kept as a cross-check of the ones above.
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean },
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
});

instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  if (statusCode < 200 || statusCode > 299) return;
  if (count === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[count++] = responseTime;
});

/** Nearest-rank percentile of the kept latencies, ms. */
function percentile(p) {
  if (count === 0) return null;
  const sorted = latencies.subarray(0, count).sort();
  return sorted[Math.min(count, Math.max(1, Math.ceil(p * count))) - 1];
}

function mean() {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += latencies[i];
  return count === 0 ? null : sum / count;
}
