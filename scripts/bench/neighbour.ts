// A neighbour that computes: one tandem host serves the hello app (GET /hello/, no session) at a
// fixed offered rate while, on the same host, another app answers requests that each compute
// `heavyMs` ms (fixtures/heavy-app.mjs), `heavyPerSecond` of them a second. Measured twice: as
// tandem runs by default (a version whose call computes past --off-thread-after moves to a worker
// thread) and with --off-thread-after 0 (every call on the main thread, as before that existed).
// The hello app's p50/p99 say what the computing neighbour costs everybody else.
//
// The host is pinned like every contender (one core, when taskset exists): the worker thread then
// shares that core with the main thread, so the gain shown is the scheduler's time-slicing alone;
// an unpinned host would also have the second core.
import type { BenchContext } from './contender.ts';
import { get, pollUntil } from './http-probe.ts';
import { runLoad, type LoadResult } from './load.ts';
import { startTandem } from './tandem-host.ts';
import path from 'node:path';

export interface NeighbourRun {
  /** The CLI flags the host ran with ('' = defaults). */
  readonly flags: string;
  readonly hello: LoadResult;
  readonly heavyRequests: number;
  readonly heavyFailed: number;
  /** Median time of one heavy request, as its client saw it. */
  readonly heavyP50Ms: number;
}

export interface NeighbourResult {
  readonly heavyMs: number;
  readonly heavyPerSecond: number;
  readonly helloRate: number;
  readonly runs: readonly NeighbourRun[];
}

const heavyAppSource = path.join(import.meta.dirname, 'fixtures', 'heavy-app.mjs');

export async function measureNeighbour(ctx: BenchContext, options: { durationSeconds: number; helloRate: number; connections: number; heavyMs: number; heavyPerSecond: number }): Promise<NeighbourResult> {
  const runs: NeighbourRun[] = [];
  for (const flags of [[], ['--off-thread-after', '0']]) {
    const host = await startTandem(ctx, 'tandem-neighbour', [{ name: 'hello', version: '1.0.0' }, { name: 'heavy', version: '1.0.0', source: heavyAppSource }], flags);
    try {
      const heavyUrl = `${host.origin}/heavy/?ms=${options.heavyMs}`;
      for (const url of [`${host.origin}/hello/`, heavyUrl]) {
        await pollUntil(async () => ((await get(url)).status === 200 ? true : undefined), { intervalMs: 20, timeoutMs: 15_000, abort: host.exitReason, what: `GET ${url} to answer 200` });
      }
      const neighbour = new HeavyDriver(heavyUrl, options.heavyPerSecond);
      let hello: LoadResult;
      try {
        hello = await runLoad({ url: `${host.origin}/hello/`, connections: options.connections, durationSeconds: options.durationSeconds, overallRate: options.helloRate }, ctx.pinning.loadCpu);
      } finally {
        await neighbour.stop();
      }
      const label = flags.length === 0 ? 'defaults' : flags.join(' ');
      runs.push({ flags: flags.join(' '), hello, heavyRequests: neighbour.latencies.length, heavyFailed: neighbour.failed, heavyP50Ms: median(neighbour.latencies) });
      ctx.log(`tandem-neighbour (${label}): hello p50 ${hello.latencyP50Ms.toFixed(2)} ms, p99 ${hello.latencyP99Ms.toFixed(2)} ms; ${neighbour.latencies.length} heavy requests, p50 ${median(neighbour.latencies).toFixed(1)} ms`);
    } finally {
      await host.stop();
    }
  }
  return { heavyMs: options.heavyMs, heavyPerSecond: options.heavyPerSecond, helloRate: options.helloRate, runs };
}

/** Sends one heavy request every 1/perSecond s (from the bench process), until stopped. */
class HeavyDriver {
  readonly latencies: number[] = [];
  failed = 0;
  readonly #done: Promise<void>;
  #stopped = false;

  constructor(url: string, perSecond: number) {
    this.#done = this.#run(url, 1000 / perSecond);
  }

  async #run(url: string, everyMs: number): Promise<void> {
    let next = performance.now();
    while (!this.#stopped) {
      const started = performance.now();
      try {
        const response = await get(url);
        if (response.status === 200) this.latencies.push(performance.now() - started);
        else this.failed++;
      } catch {
        this.failed++;
      }
      next += everyMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
