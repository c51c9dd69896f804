// The load generator for a fixed offered rate, run as its own process like load-client.mjs, with the
// same JSON LoadSpec in argv[2] (overallRate set) and the same one-line JSON result.
//
// autocannon's rate limit is a per-second quota: every connection sends its share as fast as it
// can at the start of each second, then waits for the next. That is a burst at full speed every
// second, and its latencies are a saturated server's. Here each connection sends on its own
// evenly spaced schedule instead (connections / rate seconds apart, phases spread over one
// interval); a request whose slot passed while the previous one was still out goes as soon as
// that one is answered, and its latency is counted from its slot, so a server that falls behind
// shows it in the numbers (no coordinated omission).
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const spec = JSON.parse(process.argv[2]);
const target = new URL(spec.url);
const requests = (Array.isArray(spec.requests) && spec.requests.length > 0 ? spec.requests : [{ path: target.pathname + target.search }])
  .map((r) => Buffer.from(`GET ${r.path} HTTP/1.1\r\nhost: ${target.host}\r\n${Object.entries(r.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1'));
const intervalMs = (1000 * spec.connections) / spec.overallRate;
/**
 * Sent at the rate but not counted: this process's own JIT tiers up first. With 500 ms, stalls of
 * 10-15 ms at 0.1 and 0.5 s into the counted part hit a bare node:http server's p99 as much as tandem's.
 */
const warmupMs = 1500;
const durationMs = spec.durationSeconds * 1000;

// Preallocated: growing an array while measuring stalls this process.
const latencies = new Float64Array(Math.ceil(spec.overallRate * spec.durationSeconds * 1.1) + 1024);
let latencyCount = 0;
/** How far after its slot each request went out while the server was not behind: this process's own jitter. */
const lateness = new Float64Array(latencies.length);
let latenessCount = 0;
let ok2xx = 0;
let non2xx = 0;
let errors = 0;
let timeouts = 0;

/**
 * One keep-alive connection that sends a request and resolves with the response's status, reading
 * just enough HTTP/1.1 to find where a response ends (Content-Length, or a chunked body's last chunk).
 * A node:http client measured ~100 µs per request here, too slow to offer 10,000 req/s from one core.
 */
function openConnection() {
  const socket = net.connect(Number(target.port), target.hostname);
  socket.setNoDelay(true);
  let buffered = '';
  let waiting = null;
  const settle = (status) => {
    const done = waiting;
    waiting = null;
    done?.(status);
  };
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    for (;;) {
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = buffered.slice(0, headEnd).toLowerCase();
      const length = /\r\ncontent-length: *(\d+)/.exec(head);
      let end;
      if (length !== null) end = headEnd + 4 + Number(length[1]);
      else if (head.includes('\r\ntransfer-encoding: chunked')) {
        const last = buffered.indexOf('\r\n0\r\n\r\n', headEnd);
        end = last === -1 ? Infinity : last + 7;
      } else end = headEnd + 4;
      if (end > buffered.length) return;
      buffered = buffered.slice(end);
      settle(Number(head.slice(9, 12)));
    }
  });
  socket.on('error', () => settle(-1));
  socket.on('close', () => settle(-1));
  return {
    send(request) {
      return new Promise((resolve) => {
        waiting = resolve;
        if (socket.destroyed) return settle(-1);
        socket.write(request);
      });
    },
    close: () => socket.destroy(),
  };
}

async function connection(index, started) {
  const conn = openConnection();
  let slot = started + (index * intervalMs) / spec.connections;
  let answeredAt = 0;
  for (let turn = index; ; turn++) {
    const now = performance.now();
    if (slot - now > 0) await new Promise((resolve) => setTimeout(resolve, slot - now));
    if (slot >= started + warmupMs + durationMs) break;
    const timer = setTimeout(() => {
      timeouts++;
      conn.close();
    }, 10_000);
    const sentAt = performance.now();
    const status = await conn.send(requests[turn % requests.length]);
    clearTimeout(timer);
    const behind = answeredAt > slot;
    if (!behind && slot >= started + warmupMs && latenessCount < lateness.length) lateness[latenessCount++] = sentAt - slot;
    const counted = slot >= started + warmupMs;
    if (status === -1) {
      if (counted) errors++;
      break; // the connection is gone
    }
    if (counted) {
      if (status >= 200 && status <= 299) {
        ok2xx++;
        // From the slot when the request went late because the previous answer came after it (the
        // server was behind); else from the send: a timer of this process fires up to a few ms off
        // its slot, and that is not the server's time.
        if (latencyCount < latencies.length) latencies[latencyCount++] = performance.now() - (behind ? slot : sentAt);
      } else non2xx++;
    }
    answeredAt = performance.now();
    slot += intervalMs;
  }
  conn.close();
}

const started = performance.now() + 20;
await Promise.all(Array.from({ length: spec.connections }, (_, i) => connection(i, started)));
const seconds = (performance.now() - started - warmupMs) / 1000;
const measured = latencies.subarray(0, latencyCount).sort();
const nearestRank = (sorted, p) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1]);
const percentile = (p) => nearestRank(measured, p);
const mean = latencyCount === 0 ? null : measured.reduce((a, b) => a + b, 0) / latencyCount;
const total = ok2xx + non2xx;
process.stdout.write(JSON.stringify({
  requestsPerSecond: total / seconds,
  totalRequests: total,
  latencyP50Ms: percentile(0.5),
  latencyP90Ms: percentile(0.9),
  latencyP99Ms: percentile(0.99),
  clientLatenessP99Ms: nearestRank(lateness.subarray(0, latenessCount).sort(), 0.99),
  latencyMaxMs: percentile(1),
  latencyMeanMs: mean,
  // No autocannon here: the same figures in its whole milliseconds, so every result has the field.
  autocannonLatencyMs: { p50: Math.floor(percentile(0.5) ?? 0), p99: Math.floor(percentile(0.99) ?? 0), mean: mean ?? 0 },
  ok2xx,
  non2xx,
  errors,
  timeouts,
  durationSeconds: seconds,
}) + '\n');
