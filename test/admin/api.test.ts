// The admin API against a real host: authentication, every action as seen in GET /api/apps, the
// retired folder on disk, and the error statuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, TestHost, counterApp, waitFor } from '../e2e/harness.ts';
import { act, admin, adminTestHost, findApp, findVersion, snapshot, startWithAdmin, shopHost } from './admin-harness.ts';

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

describe('admin API', () => {
  it('answers 401 with the same generic body without a token, with a wrong one, and for unknown routes under /api', async (t) => {
    const h = await shopHost(t);

    const replies = [
      await admin(h, '/api/apps', { token: null }),
      await admin(h, '/api/apps', { token: 'wrong-token-wrong-token' }),
      await admin(h, '/api/apps', { token: 'test-admin-token-0123456789abcdeX' }),
      await admin(h, '/api/events', { token: null }),
      await admin(h, '/metrics', { token: 'nope' }),
      await admin(h, '/api/apps/shop/versions/1.0.0/disable', { method: 'POST', token: null }),
      await admin(h, '/api/apps/nosuch/versions/1/disable', { method: 'POST', token: 'x' }),
      await admin(h, '/api/apps', { token: null, headers: { authorization: 'Basic dGVzdA==' } }),
    ];
    for (const reply of replies) {
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json(), { error: 'unauthorized' });
    }
    assert.equal(h.state('shop', '1.0.0'), 'ready', 'the refused POST did nothing');
    assert.equal((await admin(h, '/api/apps')).status, 200, 'the right token is accepted');
  });

  it('logs a random token once when none is configured, and uses it', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.start({ adminListenPort: 0 });
    const lines = h.logs.filter((l) => l.msg === 'admin token');
    assert.equal(lines.length, 1);
    const token = lines[0]!['token'] as string;
    assert.equal(token, h.host.adminToken);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    assert.equal(lines[0]!['url'], `http://127.0.0.1:${h.host.adminPort}/`);
    assert.equal((await admin(h, '/api/apps', { token })).status, 200);
    assert.equal((await admin(h, '/api/apps')).status, 401, 'the test token is not this host’s');
  });

  it('has no admin listener when adminPort is 0', async (t) => {
    const h = await TestHost.create({ adminPort: 0 });
    t.after(() => h.stop());
    await h.start();
    assert.equal(h.host.adminPort, null);
    assert.equal(h.host.adminToken, null);
  });

  it('changes what GET /api/apps returns with every action: disable, enable, expire-sessions, redeploy, undeploy, restore', async (t) => {
    const h = await shopHost(t);
    const old = new Client(h.url);
    await old.get('/shop/');
    await h.deployFolder('shop##2.0.0', { 'index.mjs': counterApp('2') });
    await h.waitState('shop', '2.0.0');
    for (let i = 0; i < 3; i++) await new Client(h.url).get('/shop/');

    let s = await snapshot(h);
    const app = findApp(s, 'shop')!;
    assert.equal(app.contextPath, '/shop');
    assert.equal(app.newSessionTarget, '2.0.0');
    assert.deepEqual(app.versions.map((v) => [v.version, v.state, v.sessions, v.newSessions]), [
      ['2.0.0', 'ready', 3, true],
      ['1.0.0', 'draining', 1, false],
    ]);
    const v2 = findVersion(s, 'shop', '2.0.0')!;
    assert.equal(v2.requests, 3);
    assert.equal(v2.source, 'shop##2.0.0');
    assert.ok(v2.p50Ms !== null && v2.p99Ms !== null && v2.p50Ms <= v2.p99Ms);
    assert.ok(v2.heapUsedBytes! > 0 && v2.heapLimitBytes === 128 * 1024 * 1024);
    assert.equal(v2.thread, 'main');
    assert.ok(s.events.some((e) => e.kind === 'deployed' && e.app === 'shop' && e.version === '2.0.0'));
    assert.deepEqual(s.retired, []);

    let reply = await act(h, 'shop', '2.0.0', 'disable');
    assert.equal(reply.status, 200, reply.text);
    s = await snapshot(h);
    assert.equal(findVersion(s, 'shop', '2.0.0')!.state, 'disabled');
    assert.equal(findVersion(s, 'shop', '2.0.0')!.newSessions, false);
    assert.equal(findVersion(s, 'shop', '1.0.0')!.newSessions, true);
    assert.equal(findApp(s, 'shop')!.newSessionTarget, '1.0.0');
    assert.equal((await new Client(h.url).get('/shop/')).json<{ version: string }>().version, '1.0.0', 'new sessions go to 1.0.0 now');

    assert.equal((await act(h, 'shop', '2.0.0', 'enable')).status, 200);
    s = await snapshot(h);
    assert.equal(findVersion(s, 'shop', '2.0.0')!.state, 'ready');
    assert.equal(findApp(s, 'shop')!.newSessionTarget, '2.0.0');

    reply = await act(h, 'shop', '1.0.0', 'expire-sessions');
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ expired: number }>().expired, 2);
    s = await snapshot(h);
    assert.equal(findVersion(s, 'shop', '1.0.0')!.sessions, 0);
    assert.equal(findVersion(s, 'shop', '2.0.0')!.sessions, 3, 'other versions keep theirs');

    const loadedBefore = findVersion(s, 'shop', '2.0.0')!.loadedAt!;
    await waitFor(() => Date.now() > loadedBefore, 1000, 'the clock to move');
    assert.equal((await act(h, 'shop', '2.0.0', 'redeploy')).status, 200);
    s = await snapshot(h);
    assert.ok(findVersion(s, 'shop', '2.0.0')!.loadedAt! > loadedBefore, 'loadedAt moved');
    assert.ok(s.events.some((e) => e.kind === 'redeployed' && e.version === '2.0.0'));

    reply = await act(h, 'shop', '1.0.0', 'undeploy');
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json<{ retired: string }>().retired, 'shop##1.0.0');
    s = await snapshot(h);
    assert.equal(findVersion(s, 'shop', '1.0.0'), undefined, 'gone from the apps');
    assert.deepEqual(s.retired, ['shop##1.0.0']);
    const retiredDir = path.join(h.host.config.stateDir, 'retired');
    assert.ok(await exists(path.join(retiredDir, 'shop##1.0.0', 'index.mjs')), 'bundle moved to the retired folder');
    assert.ok(!(await exists(path.join(h.webapps, 'shop##1.0.0'))), 'and out of webapps');

    reply = await admin(h, `/api/retired/${encodeURIComponent('shop##1.0.0')}/restore`, { method: 'POST' });
    assert.equal(reply.status, 200, reply.text);
    s = await snapshot(h);
    assert.equal(findVersion(s, 'shop', '1.0.0')?.state, 'draining', 'back, below 2.0.0');
    assert.deepEqual(s.retired, []);
    assert.deepEqual(await readdir(retiredDir), []);
    assert.ok(await exists(path.join(h.webapps, 'shop##1.0.0', 'index.mjs')));
  });

  it('reports a redeploy whose load fails as failed (409), and the running copy keeps serving', async (t) => {
    const h = await shopHost(t);
    await writeFile(path.join(h.webapps, 'shop##1.0.0', 'index.mjs'), 'throw new Error("broken on purpose");\n');
    // The watcher sees the change first and fails the same way.
    await waitFor(async () => findVersion(await snapshot(h), 'shop', '1.0.0')?.error != null, 5000, 'the broken copy to fail');
    const reply = await act(h, 'shop', '1.0.0', 'redeploy');
    assert.equal(reply.status, 409, reply.text);
    assert.match(reply.text, /redeploy failed \(the previous copy keeps serving\): .*broken on purpose/);
    assert.equal((await new Client(h.url).get('/shop/')).status, 200);
  });

  it('decodes app names with # and takes _ for a version-less deployment', async (t) => {
    const h = await adminTestHost();
    t.after(() => h.stop());
    await h.deployFolder('shop#api##3', { 'index.mjs': counterApp('api') });
    await h.deployFolder('plain', { 'index.mjs': counterApp('plain') });
    await startWithAdmin(h);
    await h.waitState('shop#api', '3');
    await h.waitState('plain', null);

    const s = await snapshot(h);
    assert.equal(findApp(s, 'shop#api')!.contextPath, '/shop/api');
    assert.equal(findVersion(s, 'plain', null)!.label, '(unversioned)');
    assert.equal((await act(h, 'shop#api', '3', 'disable')).status, 200);
    assert.equal(h.state('shop#api', '3'), 'disabled');
    assert.equal((await act(h, 'plain', '_', 'disable')).status, 200);
    assert.equal(h.state('plain', null), 'disabled');
  });

  it('answers 404 for an unknown app or version, 400 for an unknown action, 404 for an unknown retired bundle', async (t) => {
    const h = await shopHost(t);

    const cases: [string, number][] = [
      ['/api/apps/nosuch/versions/1.0.0/disable', 404],
      ['/api/apps/shop/versions/9.9.9/disable', 404],
      ['/api/apps/shop/versions/_/disable', 404],
      ['/api/apps/shop/versions/1.0.0/explode', 400],
      ['/api/retired/shop%23%231.0.0/restore', 404],
      ['/api/retired/..%2Fwebapps%2Fshop%23%231.0.0/restore', 404],
      ['/api/nothing', 404],
      ['/api/apps/%E0%A4%A/versions/1/disable', 400],
    ];
    for (const [url, status] of cases) {
      const reply = await admin(h, url, { method: 'POST' });
      assert.equal(reply.status, status, url);
      assert.equal(typeof reply.json<{ error: string }>().error, 'string', `${url} has a JSON error body`);
    }
    assert.equal((await admin(h, '/api/apps/shop/versions/1.0.0/disable')).status, 405, 'actions are POST only');
    assert.equal(h.state('shop', '1.0.0'), 'ready');
  });
});
