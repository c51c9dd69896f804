// Versions never see each other's globals, nothing of Node is inside, and a broken version never
// takes the host or its neighbours down.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sessionTag } from '../../src/log.ts';
import { Client, TestHost, counterApp } from './harness.ts';

const globalsApp = (tag: string): string => `
globalThis.shared = (globalThis.shared ?? '') + ${JSON.stringify(tag)};
export default {
  fetch(request, env) {
    return Response.json({
      shared: globalThis.shared,
      require: typeof require, process: typeof process, Buffer: typeof Buffer, fs: typeof fs,
      globalThisKeys: Object.keys(globalThis).filter((k) => k.startsWith('__tandem')),
      env,
    });
  }
};`;

describe('isolation', () => {
  it('keeps each version\'s globals to itself and exposes nothing of Node', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('g##1.0.0.mjs', globalsApp('one'));
    await h.deployFile('other##1.0.0.mjs', globalsApp('two'));
    await h.start();
    const one = (await new Client(h.url).get('/g')).json<Record<string, unknown>>();
    const two = (await new Client(h.url).get('/other')).json<Record<string, unknown>>();
    assert.equal(one['shared'], 'one');
    assert.equal(two['shared'], 'two');
    for (const name of ['require', 'process', 'Buffer', 'fs']) assert.equal(one[name], 'undefined', name);
    assert.deepEqual(one['globalThisKeys'], [], 'the host callbacks are not reachable from the app');
    assert.deepEqual(one['env'], { app: 'g', version: '1.0.0', contextPath: '/g', vars: {} });
    assert.equal((globalThis as Record<string, unknown>)['shared'], undefined, 'the host never sees an app global');
  });

  it('logs a bundle with a syntax error as failed and keeps the previous version serving', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('app##1.0.0.mjs', counterApp('good'));
    await h.start();
    await h.deployFile('app##2.0.0.mjs', 'export default { fetch( { return 1 } }');
    await h.waitState('app', '2.0.0', 'failed');
    const failure = await h.waitLog((l) => l.msg === 'version failed' && l.version === '2.0.0', 'the failure log line');
    assert.equal(failure.app, 'app');
    assert.match(String(failure['err']), /SyntaxError|Unexpected/);
    assert.equal(h.state('app', '1.0.0'), 'ready', 'the previous version still takes new sessions');
    assert.equal((await new Client(h.url).get('/app')).json<{ label: string }>().label, 'good');
  });

  it('logs a module that throws at load as failed, and the host keeps running', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('app##1.0.0.mjs', counterApp('good'));
    await h.deployFile('app##1.1.0.mjs', 'throw new Error("boom at load"); export default {};');
    await h.deployFile('nofetch##1.mjs', 'export default { hello() {} };');
    await h.start();
    assert.equal(h.state('app', '1.1.0'), 'failed');
    assert.match(String(h.logs.find((l) => l.msg === 'version failed' && l.version === '1.1.0')?.['err']), /boom at load/);
    assert.match(String(h.logs.find((l) => l.msg === 'version failed' && l.app === 'nofetch')?.['err']), /no fetch\(request, env, ctx\) method/);
    assert.equal((await new Client(h.url).get('/app')).json<{ label: string }>().label, 'good');
  });

  it('answers 500 when a handler throws or returns a non-Response, logs it, and serves the next request', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('bad##1.mjs', `
export default {
  async fetch(request) {
    const p = new URL(request.url).pathname;
    if (p === '/bad/throw') throw new Error('handler exploded');
    if (p === '/bad/reject') return Promise.reject(new TypeError('rejected'));
    if (p === '/bad/string') return 'not a response';
    if (p === '/bad/stray') { Promise.reject(new Error('stray')); return new Response('ok despite stray'); }
    return new Response('fine');
  }
};`);
    await h.start();
    const c = new Client(h.url);
    assert.equal((await c.get('/bad/throw')).status, 500);
    assert.equal((await c.get('/bad/reject')).status, 500);
    assert.equal((await c.get('/bad/string')).status, 500);
    const stray = await c.get('/bad/stray');
    assert.equal(stray.status, 200);
    assert.equal(stray.text, 'ok despite stray');
    assert.equal((await c.get('/bad/fine')).text, 'fine');
    const logged = h.logs.find((l) => l.msg === 'request failed' && String(l['err']).includes('handler exploded'));
    assert.ok(logged, 'the error is logged');
    assert.equal(logged.app, 'bad');
    assert.equal(logged.version, '1');
    assert.ok(h.logs.some((l) => l.msg === 'request failed' && String(l['err']).includes('expected a Response')));
  });

  it('ignores a session id an app claims to have created or rotated to when tandem did not issue it to that app', async (t) => {
    // The app rewrites Map iteration, which the prelude's session delta uses, to smuggle extra
    // changes into it: a session "created" under another app's session id, and a rotation onto it.
    const forger = `
export default {
  fetch(request, env, ctx) {
    const victim = new URL(request.url).searchParams.get('victim');
    const session = ctx.createSession();
    session.set('x', 1);
    const entries = Map.prototype[Symbol.iterator];
    Map.prototype[Symbol.iterator] = function* () {
      const forge = this.size === 1 && this.get('x') === '1';
      if (forge) Map.prototype[Symbol.iterator] = entries;
      for (const [k, v] of entries.call(this)) {
        yield forge ? [k, v + '\\u0002' + victim + '\\u0001c\\u0001\\u00011\\u0001"who"\\u0001"forger"\\u0002' + session.id + '\\u0001\\u0001' + victim + '\\u00010'] : [k, v];
      }
    };
    return new Response('forged');
  }
};`;
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('victim##1.mjs', `
export default {
  fetch(request, env, ctx) {
    const session = ctx.createSession();
    if (session.get('who') === undefined) session.set('who', 'alice');
    return Response.json({ who: session.get('who'), app: env.app });
  }
};`);
    await h.deployFile('forger##1.mjs', forger);
    await h.start();
    const alice = new Client(h.url);
    assert.deepEqual((await alice.get('/victim/')).json(), { who: 'alice', app: 'victim' });
    const victimId = alice.cookies.get('TANDEMSID');
    assert.ok(victimId !== undefined);
    const mallory = new Client(h.url);
    // The first request claims a creation under alice's id; the second, carrying the forger's own
    // session, a rotation of it onto alice's id.
    for (let i = 0; i < 2; i++) assert.equal((await mallory.get(`/forger/?victim=${victimId}`)).status, 200);
    const malloryId = mallory.cookies.get('TANDEMSID');
    assert.equal(malloryId?.length, 32, 'the forger keeps the session tandem did create for it');
    assert.notEqual(malloryId, victimId);
    const refused = h.logs.filter((l) => l.app === 'forger' && /did not issue/.test(String(l.msg))).map((l) => [String(l.msg).split(' an id')[0], l['session']]);
    const tag = sessionTag(victimId);
    assert.deepEqual(refused, [
      ['the app claimed to create a session under', tag],
      ['the app claimed to create a session under', tag],
      ['the app claimed to rotate its session to', tag],
    ], 'every forged claim refused and logged');
    assert.deepEqual((await alice.get('/victim/')).json(), { who: 'alice', app: 'victim' }, 'alice still holds her own session');
    assert.equal(alice.cookies.get('TANDEMSID'), victimId);
  });

  it('sends an app\'s console output to the host log, tagged with app and version', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('talk##2.1.mjs', `
console.log('loaded', { a: 1 });
export default { fetch() { console.warn('serving', [1, 2]); console.error(new Error('oops')); return new Response('x'); } };`);
    await h.start();
    await new Client(h.url).get('/talk');
    const loaded = await h.waitLog((l) => l.msg === 'loaded { a: 1 }', 'console.log line');
    assert.equal(loaded.app, 'talk');
    assert.equal(loaded.version, '2.1');
    assert.equal(loaded['source'], 'console');
    const warn = await h.waitLog((l) => l.msg === 'serving [ 1, 2 ]', 'console.warn line');
    assert.equal(warn.level, 40);
    const error = await h.waitLog((l) => String(l.msg).startsWith('Error: oops'), 'console.error line');
    assert.equal(error.level, 50);
  });
});
