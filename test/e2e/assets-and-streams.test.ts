// Static assets served by the host (with version-skew protection), streamed responses, TypeScript
// entries and tandem.json settings, through real HTTP.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client, TestHost } from './harness.ts';

const siteApp = (version: string, asset: string): Record<string, string> => ({
  'index.mjs': `export default { fetch(request, env) { return new Response('handler ' + env.version + ' ' + new URL(request.url).pathname); } };`,
  'public/index.html': `<!doctype html><script src="assets/${asset}"></script> ${version}`,
  [`public/assets/${asset}`]: `console.log(${JSON.stringify(version)});`,
});

describe('static assets', () => {
  it('serves public/ files from the host with validators, and everything else from the app', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('site##1.0.0', siteApp('1.0.0', 'index-a1b2c3.js'));
    await h.start();
    const c = new Client(h.url);
    const page = await c.get('/site/');
    assert.equal(page.status, 200);
    assert.match(page.text, /index-a1b2c3\.js/);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const js = await c.get('/site/assets/index-a1b2c3.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const etag = js.headers.get('etag');
    assert.ok(etag);
    assert.ok(js.headers.get('last-modified'));
    assert.equal(js.headers.get('cache-control'), 'public, max-age=0, must-revalidate');
    assert.equal((await c.request('/site/assets/index-a1b2c3.js', { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await c.get('/site/api/users')).text, 'handler 1.0.0 /site/api/users', 'non-files go to the app');
    assert.equal((await c.get('/site/assets/missing.js')).text, 'handler 1.0.0 /site/assets/missing.js');
  });

  it('keeps an old version\'s fingerprinted assets reachable during a rollout (version skew)', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('app##1.0.0', siteApp('1.0.0', 'index-aaaa.js'));
    await h.start();
    // A client loads index.html from 1.0.0 without a session…
    const page = await new Client(h.url).get('/app/');
    assert.match(page.text, /index-aaaa\.js/);
    // …then 1.1.0 rolls out and takes every request without a session…
    await h.deployFolder('app##1.1.0', siteApp('1.1.0', 'index-bbbb.js'));
    await h.waitState('app', '1.1.0');
    assert.match((await new Client(h.url).get('/app/')).text, /index-bbbb\.js/);
    // …and the page's asset, which only 1.0.0 has, is still served.
    const old = await new Client(h.url).get('/app/assets/index-aaaa.js');
    assert.equal(old.status, 200);
    assert.equal(old.text, 'console.log("1.0.0");');
    const fresh = await new Client(h.url).get('/app/assets/index-bbbb.js');
    assert.equal(fresh.text, 'console.log("1.1.0");');
  });

  it('never serves files outside public/ or through traversal', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('app##1.0.0', { ...siteApp('1.0.0', 'x.js'), 'secret.txt': 'top secret' });
    await h.start();
    for (const p of ['/app/../secret.txt', '/app/%2e%2e/secret.txt', '/app/assets/..%2f..%2fsecret.txt', '/app/secret.txt', '/app/public/index.html']) {
      const body = await rawGet(h.host.port, p);
      assert.ok(!body.includes('top secret'), p);
    }
  });
});

describe('streamed responses', () => {
  it('sends a ReadableStream body chunk by chunk as it is produced', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('stream##1.mjs', `
export default {
  fetch() {
    let i = 0;
    const enc = new TextEncoder();
    const body = new ReadableStream({
      async pull(controller) {
        if (i === 5) { controller.close(); return; }
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        controller.enqueue(enc.encode('chunk' + i++ + '\\n'));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  }
};`);
    await h.start();
    const started = performance.now();
    const arrivals: number[] = [];
    const res = await fetch(`${h.url}/stream`);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      arrivals.push(performance.now() - started);
      text += decoder.decode(chunk, { stream: true });
    }
    assert.equal(text, 'chunk0\nchunk1\nchunk2\nchunk3\nchunk4\n');
    assert.ok(arrivals.length >= 4, `arrived in ${arrivals.length} reads, expected the chunks separately`);
    const spread = arrivals.at(-1)! - arrivals[0]!;
    assert.ok(spread >= 300, `first to last chunk took ${spread.toFixed(0)} ms: the body was not streamed`);
  });
});

describe('entries and settings', () => {
  it('loads a TypeScript entry that imports TypeScript files', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('ts##1.0.0', {
      'index.ts': `import { greet } from './greet.ts';\ninterface Env { version: string }\nexport default { fetch(request: Request, env: Env): Response { return new Response(greet(env.version)); } };`,
      'greet.ts': `export function greet(v: string): string { const n: number = 1; return 'typed ' + v + ' ' + n; }`,
    });
    await h.deployFolder('badts##1.0.0', { 'index.ts': `enum Color { Red }\nexport default { fetch() { return new Response(String(Color.Red)); } };` });
    await h.start();
    assert.equal((await new Client(h.url).get('/ts')).text, 'typed 1.0.0 1');
    assert.equal(h.state('badts', '1.0.0'), 'failed');
    const failure = h.logs.find((l) => l.msg === 'version failed' && l.app === 'badts');
    assert.match(String(failure?.['err']), /TypeScript/);
  });

  it('passes tandem.json vars as env.vars and refuses unknown keys naming them', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFolder('conf##1.0.0', {
      'index.mjs': `export default { fetch(request, env) { return Response.json(env.vars); } };`,
      'tandem.json': JSON.stringify({ vars: { GREETING: 'hi', LIMIT: 3 } }),
    });
    await h.deployFolder('conf##2.0.0', {
      'index.mjs': `export default { fetch() { return new Response('x'); } };`,
      'tandem.json': JSON.stringify({ memoryLimit: 64 }),
    });
    await h.start();
    assert.deepEqual((await new Client(h.url).get('/conf')).json(), { GREETING: 'hi', LIMIT: 3 });
    assert.equal(h.state('conf', '2.0.0'), 'failed');
    assert.match(String(h.logs.find((l) => l.msg === 'version failed' && l.version === '2.0.0')?.['err']), /memoryLimit/);
  });
});

function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
