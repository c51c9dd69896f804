// The one Config type: every option of the host, its default, and its validation.
// cli.ts turns argv/env into a partial Config; resolveConfig() fills defaults and checks ranges.
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface Config {
  /** Folder watched for `name##version` bundles. */
  readonly webappsDir: string;
  /** Where tandem keeps its own files (work/, retired/, sessions/). Default: `.tandem` beside the webapps folder. */
  readonly stateDir: string;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Admin listener; 0 turns it off. */
  readonly adminPort: number;
  readonly adminHost: string;
  /** Bearer token for the admin API; a random one is made (and logged once) when unset. */
  readonly adminToken: string | undefined;
  /** Heap limit of each version's isolate, in MB. */
  readonly memoryLimitMb: number;
  /** CPU (wall-clock slice) budget of one request inside an isolate. */
  readonly cpuLimitMs: number;
  /** A version whose call holds the main thread longer than this runs its calls on a worker thread (until calm again); 0 = never. */
  readonly offThreadAfterMs: number;
  /** Module load + `ready()` must finish within this, or the version is failed. */
  readonly readyTimeoutMs: number;
  /** In-flight requests of an undeployed or replaced version get this long to finish. */
  readonly drainTimeoutMs: number;
  /** On SIGINT/SIGTERM, in-flight requests get this long to finish. */
  readonly shutdownTimeoutMs: number;
  /** A bundle must be quiet (no file events) this long before it deploys. */
  readonly settleMs: number;
  readonly sessionTimeoutMinutes: number;
  /** Absolute lifetime of a session, whatever its activity; 0 = no limit. */
  readonly sessionMaxAgeMinutes: number;
  /** `memory` (embedded, persisted under stateDir/sessions) or `redis://host:port[/db]`. */
  readonly sessionStore: string;
  /** Sessions kept in memory before the least recently used are passivated to disk; 0 = no limit. */
  readonly maxActiveSessions: number;
  readonly maxBodyBytes: number;
  readonly outboundFetch: boolean;
  readonly fetchTimeoutMs: number;
  readonly undeployOldVersions: boolean;
  /** Cache-Control header of static assets served from a bundle's public/ folder. */
  readonly assetCacheControl: string;
  readonly logLevel: string;
}

export const defaults = {
  webappsDir: 'webapps',
  host: '127.0.0.1',
  port: 8080,
  adminPort: 8081,
  adminHost: '127.0.0.1',
  adminToken: undefined,
  memoryLimitMb: 128,
  cpuLimitMs: 1000,
  offThreadAfterMs: 10,
  readyTimeoutMs: 10_000,
  drainTimeoutMs: 30_000,
  shutdownTimeoutMs: 30_000,
  settleMs: 100,
  sessionTimeoutMinutes: 30,
  sessionMaxAgeMinutes: 0,
  sessionStore: 'memory',
  maxActiveSessions: 0,
  maxBodyBytes: 10 * 1024 * 1024,
  outboundFetch: true,
  fetchTimeoutMs: 30_000,
  undeployOldVersions: false,
  assetCacheControl: 'public, max-age=0, must-revalidate',
  logLevel: 'info',
} as const satisfies Omit<Config, 'stateDir'>;

export class ConfigError extends Error {
  readonly code = 'TANDEM_CONFIG';
  constructor(option: string, problem: string) {
    super(`Invalid option ${option}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Fills defaults, resolves paths and validates every field. Throws ConfigError naming the option. */
export function resolveConfig(input: Partial<Config> = {}): Config {
  const merged: Mutable<Config> = { ...defaults, stateDir: '', ...dropUndefined(input) };
  merged.webappsDir = path.resolve(merged.webappsDir);
  merged.stateDir = path.resolve(input.stateDir ?? path.join(path.dirname(merged.webappsDir), '.tandem'));
  checkPort('port', merged.port);
  checkPort('admin-port', merged.adminPort);
  checkPositive('memory-limit', merged.memoryLimitMb, 8);
  checkPositive('cpu-limit', merged.cpuLimitMs, 1);
  checkPositive('off-thread-after', merged.offThreadAfterMs, 0);
  checkPositive('ready-timeout', merged.readyTimeoutMs, 1);
  checkPositive('drain-timeout', merged.drainTimeoutMs, 0);
  checkPositive('shutdown-timeout', merged.shutdownTimeoutMs, 0);
  checkPositive('settle', merged.settleMs, 0);
  checkPositive('session-timeout', merged.sessionTimeoutMinutes, 0.001);
  checkPositive('session-max-age', merged.sessionMaxAgeMinutes, 0);
  checkPositive('max-active-sessions', merged.maxActiveSessions, 0);
  checkPositive('max-body', merged.maxBodyBytes, 0);
  checkPositive('fetch-timeout', merged.fetchTimeoutMs, 1);
  if (merged.sessionStore !== 'memory' && !/^rediss?:\/\/[^/]+(\/\d+)?$/.test(merged.sessionStore)) {
    throw new ConfigError('--session-store', `expected "memory" or redis://host:port[/db], got ${JSON.stringify(merged.sessionStore)}`);
  }
  if (merged.adminToken !== undefined && merged.adminToken.length < 16) {
    throw new ConfigError('TANDEM_ADMIN_TOKEN', 'must be at least 16 characters');
  }
  return Object.freeze(merged);
}

function checkPort(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`--${name}`, `expected a port number 0-65535, got ${value}`);
  }
}

function checkPositive(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) {
    throw new ConfigError(`--${name}`, `expected a number >= ${min}, got ${value}`);
  }
}

function dropUndefined<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A random admin token (256 bits, base64url), for when TANDEM_ADMIN_TOKEN is not set. */
export function randomAdminToken(): string {
  return randomBytes(32).toString('base64url');
}
