// The Tomcat parallel-deployment scenario and the routing rules, through real HTTP, real files
// and real isolates.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, TestHost, counterApp } from './harness.ts';

interface Counter {
  label: string;
  version: string;
  n: number;
}

describe('parallel deployment', () => {
  it('keeps sessions on their version across deploy and rollback, and adopts sessions of a removed version', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('foo##001', { 'index.mjs': counterApp('001') });
    await h.start();
    await h.waitState('foo', '001');

    const a = new Client(h.url);
    assert.deepEqual((await a.get('/foo/')).json<Counter>(), { label: '001', version: '001', app: 'foo', n: 1 });
    assert.equal((await a.get('/foo/')).json<Counter>().n, 2);

    await h.deployFolder('foo##002', { 'index.mjs': counterApp('002') });
    await h.waitState('foo', '002');
    assert.equal(h.state('foo', '001'), 'draining');

    const aAfter = (await a.get('/foo/')).json<Counter>();
    assert.equal(aAfter.version, '001', 'A stays on the version that created its session');
    assert.equal(aAfter.n, 3, "A's counter is intact");

    const b = new Client(h.url);
    assert.equal((await b.get('/foo/')).json<Counter>().version, '002', 'a new client gets the highest version');
    assert.equal((await b.get('/foo/')).json<Counter>().n, 2);

    await h.remove('foo##002');
    await h.waitGone('foo', '002');
    assert.equal(h.state('foo', '001'), 'ready');
    const bAfter = (await b.get('/foo/')).json<Counter>();
    assert.equal(bAfter.version, '001', "B's session is adopted by the remaining version");
    assert.equal(bAfter.n, 3, "B's counter survived the rollback");
    assert.ok(h.logs.some((l) => l.msg === 'sessions adopted' || l.msg === 'session adopted'), 'the adoption is logged');

    const c = new Client(h.url);
    assert.equal((await c.get('/foo/')).json<Counter>().version, '001', 'a new client gets the next-highest version');

    await h.deployFolder('foo##003', { 'index.mjs': counterApp('003') });
    await h.waitState('foo', '003');
    assert.equal((await a.get('/foo/')).json<Counter>().version, '001', 'A is still on 001');
    assert.equal((await a.get('/foo/logout')).text, 'bye');
    assert.equal(a.cookies.size, 0, 'invalidate() clears the cookie');
    const aNew = (await a.get('/foo/')).json<Counter>();
    assert.equal(aNew.version, '003', "A's next new session goes to the highest version");
    assert.equal(aNew.n, 1);
  });

  it('orders versions by semver and numerically, with a version-less bundle lowest', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('sem##1.9.0', { 'index.mjs': counterApp('1.9.0') });
    await h.deployFolder('sem##1.10.0', { 'index.mjs': counterApp('1.10.0') });
    await h.deployFile('num##9.mjs', counterApp('9'));
    await h.deployFile('num##10.mjs', counterApp('10'));
    await h.deployFile('plain.mjs', counterApp('plain'));
    await h.deployFile('plain##0.0.1.js', counterApp('0.0.1'));
    await h.start();
    assert.equal((await new Client(h.url).get('/sem/')).json<Counter>().label, '1.10.0');
    assert.equal((await new Client(h.url).get('/num')).json<Counter>().label, '10');
    assert.equal((await new Client(h.url).get('/plain')).json<Counter>().label, '0.0.1');
    assert.equal(h.state('sem', '1.9.0'), 'draining');
  });

  it('routes by context path, longest match first; ROOT serves the rest; unknown paths 404', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('ROOT##1.0.0.mjs', counterApp('root'));
    await h.deployFile('shop##1.0.0.mjs', counterApp('shop'));
    await h.deployFile('shop#api##2.0.0.mjs', counterApp('shop-api'));
    await h.start();
    const get = async (p: string): Promise<string> => (await new Client(h.url).get(p)).json<Counter>().label;
    assert.equal(await get('/'), 'root');
    assert.equal(await get('/elsewhere/x'), 'root');
    assert.equal(await get('/shop'), 'shop');
    assert.equal(await get('/shop/cart?x=1'), 'shop');
    assert.equal(await get('/shopping'), 'root');
    assert.equal(await get('/shop/api/x'), 'shop-api');
    assert.equal(await get('/shop/api'), 'shop-api');

    await h.remove('ROOT##1.0.0.mjs');
    await h.waitGone('ROOT', '1.0.0');
    assert.equal((await new Client(h.url).get('/elsewhere')).status, 404);
  });

  it('scopes a session to its app: the id presented to another app is no session there', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('one##1.mjs', counterApp('one'));
    await h.deployFile('two##1.mjs', counterApp('two'));
    await h.start();
    const a = new Client(h.url);
    const first = await a.get('/one/');
    assert.match(first.headers.get('set-cookie') ?? '', /^TANDEMSID=[A-Za-z0-9_-]{32}; Path=\/one; HttpOnly; SameSite=Lax$/);
    assert.equal((await a.get('/one/')).json<Counter>().n, 2);
    const other = await a.get('/two/');
    assert.equal(other.json<Counter>().n, 1, 'the other app starts its own session');
    assert.ok(other.headers.get('set-cookie'), 'and sets its own cookie');
  });

  it('ignores malformed and unknown session cookies without failing the request', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('app##1.mjs', counterApp('x'));
    await h.start();
    for (const cookie of ['TANDEMSID=', 'TANDEMSID=short', `TANDEMSID=${'a'.repeat(32)}`, 'TANDEMSID="%%%"; other=1', `a=b; TANDEMSID=${'!'.repeat(32)}`, ';;;==;']) {
      const res = await new Client(h.url).request('/app', { headers: { cookie } });
      assert.equal(res.status, 200, cookie);
      assert.equal(res.json<Counter>().n, 1, cookie);
    }
  });

  it('answers 503 with Retry-After when an app has no version that can serve', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('broken##1.0.0.mjs', 'export default { fetch() { return new Response("x") } ');
    await h.start();
    await h.waitState('broken', '1.0.0', 'failed');
    const res = await new Client(h.url).get('/broken');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
  });
});
