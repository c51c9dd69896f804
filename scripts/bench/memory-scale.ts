// Memory per loaded version: RSS of the tandem process tree on an empty webapps, then with 1, 10
// and 100 different tiny apps (`app<i>##1.0.0.mjs`, the hello app) deployed, each point taken once
// every app answers. MB per version = (RSS - empty RSS) / count. The tree includes the CLI's
// supervisor process, which the delta cancels out.
import type { BenchContext } from './contender.ts';
import { pollUntil, get } from './http-probe.ts';
import { treeRssMb } from './server-process.ts';
import { startTandem } from './tandem-host.ts';

export interface MemoryPoint {
  readonly versions: number;
  readonly rssMb: number;
  readonly mbPerVersion: number;
  /** Time from the first rename of this step until every app answered. */
  readonly deployAllMs: number;
}

export interface MemoryScale {
  readonly emptyRssMb: number;
  readonly points: readonly MemoryPoint[];
}

/** RSS is read after it has been steady for a moment (GC and lazy allocation settle). */
async function steadyRss(pid: number): Promise<number> {
  let previous = await treeRssMb(pid);
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = await treeRssMb(pid);
    if (Math.abs(now - previous) < 0.5) return now;
    previous = now;
  }
  return previous;
}

export async function measureMemoryScale(ctx: BenchContext, counts: readonly number[]): Promise<MemoryScale> {
  const host = await startTandem(ctx, 'tandem-memory', []);
  try {
    const emptyRssMb = await steadyRss(host.server.pid);
    const points: MemoryPoint[] = [];
    let deployed = 0;
    for (const count of counts) {
      const started = performance.now();
      for (let i = deployed + 1; i <= count; i++) await host.deployHello(`app${i}`, '1.0.0');
      for (let i = deployed + 1; i <= count; i++) {
        const url = `${host.origin}/app${i}/`;
        await pollUntil(async () => ((await get(url)).status === 200 ? true : undefined), { intervalMs: 20, timeoutMs: 60_000, abort: host.exitReason, what: `GET ${url} to answer 200` });
      }
      const deployAllMs = performance.now() - started;
      deployed = count;
      const rssMb = await steadyRss(host.server.pid);
      points.push({ versions: count, rssMb, mbPerVersion: (rssMb - emptyRssMb) / count, deployAllMs });
      ctx.log(`tandem-memory: ${count} versions, RSS ${rssMb.toFixed(1)} MB`);
    }
    return { emptyRssMb, points };
  } finally {
    await host.stop();
  }
}
