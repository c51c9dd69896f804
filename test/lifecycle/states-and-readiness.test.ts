// The version state machine as the logs show it, readiness with its timeout, and undeploy with grace.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, TestHost, counterApp, waitFor } from '../e2e/harness.ts';

const transitions = (h: TestHost, app: string, version: string): string[] =>
  h.logs.filter((l) => l.msg === 'version state changed' && l.app === app && l.version === version).map((l) => `${String(l['from'])}→${String(l['to'])}`);

describe('version lifecycle', () => {
  it('logs one version through loading → ready → draining → ready → stopped', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.start();
    await h.deployFolder('s##1.0.0', { 'index.mjs': counterApp('one') });
    await h.waitState('s', '1.0.0');
    await h.deployFolder('s##2.0.0', { 'index.mjs': counterApp('two') });
    await h.waitState('s', '2.0.0');
    assert.equal(h.state('s', '1.0.0'), 'draining', 'superseded by 2.0.0');
    await h.remove('s##2.0.0');
    await h.waitGone('s', '2.0.0');
    assert.equal(h.state('s', '1.0.0'), 'ready', 'takes new sessions again');
    await h.remove('s##1.0.0');
    await h.waitGone('s', '1.0.0');
    assert.deepEqual(transitions(h, 's', '1.0.0'), ['loading→ready', 'ready→draining', 'draining→ready', 'ready→stopped']);
    assert.deepEqual(transitions(h, 's', '2.0.0'), ['loading→ready', 'ready→stopped']);
  });

  it('fails a version whose ready() never resolves after the timeout, disposes it, and keeps the previous one serving', async (t) => {
    const h = await TestHost.create({ readyTimeoutMs: 500 });
    t.after(() => h.stop());
    await h.deployFolder('r##1.0.0', { 'index.mjs': counterApp('old') });
    await h.start();
    const client = new Client(h.url);
    assert.equal((await client.get('/r')).json<{ n: number }>().n, 1);
    const started = Date.now();
    await h.deployFolder('r##2.0.0', {
      'index.mjs': `
export default {
  ready() { setInterval(() => console.log('still alive'), 50); return new Promise(() => {}); },
  fetch() { return new Response('never'); },
};`,
    });
    // While 2.0.0 waits for ready(), every request still goes to 1.0.0.
    await waitFor(() => h.state('r', '2.0.0') === 'loading', 5000, '2.0.0 to start loading');
    const during = await new Client(h.url).get('/r');
    assert.equal(during.json<{ label: string }>().label, 'old');
    await h.waitState('r', '2.0.0', 'failed', 5000);
    const tookMs = Date.now() - started;
    assert.ok(tookMs >= 500 && tookMs < 3000, `failed after ${tookMs} ms`);
    const failure = h.logs.find((l) => l.msg === 'version failed' && l.version === '2.0.0');
    assert.match(String(failure?.['err']), /ready\(\).*500 ms/);
    assert.ok(h.logs.some((l) => l.msg === 'still alive' && l.version === '2.0.0'), 'the app did run its timer while loading');
    // Disposed: its timers stop. Count the lines now, wait past several timer periods, count again.
    const alive = (): number => h.logs.filter((l) => l.msg === 'still alive').length;
    const seen = alive();
    const until = Date.now() + 300;
    await waitFor(() => Date.now() > until, 1000, '300 ms');
    assert.equal(alive(), seen, 'no timer of the failed isolate fires after it was disposed');
    assert.equal(h.host.registry.app('r')?.find('2.0.0')?.runtime, null);
    for (let i = 0; i < 5; i++) assert.equal((await new Client(h.url).get('/r')).json<{ label: string }>().label, 'old', 'a failed version never serves');
    assert.equal((await client.get('/r')).json<{ n: number }>().n, 2, 'the old session goes on');
  });

  it('stops routing to an undeployed bundle at once, lets its in-flight request finish, then disposes it', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('d##1.0.0', { 'index.mjs': counterApp('one') });
    await h.deployFolder('d##2.0.0', {
      'index.mjs': `
export default {
  async fetch(request) {
    // Long enough that noticing the removal (watcher, settle) always happens while it sleeps.
    if (new URL(request.url).pathname.endsWith('/slow')) await new Promise((r) => setTimeout(r, 2000));
    return new Response('two');
  },
};`,
    });
    await h.start();
    const slow = new Client(h.url).get('/d/slow');
    const v2 = h.host.registry.app('d')!.find('2.0.0')!;
    await waitFor(() => (v2.runtime?.inFlight ?? 0) === 1, 2000, 'the slow request to be in flight');
    const runtime = v2.runtime!;
    await h.remove('d##2.0.0');
    await waitFor(() => h.state('d', '2.0.0') === undefined, 2000, '2.0.0 to stop routing');
    assert.equal(runtime.disposed, false, 'not disposed while a request is in flight');
    assert.equal((await new Client(h.url).get('/d/x')).json<{ label: string }>().label, 'one', 'new requests go elsewhere at once');
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'two');
    await waitFor(() => runtime.disposed, 4000, 'the drained isolate to be disposed');
  });

  it('cuts off requests still in flight after the drain timeout', async (t) => {
    const h = await TestHost.create({ drainTimeoutMs: 200 });
    t.after(() => h.stop());
    await h.deployFolder('hang##1', { 'index.mjs': `export default { fetch() { return new Promise(() => {}); } };` });
    await h.start();
    const v = h.host.registry.app('hang')!.find('1')!;
    const pending = new Client(h.url).get('/hang');
    await waitFor(() => (v.runtime?.inFlight ?? 0) === 1, 2000, 'the request to be in flight');
    const runtime = v.runtime!;
    const removed = Date.now();
    await h.remove('hang##1');
    const reply = await pending;
    const ms = Date.now() - removed;
    assert.equal(reply.status, 503);
    assert.ok(runtime.disposed);
    assert.ok(ms < 2000, `cut off after ${ms} ms`);
    assert.ok(h.logs.some((l) => l.msg === 'drain timeout, unfinished requests cut off' && l.app === 'hang'));
  });
});
