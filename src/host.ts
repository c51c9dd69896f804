// The composition root: builds the parts, wires them, owns the start and stop order.
// Nothing here is global: a test can run two hosts in one process.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AdminServer } from './admin/server.ts';
import { HostMetrics } from './admin/metrics.ts';
import { ActivityLog } from './apps/activity.ts';
import { Registry, type DeployedVersion } from './apps/registry.ts';
import { randomAdminToken, type Config } from './config.ts';
import { Deployer } from './deploy/deployer.ts';
import { BundleWatcher } from './deploy/watcher.ts';
import { AppServer } from './http/server.ts';
import { Router } from './http/router.ts';
import type { RequestObserver } from './http/response-writer.ts';
import type { Logger } from './log.ts';
import { OutboundFetcher } from './runtime/outbound-fetcher.ts';
import { cachedPrelude } from './runtime/prelude-cache.ts';
import { PreludeScript } from './runtime/prelude-script.ts';
import { SessionManager } from './sessions/manager.ts';
import { createSessionStore } from './sessions/create-store.ts';

export interface Host {
  readonly config: Config;
  /** The port the app listener is bound to (useful when config.port is 0). */
  readonly port: number;
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly deployer: Deployer;
  readonly activity: ActivityLog;
  /** The port the admin listener is bound to; null when it is off (config.adminPort 0). */
  readonly adminPort: number | null;
  /** The admin token (config.adminToken or the random one logged at start); null when the admin listener is off. */
  readonly adminToken: string | null;
  stop(): Promise<void>;
}

export interface HostHooks {
  /** V8 lost control of an isolate; the default logs and aborts the process (see cli.ts). */
  readonly onCatastrophic?: (version: DeployedVersion, message: string) => void;
  /** Overrides config.adminPort, 0 = any free port (tests: config.adminPort 0 means off). */
  readonly adminListenPort?: number;
  /** Log the admin token even though it was configured (the supervisor made it for every restart). */
  readonly announceAdminToken?: boolean;
}

const preludeEntry = path.join(import.meta.dirname, 'runtime', 'prelude', 'index.js');

export async function startHost(config: Config, logger: Logger, hooks: HostHooks = {}): Promise<Host> {
  const workDir = path.join(config.stateDir, 'work');
  await mkdir(config.webappsDir, { recursive: true });
  await mkdir(workDir, { recursive: true });

  const prelude = new PreludeScript(cachedPrelude(preludeEntry, path.join(config.stateDir, 'cache')));
  const registry = new Registry(logger);
  const activity = new ActivityLog();
  registry.onChange((event) => {
    if (event.kind === 'state') activity.record('state', event.version.app.name, event.version.label, `${event.from} → ${event.to}`);
  });
  const sessionTimeoutMs = config.sessionTimeoutMinutes * 60_000;
  const sessions = new SessionManager({
    store: await createSessionStore(config, logger),
    logger,
    activity,
    idleMsFor: (app) => {
      const minutes = registry.app(app)?.newSessionTarget?.sessionTimeoutMinutes;
      return minutes === undefined ? sessionTimeoutMs : minutes * 60_000;
    },
    maxAgeMs: config.sessionMaxAgeMinutes * 60_000,
    sweepEveryMs: Math.min(60_000, Math.max(1_000, sessionTimeoutMs / 4)),
  });
  const outbound = config.outboundFetch ? new OutboundFetcher({ timeoutMs: config.fetchTimeoutMs, maxResponseBytes: config.maxBodyBytes }) : null;
  const deployer = new Deployer({
    registry,
    sessions,
    logger,
    activity,
    prelude,
    outbound,
    webappsDir: config.webappsDir,
    workDir,
    retiredDir: path.join(config.stateDir, 'retired'),
    memoryLimitMb: config.memoryLimitMb,
    cpuLimitMs: config.cpuLimitMs,
    offThreadAfterMs: config.offThreadAfterMs,
    readyTimeoutMs: config.readyTimeoutMs,
    drainTimeoutMs: config.drainTimeoutMs,
    quarantineFile: path.join(config.stateDir, 'quarantine.json'),
    undeployOldVersions: config.undeployOldVersions,
    onCatastrophic: hooks.onCatastrophic ?? ((version, message) => {
      logger.fatal({ app: version.app.name, version: version.label, err: message }, 'isolate lost control, host must restart');
    }),
  });
  // Before the first deploy, so the deploy counters see it.
  const metrics = new HostMetrics({ registry, sessions, activity });
  const watcher = new BundleWatcher({
    dir: config.webappsDir,
    settleMs: config.settleMs,
    logger,
    onEvent: (event) => void deployer.handle(event),
  });

  const observer: RequestObserver = {
    requestDone: (version, status, ms) => {
      version.recordRequest(ms, status >= 500);
      metrics.requestDone(version, status, ms);
    },
  };
  const router = new Router({
    registry,
    sessions,
    logger,
    observer,
    maxBodyBytes: config.maxBodyBytes,
    assetCacheControl: config.assetCacheControl,
    fallbackHost: `${config.host}:${config.port}`,
  });
  const server = new AppServer({ host: config.host, port: config.port, router, logger });
  const adminListenPort = hooks.adminListenPort ?? (config.adminPort === 0 ? null : config.adminPort);
  const adminToken = adminListenPort === null ? null : (config.adminToken ?? randomAdminToken());
  const admin = adminToken === null ? null : new AdminServer({ host: config.adminHost, port: adminListenPort!, token: adminToken, registry, sessions, deployer, activity, metrics, logger });

  /** Releases every part; each tolerates not having been started, so a failed start-up uses it too. */
  const stopAll = async (graceMs: number): Promise<void> => {
    await admin?.close();
    metrics.close();
    await watcher.stop();
    await server.close(graceMs);
    await deployer.stop(graceMs);
    await sessions.stop();
    prelude.release();
  };

  let port: number;
  let adminPort: number | null;
  try {
    sessions.start();
    const present = await watcher.start();
    await Promise.all(present.map((event) => deployer.handle(event)));
    port = await server.listen();
    logger.info({ port, host: config.host, webapps: config.webappsDir }, 'listening');
    adminPort = admin === null ? null : await admin.listen();
  } catch (err) {
    // E.g. a port is taken: release everything started so far, then report.
    await stopAll(0);
    throw err;
  }
  if (admin !== null) {
    const url = `http://${config.adminHost.includes(':') ? `[${config.adminHost}]` : config.adminHost}:${adminPort}/`;
    if (config.adminToken === undefined || hooks.announceAdminToken === true) logger.info({ token: adminToken, url }, 'admin token');
    else logger.info({ url }, 'admin listening');
  }

  let stopping: Promise<void> | null = null;
  return {
    config,
    port,
    registry,
    sessions,
    deployer,
    activity,
    adminPort,
    adminToken,
    stop: () =>
      (stopping ??= (async () => {
        await stopAll(config.shutdownTimeoutMs);
        logger.info('stopped');
      })()),
  };
}
