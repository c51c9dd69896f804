// Atomic redeploy of a version whose files change under concurrent traffic, a failed redeploy, and
// --undeploy-old-versions moving a drained bundle to <stateDir>/retired/.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fingerprint } from '../../src/deploy/fingerprint.ts';
import { Client, TestHost, counterApp, waitFor } from '../e2e/harness.ts';

const generationApp = (generation: number): string => `
export default {
  async fetch(request, env, ctx) {
    await new Promise((r) => setTimeout(r, 2));
    const session = ctx.createSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return Response.json({ generation: ${generation}, n });
  },
};`;

/** Replaces a file the way editors and deploy tools do: write beside it (hidden), rename over it. */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${Math.random().toString(36).slice(2)}`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

describe('redeploy and retire', () => {
  it('redeploys a version 5 times under 8 concurrent clients without failing a request or touching a session', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('live##1.0.0', { 'index.mjs': generationApp(0) });
    await h.start();
    let running = true;
    let failures = 0;
    let socketErrors = 0;
    let requests = 0;
    let latest = 0;
    const problems: string[] = [];
    const client = async (): Promise<void> => {
      const c = new Client(h.url);
      let last = 0;
      while (running) {
        try {
          const reply = await c.get('/live/');
          requests++;
          if (reply.status !== 200) {
            failures++;
            problems.push(`${reply.status} ${reply.text}`);
            continue;
          }
          const body = reply.json<{ generation: number; n: number }>();
          if (body.n !== last + 1) problems.push(`session counter jumped from ${last} to ${body.n}`);
          last = body.n;
          latest = Math.max(latest, body.generation);
        } catch (err) {
          socketErrors++;
          problems.push(String(err));
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    try {
      for (let generation = 1; generation <= 5; generation++) {
        await replaceFile(path.join(h.webapps, 'live##1.0.0', 'index.mjs'), generationApp(generation));
        await waitFor(() => latest === generation, 10_000, `responses from generation ${generation}`);
      }
    } finally {
      running = false;
      await Promise.all(clients);
    }
    assert.deepEqual(problems, []);
    assert.equal(failures, 0);
    assert.equal(socketErrors, 0);
    assert.ok(requests > 100, `${requests} requests`);
    assert.equal(h.logs.filter((l) => l.msg === 'version redeployed' && l.app === 'live').length, 5);
    const counts = await h.host.sessions.countByVersion('live');
    assert.equal(counts.get('1.0.0'), 8, 'one session per client, none lost or duplicated');
  });

  it('keeps the old copy serving when the new copy of a redeploy fails, and logs the failure', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('keep##1.0.0', { 'index.mjs': generationApp(1) });
    await h.start();
    const c = new Client(h.url);
    assert.equal((await c.get('/keep/')).json<{ n: number }>().n, 1);
    await replaceFile(path.join(h.webapps, 'keep##1.0.0', 'index.mjs'), 'export default { fetch( {');
    const failed = await h.waitLog((l) => l.msg === 'redeploy failed, previous copy keeps serving', 'the failed redeploy');
    assert.equal(failed.app, 'keep');
    assert.equal(failed.version, '1.0.0');
    assert.equal(h.state('keep', '1.0.0'), 'ready');
    const reply = (await c.get('/keep/')).json<{ generation: number; n: number }>();
    assert.deepEqual(reply, { generation: 1, n: 2 });
  });

  it("lifts a version's quarantine once an operator's redeploy loads it, so the next start loads it too", async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('shop##1.0.0', { 'index.mjs': counterApp('1') });
    // As if this bundle, with exactly these files, had crashed the host before.
    const quarantineFile = path.join(h.dir, '.tandem', 'quarantine.json');
    await mkdir(path.dirname(quarantineFile), { recursive: true });
    await writeFile(quarantineFile, JSON.stringify({ 'shop##1.0.0': await fingerprint(path.join(h.webapps, 'shop##1.0.0')) }));
    await h.start();
    await h.waitState('shop', '1.0.0', 'failed');
    await h.host.deployer.redeploy(h.host.registry.app('shop')!.find('1.0.0')!);
    assert.equal(h.state('shop', '1.0.0'), 'ready');
    assert.deepEqual(JSON.parse(await readFile(quarantineFile, 'utf8')), {}, 'the entry is gone');
  });

  it('with --undeploy-old-versions, retires a superseded version once its last session expired', async (t) => {
    const h = await TestHost.create({ undeployOldVersions: true, sessionTimeoutMinutes: 0.01 });
    t.after(() => h.stop());
    await h.deployFolder('old##1.0.0', { 'index.mjs': counterApp('one') });
    await h.start();
    const a = new Client(h.url);
    assert.equal((await a.get('/old/')).json<{ n: number }>().n, 1);
    await h.deployFolder('old##2.0.0', { 'index.mjs': counterApp('two') });
    await h.waitState('old', '2.0.0');
    assert.equal(h.state('old', '1.0.0'), 'draining');
    // Its session keeps it alive while used (idle timeout 600 ms).
    for (let i = 2; i <= 4; i++) {
      assert.equal((await a.get('/old/')).json<{ label: string; n: number }>().n, i);
      assert.equal(h.state('old', '1.0.0'), 'draining');
    }
    const idleSince = Date.now();
    await h.waitGone('old', '1.0.0', 10_000);
    const ms = Date.now() - idleSince;
    assert.ok(ms >= 600, `retired ${ms} ms after the last request, before its session expired`);
    const retired = await readdir(path.join(h.dir, '.tandem', 'retired'));
    assert.deepEqual(retired, ['old##1.0.0']);
    assert.deepEqual((await readdir(h.webapps)).sort(), ['old##2.0.0']);
    const logged = h.logs.find((l) => l.msg === 'old version undeployed, no session left');
    assert.equal(logged?.app, 'old');
    assert.equal(logged?.version, '1.0.0');
    assert.equal(h.state('old', '2.0.0'), 'ready', 'the highest version is never retired');
    assert.equal((await new Client(h.url).get('/old/')).json<{ label: string }>().label, 'two');
  });
});
