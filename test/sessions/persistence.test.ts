// Sessions outlive the host process: graceful restart, kill -9, passivation, and session hygiene
// (rotation, idle timeout, max age, ids never logged), through real hosts over HTTP.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, TestHost, counterApp, waitFor } from '../e2e/harness.ts';

interface Counter {
  version: string;
  n: number;
  user?: string;
}

/** The counter app, plus /login which sets a key and rotates the session id. */
function loginApp(label: string): string {
  return `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const session = ctx.createSession();
    if (url.pathname.endsWith('/login')) {
      session.set('user', 'ann');
      session.rotate();
    }
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ label: ${JSON.stringify(label)}, version: env.version, n, user: session.get('user') });
  }
};`;
}

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('persistent sessions', () => {
  it('keeps cookie, data and version across a graceful restart, rotated ids included', async (t) => {
    const stateDir = await tempDir(t, 'tandem-state-');
    const first = await TestHost.create({ stateDir });
    t.after(() => first.stop());
    await first.deployFolder('foo##001', { 'index.mjs': loginApp('001') });
    await first.start();
    await first.waitState('foo', '001');
    const a = new Client(first.url);
    assert.equal((await a.get('/foo/')).json<Counter>().n, 1);
    assert.equal((await a.get('/foo/')).json<Counter>().n, 2);
    const b = new Client(first.url);
    await b.get('/foo/');
    const before = b.cookies.get('TANDEMSID')!;
    assert.deepEqual((await b.get('/foo/login')).json<Counter>(), { label: '001', version: '001', n: 2, user: 'ann' });
    const rotated = b.cookies.get('TANDEMSID')!;
    assert.notEqual(rotated, before, 'rotate() sends a new id');
    await first.stop();

    const second = await TestHost.create({ stateDir });
    t.after(() => second.stop());
    await second.deployFolder('foo##001', { 'index.mjs': loginApp('001') });
    await second.deployFolder('foo##002', { 'index.mjs': loginApp('002') });
    await second.start();
    await second.waitState('foo', '002');
    const a2 = new Client(second.url);
    a2.cookies.set('TANDEMSID', a.cookies.get('TANDEMSID')!);
    assert.deepEqual((await a2.get('/foo/')).json<Counter>(), { label: '001', version: '001', n: 3 }, 'same session, same data, same version');
    const b2 = new Client(second.url);
    b2.cookies.set('TANDEMSID', rotated);
    assert.deepEqual((await b2.get('/foo/')).json<Counter>(), { label: '001', version: '001', n: 3, user: 'ann' });
    const stale = new Client(second.url);
    stale.cookies.set('TANDEMSID', before);
    assert.deepEqual((await stale.get('/foo/')).json<Counter>(), { label: '002', version: '002', n: 1 }, 'the id before rotation no longer works');
    const logText = JSON.stringify([...first.logs, ...second.logs]);
    for (const id of [before, rotated, a.cookies.get('TANDEMSID')!]) assert.ok(!logText.includes(id), 'session ids never appear in logs');
  });

  it('keeps every write completed a second before kill -9', async (t) => {
    const root = await tempDir(t, 'tandem-kill-');
    const webapps = path.join(root, 'webapps');
    const stateDir = path.join(root, 'state');
    await mkdir(path.join(webapps, 'foo##001'), { recursive: true });
    await writeFile(path.join(webapps, 'foo##001', 'index.mjs'), counterApp('001'));
    const host1 = await spawnHost(webapps, stateDir);
    t.after(() => stopChild(host1.child));
    const clients = Array.from({ length: 20 }, () => new Client(host1.url));
    for (let round = 1; round <= 3; round++) {
      await Promise.all(clients.map(async (c) => assert.equal((await c.get('/foo/')).json<Counter>().n, round)));
    }
    await delay(1_100); // the guarantee is about writes older than a second
    host1.child.kill('SIGKILL');
    await once(host1.child, 'exit');

    const host2 = await spawnHost(webapps, stateDir);
    t.after(() => stopChild(host2.child));
    for (const c of clients) {
      const again = new Client(host2.url);
      again.cookies.set('TANDEMSID', c.cookies.get('TANDEMSID')!);
      assert.equal((await again.get('/foo/')).json<Counter>().n, 4);
    }
  });

  it('passivates past --max-active-sessions 100 and serves all 1,000 sessions with their data', async (t) => {
    const h = await TestHost.create({ maxActiveSessions: 100 });
    t.after(() => h.stop());
    await h.deployFolder('foo##001', { 'index.mjs': counterApp('001') });
    await h.start();
    await h.waitState('foo', '001');
    const clients = Array.from({ length: 1000 }, () => new Client(h.url));
    for (let i = 0; i < clients.length; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.get('/foo/')));
    const store = h.host.sessions.store as unknown as { passiveCount: number; activeCount: number };
    await waitFor(() => store.passiveCount >= 900, 5_000, 'sessions to be passivated');
    assert.ok(store.activeCount <= 100);
    assert.deepEqual(Object.fromEntries(await h.host.sessions.countByVersion('foo')), { '001': 1000 });
    for (let i = 0; i < clients.length; i += 50) {
      await Promise.all(clients.slice(i, i + 50).map(async (c) => assert.equal((await c.get('/foo/')).json<Counter>().n, 2)));
    }
  });
});

describe('session lifetime', () => {
  it('expires a session idle longer than --session-timeout, not one in use', async (t) => {
    // 1.5 s; two 900 ms gaps outlast it together (so the clock must restart) with 600 ms of slack each.
    const h = await TestHost.create({ sessionTimeoutMinutes: 0.025 });
    t.after(() => h.stop());
    await h.deployFolder('foo##001', { 'index.mjs': counterApp('001') });
    await h.start();
    await h.waitState('foo', '001');
    const c = new Client(h.url);
    assert.equal((await c.get('/foo/')).json<Counter>().n, 1);
    await delay(900);
    assert.equal((await c.get('/foo/')).json<Counter>().n, 2, 'used within the timeout: alive');
    await delay(900);
    assert.equal((await c.get('/foo/')).json<Counter>().n, 3, 'each use restarts the idle clock');
    await delay(2200); // idle time is what is under test
    assert.equal((await c.get('/foo/')).json<Counter>().n, 1, 'idle past the timeout: a new session');
  });

  it('ends a session at --session-max-age however busy it is', async (t) => {
    const h = await TestHost.create({ sessionMaxAgeMinutes: 0.02 }); // 1.2 s
    t.after(() => h.stop());
    await h.deployFolder('foo##001', { 'index.mjs': counterApp('001') });
    await h.start();
    await h.waitState('foo', '001');
    const c = new Client(h.url);
    const created = Date.now();
    let last = (await c.get('/foo/')).json<Counter>().n;
    assert.equal(last, 1);
    await waitFor(
      async () => {
        const n = (await c.get('/foo/')).json<Counter>().n;
        if (n !== 1) assert.equal(n, last + 1, 'the session lives on until its max age');
        last = n;
        return n === 1;
      },
      5_000,
      'the session to reach its max age',
    );
    assert.ok(Date.now() - created >= 1_200, 'not before the max age');
  });
});

interface SpawnedHost {
  readonly child: ChildProcess;
  readonly url: string;
}

const cli = path.join(import.meta.dirname, '..', '..', 'src', 'cli.ts');

async function spawnHost(webapps: string, stateDir: string): Promise<SpawnedHost> {
  const child = spawn(process.execPath, ['--no-node-snapshot', cli, '--no-supervisor', '--webapps', webapps, '--state-dir', stateDir, '--port', '0', '--admin-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffered.slice(0, nl)) as { msg: string; port?: number };
        buffered = buffered.slice(nl + 1);
        if (line.msg === 'listening') resolve(line.port!);
      }
    });
    child.once('exit', (code) => reject(new Error(`host exited (${code}) before listening`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}
