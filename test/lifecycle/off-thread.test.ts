// A version whose calls hold the main thread too long runs them on isolated-vm's thread pool:
// the other apps keep being served while it computes, and it keeps its sessions, limits and features.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Client, TestHost, counterApp, waitFor } from '../e2e/harness.ts';

const computeApp = `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const p = url.pathname;
    if (p.endsWith('/work')) {
      const ms = Number(url.searchParams.get('ms') ?? 200);
      const t = Date.now();
      while (Date.now() - t < ms) {}
    }
    if (p.endsWith('/spin')) { for (;;) {} }
    if (p.endsWith('/upload')) {
      const bytes = new Uint8Array(await request.arrayBuffer());
      let sum = 0;
      for (const b of bytes) sum = (sum + b) % 65521;
      return Response.json({ bytes: bytes.length, sum });
    }
    if (p.endsWith('/later')) await new Promise((resolve) => setTimeout(resolve, 20));
    console.log('served ' + p);
    const session = ctx.createSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ n, path: p });
  },
};`;

/** Asks `url` one request after the other until `until` settles; returns every latency in ms. */
async function sampleLatency(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const client = new Client(url);
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    const reply = await client.get('/fast/');
    assert.equal(reply.status, 200);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

async function startPair(options: { offThreadAfterMs: number; cpuLimitMs?: number }): Promise<TestHost> {
  const h = await TestHost.create(options);
  await h.deployFolder('slow##1.0.0', { 'index.mjs': computeApp });
  await h.deployFolder('fast##1.0.0', { 'index.mjs': counterApp('fast') });
  await h.start();
  return h;
}

function threadOf(h: TestHost, app: string): string | undefined {
  return h.host.registry.app(app)?.find('1.0.0')?.runtime?.thread;
}

describe('off the main thread', () => {
  it('serves the other apps while one computes, keeps its sessions, and comes back when calm', async (t) => {
    // 40 ms: a first call's warm-up (JIT, the lazy URL) plus 5 ms of work read over 20 ms of CPU
    // now and then with another test file on the other core, and moved the version.
    const h = await startPair({ offThreadAfterMs: 40 });
    t.after(() => h.stop());
    const slow = new Client(h.url);
    assert.equal((await slow.get('/slow/work?ms=5')).json<{ n: number }>().n, 1);
    assert.equal(threadOf(h, 'slow'), 'main', 'a 5 ms call stays on the main thread');

    assert.equal((await slow.get('/slow/work?ms=150')).json<{ n: number }>().n, 2);
    const moved = await h.waitLog((l) => l.msg === 'version moved off the main thread: a call held it too long', 'the move log line');
    assert.equal(moved.app, 'slow');
    assert.equal(moved.version, '1.0.0');
    // Past the 40 ms limit; under 150 when other processes took the core for part of the 150 ms.
    assert.ok(Number(moved['cpuMs']) > 40 && Number(moved['cpuMs']) <= 160, `the call computed ${String(moved['cpuMs'])} ms`);
    assert.equal(threadOf(h, 'slow'), 'pool');

    const work = (async () => {
      const ns: number[] = [];
      for (let i = 0; i < 4; i++) ns.push((await slow.get('/slow/work?ms=400')).json<{ n: number }>().n);
      return ns;
    })();
    const latencies = await sampleLatency(h.url, work);
    assert.deepEqual(await work, [3, 4, 5, 6], 'the session counts on, request after request');
    const worst = Math.max(...latencies);
    assert.ok(latencies.length >= 20, `${latencies.length} fast requests in 1.6 s of computing`);
    // Held by a call, the fast app would wait 400 ms; up to ~130 ms was seen without (a loaded 2-core machine).
    assert.ok(worst < 250, `the fast app waited ${worst.toFixed(1)} ms at worst while the slow one computed 400 ms calls`);
    assert.ok(h.logs.some((l) => l.msg === 'served /slow/work' && l.app === 'slow' && l['source'] === 'console'), "the app's console still reaches the log, tagged");

    // Timers and a streamed request body work on the pool too.
    assert.equal((await slow.get('/slow/later')).json<{ n: number }>().n, 7);
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251);
    let sum = 0;
    for (const b of body) sum = (sum + b) % 65521;
    const stream = new ReadableStream({
      start(controller) {
        for (let at = 0; at < body.length; at += 64 * 1024) controller.enqueue(body.subarray(at, at + 64 * 1024));
        controller.close();
      },
    });
    const upload = await slow.request('/slow/upload', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.deepEqual(upload.json(), { bytes: body.length, sum });
    assert.equal(threadOf(h, 'slow'), 'pool');

    await new Promise((resolve) => setTimeout(resolve, 2100)); // offThreadCalmMs
    assert.equal((await slow.get('/slow/')).json<{ n: number }>().n, 8);
    const back = await h.waitLog((l) => l.msg === 'version back on the main thread', 'the back log line');
    assert.equal(back.app, 'slow');
    assert.equal(threadOf(h, 'slow'), 'main');
    assert.equal(threadOf(h, 'fast'), 'main', 'the fast app never moved');
    process.stdout.write(`# fast app beside 400 ms calls off the main thread: ${latencies.length} requests, worst ${worst.toFixed(1)} ms\n`);
  });

  it('holds every app up while one computes when moving is off (--off-thread-after 0)', async (t) => {
    const h = await startPair({ offThreadAfterMs: 0 });
    t.after(() => h.stop());
    const slow = new Client(h.url);
    await slow.get('/slow/work?ms=100');
    assert.equal(threadOf(h, 'slow'), 'main');
    const work = (async () => {
      for (let i = 0; i < 3; i++) await slow.get('/slow/work?ms=150');
    })();
    const latencies = await sampleLatency(h.url, work);
    await work;
    const worst = Math.max(...latencies);
    assert.ok(worst > 100, `the fast app waited ${worst.toFixed(1)} ms at worst: the main thread was held`);
    assert.equal(threadOf(h, 'slow'), 'main');
  });

  it('enforces the CPU limit off the main thread: 503 for the runaway, a fresh isolate, the session kept, the neighbours served', async (t) => {
    const h = await startPair({ offThreadAfterMs: 20, cpuLimitMs: 400 });
    t.after(() => h.stop());
    const slow = new Client(h.url);
    assert.equal((await slow.get('/slow/work?ms=50')).json<{ n: number }>().n, 1);
    assert.equal(threadOf(h, 'slow'), 'pool');

    const started = performance.now();
    const spin = new Client(h.url).get('/slow/spin');
    const latencies = sampleLatency(h.url, spin);
    const runtime = h.host.registry.app('slow')?.find('1.0.0')?.runtime;
    await waitFor(() => runtime?.inFlight === 1, 2000, 'the runaway request to be in the isolate');
    // These arrive while the runaway holds the isolate: they wait, and must not fail with it.
    const waiting = [1, 2, 3].map(() => new Client(h.url).get('/slow/'));
    await waitFor(() => runtime?.inFlight === 4, 2000, 'three more requests to wait for the isolate');
    assert.equal((await spin).status, 503);
    const spinMs = performance.now() - started;
    for (const reply of await Promise.all(waiting)) {
      assert.equal(reply.status, 200, 'a request that never reached the broken isolate is served by the fresh one');
      assert.equal(reply.json<{ n: number }>().n, 1);
    }
    assert.ok(spinMs < 1500, `503 after ${spinMs.toFixed(0)} ms`);
    const worst = Math.max(...(await latencies));
    // Held by the runaway, the fast app would wait ~400 ms; the rest is this 2-core machine running
    // the runaway's pool thread, this host and another test file at once (105 ms seen once).
    assert.ok(worst < 250, `the fast app waited ${worst.toFixed(1)} ms at worst during a 400 ms runaway`);
    const hit = await h.waitLog((l) => l.msg === 'isolate limit hit', 'the limit log line');
    assert.equal(hit.app, 'slow');
    assert.equal(hit['reason'], 'cpu-limit');
    assert.equal(hit['unsent'], 3);
    assert.equal((await slow.get('/slow/')).json<{ n: number }>().n, 2, 'the fresh isolate serves the same session');
    assert.equal(threadOf(h, 'slow'), 'pool', 'the fresh isolate of a runaway starts off the main thread');
  });

  it('disposes a version in the middle of a call on the pool without harm to the host', async (t) => {
    const h = await startPair({ offThreadAfterMs: 20 });
    t.after(() => h.stop());
    await h.deployFolder('slow##2.0.0', { 'index.mjs': computeApp });
    await h.waitState('slow', '2.0.0');
    const slow = new Client(h.url);
    await slow.get('/slow/work?ms=50');
    const v2 = h.host.registry.app('slow')?.find('2.0.0')?.runtime;
    assert.equal(v2?.thread, 'pool');
    const long = slow.get('/slow/work?ms=3000');
    await waitFor(() => v2.inFlight === 1, 2000, 'the long call to run');
    const heapStarted = performance.now();
    assert.equal(v2.heap()?.limitBytes, 128 * 1024 * 1024, 'heap figures while the pool holds the isolate');
    assert.ok(performance.now() - heapStarted < 50, 'reading them does not wait for the call');
    v2.dispose();
    assert.equal((await long).status, 503);
    assert.equal((await new Client(h.url).get('/fast/')).status, 200, 'the host serves on');
    await new Promise((resolve) => setTimeout(resolve, 100)); // the pool call's rejection arrives after dispose
    assert.equal((await new Client(h.url).get('/fast/')).status, 200);
  });

  it('holds the main thread once for a batch of runaways: their fresh isolates start off it', async (t) => {
    const h = await startPair({ offThreadAfterMs: 20, cpuLimitMs: 300 });
    t.after(() => h.stop());
    assert.equal((await new Client(h.url).get('/slow/')).status, 200);
    // Five runaways pipelined on one connection enter the isolate as one batch; the first breaks
    // it on the main thread, the four after it are handed to a fresh isolate, and break it in turn.
    const socket = connect(h.host.port, '127.0.0.1');
    t.after(() => socket.destroy());
    let text = '';
    const answered = new Promise<void>((resolve) => {
      socket.setEncoding('latin1').on('data', (d: string) => {
        text += d;
        if ((text.match(/HTTP\/1\.1 503/g) ?? []).length === 5) resolve();
      });
    });
    socket.write(Array.from({ length: 5 }, () => 'GET /slow/spin HTTP/1.1\r\nhost: x\r\n\r\n').join(''));
    const latencies = await sampleLatency(h.url, answered);
    const held = latencies.filter((ms) => ms > 200).length;
    assert.ok(held <= 1, `the fast app waited over 200 ms ${held} times (latencies ${latencies.filter((ms) => ms > 50).map((ms) => ms.toFixed(0)).join(', ')} ms): only the first runaway may hold the main thread`);
    const breaks = h.logs.filter((l) => l.msg === 'isolate limit hit' && l.app === 'slow');
    assert.equal(breaks.length, 5, 'every runaway broke an isolate of its own');
  });
});
