// An unmodified Hono app, bundled from the real `hono` package by `npm run bundle`, served by
// tandem: every Hono feature the issue names, over real HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { bundleApp } from '../../scripts/bundle.ts';
import { Client, TestHost } from './harness.ts';

const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'hono-app');

describe('an unmodified Hono app', () => {
  let h: TestHost;
  let c: Client;
  before(async () => {
    h = await TestHost.create();
    const archive = await bundleApp({ appDir: fixture, name: 'hono', version: '1.0.0', outDir: h.dir });
    await rename(archive, path.join(h.webapps, path.basename(archive)));
    await h.start();
    await h.waitState('hono', '1.0.0');
    c = new Client(h.url);
  });
  after(() => h?.stop());

  it('answers text, JSON and HTML with middleware headers', async () => {
    const text = await c.get('/hono');
    assert.equal(text.text, 'Hello Hono');
    assert.equal(text.headers.get('x-powered-by'), 'hono-in-tandem');
    assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
    const json = await c.get('/hono/json');
    assert.deepEqual(json.json(), { ok: true, list: [1, 2, 3] });
    assert.equal(json.headers.get('x-powered-by'), 'hono-in-tandem');
    const html = await c.get('/hono/html');
    assert.equal(html.text, '<h1>Hi</h1>');
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
  });

  it('redirects', async () => {
    const res = await c.get('/hono/redirect');
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/hono/json');
  });

  it('routes params, queries, headers and wildcards', async () => {
    const res = await c.request('/hono/users/42/posts/7?q=search&tag=a&tag=b', { headers: { 'x-test': 'yes' } });
    assert.deepEqual(res.json(), { id: '42', post: '7', q: 'search', all: ['a', 'b'], ua: 'yes' });
    assert.equal((await c.get('/hono/files/a/b/c.txt')).text, 'wildcard /hono/files/a/b/c.txt');
  });

  it('reads JSON and text bodies', async () => {
    const json = await c.request('/hono/echo/json', { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
    assert.equal(json.status, 201);
    assert.deepEqual(json.json(), { received: { a: 1 } });
    assert.equal((await c.request('/hono/echo/text', { method: 'POST', body: 'shout' })).text, 'SHOUT');
  });

  it('parses urlencoded and multipart forms, with files', async () => {
    const urlencoded = await c.request('/hono/form', { method: 'POST', body: new URLSearchParams({ name: 'Ada' }) });
    assert.deepEqual(urlencoded.json(), { name: 'Ada', file: null });
    const form = new FormData();
    form.set('name', 'Grace');
    form.set('upload', new File(['file contents ✓'], 'notes.txt', { type: 'text/plain' }));
    const multipart = await c.request('/hono/form', { method: 'POST', body: form });
    assert.deepEqual(multipart.json(), { name: 'Grace', file: { name: 'notes.txt', type: 'text/plain', size: 17, text: 'file contents ✓' } });
  });

  it('sets, reads and deletes cookies with hono/cookie', async () => {
    const jar = new Client(h.url);
    const set = await jar.get('/hono/cookie/set');
    assert.equal(set.headers.getSetCookie().length, 2);
    assert.deepEqual((await jar.get('/hono/cookie/get')).json(), { flavor: 'oatmeal', all: { flavor: 'oatmeal', size: 'large' } });
    await jar.get('/hono/cookie/delete');
    assert.equal((await jar.get('/hono/cookie/get')).json<{ flavor: string | null }>().flavor, null);
  });

  it('streams with hono/streaming', async () => {
    const res = await c.get('/hono/stream');
    assert.equal(res.text, 'part0;part1;part2;');
  });

  it('uses notFound and onError', async () => {
    const missing = await c.get('/hono/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), { error: 'no such route', path: '/hono/nope' });
    const boom = await c.get('/hono/boom');
    assert.equal(boom.status, 500);
    assert.deepEqual(boom.json(), { error: 'kaboom' });
    const teapot = await c.get('/hono/teapot');
    assert.equal(teapot.status, 418);
    assert.equal(teapot.text, 'handled 418: short and stout');
  });

  it('serves the bundle\'s public/ files from the host', async () => {
    assert.equal((await c.get('/hono/hello.txt')).text, 'hello static\n');
  });
});
