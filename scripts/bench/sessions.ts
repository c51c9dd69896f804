// npm run bench:sessions — what sessions cost:
//   memory per session (heap and RSS delta for 100,000 sessions with three small keys);
//   the embedded store's journal: one flush of a batch, an fdatasync, a compaction of 100,000 sessions;
//   passivation: writing a session out (the main thread's part, and the writer thread's: the file, synced), reloading it on its next request;
//   session-routed requests/s through a real host with 1 and with 100,000 live sessions (and
//   100,000 in Redis when redis-server is installed)
//   (autocannon in a separate process, so the load generator does not share the host's CPU).
// Run with --expose-gc (the npm script does) for meaningful memory numbers.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './http-probe.ts';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { resolveConfig } from '../../src/config.ts';
import { startHost } from '../../src/host.ts';
import { createLogger } from '../../src/log.ts';
import { MemorySessionStore } from '../../src/sessions/memory-store.ts';
import { newSessionId } from '../../src/sessions/session-id.ts';
import type { SessionRecord } from '../../src/sessions/store.ts';

const liveSessions = 100_000;
const silent = createLogger('warn', new Writable({ write: (_c, _e, done) => done() }));

const app = `
export default {
  async fetch(request, env, ctx) {
    const session = ctx.session;
    if (session === null) return new Response('no session', { status: 400 });
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return new Response('n=' + n);
  }
};`;

function sessionRecord(app: string, version: string, i: number): SessionRecord {
  const now = Date.now();
  return { id: newSessionId(), app, version, createdAt: now, lastAccessAt: now, data: new Map([['user', JSON.stringify(`user-${i}`)], ['n', String(i)], ['cart', '[1,2,3]']]) };
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) return;
  for (let i = 0; i < 3; i++) collect();
}

function memoryPerSession(): { heapBytes: number; rssBytes: number } {
  gc();
  const before = process.memoryUsage();
  const store = new MemorySessionStore();
  for (let i = 0; i < liveSessions; i++) store.create(sessionRecord('bench', '1', i));
  gc();
  const after = process.memoryUsage();
  if (store.size !== liveSessions) throw new Error('sessions missing');
  return { heapBytes: Math.round((after.heapUsed - before.heapUsed) / liveSessions), rssBytes: Math.round((after.rss - before.rss) / liveSessions) };
}

function journalCosts(dir: string): Record<string, number> {
  const store = new MemorySessionStore({ dir: path.join(dir, 'journal'), logger: silent, flushEveryMs: 3_600_000, compactMinBytes: 1 << 40 });
  const records: SessionRecord[] = [];
  for (let i = 0; i < liveSessions; i++) {
    const r = sessionRecord('bench', '1', i);
    store.create(r);
    records.push(r);
  }
  const createFlush = store.flush();
  // A busy 200 ms: 10,000 requests each changing one key and touching their session.
  const started = performance.now();
  for (let i = 0; i < 10_000; i++) {
    const r = records[i * 7]!;
    r.lastAccessAt = Date.now();
    store.touch(r);
    store.update(r, { set: ['n', String(i)], del: [] });
  }
  const queueMs = performance.now() - started;
  const batch = store.flush();
  const fd = openSync(path.join(dir, 'sync-probe'), 'a');
  writeSync(fd, Buffer.alloc(batch.bytes, 97));
  const syncStarted = performance.now();
  fdatasyncSync(fd);
  const syncMs = performance.now() - syncStarted;
  closeSync(fd);
  const compacted = store.compact();
  store.close();
  const openStarted = performance.now();
  const reopened = new MemorySessionStore({ dir: path.join(dir, 'journal'), logger: silent, flushEveryMs: 3_600_000 });
  const openMs = performance.now() - openStarted;
  if (reopened.size !== liveSessions) throw new Error(`reopened ${reopened.size} sessions`);
  reopened.close();
  return {
    flush100kCreatesMs: round(createFlush.ms),
    flush100kCreatesMB: round(createFlush.bytes / 1e6),
    queue10kChangesUsPerChange: round((queueMs * 1000) / 10_000),
    flush10kChangesMs: round(batch.ms),
    flush10kChangesKB: round(batch.bytes / 1e3),
    fdatasyncOfThatBatchMs: round(syncMs),
    compact100kMs: round(compacted.ms),
    snapshot100kMB: round(compacted.bytes / 1e6),
    startWith100kMs: round(openMs),
  };
}

function passivationCosts(dir: string): Record<string, number> {
  const store = new MemorySessionStore({ dir: path.join(dir, 'passive'), logger: silent, maxActive: 1_000, flushEveryMs: 3_600_000 });
  const ids: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const r = sessionRecord('bench', '1', i);
    store.create(r);
    ids.push(r.id);
  }
  // 19,000 over the limit go to disk, a time-boxed batch per flush.
  let passivateMs = 0;
  let longestFlushMs = 0;
  let flushes = 0;
  // The main thread's part is timed; the writer thread's (the files, synced) is waited for between
  // flushes, as the flush timer's 200 ms would: a flush passivates only once the batch before is on disk.
  let writerMs = 0;
  while (store.activeCount > 1_000) {
    const started = performance.now();
    store.flush();
    const ms = performance.now() - started;
    passivateMs += ms;
    longestFlushMs = Math.max(longestFlushMs, ms);
    flushes++;
    const drained = performance.now();
    store.drain();
    writerMs += performance.now() - drained;
  }
  const passivated = store.passiveCount;
  const idleStarted = performance.now();
  store.flush(); // nothing over the limit: the cost of a quiet tick
  const idleTick = performance.now() - idleStarted;
  const reloadIds = ids.slice(0, 5_000);
  const reloadStarted = performance.now();
  for (const id of reloadIds) if (store.get(id) === undefined) throw new Error('lost a passivated session');
  const reloadMs = performance.now() - reloadStarted;
  store.close();
  return {
    passivated,
    reloadUsPerSession: round((reloadMs * 1000) / reloadIds.length),
    passivateUsPerSession: round((passivateMs * 1000) / passivated),
    writerUsPerSession: round((writerMs * 1000) / passivated),
    flushesToPassivate19k: flushes,
    longestFlushMs: round(longestFlushMs),
    idleTickMs: round(idleTick),
  };
}

interface BenchHost {
  readonly sessions: number;
  readonly store: string;
  readonly url: string;
  readonly cookies: readonly string[];
  stop(): Promise<void>;
}

async function benchHost(dir: string, sessions: number, sessionStore = 'memory'): Promise<BenchHost> {
  const name = `${sessions}-${sessionStore === 'memory' ? 'memory' : 'redis'}`;
  const webapps = path.join(dir, `webapps-${name}`);
  const config = resolveConfig({ webappsDir: webapps, stateDir: path.join(dir, `state-${name}`), port: 0, adminPort: 0, logLevel: 'warn', sessionStore });
  mkdirSync(webapps, { recursive: true });
  writeFileSync(path.join(webapps, 'bench##1.mjs'), app);
  const host = await startHost(config, silent);
  const ids: string[] = [];
  for (let i = 0; i < sessions; i += 1_000) {
    const batch: unknown[] = [];
    for (let j = i; j < Math.min(sessions, i + 1_000); j++) {
      const r = sessionRecord('bench', '1', j);
      batch.push(host.sessions.store.create(r, 3_600_000));
      ids.push(r.id);
    }
    await Promise.all(batch);
  }
  // Requests spread over up to 10,000 distinct sessions, so lookups are not one hot entry.
  return { sessions, store: sessionStore === 'memory' ? 'memory' : 'redis', url: `http://127.0.0.1:${host.port}/bench/`, cookies: ids.slice(0, 10_000), stop: () => host.stop() };
}

/** Alternates the hosts round by round (the machine's other load drifts), reports each host's median round. */
async function requestsPerSecond(hosts: readonly BenchHost[], rounds: number): Promise<Record<string, number | string>[]> {
  const results = hosts.map(() => [] as LoadResult[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, h] of hosts.entries()) {
      const result = await runLoad({ url: h.url, cookies: h.cookies, seconds: 4, connections: 50 });
      if (result.non2xx > 0) throw new Error(`${result.non2xx} requests failed`);
      results[i]!.push(result);
    }
  }
  return hosts.map((h, i) => {
    const sorted = results[i]!.sort((x, y) => x.rps - y.rps);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return { store: h.store, liveSessions: h.sessions, requestsPerSecond: Math.round(median.rps), p50Ms: median.p50, p99Ms: median.p99, rounds: sorted.length, minRps: Math.round(sorted[0]!.rps), maxRps: Math.round(sorted.at(-1)!.rps) };
  });
}

interface LoadSpec {
  readonly url: string;
  readonly cookies: readonly string[];
  readonly seconds: number;
  readonly connections: number;
}

interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
}

/** Runs autocannon in a child process (this file with --load) and returns its summary. */
function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, '--load'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load generator exited ${code}`))));
    child.stdin.end(JSON.stringify(spec));
  });
}

async function load(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const spec = JSON.parse(input) as LoadSpec;
  const autocannon = createRequire(import.meta.url)('autocannon');
  let next = 0;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    requests: [{ setupRequest: (req: { headers?: Record<string, string> }) => ({ ...req, headers: { ...req.headers, cookie: `TANDEMSID=${spec.cookies[next++ % spec.cookies.length]}` } }) }],
  });
  const summary: LoadResult = { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
  process.stdout.write(JSON.stringify(summary));
}

/** A private redis-server on a free port, or null (and a note) when redis-server is not installed. */
async function startRedis(): Promise<{ url: string; child: ChildProcess } | null> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const ready = await new Promise<boolean>((resolve) => {
    let out = '';
    child.once('error', () => resolve(false));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve(true);
    });
  });
  if (!ready) {
    process.stderr.write('note: redis-server not found, skipping the Redis store\n');
    return null;
  }
  child.stdout.resume();
  return { url: `redis://127.0.0.1:${port}`, child };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<void> {
  if ((globalThis as { gc?: unknown }).gc === undefined) process.stderr.write('note: run with --expose-gc for exact memory numbers\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-bench-sessions-'));
  try {
    const memory = memoryPerSession();
    const journal = journalCosts(dir);
    const passivation = passivationCosts(dir);
    const redis = await startRedis();
    const hosts = [await benchHost(dir, 1), await benchHost(dir, liveSessions)];
    let routed;
    try {
      if (redis !== null) hosts.push(await benchHost(dir, liveSessions, redis.url));
      routed = await requestsPerSecond(hosts, 3);
    } finally {
      for (const h of hosts) await h.stop();
      redis?.child.kill('SIGKILL');
    }
    const report = { memoryPerSession: memory, journal, passivation, routed, cpus: availableParallelism(), loadAverage: loadavg()[0] };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--load') await load();
else await main();
