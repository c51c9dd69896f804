// Sessions in Redis: two hosts share them, adoption is seen by both, an outage is a 503 and not a
// lost or silently replaced session. Each test runs its own redis-server on a free port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Client, TestHost, counterApp, waitFor } from '../e2e/harness.ts';
import { RedisServer } from './redis-server.ts';

interface Counter {
  label: string;
  version: string;
  n: number;
}

async function redisFor(t: { after(fn: () => Promise<void>): void }, dir?: string): Promise<RedisServer> {
  const server = await RedisServer.start(dir);
  t.after(() => server.stop());
  return server;
}

async function hostOn(t: { after(fn: () => Promise<void>): void }, redis: RedisServer, bundles: string[], options = {}): Promise<TestHost> {
  const h = await TestHost.create({ sessionStore: redis.url, ...options });
  t.after(() => h.stop());
  for (const b of bundles) await h.deployFolder(`foo##${b}`, { 'index.mjs': counterApp(b) });
  await h.start();
  for (const b of bundles) await h.waitState('foo', b);
  return h;
}

describe('Redis session store', () => {
  it('serves one session through two hosts from the same version with the same data, and both see an adoption', async (t) => {
    const redis = await redisFor(t);
    const a = await hostOn(t, redis, ['001']);
    const b = await hostOn(t, redis, ['001']);
    const viaA = new Client(a.url);
    assert.deepEqual((await viaA.get('/foo/')).json<Counter>(), { label: '001', version: '001', app: 'foo', n: 1 });
    assert.equal((await viaA.get('/foo/')).json<Counter>().n, 2);
    const viaB = new Client(b.url);
    viaB.cookies.set('TANDEMSID', viaA.cookies.get('TANDEMSID')!);
    assert.deepEqual((await viaB.get('/foo/')).json<Counter>(), { label: '001', version: '001', app: 'foo', n: 3 }, 'host B serves the session host A created');

    for (const h of [a, b]) {
      await h.deployFolder('foo##002', { 'index.mjs': counterApp('002') });
      await h.waitState('foo', '002');
    }
    assert.equal((await viaA.get('/foo/')).json<Counter>().version, '001', 'still sticky on A after 002 arrives');
    assert.equal((await viaB.get('/foo/')).json<Counter>().version, '001', 'and on B');
    assert.deepEqual(Object.fromEntries(await b.host.sessions.countByVersion('foo')), { '001': 1 });

    await a.remove('foo##001');
    await a.waitGone('foo', '001');
    await a.waitLog((l) => l.msg === 'sessions adopted', 'the eager adoption on A');
    assert.equal(b.state('foo', '001'), 'draining', 'B still has 001');
    assert.deepEqual((await viaB.get('/foo/')).json<Counter>(), { label: '002', version: '002', app: 'foo', n: 6 }, 'B sees the adoption A made');
    assert.deepEqual(Object.fromEntries(await b.host.sessions.countByVersion('foo')), { '002': 1 });
    assert.equal((await viaA.get('/foo/')).json<Counter>().n, 7);
  });

  it('rotates a session id through one host, and the other host knows only the new id', async (t) => {
    const redis = await redisFor(t);
    const rotating = `
export default {
  async fetch(request, env, ctx) {
    const session = ctx.createSession();
    if (new URL(request.url).pathname.endsWith('/login')) { session.set('user', 'ann'); session.rotate(); }
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ version: env.version, n, user: session.get('user') ?? null });
  }
};`;
    const hosts: TestHost[] = [];
    for (let i = 0; i < 2; i++) {
      const h = await TestHost.create({ sessionStore: redis.url });
      t.after(() => h.stop());
      await h.deployFolder('foo##001', { 'index.mjs': rotating });
      await h.start();
      await h.waitState('foo', '001');
      hosts.push(h);
    }
    const [a, b] = hosts as [TestHost, TestHost];
    const viaA = new Client(a.url);
    await viaA.get('/foo/');
    const before = viaA.cookies.get('TANDEMSID')!;
    assert.deepEqual((await viaA.get('/foo/login')).json(), { version: '001', n: 2, user: 'ann' });
    const after = viaA.cookies.get('TANDEMSID')!;
    assert.notEqual(after, before);
    const viaB = new Client(b.url);
    viaB.cookies.set('TANDEMSID', after);
    assert.deepEqual((await viaB.get('/foo/')).json(), { version: '001', n: 3, user: 'ann' }, 'new id: same data, same version');
    const stale = new Client(b.url);
    stale.cookies.set('TANDEMSID', before);
    assert.deepEqual((await stale.get('/foo/')).json(), { version: '001', n: 1, user: null }, 'the old id no longer works');
    const logText = JSON.stringify([...a.logs, ...b.logs]);
    assert.ok(!logText.includes(before) && !logText.includes(after), 'session ids never appear in logs');
  });

  it('sets the idle timeout as the TTL of each session', async (t) => {
    const redis = await redisFor(t);
    const h = await hostOn(t, redis, ['001'], { sessionTimeoutMinutes: 0.5 });
    const c = new Client(h.url);
    await c.get('/foo/');
    const probe = new Redis(redis.url);
    t.after(() => probe.quit().then(() => undefined));
    const ttl = await probe.pttl(`tandem:s:${c.cookies.get('TANDEMSID')}`);
    assert.ok(ttl > 25_000 && ttl <= 30_000, `TTL ${ttl} ms`);
    assert.equal(await probe.hget(`tandem:s:${c.cookies.get('TANDEMSID')}`, 'd:n'), '1');
  });

  it('answers 503 while Redis does not answer, and serves the same session when it does again', async (t) => {
    const redis = await redisFor(t);
    const h = await hostOn(t, redis, ['001']);
    const c = new Client(h.url);
    assert.equal((await c.get('/foo/')).json<Counter>().n, 1);
    const cookie = c.cookies.get('TANDEMSID');

    redis.pause(); // SIGSTOP: connections stay open, nothing answers
    t.after(() => redis.unpause());
    const during = await c.get('/foo/');
    assert.equal(during.status, 503);
    assert.equal(during.headers.get('retry-after') !== null, true);
    assert.equal(c.cookies.get('TANDEMSID'), cookie, 'no new session is handed out');
    assert.ok(h.logs.some((l) => l.msg === 'session store unavailable' && l.level === 50 && String(l.err && (l.err as { message?: string }).message).includes('Redis')));
    const fresh = new Client(h.url);
    assert.equal((await fresh.get('/foo/')).status, 503, 'a request that would create a session gets 503 too');
    assert.equal(fresh.cookies.size, 0);

    redis.unpause();
    await waitFor(async () => (await c.get('/foo/')).status === 200, 10_000, 'service to resume');
    assert.equal(c.cookies.get('TANDEMSID'), cookie);
    assert.equal((await c.get('/foo/')).json<Counter>().n, 3, 'the session and its data survived the outage');
  });

  it('answers 503 while Redis is stopped, reconnects when it restarts, no session lost', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-redis-'));
    const redis = await redisFor(t, dir); // saves on shutdown, so the restart has the data
    t.after(() => rm(dir, { recursive: true, force: true })); // after hooks run in order: Redis stops first
    const h = await hostOn(t, redis, ['001']);
    const c = new Client(h.url);
    assert.equal((await c.get('/foo/')).json<Counter>().n, 1);

    await redis.stop();
    await h.waitLog((l) => l.msg === 'session store unreachable, requests that need a session get 503 until it is back', 'the outage log line');
    const started = Date.now();
    assert.equal((await c.get('/foo/')).status, 503);
    assert.ok(Date.now() - started < 500, 'fails fast while the connection is down');

    await redis.resume();
    await waitFor(async () => (await c.get('/foo/')).status === 200, 10_000, 'service to resume');
    assert.equal((await c.get('/foo/')).json<Counter>().n, 3);
    assert.ok(h.logs.filter((l) => l.msg === 'session store connected').length >= 2, 'the reconnection is logged');
  });

  it('starts while Redis is down and serves once it is up', async (t) => {
    const redis = await redisFor(t);
    await redis.stop();
    const h = await hostOn(t, redis, ['001']);
    assert.ok(h.logs.some((l) => l.msg === 'session store unreachable, requests that need a session get 503 until it is back'));
    const c = new Client(h.url);
    assert.equal((await c.get('/foo/')).status, 503);
    await redis.resume();
    await waitFor(async () => (await c.get('/foo/')).status === 200, 10_000, 'service to start');
    assert.equal((await c.get('/foo/')).json<Counter>().n, 2);
  });
});
