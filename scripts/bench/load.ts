// Runs one load phase against a server: load-client.mjs (autocannon) in a child process pinned to
// the load generator's core, and its numbers back.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pinned } from './server-process.ts';

export interface LoadRequest {
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LoadSpec {
  /** Origin plus default path, e.g. http://127.0.0.1:8080/hello/ */
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Optional request sequence every connection cycles through (per-request cookies). */
  readonly requests?: readonly LoadRequest[];
  /** Requests per second over all connections; absent: as fast as the server answers. */
  readonly overallRate?: number;
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly totalRequests: number;
  readonly latencyP50Ms: number;
  /** Only from the fixed-rate client (paced-client.mjs). */
  readonly latencyP90Ms?: number;
  readonly latencyP99Ms: number;
  /** Only from the fixed-rate client: how late its own timers sent requests (p99, ms), the floor under every latency it reports. */
  readonly clientLatenessP99Ms?: number;
  readonly latencyMaxMs: number;
  readonly latencyMeanMs: number;
  /** autocannon's own whole-millisecond figures, a cross-check of ours. */
  readonly autocannonLatencyMs: { readonly p50: number; readonly p99: number; readonly mean: number };
  readonly ok2xx: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly durationSeconds: number;
}

const clientPath = path.join(import.meta.dirname, 'load-client.mjs');
/** A fixed offered rate needs its own client: autocannon's rate limit sends each second's quota in one burst. */
const pacedClientPath = path.join(import.meta.dirname, 'paced-client.mjs');

/** `signal` ends the load generator early (Ctrl-C of the bench). */
export function runLoad(spec: LoadSpec, cpu: number | null, signal?: AbortSignal): Promise<LoadResult> {
  const client = spec.overallRate === undefined ? clientPath : pacedClientPath;
  const [command, args] = pinned(cpu, process.execPath, [client, JSON.stringify(spec)]);
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: (spec.durationSeconds + 30) * 1000, maxBuffer: 1 << 20, ...(signal === undefined ? {} : { signal }) }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`load generator failed against ${spec.url}: ${err.message}\n${stderr}`));
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as LoadResult);
      } catch {
        reject(new Error(`load generator printed no result against ${spec.url}: ${JSON.stringify(stdout.slice(-500))} ${stderr}`));
      }
    });
  });
}

/**
 * With `connections` busy connections, the mean latency cannot exceed connections / throughput
 * (Little's law). A mean far above that means requests and responses were mis-paired (the client
 * reconnected mid-run); the latency figures are then wrong, and this says so.
 */
export function latencySuspicion(result: LoadResult, connections: number): string | null {
  if (result.requestsPerSecond <= 0) return null;
  const boundMs = (connections * 1000) / result.requestsPerSecond;
  if (result.latencyMeanMs <= boundMs * 1.5 + 0.5) return null;
  return `latency suspect: mean ${result.latencyMeanMs.toFixed(2)} ms, but ${connections} connections at ${Math.round(result.requestsPerSecond)} req/s allow at most ${boundMs.toFixed(2)} ms (did the server close connections?)`;
}
