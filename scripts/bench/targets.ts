// The performance targets tandem is held to, checked against one run's figures: each says what it
// asks, what this run measured, and whether it holds. A target whose contender did not run (skipped,
// failed, or not picked with --only) is "not measured", never met.
import type { BenchReport } from './report.ts';

export type Verdict = 'met' | 'NOT met' | 'not measured';

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly verdict: Verdict;
}

const baseline = 'node-http';
const sticky = 'tandem-session';
/** Of the sticky path over the baseline's, at saturation with the run's connections. */
const maxAddedP99Ms = 1;
const minStickyRatio = 0.75;
const maxDeployP50Ms = 250;
const maxMbPerIdleVersion = 10;

/** `measure` gives the figure and whether it holds, or null when the run has no figure for it. */
function check(target: string, measure: () => readonly [string, boolean] | null): TargetCheck {
  const m = measure();
  return m === null ? { target, measured: '-', verdict: 'not measured' } : { target, measured: m[0], verdict: m[1] ? 'met' : 'NOT met' };
}

export function checkTargets(report: BenchReport): TargetCheck[] {
  const t = report.throughput;
  const base = t[baseline];
  const mine = t[sticky];
  // The most versions measured: the figure at 1 version carries the first app's one-off costs.
  const points = report.memoryScale?.points ?? [];
  const most = points.length === 0 ? undefined : points.reduce((a, b) => (b.versions > a.versions ? b : a));
  const deploy = report.deployLatency['tandem'];
  return [
    check(`${sticky} >= ${minStickyRatio}x ${baseline} req/s`, () =>
      base === undefined || mine === undefined ? null : [`${(mine.requestsPerSecond / base.requestsPerSecond).toFixed(2)}x`, mine.requestsPerSecond >= minStickyRatio * base.requestsPerSecond]),
    ...['workerd', 'tomcat'].map((rival) =>
      check(`${sticky} req/s above ${rival}`, () => {
        const other = t[rival];
        return other === undefined || mine === undefined ? null : [`${Math.round(mine.requestsPerSecond)} vs ${Math.round(other.requestsPerSecond)}`, mine.requestsPerSecond > other.requestsPerSecond];
      }),
    ),
    check(`p99 added by ${sticky} < ${maxAddedP99Ms} ms at ${report.meta.connections} connections`, () =>
      base === undefined || mine === undefined ? null : [`+${(mine.latencyP99Ms - base.latencyP99Ms).toFixed(2)} ms`, mine.latencyP99Ms - base.latencyP99Ms < maxAddedP99Ms]),
    check(`deploy latency p50 < ${maxDeployP50Ms} ms`, () => (deploy === undefined ? null : [`${deploy.p50Ms.toFixed(0)} ms`, deploy.p50Ms < maxDeployP50Ms])),
    check(`< ${maxMbPerIdleVersion} MB RSS per idle version`, () => (most === undefined ? null : [`${most.mbPerVersion.toFixed(2)} MB at ${most.versions} versions`, most.mbPerVersion < maxMbPerIdleVersion])),
  ];
}
