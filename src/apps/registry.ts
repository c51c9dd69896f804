// Apps → versions → state, and which version takes new sessions (Tomcat's Mapper data).
// Knows nothing of HTTP or files: the deployer changes it, the router and the admin read it.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.ts';
import type { AssetIndex } from '../deploy/asset-index.ts';
import { compareVersions } from '../deploy/version-order.ts';
import type { AppIsolate } from '../runtime/isolate.ts';

/**
 * loading → ready; the highest ready version takes new sessions, a superseded one is draining
 * (serves only its sessions); disabled takes no new sessions but keeps its own; failed never serves;
 * stopped is undeployed (in-flight requests may still be finishing).
 */
export type VersionState = 'loading' | 'ready' | 'draining' | 'disabled' | 'failed' | 'stopped';

/** What the deployer decides; `state` is derived from it and the other versions. */
export type VersionStatus = 'loading' | 'ready' | 'failed' | 'stopped';

export interface VersionStats {
  requests: number;
  errors: number;
  /** Latency samples of recent requests, ms (ring buffer), for p50/p99. */
  readonly latencies: Float64Array;
  latencyCursor: number;
  latencyCount: number;
}

export class DeployedVersion {
  readonly app: AppEntry;
  /** null for a version-less deployment (lowest of all). */
  readonly version: string | null;
  /** The key sessions are bound with: the version, or '' when version-less. */
  readonly key: string;
  status: VersionStatus = 'loading';
  /** Operator's switch: takes no new sessions, keeps its own. */
  disabled = false;
  state: VersionState = 'loading';
  runtime: AppIsolate | null = null;
  /** Set while a fresh isolate replaces a broken one; requests wait for it. */
  reloading: Promise<AppIsolate | null> | null = null;
  assets: AssetIndex | null = null;
  /** The bundle in webapps this version came from. */
  source: string;
  loadedAt: number | null = null;
  error: string | null = null;
  /** Quarantined after it crashed the host: not loaded again until its files change. */
  quarantined = false;
  /** The bundle's own idle timeout for sessions (tandem.json), if it sets one. */
  sessionTimeoutMinutes: number | undefined;
  readonly stats: VersionStats = { requests: 0, errors: 0, latencies: new Float64Array(1024), latencyCursor: 0, latencyCount: 0 };

  constructor(app: AppEntry, version: string | null, source: string) {
    this.app = app;
    this.version = version;
    this.key = version ?? '';
    this.source = source;
  }

  /** Label for logs and the admin page. */
  get label(): string {
    return this.version ?? '(unversioned)';
  }

  get serves(): boolean {
    return this.state === 'ready' || this.state === 'draining' || this.state === 'disabled';
  }

  recordRequest(ms: number, error: boolean): void {
    const s = this.stats;
    s.requests++;
    if (error) s.errors++;
    s.latencies[s.latencyCursor] = ms;
    s.latencyCursor = (s.latencyCursor + 1) % s.latencies.length;
    if (s.latencyCount < s.latencies.length) s.latencyCount++;
  }
}

export class AppEntry {
  readonly name: string;
  readonly contextPath: string;
  /** Highest first. */
  versions: readonly DeployedVersion[] = [];
  /** The highest ready, not disabled version: where new sessions go. */
  newSessionTarget: DeployedVersion | undefined;
  /** The highest version that serves at all (ready, draining or disabled). */
  highestServing: DeployedVersion | undefined;

  constructor(name: string, contextPath: string) {
    this.name = name;
    this.contextPath = contextPath;
  }

  find(key: string): DeployedVersion | undefined {
    for (const v of this.versions) if (v.key === key) return v;
    return undefined;
  }
}

export type RegistryEvent =
  | { readonly kind: 'state'; readonly version: DeployedVersion; readonly from: VersionState; readonly to: VersionState }
  | { readonly kind: 'removed'; readonly version: DeployedVersion };

export class Registry {
  readonly #apps = new Map<string, AppEntry>();
  readonly #byContextPath = new Map<string, AppEntry>();
  readonly #events = new EventEmitter<{ change: [RegistryEvent] }>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  get apps(): IterableIterator<AppEntry> {
    return this.#apps.values();
  }

  app(name: string): AppEntry | undefined {
    return this.#apps.get(name);
  }

  onChange(listener: (event: RegistryEvent) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  /** The app whose context path is the longest segment-wise prefix of `pathname`. */
  match(pathname: string): AppEntry | undefined {
    let end = pathname.length;
    if (end > 1 && pathname.charCodeAt(end - 1) === 47 /* / */) end--;
    for (;;) {
      const app = this.#byContextPath.get(end === pathname.length ? pathname : pathname.slice(0, end));
      if (app !== undefined) return app;
      if (end <= 1) return this.#byContextPath.get('/');
      end = pathname.lastIndexOf('/', end - 1);
      if (end <= 0) return this.#byContextPath.get('/');
    }
  }

  /** Adds a version (state loading) to its app, creating the app on first use. */
  add(name: string, contextPath: string, version: string | null, source: string): DeployedVersion {
    let app = this.#apps.get(name);
    if (app === undefined) {
      app = new AppEntry(name, contextPath);
      this.#apps.set(name, app);
      this.#byContextPath.set(contextPath, app);
    }
    const entry = new DeployedVersion(app, version, source);
    app.versions = [...app.versions, entry].sort((a, b) => compareVersions(b.version, a.version));
    this.#recompute(app);
    return entry;
  }

  setStatus(version: DeployedVersion, status: VersionStatus): void {
    version.status = status;
    this.#recompute(version.app);
  }

  setDisabled(version: DeployedVersion, disabled: boolean): void {
    version.disabled = disabled;
    this.#recompute(version.app);
  }

  /** Forgets a version entirely (after it stopped and drained). Removes the app when it was the last. */
  remove(version: DeployedVersion): void {
    const app = version.app;
    app.versions = app.versions.filter((v) => v !== version);
    this.#recompute(app);
    if (app.versions.length === 0) {
      this.#apps.delete(app.name);
      if (this.#byContextPath.get(app.contextPath) === app) this.#byContextPath.delete(app.contextPath);
    }
    this.#events.emit('change', { kind: 'removed', version });
  }

  #recompute(app: AppEntry): void {
    app.newSessionTarget = app.versions.find((v) => v.status === 'ready' && !v.disabled);
    app.highestServing = app.versions.find((v) => v.status === 'ready');
    for (const v of app.versions) {
      const next = stateOf(v, app.newSessionTarget);
      if (next === v.state) continue;
      const from = v.state;
      v.state = next;
      this.#logger.info({ app: app.name, version: v.label, from, to: next }, 'version state changed');
      this.#events.emit('change', { kind: 'state', version: v, from, to: next });
    }
  }
}

function stateOf(v: DeployedVersion, target: DeployedVersion | undefined): VersionState {
  if (v.status !== 'ready') return v.status;
  if (v.disabled) return 'disabled';
  return v === target ? 'ready' : 'draining';
}
