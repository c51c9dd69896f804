// Archive bundles through the webapps folder: a real `npm pack` tarball deploys; hostile archives
// are refused with one log line and write nothing outside .tandem/work.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { tgzBytes, zipBytes } from '../../scripts/archive-builders.ts';
import { Client, TestHost } from './harness.ts';

const appSource = `export default { fetch(request, env) { return new Response('packed ' + env.version + ' ' + env.vars.FROM); } };`;

describe('archive bundles in webapps', () => {
  it('deploys a tarball made by npm pack (package/ prefix) and a zip', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    const pkg = path.join(h.dir, 'pkg');
    await mkdir(path.join(pkg, 'public'), { recursive: true });
    await writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: 'packed-app', version: '1.0.0', main: 'index.mjs' }));
    await writeFile(path.join(pkg, 'index.mjs'), appSource);
    await writeFile(path.join(pkg, 'tandem.json'), JSON.stringify({ vars: { FROM: 'npm-pack' } }));
    await writeFile(path.join(pkg, 'public', 'logo.txt'), 'logo');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const out = execFileSync(npm, ['pack', '--silent', '--pack-destination', h.dir], { cwd: pkg, encoding: 'utf8' }).trim().split('\n').at(-1)!;
    await h.start();
    await rename(path.join(h.dir, out), path.join(h.webapps, 'packed##1.0.0.tgz'));
    await h.waitState('packed', '1.0.0');
    assert.equal((await new Client(h.url).get('/packed')).text, 'packed 1.0.0 npm-pack');
    assert.equal((await new Client(h.url).get('/packed/logo.txt')).text, 'logo');
    assert.ok(!existsSync(path.join(h.webapps, 'packed##1.0.0')), 'nothing is unpacked next to the bundle');
    const work = await readdir(path.join(h.dir, '.tandem', 'work'));
    assert.ok(work.some((name) => name.startsWith('packed##1.0.0.tgz')), `unpacked under .tandem/work: ${work.join(', ')}`);

    await writeFile(path.join(h.dir, 'z.zip'), zipBytes([
      { name: 'index.mjs', body: appSource, deflate: true },
      { name: 'tandem.json', body: JSON.stringify({ vars: { FROM: 'zip' } }) },
    ]));
    await rename(path.join(h.dir, 'z.zip'), path.join(h.webapps, 'zipped##2.0.0.zip'));
    await h.waitState('zipped', '2.0.0');
    assert.equal((await new Client(h.url).get('/zipped')).text, 'packed 2.0.0 zip');
  });

  it('refuses archives with ../ entries, absolute paths or escaping links, writing nothing outside the work folder', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.start();
    const hostile: Array<[string, Buffer]> = [
      ['dotdot##1.0.0.tgz', tgzBytes([{ path: 'index.mjs', body: appSource }, { path: '../evil.txt', body: 'pwned' }])],
      ['abs##1.0.0.tgz', tgzBytes([{ path: 'index.mjs', body: appSource }, { path: path.join(h.dir, 'abs-evil.txt'), body: 'pwned' }])],
      ['link##1.0.0.tgz', tgzBytes([{ path: 'index.mjs', body: appSource }, { path: 'out', type: 'SymbolicLink', linkpath: h.dir }, { path: 'out/link-evil.txt', body: 'pwned' }])],
      ['zipdot##1.0.0.zip', zipBytes([{ name: 'index.mjs', body: appSource }, { name: '../../zip-evil.txt', body: 'pwned' }])],
      ['corrupt##1.0.0.tgz', Buffer.from('this is not a gzip stream at all')],
    ];
    for (const [name, bytes] of hostile) {
      await writeFile(path.join(h.dir, 'staging'), bytes);
      await rename(path.join(h.dir, 'staging'), path.join(h.webapps, name));
    }
    for (const [name] of hostile) {
      const app = name.split('##')[0]!;
      await h.waitState(app, '1.0.0', 'failed');
      const line = await h.waitLog((l) => l.msg === 'version failed' && l.app === app, `the refusal of ${name}`);
      assert.match(String(line['code']), app === 'corrupt' ? /TANDEM_ARCHIVE_CORRUPT/ : /TANDEM_ARCHIVE_UNSAFE/, name);
      assert.equal((await new Client(h.url).get(`/${app}`)).status, 503, `${name} never serves`);
    }
    for (const evil of ['evil.txt', 'abs-evil.txt', 'link-evil.txt', 'zip-evil.txt', path.join('.tandem', 'evil.txt')]) {
      assert.ok(!existsSync(path.join(h.dir, evil)), `${evil} was written outside the work folder`);
    }
    assert.ok(!existsSync(path.join(path.dirname(h.dir), 'zip-evil.txt')));
    assert.deepEqual(await readdir(path.join(h.dir, '.tandem', 'work')), [], 'refused archives leave nothing behind');
  });
});
