// The bench's results as one JSON-able object, the text table, and the difference to an earlier run.
import type { LatencySummary } from './contender.ts';
import type { LoadResult } from './load.ts';
import type { MemoryScale } from './memory-scale.ts';
import type { NeighbourResult } from './neighbour.ts';
import { checkTargets } from './targets.ts';

export interface ThroughputResult extends LoadResult {
  /** req/s of every round, in order; the rest of the result is the median round's. */
  readonly roundsRequestsPerSecond?: readonly number[];
  /** RSS of the server's process tree right after the measured run, MB. */
  readonly rssMb: number;
  /** The same, per process of the tree, root first (tandem: supervisor, then host). */
  readonly rssPerProcessMb: readonly number[];
  /** CPU used by processes outside the bench during the measured run, percent of one core. */
  readonly otherCpuPercent: number;
  /** CPU time of the server's process tree per request in the median round, µs (absent without /proc, and in older reports). */
  readonly serverCpuUsPerRequest?: number;
  /** How busy the server's process tree was in that round, percent of one core (under 100: it waited for the load generator). */
  readonly serverBusyPercent?: number;
  readonly detail: string;
  readonly check: string;
}

export interface BenchReport {
  readonly meta: {
    readonly date: string;
    readonly node: string;
    readonly cpus: number;
    readonly pinning: string;
    readonly durationSeconds: number;
    /** Rounds per contender, interleaved (absent in reports from before rounds: one run each). */
    readonly rounds?: number;
    readonly connections: number;
    /** Offered req/s of the fixed-rate latency runs (absent in older reports). */
    readonly rate?: number;
    readonly quick: boolean;
    readonly baseline: string;
    /** How busy all cores were in the second before the run (percent): other work skews the numbers. */
    readonly busyBeforePercent?: number;
  };
  readonly throughput: Record<string, ThroughputResult>;
  /** The baseline and tandem once more at meta.rate req/s offered (absent in older reports). */
  readonly atRate?: Record<string, LoadResult>;
  readonly skipped: Record<string, string>;
  readonly failed: Record<string, string>;
  readonly deployLatency: Record<string, LatencySummary>;
  readonly memoryScale: MemoryScale | null;
  /** The hello app's latency beside an app that computes (absent in older reports). */
  readonly neighbour?: NeighbourResult | null;
}

type Align = 'l' | 'r';

function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '-');
const signed = (n: number, digits = 2): string => (n >= 0 ? '+' : '') + n.toFixed(digits);

/** Half the range of the rounds' req/s, in percent of the reported (median) req/s: how far one round can be trusted. */
function spread(r: ThroughputResult): string {
  const rounds = r.roundsRequestsPerSecond ?? [];
  if (rounds.length < 2) return '-';
  return `${((100 * (Math.max(...rounds) - Math.min(...rounds))) / 2 / r.requestsPerSecond).toFixed(0)}%`;
}

export function formatReport(report: BenchReport): string {
  const out: string[] = [];
  const { meta } = report;
  out.push(`tandem bench, ${meta.date}, node ${meta.node}, ${meta.cpus} cpus, ${meta.pinning}`);
  const rounds = meta.rounds ?? 1;
  out.push(`${meta.connections} connections; ${rounds === 1 ? `${meta.durationSeconds} s measured per contender` : `${rounds} rounds of ${meta.durationSeconds} s per contender, taken in turn; each row is its median round`} after warm-up${meta.quick ? ' (--quick)' : ''}`);
  const busy = meta.busyBeforePercent ?? 0;
  if (busy > 10) out.push(`WARNING: the cores were ${busy.toFixed(0)}% busy with other work just before the run; those processes compete with the servers, compare with care`);
  const noisy = Object.entries(report.throughput).filter(([, r]) => r.otherCpuPercent > 10).map(([name]) => name);
  if (noisy.length > 0) out.push(`WARNING: other processes took over 10 % of a core while ${noisy.join(', ')} ran (column "other cpu %"): rerun on a quiet machine before trusting those rows`);
  out.push('');
  const base = report.throughput[meta.baseline];
  const rows = Object.entries(report.throughput).map(([name, r]) => [
    name,
    int(r.requestsPerSecond),
    base === undefined ? '-' : `${(r.requestsPerSecond / base.requestsPerSecond).toFixed(2)}x`,
    ms(r.latencyP50Ms),
    ms(r.latencyP99Ms),
    base === undefined ? '-' : signed(r.latencyP99Ms - base.latencyP99Ms),
    r.serverCpuUsPerRequest === undefined ? '-' : r.serverCpuUsPerRequest.toFixed(1),
    base?.serverCpuUsPerRequest === undefined || r.serverCpuUsPerRequest === undefined ? '-' : `${(r.serverCpuUsPerRequest / base.serverCpuUsPerRequest).toFixed(2)}x`,
    r.serverBusyPercent === undefined ? '-' : r.serverBusyPercent.toFixed(0),
    int(r.non2xx),
    int(r.errors + r.timeouts),
    r.rssMb.toFixed(1),
    Number.isFinite(r.otherCpuPercent) ? r.otherCpuPercent.toFixed(0) : '-',
    spread(r),
  ]);
  if (rows.length > 0) {
    out.push(table(['contender', 'req/s', `vs ${meta.baseline}`, 'p50 ms', 'p99 ms', 'p99 Δ ms', 'cpu µs/req', 'cpu vs base', 'busy %', 'non-2xx', 'errors', 'RSS MB', 'other cpu %', 'rounds ±'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    out.push('');
    for (const [name, r] of Object.entries(report.throughput)) {
      const split = r.rssPerProcessMb.length > 1 ? `; RSS by process ${r.rssPerProcessMb.map((m) => m.toFixed(1)).join(' + ')} MB` : '';
      out.push(`  ${name}: ${r.detail}${r.check === '' ? '' : `; check: ${r.check}`}${split}`);
    }
    out.push('');
  }
  const atRate = Object.entries(report.atRate ?? {});
  if (atRate.length > 0) {
    const rate = meta.rate ?? 0;
    const baseAtRate = report.atRate?.[meta.baseline];
    out.push(`latency at a fixed ${int(rate)} req/s offered over ${meta.connections} connections: below saturation, the Δ columns are what tandem adds to a request`);
    const delta = (value: number | undefined, base: number | undefined): string => (value === undefined || base === undefined ? '-' : signed(value - base));
    out.push(table(['contender', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p90 Δ ms', 'p99 Δ ms', 'client jitter p99 ms', 'non-2xx', 'errors', 'note'], atRate.map(([name, r]) => [
      name,
      int(r.requestsPerSecond),
      ms(r.latencyP50Ms),
      r.latencyP90Ms === undefined ? '-' : ms(r.latencyP90Ms),
      ms(r.latencyP99Ms),
      delta(r.latencyP90Ms, baseAtRate?.latencyP90Ms),
      delta(r.latencyP99Ms, baseAtRate?.latencyP99Ms),
      r.clientLatenessP99Ms === undefined ? '-' : ms(r.clientLatenessP99Ms),
      int(r.non2xx),
      int(r.errors + r.timeouts),
      // Short of the offered rate: the server could not keep up, and its latencies are a saturated server's.
      r.requestsPerSecond < rate * 0.95 ? 'did not keep up' : '',
    ]), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']));
    const jitter = Math.max(...atRate.map(([, r]) => r.clientLatenessP99Ms ?? 0));
    if (jitter > 0.5) out.push(`  the load generator's own timers ran up to ${ms(jitter)} ms late (p99): latencies at that level are this machine's scheduling, not the servers'; read p90`);
    out.push('');
  }
  for (const [name, reason] of Object.entries(report.skipped)) out.push(`skipped ${name}: ${reason}`);
  for (const [name, reason] of Object.entries(report.failed)) out.push(`FAILED ${name}: ${reason}`);
  if (Object.keys(report.skipped).length + Object.keys(report.failed).length > 0) out.push('');

  const latency = Object.entries(report.deployLatency);
  if (latency.length > 0) {
    out.push('deploy latency (rename into webapps until the new version answers)');
    out.push(table(['server', 'tries', 'p50 ms', 'p95 ms', 'min ms', 'max ms'], latency.map(([name, l]) => [name, String(l.tries), ms(l.p50Ms), ms(l.p95Ms), ms(Math.min(...l.samplesMs)), ms(Math.max(...l.samplesMs))]), ['l', 'r', 'r', 'r', 'r', 'r']));
    for (const [name, l] of latency) out.push(`  ${name}: ${l.note}`);
    out.push('');
  }
  if (report.memoryScale !== null) {
    const m = report.memoryScale;
    out.push(`tandem memory per version (RSS of the process tree; empty host ${m.emptyRssMb.toFixed(1)} MB)`);
    out.push(table(['versions', 'RSS MB', 'MB per version', 'deploy all ms'], m.points.map((p) => [String(p.versions), p.rssMb.toFixed(1), p.mbPerVersion.toFixed(2), int(p.deployAllMs)]), ['r', 'r', 'r', 'r']));
    out.push('');
  }
  const n = report.neighbour;
  if (n !== undefined && n !== null) {
    out.push(`a computing neighbour: hello app at ${int(n.helloRate)} req/s offered while another app on the same host answers ${n.heavyPerSecond} requests/s of ${n.heavyMs} ms CPU each`);
    out.push(table(['tandem flags', 'hello req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'heavy requests', 'heavy p50 ms', 'heavy failed'], n.runs.map((r) => [
      r.flags === '' ? '(defaults)' : r.flags,
      int(r.hello.requestsPerSecond),
      ms(r.hello.latencyP50Ms),
      r.hello.latencyP90Ms === undefined ? '-' : ms(r.hello.latencyP90Ms),
      ms(r.hello.latencyP99Ms),
      ms(r.hello.latencyMaxMs),
      int(r.hello.non2xx),
      int(r.hello.errors + r.hello.timeouts),
      int(r.heavyRequests),
      ms(r.heavyP50Ms),
      int(r.heavyFailed),
    ]), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    out.push('  --off-thread-after 0 keeps every call on the main thread: the hello app then waits for each heavy call');
    out.push('');
  }
  const targets = checkTargets(report);
  out.push('targets (a target whose contender or phase did not run is not measured)');
  out.push(table(['target', 'this run', 'verdict'], targets.map((c) => [c.target, c.measured, c.verdict]), ['l', 'r', 'l']));
  return out.join('\n');
}

const percent = (now: number, before: number): string => (before === 0 ? '-' : `${signed(((now - before) / before) * 100, 1)}%`);

/** What changed since `before` (an earlier --json file) for every number both runs have. */
export function formatComparison(now: BenchReport, before: BenchReport): string {
  const out: string[] = [`compared with ${before.meta.date} (${before.meta.durationSeconds} s, ${before.meta.connections} connections, ${before.meta.pinning})`];
  const rows: string[][] = [];
  for (const [name, r] of Object.entries(now.throughput)) {
    const b = before.throughput[name];
    if (b === undefined) continue;
    rows.push([
      name,
      `${int(b.requestsPerSecond)} → ${int(r.requestsPerSecond)}`,
      percent(r.requestsPerSecond, b.requestsPerSecond),
      `${ms(b.latencyP99Ms)} → ${ms(r.latencyP99Ms)}`,
      signed(r.latencyP99Ms - b.latencyP99Ms),
      `${b.rssMb.toFixed(1)} → ${r.rssMb.toFixed(1)}`,
    ]);
  }
  for (const [name, l] of Object.entries(now.deployLatency)) {
    const b = before.deployLatency[name];
    if (b !== undefined) rows.push([`${name} deploy p50`, `${ms(b.p50Ms)} → ${ms(l.p50Ms)} ms`, percent(l.p50Ms, b.p50Ms), '', '', '']);
  }
  if (now.memoryScale !== null && before.memoryScale !== null) {
    for (const p of now.memoryScale.points) {
      const b = before.memoryScale.points.find((q) => q.versions === p.versions);
      if (b !== undefined) rows.push([`memory ${p.versions} versions`, `${b.mbPerVersion.toFixed(2)} → ${p.mbPerVersion.toFixed(2)} MB/version`, percent(p.mbPerVersion, b.mbPerVersion), '', '', `${b.rssMb.toFixed(1)} → ${p.rssMb.toFixed(1)}`]);
    }
  }
  if (rows.length === 0) return `${out[0]}: no contender in common`;
  out.push(table(['', 'req/s', 'change', 'p99 ms', 'p99 Δ ms', 'RSS MB'], rows, ['l', 'r', 'r', 'r', 'r', 'r']));
  return out.join('\n');
}
