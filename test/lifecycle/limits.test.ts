// CPU and memory limits: a runaway request costs a 503 and a fresh isolate for its own version only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Client, TestHost, counterApp } from '../e2e/harness.ts';

const limitedApp = `
export default {
  fetch(request, env, ctx) {
    const p = new URL(request.url).pathname;
    if (p.endsWith('/spin')) { for (;;) {} }
    if (p.endsWith('/bomb')) { const a = []; for (let i = 0;; i++) a.push({ i, s: 'k' + i, o: { i } }); }
    const session = ctx.createSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ n });
  },
};`;

describe('limits', () => {
  it('answers a while(true) handler with 503 at the CPU limit, logs app and version, and serves on', async (t) => {
    const h = await TestHost.create({ cpuLimitMs: 200 });
    t.after(() => h.stop());
    await h.deployFolder('cpu##1.0.0', { 'index.mjs': limitedApp });
    await h.deployFolder('other##1.0.0', { 'index.mjs': counterApp('other') });
    await h.start();
    const a = new Client(h.url);
    const b = new Client(h.url);
    assert.equal((await a.get('/cpu/')).json<{ n: number }>().n, 1);
    assert.equal((await b.get('/other/')).json<{ n: number }>().n, 1);

    const started = Date.now();
    const [spin, neighbour] = await Promise.all([new Client(h.url).get('/cpu/spin'), b.get('/other/')]);
    const ms = Date.now() - started;
    assert.equal(spin.status, 503);
    assert.ok(ms < 1000, `503 after ${ms} ms`);
    assert.equal(neighbour.status, 200, 'another version is served during and after');
    assert.equal(neighbour.json<{ n: number }>().n, 2);

    const hit = await h.waitLog((l) => l.msg === 'isolate limit hit', 'the limit log line');
    assert.equal(hit.app, 'cpu');
    assert.equal(hit.version, '1.0.0');
    assert.equal(hit['reason'], 'cpu-limit');
    for (let n = 2; n <= 4; n++) assert.equal((await a.get('/cpu/')).json<{ n: number }>().n, n, 'same version, same session, after the recycle');
    assert.equal(h.state('cpu', '1.0.0'), 'ready');
    assert.ok(h.logs.some((l) => l.msg === 'isolate recycled' && l.app === 'cpu'));
    process.stdout.write(`# CPU limit 200 ms: 503 after ${ms} ms\n`);
  });

  it('takes down only the isolate of a memory bomb, recycles it, and fails the version after 3 in 60 s', async (t) => {
    const h = await TestHost.create({ cpuLimitMs: 5000, memoryLimitMb: 32 });
    t.after(() => h.stop());
    await h.deployFolder('mem##1.0.0', { 'index.mjs': limitedApp });
    await h.deployFolder('other##1.0.0', { 'index.mjs': counterApp('other') });
    await h.start();
    const a = new Client(h.url);
    const b = new Client(h.url);
    assert.equal((await a.get('/mem/')).json<{ n: number }>().n, 1);
    assert.equal((await b.get('/other/')).json<{ n: number }>().n, 1);

    const bomb = await new Client(h.url).get('/mem/bomb');
    assert.equal(bomb.status, 503);
    const hit = await h.waitLog((l) => l.msg === 'isolate limit hit' && l['reason'] === 'memory-limit', 'the memory log line');
    assert.equal(hit.app, 'mem');
    assert.equal((await b.get('/other/')).json<{ n: number }>().n, 2, 'another version keeps serving');
    assert.equal((await a.get('/mem/')).json<{ n: number }>().n, 2, 'a fresh isolate of the same version serves the same session');
    assert.equal(h.state('mem', '1.0.0'), 'ready');

    assert.equal((await new Client(h.url).get('/mem/bomb')).status, 503);
    assert.equal((await a.get('/mem/')).json<{ n: number }>().n, 3);
    assert.equal((await new Client(h.url).get('/mem/bomb')).status, 503);
    await h.waitState('mem', '1.0.0', 'failed', 5000);
    assert.match(String(h.host.registry.app('mem')?.find('1.0.0')?.error), /3 times within 60 s/);
    assert.equal((await a.get('/mem/')).status, 503, 'a failed version never serves');
    assert.equal((await b.get('/other/')).json<{ n: number }>().n, 3, 'the neighbour never noticed');
  });

  it('serves the requests that entered the isolate together with a runaway but never reached the app from the fresh isolate', async (t) => {
    const h = await TestHost.create({ cpuLimitMs: 200, offThreadAfterMs: 0 });
    t.after(() => h.stop());
    await h.deployFolder('cpu##1.0.0', { 'index.mjs': limitedApp });
    await h.start();
    assert.equal((await new Client(h.url).get('/cpu/')).status, 200);
    // The runaway and four more requests pipelined on one connection, in one write: node:http
    // parses them in one go, so they enter the isolate as one batch, the runaway first.
    const socket = connect(h.host.port, '127.0.0.1');
    t.after(() => socket.destroy());
    let text = '';
    socket.setEncoding('latin1');
    const replies = new Promise<string[]>((resolve, reject) => {
      const statuses: string[] = [];
      socket.on('data', (d: string) => {
        text += d;
        for (let end = text.indexOf('\r\n\r\n'); end !== -1; end = text.indexOf('\r\n\r\n')) {
          const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? NaN);
          if (text.length < end + 4 + length) return;
          statuses.push(`${text.slice(0, 12)} ${text.slice(end + 4, end + 4 + length)}`);
          text = text.slice(end + 4 + length);
          if (statuses.length === 5) resolve(statuses.map((r) => r.replace(/^(HTTP\/1\.1 503) .*/s, '$1')));
        }
      });
      socket.once('close', () => reject(new Error(`the connection closed after ${statuses.length} answers`)));
    });
    socket.write(['spin', '', '', '', ''].map((p) => `GET /cpu/${p} HTTP/1.1\r\nhost: x\r\n\r\n`).join(''));
    const ok = 'HTTP/1.1 200 {"n":1}';
    assert.deepEqual(await replies, ['HTTP/1.1 503', ok, ok, ok, ok], 'only the runaway failed');
    const hit = await h.waitLog((l) => l.msg === 'isolate limit hit', 'the limit log line');
    process.stdout.write(`# requests batched behind a runaway and handed to the fresh isolate: ${String(hit['unsent'])} of 4\n`);
  });
});
