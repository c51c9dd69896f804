// Everything the admin page shows, as one JSON-ready value: apps, versions with their live numbers,
// recent activity, retired bundles. GET /api/apps returns it; the event stream pushes it.
import type { Activity, ActivityLog } from '../apps/activity.ts';
import type { DeployedVersion, Registry, VersionState } from '../apps/registry.ts';
import type { Deployer } from '../deploy/deployer.ts';
import type { SessionManager } from '../sessions/manager.ts';

export interface VersionView {
  /** null for a version-less deployment (its path segment in the API is `_`). */
  readonly version: string | null;
  readonly label: string;
  readonly state: VersionState;
  readonly disabled: boolean;
  /** This version takes the app's new sessions. */
  readonly newSessions: boolean;
  readonly sessions: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly heapUsedBytes: number | null;
  readonly heapLimitBytes: number | null;
  /** Where its calls run: 'pool' after one held the main thread too long (runtime/thread-choice.ts); null when not loaded. */
  readonly thread: 'main' | 'pool' | null;
  /** Epoch ms. */
  readonly loadedAt: number | null;
  readonly source: string;
  readonly error: string | null;
  readonly quarantined: boolean;
}

export interface AppView {
  readonly name: string;
  readonly contextPath: string;
  /** Label of the version taking new sessions, null when none does. */
  readonly newSessionTarget: string | null;
  /** Highest first. */
  readonly versions: readonly VersionView[];
}

export interface AdminSnapshot {
  readonly at: number;
  readonly apps: readonly AppView[];
  /** Bundle file names in the retired folder, newest first. */
  readonly retired: readonly string[];
  /** Most recent last. */
  readonly events: readonly Activity[];
}

export interface SnapshotSources {
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly deployer: Deployer;
  readonly activity: ActivityLog;
}

export async function takeSnapshot(s: SnapshotSources): Promise<AdminSnapshot> {
  const apps: AppView[] = [];
  for (const app of [...s.registry.apps].sort((a, b) => a.name.localeCompare(b.name))) {
    const counts = await s.sessions.countByVersion(app.name);
    apps.push({
      name: app.name,
      contextPath: app.contextPath,
      newSessionTarget: app.newSessionTarget?.label ?? null,
      versions: app.versions.map((v) => versionView(v, counts.get(v.key) ?? 0)),
    });
  }
  return { at: Date.now(), apps, retired: await s.deployer.retired(), events: s.activity.recent() };
}

function versionView(v: DeployedVersion, sessions: number): VersionView {
  const heap = v.runtime?.heap() ?? null;
  const [p50Ms, p99Ms] = percentiles(v, 0.5, 0.99);
  return {
    version: v.version,
    label: v.label,
    state: v.state,
    disabled: v.disabled,
    newSessions: v.app.newSessionTarget === v,
    sessions,
    requests: v.stats.requests,
    errors: v.stats.errors,
    p50Ms,
    p99Ms,
    heapUsedBytes: heap?.usedBytes ?? null,
    heapLimitBytes: heap?.limitBytes ?? null,
    thread: v.runtime?.thread ?? null,
    loadedAt: v.loadedAt,
    source: v.source,
    error: v.error,
    quarantined: v.quarantined,
  };
}

/** Nearest-rank percentiles over the version's latency ring (the most recent requests). */
function percentiles(v: DeployedVersion, ...qs: number[]): (number | null)[] {
  const n = v.stats.latencyCount;
  if (n === 0) return qs.map(() => null);
  const sorted = v.stats.latencies.slice(0, n).sort();
  return qs.map((q) => Math.round(sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]! * 100) / 100);
}
