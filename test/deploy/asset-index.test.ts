import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { buildAssetIndex, emptyAssetIndex, MAX_ASSET_FILES } from '../../src/deploy/asset-index.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'tandem-assets-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes files given as { 'public/a.js': 'content' } under dir, creating folders. */
async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
}

function collectSkips(): { skips: Array<{ relPath: string; reason: string }>; onSkip: (relPath: string, reason: string) => void } {
  const skips: Array<{ relPath: string; reason: string }> = [];
  return { skips, onSkip: (relPath, reason) => void skips.push({ relPath, reason }) };
}

describe('buildAssetIndex', () => {
  it('returns the empty index for a bundle without public/', async (t) => {
    const bundle = await tempDir(t);
    await writeFiles(bundle, { 'server.js': 'export default {}' });
    const index = await buildAssetIndex(bundle);
    assert.equal(index, emptyAssetIndex);
    assert.equal(index.root, null);
    assert.equal(index.size, 0);
    assert.equal(index.get('/server.js'), undefined);
  });

  it('indexes nested files with real path, size, mtime, etag and content type', async (t) => {
    const bundle = await tempDir(t);
    await writeFiles(bundle, { 'public/index.html': '<h1>hi</h1>', 'public/assets/app-1a2b.js': 'console.log(1)' });
    const index = await buildAssetIndex(bundle);
    assert.equal(index.root, path.join(bundle, 'public'));
    assert.equal(index.size, 2);
    const js = index.get('/assets/app-1a2b.js');
    assert.ok(js);
    const s = await stat(path.join(bundle, 'public/assets/app-1a2b.js'));
    assert.deepEqual(js, {
      relPath: 'assets/app-1a2b.js',
      absPath: path.join(bundle, 'public/assets/app-1a2b.js'),
      size: 14,
      mtimeMs: s.mtimeMs,
      etag: `"e-${Math.floor(s.mtimeMs).toString(16)}"`,
      contentType: 'text/javascript; charset=utf-8',
    });
  });

  it('gives each known extension its content type, case-insensitively, and octet-stream otherwise', async (t) => {
    const bundle = await tempDir(t);
    const expected: Record<string, string> = {
      'a.html': 'text/html; charset=utf-8', 'a.css': 'text/css; charset=utf-8', 'a.mjs': 'text/javascript; charset=utf-8',
      'a.json': 'application/json; charset=utf-8', 'a.js.map': 'application/json; charset=utf-8',
      'a.svg': 'image/svg+xml; charset=utf-8', 'a.txt': 'text/plain; charset=utf-8', 'a.xml': 'application/xml; charset=utf-8',
      'a.PNG': 'image/png', 'a.jpeg': 'image/jpeg', 'a.jpg': 'image/jpeg', 'a.gif': 'image/gif', 'a.webp': 'image/webp',
      'a.avif': 'image/avif', 'favicon.ico': 'image/x-icon', 'a.wasm': 'application/wasm', 'a.woff': 'font/woff',
      'a.woff2': 'font/woff2', 'a.ttf': 'font/ttf', 'a.otf': 'font/otf', 'a.pdf': 'application/pdf',
      'a.mp4': 'video/mp4', 'a.webm': 'video/webm', 'a.mp3': 'audio/mpeg',
      'a.exe': 'application/octet-stream', 'LICENSE': 'application/octet-stream', 'dir.js/plain': 'application/octet-stream',
    };
    await writeFiles(bundle, Object.fromEntries(Object.keys(expected).map((name) => [`public/${name}`, 'x'])));
    const index = await buildAssetIndex(bundle);
    for (const [name, type] of Object.entries(expected)) assert.equal(index.get('/' + name)?.contentType, type, name);
  });

  it('maps / and paths ending in / to the index.html of that folder', async (t) => {
    const bundle = await tempDir(t);
    await writeFiles(bundle, { 'public/index.html': 'root', 'public/docs/index.html': 'docs', 'public/empty/a.txt': 'a' });
    const index = await buildAssetIndex(bundle);
    assert.equal(index.get('/')?.relPath, 'index.html');
    assert.equal(index.get('')?.relPath, 'index.html');
    assert.equal(index.get('/docs/')?.relPath, 'docs/index.html');
    assert.equal(index.get('/docs/.')?.relPath, 'docs/index.html');
    assert.equal(index.get('/docs'), undefined, 'a folder without trailing slash is not a file');
    assert.equal(index.get('/empty/'), undefined, 'a folder without index.html');
  });

  it('decodes percent-encoding, drops the query, and collapses empty and . segments', async (t) => {
    const bundle = await tempDir(t);
    await writeFiles(bundle, { 'public/my file ü.txt': 'x', 'public/assets/a.js': 'x', 'public/100%.txt': 'x' });
    const index = await buildAssetIndex(bundle);
    assert.equal(index.get('/my%20file%20%C3%BC.txt')?.relPath, 'my file ü.txt');
    assert.equal(index.get('/100%25.txt')?.relPath, '100%.txt');
    assert.equal(index.get('/assets/a.js?v=3')?.relPath, 'assets/a.js');
    assert.equal(index.get('//assets///a.js')?.relPath, 'assets/a.js');
    assert.equal(index.get('/./assets/./a.js')?.relPath, 'assets/a.js');
    assert.equal(index.get('/assets%2Fa.js')?.relPath, 'assets/a.js');
  });

  it('rejects traversal, NUL, backslashes and bad percent-encoding instead of resolving them', async (t) => {
    const bundle = await tempDir(t);
    // Every name a naive normaliser would land on exists, so a resolved `..` would be a visible match.
    await writeFiles(bundle, {
      'public/index.html': 'i', 'public/x': 'x', 'public/secret': 's', 'public/assets/a.js': 'a',
      'x': 'outside', 'secret': 'outside',
    });
    const index = await buildAssetIndex(bundle);
    for (const bad of [
      '/../x', '/%2e%2e/x', '/%2E%2E/x', '/%2F..', '/%2F../x', '/public/..%2fsecret', '/assets/../index.html',
      '/assets/..%2findex.html', '/assets/%2e%2e/x', '/..', '/x%00', '/x%00.js', '/assets%5ca.js', '/assets\\a.js',
      '/%', '/%E0%A4%A', '/x%zz', '/%C0%AE%C0%AE/x',
    ]) {
      assert.equal(index.get(bad), undefined, bad);
    }
    assert.equal(index.get('/x')?.relPath, 'x', 'the files themselves are there');
  });

  it('skips file names with a backslash, which no request may name', { skip: process.platform === 'win32' }, async (t) => {
    const bundle = await tempDir(t);
    await writeFiles(bundle, { 'public/a\\b.txt': 'x', 'public/ok.txt': 'ok' });
    const { skips, onSkip } = collectSkips();
    const index = await buildAssetIndex(bundle, onSkip);
    assert.equal(index.get('/a%5cb.txt'), undefined);
    assert.equal(index.get('/a\\b.txt'), undefined);
    assert.deepEqual(skips.map((s) => s.relPath), ['a\\b.txt']);
    assert.equal(index.size, 1);
  });

  it('skips dotfiles and dot-folders', async (t) => {
    const bundle = await tempDir(t);
    await writeFiles(bundle, { 'public/.env': 'S=1', 'public/.git/config': 'c', 'public/a/.hidden': 'h', 'public/a/b.txt': 'b' });
    const index = await buildAssetIndex(bundle);
    assert.equal(index.size, 1);
    for (const p of ['/.env', '/.git/config', '/a/.hidden', '/%2eenv']) assert.equal(index.get(p), undefined, p);
    assert.equal(index.get('/a/b.txt')?.relPath, 'a/b.txt');
  });

  it('serves symlinks into the bundle and skips those leaving it, dangling ones and links to folders', async (t) => {
    const root = await tempDir(t);
    const bundle = path.join(root, 'shop##1');
    await writeFiles(root, { 'outside.txt': 'secret', 'shop##1/data/shared.txt': 'shared', 'shop##1/public/a.txt': 'a' });
    await symlink(path.join(root, 'outside.txt'), path.join(bundle, 'public/out.txt'));
    await symlink('../../outside.txt', path.join(bundle, 'public/out-rel.txt'));
    await symlink('../data/shared.txt', path.join(bundle, 'public/in.txt'));
    await symlink('missing.txt', path.join(bundle, 'public/dangling.txt'));
    await symlink('../data', path.join(bundle, 'public/datadir'));
    const { skips, onSkip } = collectSkips();
    const index = await buildAssetIndex(bundle, onSkip);

    assert.equal(index.get('/out.txt'), undefined);
    assert.equal(index.get('/out-rel.txt'), undefined);
    assert.equal(index.get('/dangling.txt'), undefined);
    assert.equal(index.get('/datadir/shared.txt'), undefined);
    const inside = index.get('/in.txt');
    assert.equal(inside?.absPath, path.join(bundle, 'data/shared.txt'));
    assert.equal(inside?.size, 6);
    assert.equal(index.size, 2);
    assert.deepEqual(skips.map((s) => s.relPath).sort(), ['dangling.txt', 'datadir', 'out-rel.txt', 'out.txt']);
    assert.match(skips.find((s) => s.relPath === 'out.txt')?.reason ?? '', /leaves the bundle/);
  });

  it('refuses a public/ that is itself a symlink out of the bundle', async (t) => {
    const root = await tempDir(t);
    await writeFiles(root, { 'elsewhere/passwd': 'x', 'app##1/server.js': '' });
    await symlink(path.join(root, 'elsewhere'), path.join(root, 'app##1/public'));
    const { skips, onSkip } = collectSkips();
    const index = await buildAssetIndex(path.join(root, 'app##1'), onSkip);
    assert.equal(index.size, 0);
    assert.equal(index.get('/passwd'), undefined);
    assert.deepEqual(skips.map((s) => s.relPath), ['public']);
  });

  it('indexes at most maxFiles files, reports the overflow once and defaults to 50,000', async (t) => {
    // 50,000 real files take ~30 s to create on a slow disk, so the walk is checked with a small cap.
    assert.equal(MAX_ASSET_FILES, 50_000);
    const bundle = await tempDir(t);
    const files: Record<string, string> = {};
    for (let i = 0; i < 7; i++) files[`public/${i % 2 === 0 ? 'a' : 'b/c'}/${i}.txt`] = 'x';
    await writeFiles(bundle, files);
    const { skips, onSkip } = collectSkips();
    const index = await buildAssetIndex(bundle, onSkip, 5);
    assert.equal(index.size, 5);
    assert.equal(skips.length, 1);
    assert.match(skips[0]!.reason, /more than 5 files/);
    assert.equal((await buildAssetIndex(bundle, onSkip)).size, 7);
  });
});
