import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readlink, realpath, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { buildAssetIndex, type AssetIndex } from '../../src/deploy/asset-index.ts';
import { serveAsset } from '../../src/http/static.ts';

const cacheControl = 'public, max-age=60';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'tandem-static-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
}

/** A server that does what the router will: look the path up in the index, serve the asset or answer 404 "no asset". */
async function startServer(t: TestContext, index: AssetIndex): Promise<string> {
  const server = http.createServer((req, res) => {
    const asset = index.get(req.url ?? '/');
    if (asset !== undefined) return serveAsset(req, res, asset, { cacheControl });
    res.writeHead(404, { 'X-Test': 'no asset' }).end('no asset');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function serveBundle(t: TestContext, files: Record<string, string | Buffer>): Promise<{ base: string; bundle: string; index: AssetIndex }> {
  const bundle = path.join(await tempDir(t), 'shop##1.0.0');
  await writeFiles(bundle, files);
  const index = await buildAssetIndex(bundle);
  return { base: await startServer(t, index), bundle, index };
}

/** fetch() normalises `..` and `%2e%2e` before sending, so traversal attempts go out raw through node:http. */
function rawGet(base: string, rawPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(base + '/', { path: rawPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('serveAsset', () => {
  it('answers 200 with the body and every caching and type header', async (t) => {
    const { base, bundle } = await serveBundle(t, {
      'public/assets/app.js': 'console.log("hi")', 'public/styles/site.css': 'body{}', 'public/logo.png': Buffer.from([0x89, 0x50]),
      'public/blob.bin': 'b',
    });
    const res = await fetch(`${base}/assets/app.js`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'console.log("hi")');
    const mtimeMs = (await stat(path.join(bundle, 'public/assets/app.js'))).mtimeMs;
    assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(res.headers.get('content-length'), '17');
    assert.equal(res.headers.get('etag'), `"11-${Math.floor(mtimeMs).toString(16)}"`);
    assert.equal(res.headers.get('last-modified'), new Date(mtimeMs).toUTCString());
    assert.equal(res.headers.get('cache-control'), cacheControl);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    for (const [p, type] of [['/styles/site.css', 'text/css; charset=utf-8'], ['/logo.png', 'image/png'], ['/blob.bin', 'application/octet-stream']]) {
      const r = await fetch(base + p);
      assert.equal(r.headers.get('content-type'), type, p);
      await r.arrayBuffer();
    }
  });

  it('serves index.html for / and for folder paths ending in /', async (t) => {
    const { base } = await serveBundle(t, { 'public/index.html': '<p>root</p>', 'public/docs/index.html': '<p>docs</p>' });
    const root = await fetch(`${base}/`);
    assert.equal(root.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await root.text(), '<p>root</p>');
    assert.equal(await (await fetch(`${base}/docs/`)).text(), '<p>docs</p>');
  });

  it('answers 304 without a body when If-None-Match matches, weakly or in a list', async (t) => {
    const { base, index } = await serveBundle(t, { 'public/a.txt': 'hello' });
    const etag = index.get('/a.txt')!.etag;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await fetch(`${base}/a.txt`, { headers: { 'If-None-Match': ifNoneMatch } });
      assert.equal(res.status, 304, ifNoneMatch);
      assert.equal(res.headers.get('etag'), etag);
      assert.equal(res.headers.get('cache-control'), cacheControl);
      assert.equal(await res.text(), '');
    }
    const changed = await fetch(`${base}/a.txt`, { headers: { 'If-None-Match': '"5-0"' } });
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), 'hello');
  });

  it('answers 304 for If-Modified-Since at or after the mtime, unless If-None-Match is present', async (t) => {
    const { base } = await serveBundle(t, { 'public/a.txt': 'hello' });
    const lastModified = (await (await fetch(`${base}/a.txt`, { method: 'HEAD' })).headers.get('last-modified'))!;
    const get = (headers: Record<string, string>) => fetch(`${base}/a.txt`, { headers }).then(async (r) => ({ status: r.status, body: await r.text() }));
    assert.deepEqual(await get({ 'If-Modified-Since': lastModified }), { status: 304, body: '' });
    assert.equal((await get({ 'If-Modified-Since': new Date(Date.parse(lastModified) + 3600_000).toUTCString() })).status, 304);
    assert.deepEqual(await get({ 'If-Modified-Since': new Date(Date.parse(lastModified) - 1000).toUTCString() }), { status: 200, body: 'hello' });
    assert.equal((await get({ 'If-Modified-Since': 'not a date' })).status, 200);
    assert.equal((await get({ 'If-Modified-Since': lastModified, 'If-None-Match': '"other"' })).status, 200);
  });

  it('answers HEAD with the headers of a GET and no body', async (t) => {
    const { base } = await serveBundle(t, { 'public/data.json': '{"a":1}' });
    const res = await fetch(`${base}/data.json`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '7');
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.ok(res.headers.get('etag'));
    assert.equal(await res.text(), '');
  });

  it('serves an empty file as 200 with Content-Length 0', async (t) => {
    const { base } = await serveBundle(t, { 'public/empty.txt': '' });
    const res = await fetch(`${base}/empty.txt`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal(await res.text(), '');
  });

  it('never serves traversal attempts, even where a resolved path would exist', async (t) => {
    const { base } = await serveBundle(t, {
      'public/index.html': 'index', 'public/x': 'public x', 'public/secret': 'public secret', 'x': 'bundle x', 'secret': 'bundle secret',
    });
    for (const attempt of ['/../x', '/%2e%2e/x', '/%2F..', '/%2F../secret', '/public/..%2fsecret', '/x/..%2f..%2fsecret', '/a/../x', '/x%00', '/x%5c..%5csecret']) {
      assert.deepEqual(await rawGet(base, attempt), { status: 404, body: 'no asset' }, attempt);
    }
    assert.deepEqual(await rawGet(base, '/x'), { status: 200, body: 'public x' });
  });

  it('answers bad percent-encoding with no asset rather than an error', async (t) => {
    const { base } = await serveBundle(t, { 'public/a.txt': 'a' });
    for (const bad of ['/%', '/a%2', '/%E0%A4%A', '/%FF.txt']) {
      assert.deepEqual(await rawGet(base, bad), { status: 404, body: 'no asset' }, bad);
    }
  });

  it('serves a symlink pointing inside the bundle but not one pointing outside it', async (t) => {
    const root = await tempDir(t);
    const bundle = path.join(root, 'shop##2');
    await writeFiles(root, { 'outside.txt': 'top secret', 'shop##2/shared/terms.txt': 'terms', 'shop##2/public/a.txt': 'a' });
    await symlink(path.join(root, 'outside.txt'), path.join(bundle, 'public/leak.txt'));
    await symlink('../shared/terms.txt', path.join(bundle, 'public/terms.txt'));
    const base = await startServer(t, await buildAssetIndex(bundle));
    const leak = await fetch(`${base}/leak.txt`);
    assert.equal(leak.status, 404);
    assert.equal(await leak.text(), 'no asset');
    const terms = await fetch(`${base}/terms.txt`);
    assert.equal(terms.status, 200);
    assert.equal(await terms.text(), 'terms');
  });

  it('does not serve dotfiles or anything under a dot-folder', async (t) => {
    const { base } = await serveBundle(t, { 'public/.env': 'KEY=1', 'public/.git/HEAD': 'ref', 'public/ok.txt': 'ok' });
    for (const p of ['/.env', '/.git/HEAD', '/%2eenv', '/./.env']) assert.equal((await rawGet(base, p)).status, 404, p);
    assert.equal((await rawGet(base, '/ok.txt')).status, 200);
  });

  it('streams a 5 MB file intact', async (t) => {
    const big = randomBytes(5 * 1024 * 1024);
    const { base } = await serveBundle(t, { 'public/big.bin': big });
    const res = await fetch(`${base}/big.bin`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(big.length));
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  });

  it('answers 404 when the file vanished or changed since indexing', async (t) => {
    const { base, bundle } = await serveBundle(t, { 'public/gone.txt': 'gone', 'public/grown.txt': 'grown' });
    await unlink(path.join(bundle, 'public/gone.txt'));
    await appendFile(path.join(bundle, 'public/grown.txt'), ' more');
    for (const p of ['/gone.txt', '/grown.txt']) {
      const res = await fetch(base + p);
      assert.equal(res.status, 404, p);
      assert.equal(await res.text(), 'Not Found\n');
      const head = await fetch(base + p, { method: 'HEAD' });
      assert.equal(head.status, 404, p);
      assert.equal(await head.text(), '');
    }
  });

  it('closes the file when the client goes away mid-stream and keeps serving', { skip: !existsSync('/proc/self/fd') && 'needs /proc' }, async (t) => {
    const { base, bundle } = await serveBundle(t, { 'public/big.bin': randomBytes(8 * 1024 * 1024), 'public/a.txt': 'a' });
    const file = path.join(bundle, 'public/big.bin');
    const abort = new AbortController();
    const res = await fetch(`${base}/big.bin`, { signal: abort.signal });
    const reader = res.body!.getReader();
    assert.ok((await reader.read()).value);
    abort.abort();
    await reader.read().catch(() => undefined);
    const deadline = Date.now() + 5000;
    while (await fileIsOpen(file)) {
      assert.ok(Date.now() < deadline, 'the asset file is still open 5 s after the client left');
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await (await fetch(`${base}/a.txt`)).text(), 'a');
  });
});

async function fileIsOpen(file: string): Promise<boolean> {
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) return true;
  }
  return false;
}
