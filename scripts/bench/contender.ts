// What every contender provides to the harness: a started server, the load to send it, and a stop.
import type { LoadRequest } from './load.ts';
import type { Pinning, ServerProcess } from './server-process.ts';

export interface BenchContext {
  readonly pinning: Pinning;
  /** A temp dir for this run; every contender makes its own folder inside and run.ts removes it. */
  readonly tmpRoot: string;
  readonly repoRoot: string;
  /** Progress lines on stderr, so stdout stays the report. */
  readonly log: (line: string) => void;
}

/** A running server ready for load. */
export interface Target {
  readonly server: ServerProcess;
  /** Origin plus the path the load hits. */
  readonly url: string;
  /** Optional request sequence each load connection cycles through (per-request cookies). */
  readonly requests?: readonly LoadRequest[];
  readonly warmupSeconds: number;
  /** A line for the report on what exactly was measured (version answering, cookies used). */
  readonly detail: string;
  /** Checks after the measured run that the server did the work it should have; returns a note. */
  readonly verify?: () => Promise<string>;
  /** Deploy latency measured on this same running server, when the contender offers it. */
  readonly deployLatency?: (tries: number) => Promise<LatencySummary>;
  readonly stop: () => Promise<void>;
}

export type Started = { readonly kind: 'started'; readonly target: Target } | { readonly kind: 'skipped'; readonly reason: string };

export interface Contender {
  readonly name: string;
  readonly start: (ctx: BenchContext) => Promise<Started>;
}

/** p50/p95 of repeated deploys, and the raw samples. */
export interface LatencySummary {
  readonly tries: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly samplesMs: readonly number[];
  readonly note: string;
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  // Nearest-rank: the smallest sample with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** The sample with the median req/s (the lower middle one for an even count): a real run, so its latencies belong to its throughput. */
export function medianSample<T extends { readonly result: { readonly requestsPerSecond: number } }>(samples: readonly T[]): T {
  if (samples.length === 0) throw new Error('medianSample: no samples');
  return medianBy(samples, (s) => s.result.requestsPerSecond);
}

/** The sample whose `key` is the median (the lower middle one for an even count): a real run, not an average of several. */
export function medianBy<T>(samples: readonly T[], key: (sample: T) => number): T {
  if (samples.length === 0) throw new Error('medianBy: no samples');
  const sorted = [...samples].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as T;
}

/** CPU µs per request, and percent of one core busy (see serverCpuCost()). */
export interface ServerCpuCost {
  readonly usPerRequest: number;
  readonly busyPercent: number;
}

/**
 * What the server's process tree spent on one measured load: CPU µs per request, and how busy it
 * was in percent of one core. A server short of 100% was waiting for the load generator, not
 * working: its req/s then says more about the generator than about it, and µs per request is the
 * fairer comparison. `ticks` are clock ticks (1/100 s), so a 2 s run at full speed resolves 0.5%.
 */
export function serverCpuCost(ticks: number, totalRequests: number, durationSeconds: number, ticksPerSecond = 100): ServerCpuCost {
  const seconds = ticks / ticksPerSecond;
  return {
    usPerRequest: totalRequests > 0 ? (seconds * 1e6) / totalRequests : Number.NaN,
    busyPercent: durationSeconds > 0 ? (100 * seconds) / durationSeconds : Number.NaN,
  };
}

export function summarize(samplesMs: readonly number[], note: string): LatencySummary {
  return { tries: samplesMs.length, p50Ms: percentile(samplesMs, 50), p95Ms: percentile(samplesMs, 95), samplesMs, note };
}
