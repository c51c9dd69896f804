// Unit tests of the bench harness's own logic (the contenders themselves are exercised by running
// the bench). Run: node --no-node-snapshot --test scripts/bench/test/harness.test.ts
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import yauzl from 'yauzl';
import { medianSample, percentile, serverCpuCost, summarize } from '../contender.ts';
import { latencySuspicion, runLoad, type LoadResult } from '../load.ts';
import { formatComparison, formatReport, type BenchReport, type ThroughputResult } from '../report.ts';
import { ServerProcess, treeCpuTicks, treeRss } from '../server-process.ts';
import { checkTargets } from '../targets.ts';
import { zipBytes } from '../../archive-builders.ts';

function unzip(buffer: Buffer): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (err, file) => {
      if (err !== null) return reject(err);
      const entries = new Map<string, string>();
      file.on('entry', (entry: yauzl.Entry) => {
        file.openReadStream(entry, (streamErr, stream) => {
          if (streamErr !== null) return reject(streamErr);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            file.readEntry();
          });
        });
      });
      file.on('end', () => resolve(entries));
      file.on('error', reject);
      file.readEntry();
    });
  });
}

const load = (rps: number, meanMs: number): LoadResult => ({
  requestsPerSecond: rps,
  totalRequests: rps * 10,
  latencyP50Ms: meanMs,
  latencyP99Ms: meanMs * 3,
  latencyMaxMs: meanMs * 10,
  latencyMeanMs: meanMs,
  autocannonLatencyMs: { p50: Math.floor(meanMs), p99: Math.floor(meanMs * 3), mean: meanMs },
  ok2xx: rps * 10,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  durationSeconds: 10,
});

const row = (rps: number, p99: number): ThroughputResult => ({ ...load(rps, p99 / 3), rssMb: 80, rssPerProcessMb: [50, 30], otherCpuPercent: 2, detail: 'd', check: '' });

function report(throughput: Record<string, ThroughputResult>): BenchReport {
  return {
    meta: { date: '2026-01-01T00:00:00Z', node: 'v24', cpus: 2, pinning: 'pinned', durationSeconds: 10, connections: 32, quick: false, baseline: 'node-http' },
    throughput,
    skipped: { workerd: 'not installed' },
    failed: {},
    deployLatency: { tandem: summarize([100, 120, 300], 'n') },
    memoryScale: { emptyRssMb: 100, points: [{ versions: 10, rssMb: 125, mbPerVersion: 2.5, deployAllMs: 300 }] },
  };
}

describe('bench harness', () => {
  it('writes WARs that a ZIP reader unpacks to the same files', async () => {
    const jsp = '<%@ page session="false" %>Hello from 001 é';
    const entries = await unzip(zipBytes([{ name: 'index.jsp', body: jsp }, { name: 'WEB-INF/x.txt', body: 'x' }]));
    assert.deepEqual([...entries], [['index.jsp', jsp], ['WEB-INF/x.txt', 'x']]);
  });

  it('takes nearest-rank percentiles', () => {
    const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    assert.equal(percentile(samples, 50), 5);
    assert.equal(percentile(samples, 95), 10);
    assert.equal(percentile([42], 99), 42);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('takes the median round as the result, and reports how far the rounds spread', () => {
    const rounds = [30_000, 20_000, 36_000].map((rps) => ({ result: { requestsPerSecond: rps }, tag: rps }));
    assert.equal(medianSample(rounds).tag, 30_000);
    assert.equal(medianSample(rounds.slice(0, 2)).tag, 20_000, 'the lower middle of an even count: a real round');
    assert.throws(() => medianSample([]), /no samples/);
    const text = formatReport(report({ 'node-http': { ...row(40_000, 3), roundsRequestsPerSecond: [36_000, 40_000, 44_000] }, 'tandem-session': row(10_000, 9) }));
    assert.match(text, /node-http\s+40,000.*\s10%$/m, 'half the range over the median');
    assert.match(text, /tandem-session\s+10,000.*\s-$/m, 'one round: no spread');
  });

  it("flags latencies that break Little's law and accepts those that keep it", () => {
    // 32 connections at 16,000 req/s: the mean cannot be above 2 ms.
    assert.equal(latencySuspicion(load(16_000, 1.9), 32), null);
    assert.match(latencySuspicion(load(16_000, 10), 32) ?? '', /latency suspect: mean 10\.00 ms.*at most 2\.00 ms/);
  });

  it('reports ratios and p99 deltas against the baseline, skipped contenders and the other phases', () => {
    const text = formatReport(report({ 'node-http': row(40_000, 3), 'tandem-session': row(10_000, 9) }));
    assert.match(text, /tandem-session\s+10,000\s+0\.25x\s+[\d.]+\s+9\.00\s+\+6\.00/);
    assert.match(text, /skipped workerd: not installed/);
    assert.match(text, /tandem\s+3\s+120\.0\s+300\.0/);
    assert.match(text, /10\s+125\.0\s+2\.50/);
    assert.match(text, /RSS by process 50\.0 \+ 30\.0 MB/);
  });

  it('checks each target against the run, and says which it could not measure', () => {
    const run = report({ 'node-http': row(40_000, 3), 'tandem-session': row(31_000, 3.5), workerd: row(15_000, 9) });
    const verdicts = Object.fromEntries(checkTargets(run).map((c) => [c.target, [c.measured, c.verdict]]));
    assert.deepEqual(verdicts, {
      'tandem-session >= 0.75x node-http req/s': ['0.78x', 'met'],
      'tandem-session req/s above workerd': ['31000 vs 15000', 'met'],
      'tandem-session req/s above tomcat': ['-', 'not measured'],
      'p99 added by tandem-session < 1 ms at 32 connections': ['+0.50 ms', 'met'],
      'deploy latency p50 < 250 ms': ['120 ms', 'met'],
      '< 10 MB RSS per idle version': ['2.50 MB at 10 versions', 'met'],
    });
    const slow = checkTargets(report({ 'node-http': row(40_000, 3), 'tandem-session': row(29_000, 4.5), tomcat: row(35_000, 3) }));
    assert.deepEqual(slow.filter((c) => c.verdict === 'NOT met').map((c) => c.target), ['tandem-session >= 0.75x node-http req/s', 'tandem-session req/s above tomcat', 'p99 added by tandem-session < 1 ms at 32 connections']);
    assert.match(formatReport(run), /tandem-session >= 0\.75x node-http req\/s\s+0\.78x\s+met/);
  });

  it('turns a server\'s CPU ticks into µs per request and percent busy, and reports them against the baseline', () => {
    // 150 ticks = 1.5 s of CPU over a 2 s run of 60,000 requests: 25 µs each, 75% of a core.
    assert.deepEqual(serverCpuCost(150, 60_000, 2), { usPerRequest: 25, busyPercent: 75 });
    assert.ok(Number.isNaN(serverCpuCost(10, 0, 2).usPerRequest), 'no requests: no per-request cost');
    const text = formatReport(report({
      'node-http': { ...row(40_000, 3), serverCpuUsPerRequest: 12.5, serverBusyPercent: 50 },
      'tandem-session': { ...row(20_000, 9), serverCpuUsPerRequest: 50, serverBusyPercent: 99.6 },
      workerd: row(5_000, 9),
    }));
    assert.match(text, /tandem-session\s+20,000\s+0\.50x\s+[\d.]+\s+9\.00\s+\+6\.00\s+50\.0\s+4\.00x\s+100\s/);
    assert.match(text, /node-http\s+40,000\s+1\.00x\s+[\d.]+\s+3\.00\s+\+0\.00\s+12\.5\s+1\.00x\s+50\s/);
    assert.match(text, /workerd\s+5,000\s+0\.13x\s+[\d.]+\s+9\.00\s+\+6\.00\s+-\s+-\s+-\s/, 'a report without the figures shows dashes');
  });

  it('reports the fixed-rate latencies against the baseline\'s, and says when a server fell short of the rate', () => {
    const withRate: BenchReport = {
      ...report({ 'node-http': row(40_000, 3) }),
      meta: { ...report({}).meta, rate: 10_000 },
      atRate: {
        'node-http': { ...load(10_000, 0.2), latencyP90Ms: 0.4, clientLatenessP99Ms: 0.3 },
        'tandem-session': { ...load(9_990, 0.3), latencyP90Ms: 0.7, clientLatenessP99Ms: 2 },
        'tandem-2versions': load(8_000, 2),
      },
    };
    const text = formatReport(withRate);
    assert.match(text, /latency at a fixed 10,000 req\/s offered over 32 connections/);
    assert.match(text, /tandem-session\s+9,990\s+0\.30\s+0\.70\s+0\.90\s+\+0\.30\s+\+0\.30\s+2\.00\s+0\s+0$/m);
    assert.match(text, /tandem-2versions\s+8,000\s+2\.00\s+-\s+6\.00\s+-\s+\+5\.40\s+-\s+0\s+0\s+did not keep up$/m);
    assert.match(text, /timers ran up to 2\.00 ms late \(p99\)/);
    assert.doesNotMatch(formatReport(report({ 'node-http': row(40_000, 3) })), /fixed/, 'no fixed-rate runs, no table');
  });

  it('reports the computing-neighbour runs side by side', () => {
    const text = formatReport({
      ...report({}),
      neighbour: {
        heavyMs: 20,
        heavyPerSecond: 10,
        helloRate: 2000,
        runs: [
          { flags: '', hello: { ...load(1_999, 0.2), latencyP90Ms: 0.3, latencyP99Ms: 3.1, latencyMaxMs: 8.6 }, heavyRequests: 56, heavyFailed: 0, heavyP50Ms: 22 },
          { flags: '--off-thread-after 0', hello: { ...load(1_998, 0.2), latencyP90Ms: 13, latencyP99Ms: 21.4, latencyMaxMs: 27.4 }, heavyRequests: 55, heavyFailed: 1, heavyP50Ms: 21.7 },
        ],
      },
    });
    assert.match(text, /hello app at 2,000 req\/s offered while another app on the same host answers 10 requests\/s of 20 ms CPU each/);
    assert.match(text, /\(defaults\)\s+1,999\s+0\.20\s+0\.30\s+3\.10\s+8\.60\s+0\s+0\s+56\s+22\.0\s+0$/m);
    assert.match(text, /--off-thread-after 0\s+1,998\s+0\.20\s+13\.0\s+21\.4\s+27\.4\s+0\s+0\s+55\s+21\.7\s+1$/m);
    assert.doesNotMatch(formatReport(report({})), /neighbour/, 'no neighbour runs, no table');
  });

  it('offers load at the rate asked, evenly, and reads both length-framed and chunked answers', async (t) => {
    let chunked = false;
    const seen: number[] = [];
    const server = http.createServer((req, res) => {
      seen.push(performance.now());
      chunked = !chunked;
      if (chunked) {
        res.write('Hel');
        res.end('lo');
      } else res.end('Hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const result = await runLoad({ url, connections: 8, durationSeconds: 1, overallRate: 2_000 }, null);
    assert.equal(result.errors + result.timeouts + result.non2xx, 0);
    assert.ok(Math.abs(result.requestsPerSecond - 2_000) < 200, `2,000 req/s offered, ${result.requestsPerSecond} counted`);
    assert.ok(result.totalRequests >= 1_800 && result.totalRequests <= 2_200, `${result.totalRequests} requests in the counted second`);
    assert.ok(result.latencyP50Ms > 0 && result.latencyP50Ms <= (result.latencyP90Ms ?? Infinity) && result.latencyP90Ms! <= result.latencyP99Ms);
    // Evenly: no 100 ms of the counted second got more than twice its share (autocannon's rate limit sends it all at once).
    const last = seen[seen.length - 1]!;
    const buckets = new Array<number>(10).fill(0);
    for (const at of seen) if (at > last - 1_000) buckets[Math.min(9, Math.floor((at - (last - 1_000)) / 100))]!++;
    assert.ok(Math.max(...buckets) <= 400, `requests per 100 ms: ${buckets.join(' ')}`);
  });

  it('prints the change against an earlier run', () => {
    const text = formatComparison(report({ 'node-http': row(44_000, 2) }), report({ 'node-http': row(40_000, 3) }));
    assert.match(text, /node-http\s+40,000 → 44,000\s+\+10\.0%\s+3\.00 → 2\.00\s+-1\.00/);
  });

  it('reads the RSS of a process tree, waits for a line and stops the tree', async () => {
    const script = "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log('child ' + c.pid); setInterval(() => {}, 1000);";
    const server = new ServerProcess({ label: 'tree', command: process.execPath, args: ['-e', script], cpu: null });
    try {
      const line = await server.waitForLine((l) => l.startsWith('child '), 10_000, 'the child pid');
      const childPid = Number(line.slice(6));
      const rss = await treeRss(server.pid);
      assert.equal(rss.perProcessMb.length, 2);
      const ticks = await treeCpuTicks(server.pid);
      assert.ok(ticks !== null && ticks > 0, `starting two node processes takes CPU time, got ${ticks}`);
      assert.ok(rss.totalMb > 10, `two node processes should use more than 10 MB, got ${rss.totalMb}`);
      await server.stop(2_000);
      await assert.rejects(server.waitForLine(() => false, 1_000, 'x'), /exited/);
      // The grandchild was signalled too: poll until it is gone.
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          process.kill(childPid, 0);
        } catch {
          break;
        }
        assert.ok(Date.now() < deadline, `child ${childPid} still alive after stop()`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await server.stop(1_000);
    }
  });
});
