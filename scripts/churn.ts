// npm run bench:churn — proof under load: a host (its own process, started through the CLI) serves two
// apps to autocannon connections that carry session cookies spread over many sessions, while versions
// are deployed, redeployed (a file changes) and undeployed (the version holding the sessions goes away,
// they are adopted). Reports requests, non-2xx, socket errors, sessions before/after with each
// session's counter checked for continuity, and deploy latency (rename into webapps → first response).
// test/lifecycle/churn.test.ts runs a smaller version of the same.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
// @ts-expect-error autocannon ships no type declarations (and @types/autocannon is not installed).
import autocannonUntyped from 'autocannon';
import { percentile } from './bench/contender.ts';

export interface ChurnOptions {
  readonly connections: number;
  readonly cycles: number;
  readonly sessionsPerApp: number;
}

export interface ChurnReport {
  readonly requests: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly timeouts: number;
  readonly sessionsBefore: number;
  readonly sessionsAfter: number;
  readonly lostSessions: number;
  readonly deployLatencyMs: { readonly p50: number; readonly p95: number; readonly samples: number[] };
  readonly cycles: number;
}

/** The part of autocannon's API used here. */
interface LoadResult {
  readonly requests: { readonly total: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}
interface LoadRun {
  once(event: 'done', listener: (result: LoadResult) => void): LoadRun;
  once(event: 'error', listener: (err: Error) => void): LoadRun;
  stop(): void;
}
const autocannon = autocannonUntyped as (options: Record<string, unknown>) => LoadRun;

const apps = ['alpha', 'beta'] as const;
const cli = path.join(import.meta.dirname, '..', 'src', 'cli.ts');
const cookieName = 'TANDEMSID';

const churnApp = (version: string, generation: number): string => `
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname.endsWith('/probe')) return Response.json({ version: ${JSON.stringify(version)}, generation: ${generation} });
    const session = ctx.createSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ version: ${JSON.stringify(version)}, n });
  },
};`;

interface SessionTally {
  readonly app: string;
  readonly id: string;
  sent: number;
  ok: number;
}

export async function runChurn(options: ChurnOptions, log: (line: string) => void = () => {}): Promise<ChurnReport> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-churn-'));
  const webapps = path.join(dir, 'webapps');
  const staging = path.join(dir, 'staging');
  await mkdir(webapps, { recursive: true });
  await mkdir(staging, { recursive: true });
  const versionOf = (cycle: number): string => `1.0.${cycle}`;
  const place = async (app: string, version: string, generation: number): Promise<void> => {
    const tmp = path.join(staging, `${app}-${version}-${generation}`);
    await mkdir(tmp, { recursive: true });
    await writeFile(path.join(tmp, 'index.mjs'), churnApp(version, generation));
    await rename(tmp, path.join(webapps, `${app}##${version}`));
  };
  for (const app of apps) await place(app, versionOf(0), 0);

  const host = spawn(process.execPath, ['--no-node-snapshot', cli, '--no-supervisor', '--webapps', webapps, '--state-dir', path.join(dir, 'state'), '--port', '0', '--admin-port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    host.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"listening"')) continue;
        const parsed = JSON.parse(line) as { msg?: string; port?: number };
        if (parsed.msg === 'listening' && typeof parsed.port === 'number') resolve(parsed.port);
      }
    });
    host.once('exit', (code) => reject(new Error(`host exited with ${code} before listening`)));
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    // The sessions the load carries: created up front, and never two requests of one session in
    // flight at once, so each counter must end at exactly the number of requests it was sent.
    // (autocannon starts a request's context afresh for every request, so sessions cannot be pinned
    // to connections through it: the harness hands out whichever session is not in flight.)
    const tallies: SessionTally[] = [];
    for (const app of apps) {
      for (let i = 0; i < options.sessionsPerApp; i++) {
        const res = await fetch(`${base}/${app}/`);
        const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${cookieName}=`));
        await res.text();
        if (cookie === undefined) throw new Error('the churn app did not set a session cookie');
        tallies.push({ app, id: cookie.slice(cookieName.length + 1).split(';')[0]!, sent: 1, ok: 1 });
      }
    }
    if (tallies.length <= options.connections) throw new Error(`churn: ${tallies.length} sessions cannot keep ${options.connections} connections busy one request per session at a time`);
    const inFlight = new Set<SessionTally>();
    let next = 0;
    interface Ctx { current?: SessionTally }
    const load = autocannon({
      url: base,
      connections: options.connections,
      duration: 3600,
      requests: [{
        setupRequest: (req: Record<string, unknown>, context: Ctx) => {
          // A request that got no answer (a socket error) never leaves inFlight: after one full scan,
          // take the next session anyway instead of spinning forever; its counter then shows it.
          let s = tallies[next++ % tallies.length]!;
          for (let scanned = 1; inFlight.has(s) && scanned < tallies.length; scanned++) s = tallies[next++ % tallies.length]!;
          inFlight.add(s);
          context.current = s;
          s.sent++;
          return { ...req, method: 'GET', path: `/${s.app}/`, headers: { cookie: `${cookieName}=${s.id}` } };
        },
        onResponse: (status: number, _body: string, context: Ctx) => {
          const s = context.current;
          if (s === undefined) return;
          inFlight.delete(s);
          if (status >= 200 && status < 300) s.ok++;
        },
      }],
    });
    const finished = new Promise<LoadResult>((resolve, reject) => load.once('done', resolve).once('error', reject));

    const latencies: number[] = [];
    const current: Record<string, number> = { alpha: 0, beta: 0 };
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      const app = apps[(cycle - 1) % apps.length]!;
      const from = current[app]!;
      const to = cycle;
      // Deploy a new version and time it to its first response.
      const started = performance.now();
      await place(app, versionOf(to), 0);
      await until(async () => (await probe(base, app)).version === versionOf(to), 10_000, `${app} ${versionOf(to)} to answer`);
      latencies.push(performance.now() - started);
      // Redeploy it: one file changes in place.
      const file = path.join(webapps, `${app}##${versionOf(to)}`, 'index.mjs');
      const tmp = path.join(path.dirname(file), '.index.mjs.tmp');
      await writeFile(tmp, churnApp(versionOf(to), 1));
      await rename(tmp, file);
      await until(async () => (await probe(base, app)).generation === 1, 10_000, `${app} ${versionOf(to)} to be redeployed`);
      // Undeploy the version the sessions are on: they are adopted by the new one, data kept.
      await rename(path.join(webapps, `${app}##${versionOf(from)}`), path.join(staging, `gone-${app}-${from}`));
      current[app] = to;
      log(`cycle ${cycle}: ${app} ${versionOf(from)} → ${versionOf(to)}, deploy latency ${Math.round(latencies.at(-1)!)} ms`);
    }
    load.stop();
    const result = await finished;

    let sessionsAfter = 0;
    let lostSessions = 0;
    for (const s of tallies) {
      const res = await fetch(`${base}/${s.app}/`, { headers: { cookie: `${cookieName}=${s.id}` } });
      const fresh = res.headers.getSetCookie().some((c) => c.startsWith(`${cookieName}=`));
      const { n } = (await res.json()) as { n: number };
      // Every request the session was sent and answered counted once; one still in flight when the
      // load stopped may or may not have reached the host.
      if (!fresh && n - 1 >= s.ok && n - 1 <= s.sent) sessionsAfter++;
      else lostSessions++;
    }
    const pct = (p: number): number => Math.round(percentile(latencies, p));
    return {
      requests: result.requests.total,
      non2xx: result.non2xx,
      socketErrors: result.errors,
      timeouts: result.timeouts,
      sessionsBefore: tallies.length,
      sessionsAfter,
      lostSessions,
      deployLatencyMs: { p50: pct(50), p95: pct(95), samples: latencies.map(Math.round) },
      cycles: options.cycles,
    };
  } finally {
    host.kill('SIGTERM');
    await new Promise((resolve) => host.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

async function probe(base: string, app: string): Promise<{ version?: string; generation?: number }> {
  const res = await fetch(`${base}/${app}/probe`);
  return res.ok ? ((await res.json()) as { version: string; generation: number }) : {};
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

if (import.meta.main) {
  const report = await runChurn({ connections: 64, cycles: 20, sessionsPerApp: 256 }, (line) => process.stdout.write(`${line}\n`));
  const { samples, ...latency } = report.deployLatencyMs;
  process.stdout.write(`
churn: ${report.cycles} cycles (deploy + redeploy + undeploy each), 64 connections, 2 apps
  requests        ${report.requests}
  non-2xx         ${report.non2xx}
  socket errors   ${report.socketErrors} (timeouts ${report.timeouts})
  sessions        ${report.sessionsBefore} before, ${report.sessionsAfter} after with continuous counters, ${report.lostSessions} lost
  deploy latency  p50 ${latency.p50} ms, p95 ${latency.p95} ms (folder bundle renamed into webapps → first response; samples ${samples.join(' ')})
`);
  process.exitCode = report.non2xx === 0 && report.socketErrors === 0 && report.lostSessions === 0 ? 0 : 1;
}
