// Prometheus metrics of one host, in a prom-client Registry of its own (two hosts in one process
// must not share the global one).
//
// The request path only adds to plain numbers kept per version (requestDone: a map lookup and a
// few increments, no label strings); the prom-client metrics read them when scraped. Reading
// instead of keeping labelled children also means a version that is undeployed drops out of the
// output instead of piling up label sets for the life of the process.
import { Counter, Gauge, Registry as PromRegistry, type Metric } from 'prom-client';
import type { Activity, ActivityLog } from '../apps/activity.ts';
import type { DeployedVersion, Registry } from '../apps/registry.ts';
import type { SessionManager } from '../sessions/manager.ts';

/** Upper bounds of the latency histogram, seconds. */
const latencyBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** What one version served since it was deployed. */
class VersionTraffic {
  readonly statuses = new Map<number, number>();
  errors = 0;
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly buckets = new Float64Array(latencyBounds.length + 1);
  sumSeconds = 0;
  count = 0;
}

export interface HostMetricsOptions {
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly activity: ActivityLog;
}

type Labels = { app: string; version: string };

export class HostMetrics {
  readonly prometheus = new PromRegistry();
  readonly #registry: Registry;
  readonly #sessions: SessionManager;
  readonly #traffic = new WeakMap<DeployedVersion, VersionTraffic>();
  readonly #deploys: Counter<'app' | 'result'>;
  readonly #limitHits: Counter<'app' | 'version'>;
  readonly #unsubscribe: () => void;

  constructor(options: HostMetricsOptions) {
    this.#registry = options.registry;
    this.#sessions = options.sessions;
    const registers = [this.prometheus];
    const requests: Counter<'app' | 'version' | 'status'> = new Counter({
      name: 'tandem_requests_total',
      help: 'Requests answered by an app version, by HTTP status.',
      labelNames: ['app', 'version', 'status'],
      registers,
      collect: () => {
        requests.reset();
        for (const [labels, t] of this.#each()) for (const [status, n] of t.statuses) requests.inc({ ...labels, status }, n);
      },
    });
    const errors: Counter<'app' | 'version'> = new Counter({
      name: 'tandem_request_errors_total',
      help: 'Requests of an app version answered with a 5xx status.',
      labelNames: ['app', 'version'],
      registers,
      collect: () => {
        errors.reset();
        for (const [labels, t] of this.#each()) errors.inc(labels, t.errors);
      },
    });
    // prom-client's Histogram can only observe one value at a time; this collector exports the
    // per-version buckets kept above through the same Registry (text format and escaping are prom-client's).
    this.prometheus.registerMetric(new LatencyHistogram(() => this.#each()) as unknown as Metric);
    const sessions: Gauge<'app' | 'version'> = new Gauge({
      name: 'tandem_sessions',
      help: 'Live sessions bound to an app version.',
      labelNames: ['app', 'version'],
      registers,
      collect: async () => {
        sessions.reset();
        for (const app of [...this.#registry.apps]) {
          const counts = await this.#sessions.countByVersion(app.name);
          for (const v of app.versions) sessions.set({ app: app.name, version: v.label }, counts.get(v.key) ?? 0);
        }
      },
    });
    const heapGauge = (name: string, help: string, pick: (h: { usedBytes: number; limitBytes: number }) => number): void => {
      const gauge: Gauge<'app' | 'version'> = new Gauge({
        name,
        help,
        labelNames: ['app', 'version'],
        registers,
        collect: () => {
          gauge.reset();
          for (const app of this.#registry.apps) {
            for (const v of app.versions) {
              const h = v.runtime?.heap();
              if (h != null) gauge.set({ app: app.name, version: v.label }, pick(h));
            }
          }
        },
      });
    };
    heapGauge('tandem_isolate_heap_bytes', 'Heap used by the isolate of an app version.', (h) => h.usedBytes);
    heapGauge('tandem_isolate_heap_limit_bytes', 'Heap limit of the isolate of an app version.', (h) => h.limitBytes);
    this.#deploys = new Counter({
      name: 'tandem_deploys_total',
      help: 'Deploys and redeploys of app versions, by result (deployed, redeployed, failed).',
      labelNames: ['app', 'result'],
      registers,
    });
    this.#limitHits = new Counter({
      name: 'tandem_isolate_limit_hits_total',
      help: 'Times an isolate hit its CPU or memory limit and was recycled.',
      labelNames: ['app', 'version'],
      registers,
    });
    this.#unsubscribe = options.activity.subscribe((activity) => this.#onActivity(activity));
  }

  /** The request path's hook (through host.ts's RequestObserver). */
  requestDone(version: DeployedVersion, status: number, ms: number): void {
    let t = this.#traffic.get(version);
    if (t === undefined) {
      t = new VersionTraffic();
      this.#traffic.set(version, t);
    }
    t.statuses.set(status, (t.statuses.get(status) ?? 0) + 1);
    if (status >= 500) t.errors++;
    const seconds = ms / 1000;
    let i = 0;
    while (i < latencyBounds.length && seconds > latencyBounds[i]!) i++;
    t.buckets[i]!++;
    t.sumSeconds += seconds;
    t.count++;
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.prometheus.metrics();
  }

  get contentType(): string {
    return this.prometheus.contentType;
  }

  close(): void {
    this.#unsubscribe();
  }

  #onActivity(activity: Activity): void {
    if (activity.kind === 'deployed' || activity.kind === 'redeployed' || activity.kind === 'failed') {
      this.#deploys.inc({ app: activity.app, result: activity.kind });
    } else if (activity.kind === 'limit') {
      this.#limitHits.inc({ app: activity.app, version: activity.version });
    }
  }

  *#each(): Generator<[Labels, VersionTraffic]> {
    for (const app of this.#registry.apps) {
      for (const v of app.versions) {
        const t = this.#traffic.get(v);
        if (t !== undefined) yield [{ app: app.name, version: v.label }, t];
      }
    }
  }
}

interface ExportedValue {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/** `tandem_request_duration_seconds`: a collector in the shape prom-client's Registry reads (name, help, type, get()). */
class LatencyHistogram {
  readonly name = 'tandem_request_duration_seconds';
  readonly help = 'Time from a request reaching the app until its response completed.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #source: () => Iterable<[Labels, VersionTraffic]>;

  constructor(source: () => Iterable<[Labels, VersionTraffic]>) {
    this.#source = source;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const [labels, t] of this.#source()) {
      let cumulative = 0;
      for (let i = 0; i < latencyBounds.length; i++) {
        cumulative += t.buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: latencyBounds[i]! }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: t.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: t.sumSeconds });
      values.push({ metricName: `${this.name}_count`, labels, value: t.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
