// The webapps folder as the deployment interface: drop, change, remove; half-written bundles,
// names that are not bundles, hidden and temp files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, TestHost, waitFor } from './harness.ts';

const app = (text: string): string => `export default { fetch() { return new Response(${JSON.stringify(text)}); } };`;

describe('watching webapps', () => {
  it('redeploys a version when any file of its folder changes, and serves the new code', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('w##1.0.0', { 'index.mjs': `import { text } from './lib/text.mjs'; export default { fetch() { return new Response(text); } };`, 'lib/text.mjs': `export const text = 'first';` });
    await h.start();
    assert.equal((await new Client(h.url).get('/w')).text, 'first');
    await writeFile(path.join(h.webapps, 'w##1.0.0', 'lib', 'text.mjs'), `export const text = 'second';`);
    await h.waitLog((l) => l.msg === 'version redeployed' && l.app === 'w', 'the redeploy');
    assert.equal((await new Client(h.url).get('/w')).text, 'second');
    assert.equal(h.logs.filter((l) => l.msg === 'version deployed' && l.app === 'w').length, 1);
  });

  it('waits until a bundle being written is quiet before deploying it', async (t) => {
    // 40 ms between writes against a 600 ms settle: wide enough that a busy machine (fsync, two test
    // files at once) does not open a quiet gap mid-write; 150 ms did, once.
    const h = await TestHost.create({ settleMs: 600 });
    t.after(() => h.stop());
    await h.start();
    const file = path.join(h.webapps, 'slow##1.0.0.mjs');
    const source = app('complete');
    const handle = await open(file, 'w');
    for (let i = 0; i < source.length; i += 12) {
      await handle.write(source.slice(i, i + 12));
      await handle.sync();
      await new Promise((r) => setTimeout(r, 40));
    }
    await handle.close();
    await h.waitState('slow', '1.0.0');
    assert.equal((await new Client(h.url).get('/slow')).text, 'complete');
    assert.equal(h.logs.filter((l) => l.app === 'slow' && l.msg === 'version failed').length, 0, 'never loaded half-written');
  });

  it('warns once about a name that is not a bundle, and ignores hidden and temp files silently', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await writeFile(path.join(h.webapps, 'notes.txt'), 'hello');
    await writeFile(path.join(h.webapps, '.hidden.mjs'), app('hidden'));
    await writeFile(path.join(h.webapps, 'draft##1.mjs.swp'), 'x');
    await writeFile(path.join(h.webapps, 'upload##1.tgz.part'), 'x');
    await writeFile(path.join(h.webapps, 'backup.mjs~'), 'x');
    await h.start();
    await appendFile(path.join(h.webapps, 'notes.txt'), ' again');
    await h.deployFile('ok##1.mjs', app('ok'));
    await h.waitState('ok', '1');
    const warnings = h.logs.filter((l) => l.msg === 'not a bundle, skipped');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]!['source'], 'notes.txt');
    assert.match(String(warnings[0]!['reason']), /\.txt/);
    assert.equal([...h.host.registry.apps].map((a) => a.name).join(','), 'ok');
  });

  it('deploys a bundle that appears while running and undeploys it when removed', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.start();
    assert.equal((await new Client(h.url).get('/late')).status, 404);
    await mkdir(path.join(h.dir, 'x'));
    await h.deployFolder('late##2.0.0', { 'index.mjs': app('late') });
    await h.waitState('late', '2.0.0');
    assert.equal((await new Client(h.url).get('/late')).text, 'late');
    const deployed = h.logs.find((l) => l.msg === 'version deployed' && l.app === 'late');
    assert.equal(deployed?.['source'], 'late##2.0.0');
    assert.equal(typeof deployed?.['ms'], 'number');
    await h.remove('late##2.0.0');
    await h.waitGone('late', '2.0.0');
    await waitFor(async () => (await new Client(h.url).get('/late')).status === 404, 5000, '404 after removal');
    const undeployed = h.logs.find((l) => l.msg === 'version undeployed' && l.app === 'late');
    assert.equal(undeployed?.['version'], '2.0.0');
  });
});
