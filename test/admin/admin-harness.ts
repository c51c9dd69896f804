// A TestHost with its admin listener on a free port, and a client for the admin API.
import { TestHost, counterApp } from '../e2e/harness.ts';
import type { AdminSnapshot, AppView, VersionView } from '../../src/admin/snapshot.ts';
import type { Config } from '../../src/config.ts';

export const adminToken = 'test-admin-token-0123456789abcdef';

/** A host whose admin listener is on (any free port) with a known token. */
export async function adminTestHost(options: Partial<Config> = {}): Promise<TestHost> {
  return TestHost.create({ adminToken, ...options });
}

export async function startWithAdmin(h: TestHost): Promise<TestHost> {
  await h.start({ adminListenPort: 0 });
  return h;
}

/** The common scene: a started admin host serving shop##1.0.0 (a counter app), stopped after the test. */
export async function shopHost(t: { after(fn: () => Promise<void>): void }): Promise<TestHost> {
  const h = await adminTestHost();
  t.after(() => h.stop());
  await h.deployFolder('shop##1.0.0', { 'index.mjs': counterApp('1') });
  await startWithAdmin(h);
  await h.waitState('shop', '1.0.0');
  return h;
}

export function adminUrl(h: TestHost): string {
  return `http://127.0.0.1:${h.host.adminPort}`;
}

export interface AdminReply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json<T = unknown>(): T;
}

/** A request to the admin listener with the Bearer token (or `token`, or none when null). */
export async function admin(h: TestHost, pathname: string, init: RequestInit & { token?: string | null } = {}): Promise<AdminReply> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? adminToken : init.token;
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(adminUrl(h) + pathname, { ...init, headers, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

export async function snapshot(h: TestHost): Promise<AdminSnapshot> {
  const reply = await admin(h, '/api/apps');
  if (reply.status !== 200) throw new Error(`GET /api/apps answered ${reply.status}: ${reply.text}`);
  return reply.json<AdminSnapshot>();
}

export function findApp(s: AdminSnapshot, name: string): AppView | undefined {
  return s.apps.find((a) => a.name === name);
}

export function findVersion(s: AdminSnapshot, app: string, version: string | null): VersionView | undefined {
  return findApp(s, app)?.versions.find((v) => v.version === version);
}

export function act(h: TestHost, app: string, version: string, action: string): Promise<AdminReply> {
  return admin(h, `/api/apps/${encodeURIComponent(app)}/versions/${encodeURIComponent(version)}/${action}`, { method: 'POST' });
}
