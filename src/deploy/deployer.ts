// Turns settled bundle events into load / replace / unload of versions (Tomcat's HostConfig).
// Events of one bundle are handled one at a time, in order; different bundles load side by side.
import { performance } from 'node:perf_hooks';
import type { ActivityLog } from '../apps/activity.ts';
import type { DeployedVersion, Registry } from '../apps/registry.ts';
import { describeError, TandemError } from '../errors.ts';
import { versionLogger, type Logger } from '../log.ts';
import { AppIsolate, type BrokenReason, type EntryMark, type UnsentRequest } from '../runtime/isolate.ts';
import type { OutboundFetcher } from '../runtime/outbound-fetcher.ts';
import type { PreludeScript } from '../runtime/prelude-script.ts';
import type { SessionManager } from '../sessions/manager.ts';
import { parseBundleName, type BundleName } from './bundle-name.ts';
import { prepareBundle, releaseBundle, type PreparedBundle } from './bundle-loader.ts';
import { fingerprint } from './fingerprint.ts';
import { OldVersionReaper } from './old-version-reaper.ts';
import { Quarantine, quarantineReason } from './quarantine.ts';
import { RetiredFolder } from './retired-folder.ts';
import { StuckIsolateWatchdog } from './stuck-isolate-watchdog.ts';
import type { BundleEvent } from './watcher.ts';

export interface DeployerOptions {
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly activity: ActivityLog;
  readonly prelude: PreludeScript;
  readonly outbound: OutboundFetcher | null;
  readonly webappsDir: string;
  readonly workDir: string;
  /** Where undeployed bundles are moved (never deleted): moving one back redeploys it. */
  readonly retiredDir: string;
  readonly memoryLimitMb: number;
  readonly cpuLimitMs: number;
  readonly offThreadAfterMs: number;
  readonly readyTimeoutMs: number;
  readonly drainTimeoutMs: number;
  /** V8 lost control of an isolate: the host must save sessions and exit (see host.ts). */
  readonly onCatastrophic: (version: DeployedVersion, message: string) => void;
  /**
   * `<stateDir>/quarantine.json`: bundles that crashed the host are recorded here before it aborts,
   * and not loaded again until their files change. Also starts the stuck-isolate watchdog thread.
   * Unset: no quarantine, no watchdog.
   */
  readonly quarantineFile?: string;
  /** --undeploy-old-versions: retire a superseded version once its last session is gone. */
  readonly undeployOldVersions?: boolean;
}

/** A bundle in webapps and the version it provides. */
interface BundleRecord {
  readonly bundle: BundleName;
  readonly path: string;
  fingerprint: string;
  readonly version: DeployedVersion;
  /** The prepared copy the current runtime was loaded from. */
  prepared: PreparedBundle | null;
  /** When its isolate broke (CPU/memory), for the 3-in-60-s rule. */
  breaks: number[];
}

const maxBreaks = 3;
const breakWindowMs = 60_000;

export class Deployer {
  readonly #o: DeployerOptions;
  readonly #bundles = new Map<string, BundleRecord>();
  readonly #queues = new Map<string, Promise<void>>();
  readonly #warned = new Set<string>();
  readonly #retired: RetiredFolder;
  /** Replaced or removed copies still finishing their requests. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #quarantine: Quarantine | null;
  readonly #watchdog: StuckIsolateWatchdog | null;
  readonly #reaper: OldVersionReaper | null;
  #stopping = false;

  constructor(options: DeployerOptions) {
    this.#o = options;
    this.#retired = new RetiredFolder(options.retiredDir, options.webappsDir);
    const file = options.quarantineFile;
    this.#quarantine = file === undefined ? null : new Quarantine(file);
    this.#watchdog = file === undefined ? null : new StuckIsolateWatchdog({ quarantineFile: file, logger: options.logger });
    this.#reaper = options.undeployOldVersions === true
      ? new OldVersionReaper({ registry: options.registry, sessions: options.sessions, logger: options.logger, everyMs: 1000, retire: (v) => this.retire(v) })
      : null;
    this.#reaper?.start();
  }

  /** Queues the event behind earlier events of the same bundle; resolves when it was handled. */
  handle(event: BundleEvent): Promise<void> {
    return this.#enqueue(event.fileName, () => (event.kind === 'present' ? this.#present(event) : this.#gone(event.fileName)));
  }

  #enqueue(fileName: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(fileName) ?? Promise.resolve();
    const next = previous.then(work).catch((err: unknown) => {
      this.#o.logger.error({ err, source: fileName }, 'deploy event failed');
    });
    this.#queues.set(fileName, next);
    void next.then(() => {
      if (this.#queues.get(fileName) === next) this.#queues.delete(fileName);
    });
    return next;
  }

  /** The bundle file name a version was deployed from. */
  bundleOf(version: DeployedVersion): string | undefined {
    return this.#bundles.get(version.source)?.version === version ? version.source : undefined;
  }

  // ---- Operator actions (admin API). Each returns once it took effect. ----

  /** Stops (or resumes) giving new sessions to a version; its own sessions stay. */
  setDisabled(version: DeployedVersion, disabled: boolean): void {
    this.#o.registry.setDisabled(version, disabled);
    this.#o.logger.info({ app: version.app.name, version: version.label }, disabled ? 'version disabled' : 'version enabled');
    this.#o.activity.record(disabled ? 'disabled' : 'enabled', version.app.name, version.label, disabled ? 'takes no new sessions' : 'takes new sessions again');
  }

  /** Loads the version's bundle again (a fresh isolate beside the old one), even if no file changed. */
  async redeploy(version: DeployedVersion): Promise<void> {
    const fileName = this.bundleOf(version);
    if (fileName === undefined) throw new Error(`${version.app.name}##${version.label} has no bundle to redeploy`);
    await this.#enqueue(fileName, () => {
      const record = this.#bundles.get(fileName);
      return record === undefined ? Promise.resolve() : this.#load(record, 'redeploy');
    });
    this.#throwIfFailed(fileName, 'redeploy failed');
  }

  /** An operator's action must not read as done when the load it started failed. */
  #throwIfFailed(fileName: string, what: string): void {
    const version = this.#bundles.get(fileName)?.version;
    if (version?.error == null) return;
    const serving = version.runtime !== null ? ' (the previous copy keeps serving)' : '';
    throw new Error(`${what}${serving}: ${version.error}`);
  }

  /** Undeploys the version and moves its bundle to the retired folder (never deletes it). */
  async retire(version: DeployedVersion): Promise<string> {
    const fileName = this.bundleOf(version);
    if (fileName === undefined) throw new Error(`${version.app.name}##${version.label} has no bundle to retire`);
    const target = await this.#retired.retire(fileName);
    await this.#enqueue(fileName, () => this.#gone(fileName));
    this.#o.logger.info({ app: version.app.name, version: version.label, source: fileName, retired: target }, 'bundle retired');
    this.#o.activity.record('retired', version.app.name, version.label, `bundle moved to ${target}`);
    return target;
  }

  /** Bundles in the retired folder, newest first. */
  retired(): Promise<string[]> {
    return this.#retired.list();
  }

  /** Moves a retired bundle back into webapps and deploys it. */
  async restore(fileName: string): Promise<void> {
    const restored = await this.#retired.restore(fileName);
    await this.handle({ kind: 'present', fileName: restored.fileName, path: restored.path, isDirectory: restored.isDirectory });
    this.#o.activity.record('restored', '', restored.fileName, `moved back from ${restored.from}`);
    this.#throwIfFailed(restored.fileName, `${restored.fileName} is back in webapps but did not load`);
  }

  /** Unloads everything (host shutdown): in-flight requests get `graceMs` to finish. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    await this.#reaper?.stop();
    await Promise.all([...this.#queues.values()]);
    await Promise.all([...this.#retiring]);
    await Promise.all([...this.#bundles.values()].map(async (record) => {
      const runtime = record.version.runtime;
      if (runtime !== null) {
        await runtime.idle(graceMs);
        this.#dispose(runtime);
      }
    }));
    await this.#watchdog?.stop();
  }

  async #present(event: Extract<BundleEvent, { kind: 'present' }>): Promise<void> {
    if (this.#stopping) return;
    const parsed = parseBundleName(event.fileName, event.isDirectory);
    if (parsed.kind === 'ignored') return;
    if (parsed.kind === 'invalid') {
      if (!this.#warned.has(event.fileName)) {
        this.#warned.add(event.fileName);
        this.#o.logger.warn({ source: event.fileName, reason: parsed.reason }, 'not a bundle, skipped');
      }
      return;
    }
    const bundle = parsed.bundle;
    const print = await fingerprint(event.path).catch(() => null);
    if (print === null) return; // vanished meanwhile: a 'gone' event follows
    const existing = this.#bundles.get(event.fileName);
    if (existing !== undefined) {
      if (existing.fingerprint === print) return;
      existing.fingerprint = print;
      this.#liftQuarantine(existing);
      await this.#load(existing, existing.version.runtime === null ? 'deploy' : 'redeploy');
      return;
    }
    const app = this.#o.registry.app(bundle.name);
    const clash = app?.find(bundle.version ?? '');
    if (clash !== undefined) {
      this.#o.logger.error({ app: bundle.name, version: bundle.version ?? '(unversioned)', source: event.fileName, deployedFrom: clash.source }, 'version already deployed from another bundle, skipped');
      return;
    }
    const version = this.#o.registry.add(bundle.name, bundle.contextPath, bundle.version, event.fileName);
    const record: BundleRecord = { bundle, path: event.path, fingerprint: print, version, prepared: null, breaks: [] };
    this.#bundles.set(event.fileName, record);
    if (this.#quarantine?.holds(event.fileName, print) === true) {
      this.#quarantined(record, this.#quarantine.file);
      return;
    }
    this.#liftQuarantine(record);
    await this.#load(record, 'deploy');
  }

  /** Shows a bundle that crashed the host as failed and does not load it. */
  #quarantined(record: BundleRecord, file: string): void {
    const { version, bundle } = record;
    version.quarantined = true;
    version.error = quarantineReason(bundle.fileName, file);
    this.#o.registry.setStatus(version, 'failed');
    versionLogger(this.#o.logger, bundle.name, version.label).error({ source: bundle.fileName, quarantineFile: file, err: version.error }, 'version quarantined, not loaded');
    this.#o.activity.record('failed', bundle.name, version.label, version.error);
  }

  /** The bundle's files are not the ones that crashed the host (any more): load it again. */
  #liftQuarantine(record: BundleRecord): void {
    const quarantine = this.#quarantine;
    if (quarantine === null || !quarantine.has(record.bundle.fileName) || quarantine.holds(record.bundle.fileName, record.fingerprint)) return;
    quarantine.clear(record.bundle.fileName);
    record.version.quarantined = false;
    versionLogger(this.#o.logger, record.bundle.name, record.version.label).info({ source: record.bundle.fileName }, 'quarantine lifted, files changed');
  }

  /** Loads a fresh copy of the bundle beside whatever serves now; swaps only once it is ready. */
  async #load(record: BundleRecord, kind: 'deploy' | 'redeploy'): Promise<void> {
    const { version, bundle } = record;
    const log = versionLogger(this.#o.logger, bundle.name, version.label);
    const started = performance.now();
    let prepared: PreparedBundle | undefined;
    let runtime: AppIsolate;
    try {
      prepared = await prepareBundle(bundle, record.path, {
        workDir: this.#o.workDir,
        onAssetSkipped: (relPath, reason) => log.warn({ asset: relPath, reason }, 'asset skipped'),
      });
      runtime = await this.#start(record, prepared);
    } catch (err) {
      if (prepared !== undefined) await releaseBundle(prepared);
      const ms = Math.round(performance.now() - started);
      const code = err instanceof TandemError ? err.code : undefined;
      version.error = describeError(err);
      if (version.runtime === null) this.#o.registry.setStatus(version, 'failed');
      const what = version.runtime === null ? 'version failed' : 'redeploy failed, previous copy keeps serving';
      log.error({ source: bundle.fileName, ms, code, err: version.error }, what);
      this.#o.activity.record('failed', bundle.name, version.label, version.runtime === null ? version.error : `${what}: ${version.error}`);
      return;
    }
    const previous = version.runtime;
    const previousPrepared = record.prepared;
    version.runtime = runtime;
    version.assets = prepared.assets;
    version.sessionTimeoutMinutes = prepared.sessionTimeoutMinutes;
    version.loadedAt = Date.now();
    version.error = null;
    version.quarantined = false;
    // Loaded and serving (an operator's redeploy of a quarantined version, say): the next start must not refuse it.
    this.#quarantine?.clear(bundle.fileName);
    record.prepared = prepared;
    record.breaks = [];
    this.#o.registry.setStatus(version, 'ready');
    const ms = Math.round(performance.now() - started);
    log.info({ source: bundle.fileName, ms }, kind === 'deploy' ? 'version deployed' : 'version redeployed');
    this.#o.activity.record(kind === 'deploy' ? 'deployed' : 'redeployed', bundle.name, version.label, `from ${bundle.fileName} in ${ms} ms`);
    if (previous !== null) this.#retire(previous, previousPrepared, log);
  }

  /** `offThread`: the fresh isolate of a version that ran past the CPU limit starts off the main thread. */
  #start(record: BundleRecord, prepared: PreparedBundle, offThread = false): Promise<AppIsolate> {
    const { version, bundle } = record;
    const log = versionLogger(this.#o.logger, bundle.name, version.label);
    // The files this copy is loaded from. During a redeploy the old copy serves (and drains) beside
    // the new one: a crash of either must quarantine the files that copy came from, not the newest.
    const fingerprint = record.fingerprint;
    // Each copy its own watch slot, watched until it is disposed, draining included.
    const mark = this.#watchdog?.watch({ app: bundle.name, version: version.label, source: bundle.fileName, fingerprint, timeoutMs: this.#o.cpuLimitMs }) ?? null;
    return AppIsolate.load({
      app: bundle.name,
      version: version.label,
      entryFile: prepared.entryFile,
      rootDir: prepared.rootDir,
      env: { app: bundle.name, version: version.label, contextPath: bundle.contextPath, vars: prepared.vars },
      memoryLimitMb: prepared.memoryLimitMb ?? this.#o.memoryLimitMb,
      cpuLimitMs: this.#o.cpuLimitMs,
      offThreadAfterMs: this.#o.offThreadAfterMs,
      startOffThread: offThread,
      loadTimeoutMs: this.#o.readyTimeoutMs,
      prelude: this.#o.prelude,
      logger: log,
      outbound: this.#o.outbound,
      newSessionId: () => this.#o.sessions.issueId(bundle.name),
      onBroken: (reason, message, unsent) => {
        this.#unwatch(mark);
        this.#broken(record, reason, message, unsent);
      },
      onCatastrophic: (message) => this.#catastrophic(record, fingerprint, message),
      ...(mark === null ? {} : { entryMark: mark }),
    }).catch((err: unknown) => {
      this.#unwatch(mark);
      throw err;
    });
  }

  #unwatch(mark: EntryMark | null | undefined): void {
    if (mark != null) this.#watchdog?.unwatch(mark);
  }

  /** Frees a copy of a version and stops watching its calls. */
  #dispose(runtime: AppIsolate): void {
    runtime.dispose();
    this.#unwatch(runtime.entryMark);
  }

  /**
   * V8 lost an isolate (isolated-vm's callback, on the main thread): no request may enter it again
   * (isolated-vm: stop serving, then exit), the bundle is quarantined, then the host's hook aborts.
   */
  #catastrophic(record: BundleRecord, fingerprint: string, message: string): void {
    const { version } = record;
    if (version.runtime !== null) {
      version.runtime = null;
      this.#o.registry.setStatus(version, 'failed');
    }
    try {
      this.#quarantine?.add(record.bundle.fileName, fingerprint);
      record.version.quarantined = this.#quarantine !== null;
    } catch (err) {
      this.#o.logger.error({ app: record.bundle.name, version: record.version.label, err }, 'could not write the quarantine record');
    }
    this.#o.onCatastrophic(record.version, message);
  }

  /** Lets a replaced or removed copy finish its in-flight requests (bounded), then frees it. */
  #retire(runtime: AppIsolate | null, prepared: PreparedBundle | null, log: Logger): void {
    const retiring = (async () => {
      if (runtime !== null) {
        const drained = await runtime.idle(this.#o.drainTimeoutMs);
        if (!drained) log.warn({ inFlight: runtime.inFlight, drainTimeoutMs: this.#o.drainTimeoutMs }, 'drain timeout, unfinished requests cut off');
        this.#dispose(runtime);
      }
      if (prepared !== null) await releaseBundle(prepared);
    })().catch((err: unknown) => log.error({ err }, 'retiring a copy failed'));
    this.#retiring.add(retiring);
    void retiring.then(() => this.#retiring.delete(retiring));
  }

  /**
   * An isolate hit its CPU or memory limit: start a fresh one; three times in a minute → failed.
   * Requests that were still waiting to enter the broken one go to the fresh one.
   */
  #broken(record: BundleRecord, reason: BrokenReason, message: string, unsent: readonly UnsentRequest[]): void {
    const { version, bundle } = record;
    const log = versionLogger(this.#o.logger, bundle.name, version.label);
    const now = Date.now();
    record.breaks = [...record.breaks.filter((t) => now - t < breakWindowMs), now];
    log.error({ reason, err: message, breaks: record.breaks.length, unsent: unsent.length }, 'isolate limit hit');
    this.#o.activity.record('limit', bundle.name, version.label, message);
    version.runtime = null;
    const prepared = record.prepared;
    const failUnsent = (): void => {
      for (const { sink } of unsent) sink.fail('isolate-gone', `the version's isolate broke (${message}) before the request reached it`);
    };
    if (prepared === null || this.#stopping) return failUnsent();
    if (reason === 'memory-limit' && record.breaks.length >= maxBreaks) {
      version.error = `${message} (${maxBreaks} times within ${breakWindowMs / 1000} s)`;
      this.#o.registry.setStatus(version, 'failed');
      log.error({ err: version.error }, 'version failed');
      return failUnsent();
    }
    const reloading = this.#start(record, prepared, reason === 'cpu-limit').then(
      (runtime) => {
        if (version.status === 'stopped') {
          this.#dispose(runtime);
          return null;
        }
        version.runtime = runtime;
        log.info({ reason }, 'isolate recycled');
        return runtime;
      },
      (err: unknown) => {
        version.error = describeError(err);
        this.#o.registry.setStatus(version, 'failed');
        log.error({ err: version.error }, 'version failed');
        return null;
      },
    );
    version.reloading = reloading;
    void reloading.then((runtime) => {
      if (version.reloading === reloading) version.reloading = null;
      if (runtime === null) return failUnsent();
      for (const { request, sink } of unsent) sink.attach(runtime, runtime.handle(request, sink));
    });
  }

  /** The bundle is gone: stop routing to it at once, hand its sessions on, drain, dispose. */
  async #gone(fileName: string): Promise<void> {
    this.#warned.delete(fileName);
    const record = this.#bundles.get(fileName);
    if (record === undefined) return;
    this.#bundles.delete(fileName);
    const { version, bundle } = record;
    const log = versionLogger(this.#o.logger, bundle.name, version.label);
    const started = performance.now();
    this.#o.registry.setStatus(version, 'stopped');
    const heir = version.app.newSessionTarget ?? version.app.highestServing;
    if (heir !== undefined) {
      try {
        await this.#o.sessions.adoptAll(bundle.name, version.key, heir.key);
      } catch (err) {
        // Not fatal: each session is adopted on its next request instead.
        log.warn({ err }, 'eager session adoption failed');
      }
    }
    this.#o.registry.remove(version);
    log.info({ source: fileName, ms: Math.round(performance.now() - started), heir: heir?.label }, 'version undeployed');
    this.#o.activity.record('undeployed', bundle.name, version.label, heir === undefined ? 'no version left to adopt its sessions' : `sessions handed to ${heir.label}`);
    const runtime = version.runtime;
    version.runtime = null;
    this.#retire(runtime, record.prepared, log);
  }
}
