import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Registry, type RegistryEvent } from '../../src/apps/registry.ts';
import { createLogger } from '../../src/log.ts';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));

describe('Registry', () => {
  it('matches the longest context path on segment boundaries', () => {
    const r = new Registry(quiet);
    r.add('ROOT', '/', '1', 'ROOT##1');
    r.add('shop', '/shop', '1', 'shop##1');
    r.add('shop#api', '/shop/api', '1', 'shop#api##1');
    const match = (p: string): string | undefined => r.match(p)?.name;
    assert.equal(match('/'), 'ROOT');
    assert.equal(match('/shop'), 'shop');
    assert.equal(match('/shop/'), 'shop');
    assert.equal(match('/shop/cart/1'), 'shop');
    assert.equal(match('/shopping'), 'ROOT');
    assert.equal(match('/shop/api'), 'shop#api');
    assert.equal(match('/shop/api/v1/x'), 'shop#api');
    assert.equal(match('/shop/apis'), 'shop');
    assert.equal(match('/x/y/z'), 'ROOT');
  });

  it('answers no app when nothing matches and there is no ROOT', () => {
    const r = new Registry(quiet);
    r.add('shop', '/shop', '1', 'shop##1');
    assert.equal(r.match('/'), undefined);
    assert.equal(r.match('/other'), undefined);
    assert.equal(r.match('/sho'), undefined);
  });

  it('derives states: the highest ready version takes new sessions, older ready ones drain', () => {
    const r = new Registry(quiet);
    const events: RegistryEvent[] = [];
    r.onChange((e) => events.push(e));
    const v1 = r.add('app', '/app', '1.9.0', 'a');
    const v2 = r.add('app', '/app', '1.10.0', 'b');
    assert.equal(v1.state, 'loading');
    r.setStatus(v1, 'ready');
    assert.equal(v1.state, 'ready');
    assert.equal(v1.app.newSessionTarget, v1);
    r.setStatus(v2, 'ready');
    assert.equal(v2.state, 'ready');
    assert.equal(v1.state, 'draining');
    assert.equal(v1.app.newSessionTarget, v2);
    r.setDisabled(v2, true);
    assert.equal(v2.state, 'disabled');
    assert.equal(v1.state, 'ready', 'with the newest disabled, the next one takes new sessions');
    assert.equal(v1.app.highestServing, v2);
    r.setDisabled(v2, false);
    r.setStatus(v2, 'stopped');
    assert.equal(v1.state, 'ready');
    r.remove(v2);
    assert.deepEqual(v1.app.versions, [v1]);
    assert.ok(events.some((e) => e.kind === 'state' && e.version === v1 && e.from === 'ready' && e.to === 'draining'));
    assert.ok(events.some((e) => e.kind === 'removed' && e.version === v2));
  });

  it('ranks a version-less deployment below every version and forgets an app with its last version', () => {
    const r = new Registry(quiet);
    const plain = r.add('app', '/app', null, 'app');
    const v = r.add('app', '/app', '0.0.1', 'app##0.0.1');
    r.setStatus(plain, 'ready');
    r.setStatus(v, 'ready');
    assert.equal(v.app.newSessionTarget, v);
    assert.equal(plain.key, '');
    r.remove(v);
    r.remove(plain);
    assert.equal(r.app('app'), undefined);
    assert.equal(r.match('/app'), undefined);
  });

  it('keeps a ring of request latencies and counts errors', () => {
    const r = new Registry(quiet);
    const v = r.add('app', '/app', '1', 'x');
    for (let i = 0; i < 2000; i++) v.recordRequest(i, i % 10 === 0);
    assert.equal(v.stats.requests, 2000);
    assert.equal(v.stats.errors, 200);
    assert.equal(v.stats.latencyCount, v.stats.latencies.length);
  });
});
