// npm run bench -- [--only a,b] [--ladder] [--duration 2] [--rounds 3] [--connections 32] [--rate 10000] [--json out.json] [--compare old.json] [--against DIR] [--quick]
//
// Every claim about tandem's speed comes from this script: all contenders run on 127.0.0.1 in the
// same run, one after the other, and are reported against the bare node:http baseline.
//
// Contenders (throughput; --only takes these names and the two phases below):
//   node-http         baseline: node:http `res.end('Hello')` on the same Node binary (process.execPath)
//   net-raw           (only with --ladder or --only) the floor below the baseline: node:net answering
//                     fixed bytes, no HTTP parser (fixtures/net-raw-server.mjs)
//   node-http-deferred  (only with --ladder or --only) rung 1 between baseline and tandem: node:http answering in one setImmediate
//                     batch per event-loop turn, as tandem batches requests (fixtures/node-http-ladder.mjs)
//   node-http-isolate (only with --ladder or --only) rung 2: those batches crossing into an isolated-vm isolate, one timed
//                     applySync per batch and one callback per batch, one packed string each way as
//                     in tandem, with a trivial handler: the floor of tandem's architecture before
//                     any routing, session or web API work
//   tandem-nosession  tandem (started through src/cli.ts) serving fixtures/hello-app.mjs as
//                     hello##1.0.0 at /hello; GET /hello/ without cookies
//   tandem-session    the same, every request carries one live session cookie (made by GET
//                     /hello/login); the app reads counter n from the session and stores n + 1
//   tandem-2versions  50 sessions made on hello##1.0.0, then hello##2.0.0 deployed and 50 sessions
//                     made on it; the load cycles round robin over the 100 cookies
//   workerd           Cloudflare's workerd (npm package) running a hello-world Worker; skipped with
//                     a note if it cannot start
//   tomcat            Debian's Tomcat 10 (installed with apt-get when missing, skipped with a note
//                     when that fails), private CATALINA_BASE, foo##001.war + foo##002.war, the
//                     tandem-session load with one JSESSIONID; JVM warm-up 10 s. Also measures
//                     Tomcat's deploy latency (2 WARs renamed into webapps, stock 10 s autoDeploy)
// Phases after the throughput runs:
//   latency at a fixed rate: node-http and tandem-session once more, --rounds rounds each, offered
//                     the same --rate req/s (default 10,000, below both capacities here) by an
//                     evenly paced client (paced-client.mjs), so `p99 Δ` is the latency tandem
//                     adds to a request, not the queueing of a saturated server
//   tandem-deploy     20 times: rename a folder bundle lat##1.0.<i> into an (initially empty)
//                     webapps and poll GET /lat/ every 5 ms until 1.0.<i> answers; p50/p95
//   tandem-memory     RSS with 1, 10 and 100 tiny apps loaded, MB per version vs the empty host
//   tandem-neighbour  the hello app at 2,000 req/s offered (paced) while another app on the same host
//                     answers 10 requests/s of 20 ms CPU each; with tandem's defaults and with
//                     --off-thread-after 0 (every call on the main thread): what a computing app
//                     costs the others (neighbour.ts)
//
// Method: each server gets cpu 0 and the load generator (autocannon, in its own process) cpu 1,
// pinned with taskset when present (the header says whether pinning was used). Every contender is
// started, waited for until it answers, and warmed up 2 s (Tomcat 10 s); they all stay up, idle
// while not measured. Then --rounds rounds: in each, every contender in turn is measured for
// --duration s with --connections connections, once the servers are idle (a JVM goes on compiling
// for seconds after its load). This machine's speed drifts by ±15% over minutes;
// taking the contenders in turn spreads a slow stretch over all of them instead of one, and the
// median of the rounds drops a stray one. Last, per contender: the RSS of its process tree, a
// check that the app really did the work (session counters moved, versions right), SIGTERM.
//
// Reading the table: `req/s` is autocannon's mean of per-second samples in the contender's
// median round, and every other column is that round's too; `rounds ±` is half the range of the
// rounds' req/s, in percent of the median: how much one round alone could be off; `vs node-http` is the
// ratio to the baseline (0.50x = half its throughput); `p50`/`p99` are request latencies under
// that load; `p99 Δ ms` is p99 minus the baseline's p99; `cpu µs/req` is the CPU time the server's
// process tree spent per request (/proc, all threads), `cpu vs base` its ratio to the baseline's, and
// `busy %` how much of one core the server used: under ~95% it was waiting for the load generator,
// so its req/s understates what it can do, and `cpu vs base` is the fairer cost ratio; `non-2xx` and `errors` (errors plus
// timeouts) must be 0 for a row to mean anything; `RSS MB` is the whole process tree after the
// run (tandem's includes its supervisor process, about one extra node process).
// `other cpu %` is CPU time that processes outside the bench (test suites, builds) used during the
// measured run, in percent of one core; a WARNING line appears when any row had more than 10 %, or
// when the cores were busy just before the run: such numbers are not comparable with a quiet run's.
// --json FILE writes every number; --compare FILE prints the change against an earlier --json.
// The report ends with the targets (targets.ts): each with this run's figure and met / NOT met / not measured.
// --against DIR: every tandem contender picked also runs from another checkout of tandem (one with
// its node_modules), as `<name>@against`, in the same rounds, in turn with this one: the way to
// compare two builds here. Not both at once on the shared core: the kernel then shares the core
// fairly between their threads, which hides what one build spends on threads besides its main
// one (the journal writer's per-turn wake-ups read as 0.5% that way, 6.5-9% in two alternating runs).
// --quick: one round of 2 s, 1 s warm-up (Tomcat 3 s), 5 tandem and 1 Tomcat deploy tries, memory 1/10,
// neighbour 2 s per run. The default run (no --ladder) takes about 3 minutes (173-192 s measured); --ladder adds about 45 s.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { medianBy, medianSample, serverCpuCost, type BenchContext, type ServerCpuCost, type Contender, type LatencySummary, type Target } from './contender.ts';
import { netRaw, nodeHttp, nodeHttpDeferred, nodeHttpIsolate } from './contenders/node-http.ts';
import { tandemNoSession, tandemSession, tandemTwoVersions } from './contenders/tandem.ts';
import { tomcat } from './contenders/tomcat.ts';
import { workerd } from './contenders/workerd.ts';
import { measureTandemDeployLatency } from './deploy-latency.ts';
import { latencySuspicion, runLoad, type LoadResult, type LoadSpec } from './load.ts';
import { otherCpuPercent, sampleCpu } from './other-cpu.ts';
import { measureMemoryScale, type MemoryScale } from './memory-scale.ts';
import { measureNeighbour, type NeighbourResult } from './neighbour.ts';
import { formatComparison, formatReport, type BenchReport, type ThroughputResult } from './report.ts';
import { detectPinning, treeCpuTicks, treeRss } from './server-process.ts';

const contenders: readonly Contender[] = [nodeHttp, netRaw, nodeHttpDeferred, nodeHttpIsolate, tandemNoSession, tandemSession, tandemTwoVersions, workerd, tomcat];
const phases = ['tandem-deploy', 'tandem-memory', 'tandem-neighbour'] as const;
const allNames = [...contenders.map((c) => c.name), ...phases];
/** Rungs between the baseline and tandem: they explain where tandem's cost goes, and are not in the default run. */
const ladder = new Set([netRaw.name, nodeHttpDeferred.name, nodeHttpIsolate.name]);
/** Measured again at the fixed --rate: the baseline and tandem's sticky path (the p99 target's subject). */
const atRateNames = new Set([nodeHttp.name, tandemSession.name]);

const tandemContenders = new Set([tandemNoSession.name, tandemSession.name, tandemTwoVersions.name]);

/** Each tandem contender, followed by its copy started from `againstDir` (see --against). */
function withAgainst(all: readonly Contender[], againstDir: string | null): Contender[] {
  if (againstDir === null) return [...all];
  const from = (c: Contender): Contender => ({
    name: `${c.name}@against`,
    async start(ctx) {
      const outcome = await c.start({ ...ctx, repoRoot: againstDir });
      return outcome.kind === 'started' ? { kind: 'started', target: { ...outcome.target, detail: `${outcome.target.detail}; tandem from ${againstDir}` } } : outcome;
    },
  });
  return all.flatMap((c) => (tandemContenders.has(c.name) ? [c, from(c)] : [c]));
}

interface BenchOptions {
  readonly only: ReadonlySet<string>;
  readonly durationSeconds: number;
  readonly rounds: number;
  readonly connections: number;
  /** Offered req/s of the fixed-rate latency phase. */
  readonly rate: number;
  readonly jsonFile: string | null;
  readonly compareFile: string | null;
  /** Another tandem checkout whose tandem contenders run beside this one's. */
  readonly againstDir: string | null;
  readonly quick: boolean;
}

function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      only: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      ladder: { type: 'boolean' },
      json: { type: 'string' },
      compare: { type: 'string' },
      against: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`usage: node --no-node-snapshot scripts/bench/run.ts [--only ${allNames.join(',')}] [--ladder] [--duration 2] [--rounds 3] [--connections 32] [--rate 10000] [--json out.json] [--compare old.json] [--against DIR] [--quick]\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const defaults = values.ladder === true ? allNames : allNames.filter((name) => !ladder.has(name));
  const only = new Set(values.only === undefined ? defaults : values.only.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  for (const name of only) if (!allNames.includes(name)) throw new Error(`--only: unknown contender "${name}"; known: ${allNames.join(', ')}`);
  const positive = (flag: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected a whole number >= 1, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    only,
    durationSeconds: positive('duration', values.duration, 2),
    rounds: positive('rounds', values.rounds, quick ? 1 : 3),
    connections: positive('connections', values.connections, 32),
    rate: positive('rate', values.rate, 10_000),
    jsonFile: values.json ?? null,
    compareFile: values.compare ?? null,
    againstDir: values.against === undefined ? null : path.resolve(values.against),
    quick,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const before = options.compareFile === null ? null : (JSON.parse(await readFile(options.compareFile, 'utf8')) as BenchReport);
  const pinning = detectPinning();
  const tmpRoot = await mkdtemp(path.join(tmpdir(), 'tandem-bench-'));
  const ctx: BenchContext = { pinning, tmpRoot, repoRoot: path.resolve(import.meta.dirname, '..', '..'), log };
  const throughput: Record<string, ThroughputResult> = {};
  const skipped: Record<string, string> = {};
  const failed: Record<string, string> = {};
  const deployLatency: Record<string, LatencySummary> = {};
  const atRate: Record<string, LoadResult> = {};
  let memoryScale: MemoryScale | null = null;
  let neighbour: NeighbourResult | null = null;

  // Ctrl-C stops the server being measured instead of leaving it behind.
  const running = new Set<() => Promise<void>>();
  const interrupted = new AbortController();
  const interrupt = (): void => {
    log('interrupted: stopping servers');
    interrupted.abort();
    void Promise.allSettled([...running].map((stop) => stop())).then(() => rm(tmpRoot, { recursive: true, force: true }).finally(() => process.exit(130)));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const recordFailure = (name: string, err: unknown): void => {
    failed[name] = (err as Error).message;
    log(`FAILED ${name}: ${(err as Error).message}`);
  };
  const started = performance.now();
  const busyBefore = await otherCpuUse(1_000);
  log(`bench: ${pinning.note}; temp dir ${tmpRoot}`);
  try {
    // 1. Start every contender and warm it up; they stay up, idle, while the others are measured.
    const live: LiveContender[] = [];
    for (const contender of withAgainst(contenders, options.againstDir)) {
      if (!options.only.has(contender.name.replace(/@against$/, ''))) continue;
      log(`== ${contender.name}`);
      try {
        const outcome = await contender.start(ctx);
        if (outcome.kind === 'skipped') {
          skipped[contender.name] = outcome.reason;
          log(`skipped: ${outcome.reason}`);
          continue;
        }
        const target = outcome.target;
        running.add(target.stop);
        live.push({ name: contender.name, target, samples: [] });
        const warmupSeconds = options.quick ? Math.max(1, Math.round(target.warmupSeconds / 3)) : target.warmupSeconds;
        log(`${contender.name}: warm-up ${warmupSeconds} s`);
        await runLoad({ ...loadFor(target, options.connections), durationSeconds: warmupSeconds }, pinning.loadCpu, interrupted.signal);
      } catch (err) {
        recordFailure(contender.name, err);
      }
    }
    try {
      // 2. Rounds: every contender once per round, in turn, so a slow minute of the machine hits
      //    all of them instead of one.
      for (let round = 1; round <= options.rounds; round++) {
        for (const entry of live) {
          if (failed[entry.name] !== undefined) continue;
          try {
            await untilServersIdle(log);
            const load = loadFor(entry.target, options.connections);
            // A server idle for a minute measured up to 25% slower in its first seconds back: one
            // second of load first, not counted.
            await runLoad({ ...load, durationSeconds: 1 }, pinning.loadCpu, interrupted.signal);
            const cpuBefore = await sampleCpu();
            const serverBefore = await treeCpuTicks(entry.target.server.pid);
            const result = await runLoad({ ...load, durationSeconds: options.durationSeconds }, pinning.loadCpu, interrupted.signal);
            const serverAfter = await treeCpuTicks(entry.target.server.pid);
            const server = serverBefore === null || serverAfter === null ? null : serverCpuCost(serverAfter - serverBefore, result.totalRequests, result.durationSeconds);
            entry.samples.push({ result, otherCpuPercent: otherCpuPercent(cpuBefore, await sampleCpu()), server });
            const cost = server === null ? '' : `, server ${server.usPerRequest.toFixed(1)} µs/req at ${server.busyPercent.toFixed(0)}% busy`;
            log(`${entry.name}: round ${round}/${options.rounds}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latencyP99Ms} ms${cost}`);
          } catch (err) {
            recordFailure(entry.name, err);
          }
        }
      }
      // 3. Latency below saturation: the baseline and tandem at the same offered rate, in rounds
      //    taken in turn like the throughput ones. One stall of 10-20 ms sets a 2 s run's p99, and
      //    tandem's host showed such stalls in some runs and not in others (after an idle spell; the
      //    README's Benchmarks section says what is known): the round with the median p99 is kept.
      const atRateRounds = new Map<string, LoadResult[]>();
      for (let round = 1; round <= options.rounds; round++) {
        for (const entry of live) {
          if (!atRateNames.has(entry.name) || failed[entry.name] !== undefined) continue;
          try {
            await untilServersIdle(log);
            // The paced client warms up for 1.5 s itself before it counts.
            const load = { ...loadFor(entry.target, options.connections), overallRate: options.rate };
            const result = await runLoad({ ...load, durationSeconds: options.durationSeconds }, pinning.loadCpu, interrupted.signal);
            atRateRounds.set(entry.name, [...(atRateRounds.get(entry.name) ?? []), result]);
            log(`${entry.name}: at ${options.rate} req/s offered, round ${round}/${options.rounds}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.latencyP50Ms.toFixed(2)} ms, p99 ${result.latencyP99Ms.toFixed(2)} ms`);
          } catch (err) {
            log(`${entry.name}: a fixed-rate run failed: ${(err as Error).message}`);
          }
        }
      }
      for (const [name, results] of atRateRounds) atRate[name] = medianBy(results, (r) => r.latencyP99Ms);
    } finally {
      // 4. Per contender: its median round is its result; then the checks, and it stops.
      for (const entry of live) {
        const { name, target } = entry;
        try {
          if (failed[name] === undefined && entry.samples.length > 0) {
            const { result, otherCpuPercent: otherCpu, server } = medianSample(entry.samples);
            const rss = await treeRss(target.server.pid);
            const verified = target.verify === undefined ? '' : await target.verify();
            const suspicion = latencySuspicion(result, options.connections);
            const check = suspicion === null ? verified : `${verified}${verified === '' ? '' : '; '}${suspicion}`;
            const roundsRequestsPerSecond = entry.samples.map((x) => x.result.requestsPerSecond);
            const serverCpu = server === null ? {} : { serverCpuUsPerRequest: server.usPerRequest, serverBusyPercent: server.busyPercent };
            throughput[name] = { ...result, roundsRequestsPerSecond, rssMb: rss.totalMb, rssPerProcessMb: rss.perProcessMb, otherCpuPercent: otherCpu, ...serverCpu, detail: target.detail, check };
            log(`${name}: median ${Math.round(result.requestsPerSecond)} req/s, RSS ${rss.totalMb.toFixed(1)} MB`);
            if (target.deployLatency !== undefined) {
              const tries = options.quick ? 1 : 2;
              log(`${name}: deploy latency, ${tries} tries`);
              deployLatency[name] = await target.deployLatency(tries);
            }
          }
        } catch (err) {
          recordFailure(name, err);
        } finally {
          running.delete(target.stop);
          await target.stop();
        }
      }
    }
    if (options.only.has('tandem-deploy')) {
      log('== tandem-deploy');
      try {
        deployLatency['tandem'] = await measureTandemDeployLatency(ctx, options.quick ? 5 : 20);
      } catch (err) {
        recordFailure('tandem-deploy', err);
      }
    }
    if (options.only.has('tandem-memory')) {
      log('== tandem-memory');
      try {
        memoryScale = await measureMemoryScale(ctx, options.quick ? [1, 10] : [1, 10, 100]);
      } catch (err) {
        recordFailure('tandem-memory', err);
      }
    }
    if (options.only.has('tandem-neighbour')) {
      log('== tandem-neighbour');
      try {
        neighbour = await measureNeighbour(ctx, { durationSeconds: options.quick ? 2 : 4, helloRate: 2000, connections: 8, heavyMs: 20, heavyPerSecond: 10 });
      } catch (err) {
        recordFailure('tandem-neighbour', err);
      }
    }
  } finally {
    await rm(tmpRoot, { recursive: true, force: true });
  }
  log(`bench: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);

  const report: BenchReport = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      pinning: pinning.note,
      durationSeconds: options.durationSeconds,
      rounds: options.rounds,
      connections: options.connections,
      rate: options.rate,
      quick: options.quick,
      baseline: nodeHttp.name,
      busyBeforePercent: busyBefore,
    },
    throughput,
    atRate,
    skipped,
    failed,
    deployLatency,
    memoryScale,
    neighbour,
  };
  process.stdout.write(`${formatReport(report)}\n`);
  if (before !== null) process.stdout.write(`${formatComparison(report, before)}\n`);
  if (options.jsonFile !== null) {
    await writeFile(options.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    log(`bench: wrote ${options.jsonFile}`);
  }
  return Object.keys(failed).length > 0 ? 1 : 0;
}

interface LiveContender {
  readonly name: string;
  readonly target: Target;
  readonly samples: { readonly result: LoadResult; readonly otherCpuPercent: number; readonly server: ServerCpuCost | null }[];
}

function loadFor(target: Target, connections: number): Omit<LoadSpec, 'durationSeconds'> {
  return { url: target.url, connections, ...(target.requests === undefined ? {} : { requests: target.requests }) };
}

/**
 * Waits (at most 10 s) until this bench's process tree is idle: a server just loaded, or just
 * started, may still be compiling or collecting (Tomcat's JVM for seconds), on the core the next
 * contender is measured on.
 */
async function untilServersIdle(log: (line: string) => void): Promise<void> {
  const started = performance.now();
  for (;;) {
    const a = await sampleCpu();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = await sampleCpu();
    if (a === null || b === null) return; // not Linux
    const busyPercent = (b.ours - a.ours) / ((b.at - a.at) / 1000); // ticks are 1/100 s: per second, percent of a core
    if (busyPercent < 10) return;
    if (performance.now() - started > 10_000) {
      log(`bench: the servers did not go idle within 10 s (${busyPercent.toFixed(0)}% of a core); measuring anyway`);
      return;
    }
  }
}

/** Percent of all cores busy over `ms` before the run starts: other work on the machine skews every number. */
async function otherCpuUse(ms: number): Promise<number> {
  const sample = async (): Promise<{ idle: number; total: number }> => {
    const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal: idle + iowait are idle time
    return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  };
  try {
    const a = await sample();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const b = await sample();
    return b.total === a.total ? 0 : 100 * (1 - (b.idle - a.idle) / (b.total - a.total));
  } catch {
    return Number.NaN; // no /proc/stat: not Linux
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
