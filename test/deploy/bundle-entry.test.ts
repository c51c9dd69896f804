import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { readBundleSettings, resolveEntry } from '../../src/deploy/bundle-entry.ts';

/** A temp folder holding `bundle/` with the given files (path → contents), removed after the test. */
async function bundleWith(t: TestContext, files: Record<string, string>): Promise<{ dir: string; bundle: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-entry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bundle = path.join(dir, 'bundle');
  await mkdir(bundle);
  for (const [relative, contents] of Object.entries(files)) {
    const file = path.join(bundle, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, contents);
  }
  return { dir, bundle };
}

async function assertEntry(bundle: string, expectedRelative: string): Promise<void> {
  const result = await resolveEntry(bundle);
  assert.deepEqual(result, { ok: true, entryFile: await realpath(path.join(bundle, expectedRelative)) });
}

async function assertNoEntry(bundle: string, reason: RegExp): Promise<void> {
  const result = await resolveEntry(bundle);
  assert.equal(result.ok, false, JSON.stringify(result));
  if (!result.ok) assert.match(result.reason, reason);
}

const pkg = (json: unknown): string => JSON.stringify(json);

describe('resolveEntry', () => {
  it('prefers index.mjs, then index.js, then index.ts', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.mjs': '', 'index.js': '', 'index.ts': '' });
    await assertEntry(bundle, 'index.mjs');
    await rm(path.join(bundle, 'index.mjs'));
    await assertEntry(bundle, 'index.js');
    await rm(path.join(bundle, 'index.js'));
    await assertEntry(bundle, 'index.ts');
  });

  it('returns an absolute path', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '' });
    const result = await resolveEntry(bundle);
    assert.ok(result.ok && path.isAbsolute(result.entryFile));
  });

  it('says what it expected when there is no entry', async (t) => {
    const { bundle } = await bundleWith(t, { 'app.js': '', 'package.json': pkg({ name: 'x' }) });
    await assertNoEntry(bundle, /^no entry module: expected index\.mjs, index\.js or index\.ts, or package\.json exports\/module\/main$/);
  });

  it('does not take a folder named index.js for the entry', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js/x.js': '' });
    await assertNoEntry(bundle, /no entry module/);
  });

  it('follows package.json exports as a string', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '', 'dist/app.mjs': '', 'package.json': pkg({ exports: './dist/app.mjs', main: 'index.js' }) });
    await assertEntry(bundle, 'dist/app.mjs');
  });

  it('follows exports["."] as a string or a conditions object, in written order, nested', async (t) => {
    const { bundle } = await bundleWith(t, {
      'a.js': '', 'b.js': '', 'c.js': '', 'd.js': '',
      'package.json': pkg({ exports: { '.': './a.js', './extra': './b.js' } }),
    });
    await assertEntry(bundle, 'a.js');
    const cases: [unknown, string][] = [
      [{ '.': { require: './b.js', import: './a.js' } }, 'a.js'],
      [{ '.': { workerd: './c.js', import: './a.js' } }, 'c.js'],
      [{ '.': { node: './b.js', worker: './d.js', default: './a.js' } }, 'd.js'],
      [{ '.': { browser: './b.js', import: './a.js' } }, 'b.js'],
      [{ '.': { node: './d.js', default: './c.js' } }, 'c.js'],
      [{ '.': { import: { node: './b.js', default: './c.js' } } }, 'c.js'],
      [{ '.': { import: { node: './b.js' }, default: './d.js' } }, 'd.js'],
      [{ import: './b.js', require: './a.js' }, 'b.js'],
      [{ '.': [{ require: './a.js' }, './d.js'] }, 'd.js'],
    ];
    for (const [exports, expected] of cases) {
      await writeFile(path.join(bundle, 'package.json'), pkg({ exports, main: 'a.js' }));
      const result = await resolveEntry(bundle);
      assert.deepEqual(result, { ok: true, entryFile: await realpath(path.join(bundle, expected)) }, JSON.stringify(exports));
    }
  });

  it('refuses exports that offer no condition tandem satisfies', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '', 'cjs.js': '', 'package.json': pkg({ exports: { '.': { require: './cjs.js', node: './cjs.js' } } }) });
    await assertNoEntry(bundle, /package\.json "exports" has no entry for "\." under the conditions import, default, worker, workerd, browser/);
  });

  it('uses module before main, and main before index files', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '', 'esm.js': '', 'cjs.js': '', 'package.json': pkg({ module: 'esm.js', main: 'cjs.js' }) });
    await assertEntry(bundle, 'esm.js');
    await writeFile(path.join(bundle, 'package.json'), pkg({ main: './cjs.js' }));
    await assertEntry(bundle, 'cjs.js');
  });

  it('resolves main without an extension or to a folder index, as CommonJS does', async (t) => {
    const { bundle } = await bundleWith(t, { 'server.js': '', 'lib/index.mjs': '', 'package.json': pkg({ main: 'server' }) });
    await assertEntry(bundle, 'server.js');
    await writeFile(path.join(bundle, 'package.json'), pkg({ main: 'lib' }));
    await assertEntry(bundle, 'lib/index.mjs');
  });

  it('refuses a named entry that does not exist, without falling back to index.js', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '', 'package.json': pkg({ module: './dist/app.js' }) });
    await assertNoEntry(bundle, /^package\.json "module" names \.\/dist\/app\.js, which does not exist in the bundle$/);
  });

  it('refuses a named entry outside the bundle folder, even when the file exists', async (t) => {
    const { dir, bundle } = await bundleWith(t, { 'package.json': pkg({ main: '../outside.js' }) });
    await writeFile(path.join(dir, 'outside.js'), '');
    await assertNoEntry(bundle, /"main" names \.\.\/outside\.js, which is outside the bundle folder/);
    await writeFile(path.join(bundle, 'package.json'), pkg({ exports: '/etc/passwd' }));
    await assertNoEntry(bundle, /"exports" names \/etc\/passwd, an absolute path/);
  });

  it('refuses an entry reached through a symlink that leaves the bundle', async (t) => {
    const { dir, bundle } = await bundleWith(t, {});
    await writeFile(path.join(dir, 'outside.js'), '');
    await symlink(path.join(dir, 'outside.js'), path.join(bundle, 'index.js'));
    await assertNoEntry(bundle, /index\.js links to a file outside the bundle folder/);
    await mkdir(path.join(dir, 'elsewhere'));
    await writeFile(path.join(dir, 'elsewhere', 'app.js'), '');
    await symlink('../elsewhere', path.join(bundle, 'lib'));
    await writeFile(path.join(bundle, 'package.json'), pkg({ module: './lib/app.js' }));
    await assertNoEntry(bundle, /"module" names \.\/lib\/app\.js, which is outside the bundle folder/);
  });

  it('follows a symlink that stays inside the bundle and returns the real file', async (t) => {
    const { bundle } = await bundleWith(t, { 'src/server.js': '' });
    await symlink('src/server.js', path.join(bundle, 'index.js'));
    await assertEntry(bundle, 'src/server.js');
  });

  it('reports invalid package.json instead of guessing', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '', 'package.json': '{"main": ' });
    await assertNoEntry(bundle, /^package\.json: invalid JSON: /);
    await writeFile(path.join(bundle, 'package.json'), pkg({ main: 42 }));
    await assertNoEntry(bundle, /package\.json "main" must be a path string, got number/);
    await writeFile(path.join(bundle, 'package.json'), '[]');
    await assertNoEntry(bundle, /package\.json: expected an object, got an array/);
  });

  it('reports a bundle folder that does not exist', async (t) => {
    const { dir } = await bundleWith(t, {});
    await assertNoEntry(path.join(dir, 'nope'), /bundle folder .*nope does not exist/);
  });
});

async function assertSettingsRefused(bundle: string, json: string, reason: RegExp): Promise<void> {
  await writeFile(path.join(bundle, 'tandem.json'), json);
  const result = await readBundleSettings(bundle);
  assert.equal(result.ok, false, `${json} → ${JSON.stringify(result)}`);
  if (!result.ok) assert.match(result.reason, reason);
}

describe('readBundleSettings', () => {
  it('returns empty settings when there is no tandem.json', async (t) => {
    const { bundle } = await bundleWith(t, { 'index.js': '' });
    assert.deepEqual(await readBundleSettings(bundle), { ok: true, settings: {} });
  });

  it('reads vars, memoryLimitMb and sessionTimeoutMinutes', async (t) => {
    const settings = { vars: { API_URL: 'https://x', RETRIES: 3, DEBUG: false }, memoryLimitMb: 128, sessionTimeoutMinutes: 30 };
    const { bundle } = await bundleWith(t, { 'tandem.json': JSON.stringify(settings) });
    assert.deepEqual(await readBundleSettings(bundle), { ok: true, settings });
  });

  it('accepts the limits at both ends of the range', async (t) => {
    const { bundle } = await bundleWith(t, { 'tandem.json': '{"memoryLimitMb": 8, "sessionTimeoutMinutes": 0.5}' });
    assert.deepEqual(await readBundleSettings(bundle), { ok: true, settings: { memoryLimitMb: 8, sessionTimeoutMinutes: 0.5 } });
    await writeFile(path.join(bundle, 'tandem.json'), '{"memoryLimitMb": 4096}');
    assert.deepEqual(await readBundleSettings(bundle), { ok: true, settings: { memoryLimitMb: 4096 } });
  });

  it('keeps a var named __proto__ as a var', async (t) => {
    const { bundle } = await bundleWith(t, { 'tandem.json': '{"vars": {"__proto__": "x", "A": "b"}}' });
    const result = await readBundleSettings(bundle);
    assert.ok(result.ok);
    const vars = result.settings.vars!;
    assert.equal(Object.getPrototypeOf(vars), Object.prototype);
    assert.deepEqual(Object.keys(vars).sort(), ['A', '__proto__']);
    assert.equal(Object.getOwnPropertyDescriptor(vars, '__proto__')?.value, 'x');
  });

  it('names the key that is wrong', async (t) => {
    const { bundle } = await bundleWith(t, {});
    await assertSettingsRefused(bundle, '{"memoryLimit": 64}', /^tandem\.json: unknown key "memoryLimit" \(known: vars, memoryLimitMb, sessionTimeoutMinutes\)$/);
    await assertSettingsRefused(bundle, '{"memoryLimitMb": 4}', /"memoryLimitMb" must be a number from 8 to 4096, got 4/);
    await assertSettingsRefused(bundle, '{"memoryLimitMb": 4097}', /"memoryLimitMb" must be a number from 8 to 4096, got 4097/);
    await assertSettingsRefused(bundle, '{"memoryLimitMb": "64"}', /"memoryLimitMb" must be a number/);
    await assertSettingsRefused(bundle, '{"sessionTimeoutMinutes": 0}', /"sessionTimeoutMinutes" must be a number greater than 0, got 0/);
    await assertSettingsRefused(bundle, '{"sessionTimeoutMinutes": -5}', /"sessionTimeoutMinutes" must be a number greater than 0/);
    await assertSettingsRefused(bundle, '{"sessionTimeoutMinutes": null}', /"sessionTimeoutMinutes" must be a number greater than 0, got null/);
    await assertSettingsRefused(bundle, '{"vars": ["a"]}', /"vars" must be an object of strings, numbers or booleans, got an array/);
    await assertSettingsRefused(bundle, '{"vars": {"A": {"b": 1}}}', /"vars\.A" must be a string, number or boolean, got object/);
    await assertSettingsRefused(bundle, '{"vars": {"A": null}}', /"vars\.A" must be a string, number or boolean, got null/);
    await assertSettingsRefused(bundle, '[1]', /tandem\.json: expected an object .*got an array/);
  });

  it('reports invalid JSON with the parse error', async (t) => {
    const { bundle } = await bundleWith(t, {});
    await assertSettingsRefused(bundle, '{"vars": {', /^tandem\.json: invalid JSON: .+/);
    await assertSettingsRefused(bundle, '', /^tandem\.json: invalid JSON: .+/);
  });

  it('refuses a tandem.json that links outside the bundle', async (t) => {
    const { dir, bundle } = await bundleWith(t, {});
    await writeFile(path.join(dir, 'secret.json'), '{}');
    await symlink(path.join(dir, 'secret.json'), path.join(bundle, 'tandem.json'));
    const result = await readBundleSettings(bundle);
    assert.deepEqual(result, { ok: false, reason: 'tandem.json links to a file outside the bundle folder' });
  });
});
