// Deploy latency of tandem: on an empty webapps, `lat##1.0.<i>/index.mjs` is written outside
// webapps and renamed in (the atomic drop the README recommends); GET /lat/ is polled every 5 ms
// until the body names version 1.0.<i>. The clock starts at the rename, so the number includes
// the watcher noticing, the settle time (--settle, default 100 ms, kept), loading the isolate and
// the first request.
import { summarize, type BenchContext, type LatencySummary } from './contender.ts';
import { waitForBody } from './http-probe.ts';
import { startTandem } from './tandem-host.ts';

export async function measureTandemDeployLatency(ctx: BenchContext, tries: number): Promise<LatencySummary> {
  const host = await startTandem(ctx, 'tandem-deploy', []);
  try {
    const samples: number[] = [];
    for (let i = 1; i <= tries; i++) {
      const version = `1.0.${i}`;
      const started = await host.deployHelloFolder('lat', version);
      await waitForBody(`${host.origin}/lat/`, `Hello from ${version}`, { intervalMs: 5, timeoutMs: 15_000, abort: host.exitReason, what: `tandem to serve lat##${version}` });
      samples.push(performance.now() - started);
    }
    return summarize(samples, 'folder bundle renamed into webapps, default --settle 100 ms; each new version joins the ones before it');
  } finally {
    await host.stop();
  }
}
