// What an app sees inside its isolate: request bodies, response kinds, web globals, the session API.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Client, TestHost } from './harness.ts';

const echoApp = `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/echo/text': return new Response(await request.text());
      case '/echo/json': return Response.json({ got: await request.json(), method: request.method, type: request.headers.get('content-type') });
      case '/echo/bytes': { const b = new Uint8Array(await request.arrayBuffer()); return new Response(b.reverse(), { headers: { 'content-type': 'application/octet-stream' } }); }
      case '/echo/form': { const f = await request.formData(); return Response.json(Object.fromEntries(f)); }
      case '/echo/query': return Response.json(Object.fromEntries(url.searchParams));
      case '/echo/empty': return new Response(null, { status: 204 });
      case '/echo/cookies': {
        const h = new Headers();
        h.append('set-cookie', 'a=1; Path=/');
        h.append('set-cookie', 'b=2; Path=/');
        return new Response('two cookies', { headers: h });
      }
      case '/echo/globals': {
        const enc = new TextEncoder().encode('héllo');
        const clone = structuredClone({ d: new Date(0), m: new Map([[1, 2]]) });
        const wait = await new Promise((resolve) => setTimeout(() => resolve('timer fired'), 5));
        let micro = '';
        queueMicrotask(() => { micro = 'micro ran'; });
        await null;
        const rnd = crypto.getRandomValues(new Uint8Array(8));
        return Response.json({
          utf8: Array.from(enc), decoded: new TextDecoder().decode(enc),
          b64: btoa('hi'), unb64: atob('aGk='),
          uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
          rnd: rnd.length, clone: clone.m.get(1) === 2 && clone.d.getTime() === 0,
          wait, micro, host: url.host,
        });
      }
      case '/echo/session': {
        const s = ctx.createSession();
        const body = request.method === 'POST' ? await request.json() : null;
        if (body?.set) for (const [k, v] of Object.entries(body.set)) s.set(k, v);
        if (body?.del) for (const k of body.del) s.delete(k);
        return Response.json({ id: s.id.length, keys: s.keys().sort(), data: Object.fromEntries(s.keys().map((k) => [k, s.get(k)])) });
      }
      case '/echo/badset': {
        const s = ctx.createSession();
        try { s.set('fn', () => 1); return new Response('no error'); } catch (e) { return new Response(e.constructor.name + ': ' + e.message); }
      }
      case '/echo/nosession': return Response.json({ session: ctx.session });
    }
    return new Response('not found', { status: 404 });
  }
};`;

/** A started host serving echoApp at /echo, stopped after the test. */
async function echoHost(t: TestContext): Promise<TestHost> {
  const h = await TestHost.create();
  t.after(() => h.stop());
  await h.deployFile('echo##1.mjs', echoApp);
  return h.start();
}

describe('app runtime', () => {
  it('passes request bodies and headers in, and string, bytes, JSON and empty responses out', async (t) => {
    const h = await echoHost(t);
    const c = new Client(h.url);
    assert.equal((await c.request('/echo/text', { method: 'POST', body: 'hello wörld' })).text, 'hello wörld');
    assert.deepEqual((await c.request('/echo/json', { method: 'PUT', body: JSON.stringify({ a: [1, 2] }), headers: { 'content-type': 'application/json' } })).json(), {
      got: { a: [1, 2] },
      method: 'PUT',
      type: 'application/json',
    });
    const bytes = await fetch(`${h.url}/echo/bytes`, { method: 'POST', body: new Uint8Array([1, 2, 3, 255]) });
    assert.deepEqual([...new Uint8Array(await bytes.arrayBuffer())], [255, 3, 2, 1]);
    assert.equal(bytes.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual((await c.request('/echo/form', { method: 'POST', body: new URLSearchParams({ name: 'Ada', lang: 'js' }) })).json(), { name: 'Ada', lang: 'js' });
    assert.deepEqual((await c.get('/echo/query?x=1&y=two')).json(), { x: '1', y: 'two' });
    assert.equal((await c.get('/echo/empty')).status, 204);
    const cookies = await fetch(`${h.url}/echo/cookies`);
    assert.deepEqual(cookies.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
  });

  it('gives apps the web globals they need', async (t) => {
    const h = await echoHost(t);
    const g = (await new Client(h.url).get('/echo/globals')).json<Record<string, unknown>>();
    assert.deepEqual(g, {
      utf8: [104, 195, 169, 108, 108, 111],
      decoded: 'héllo',
      b64: 'aGk=',
      unb64: 'hi',
      uuid: true,
      rnd: 8,
      clone: true,
      wait: 'timer fired',
      micro: 'micro ran',
      host: `127.0.0.1:${h.host.port}`,
    });
  });

  it('saves session changes key by key, so concurrent requests keep each other\'s keys', async (t) => {
    const h = await echoHost(t);
    const c = new Client(h.url);
    const first = (await c.request('/echo/session', { method: 'POST', body: JSON.stringify({ set: { base: 0 } }) })).json<{ id: number }>();
    assert.equal(first.id, 32);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.request('/echo/session', { method: 'POST', body: JSON.stringify({ set: { [`k${i}`]: i } }) })),
    );
    const after = (await c.request('/echo/session', { method: 'POST', body: JSON.stringify({ del: ['base'] }) })).json<{ keys: string[]; data: Record<string, number> }>();
    assert.equal(after.keys.length, 20);
    for (let i = 0; i < 20; i++) assert.equal(after.data[`k${i}`], i);
  });

  it('hands the next request keys and values exactly as set, whatever characters they hold', async (t) => {
    const h = await echoHost(t);
    const c = new Client(h.url);
    // The snapshot crosses as '"key"\u0001value…', the changes as 'id\u0001…"key"\u0001value…' with
    // U+0002 between sessions: separators, quotes, backslashes, other control characters, lone
    // surrogates and empty keys inside keys and values must break neither.
    const set: Record<string, unknown> = {
      plain: 1,
      '': 'empty key',
      'se\u0001p': 'sep\u0001in\u0001value',
      'se\u0002p': 'sep\u0002in\u0002value',
      'quo"te\\back': 'a "quoted" \\ value\n\t\u0000',
      'ünï\ud83d\ude00': { nested: ['é', null, true, 1.5], lone: '\ud800' },
    };
    await c.request('/echo/session', { method: 'POST', body: JSON.stringify({ set }) });
    const next = (await c.get('/echo/session')).json<{ keys: string[]; data: Record<string, unknown> }>();
    assert.deepEqual(next.keys, Object.keys(set).sort());
    assert.deepEqual(next.data, set);
    await c.request('/echo/session', { method: 'POST', body: JSON.stringify({ del: ['quo"te\\back', 'se\u0002p', ''] }) });
    const left = (await c.get('/echo/session')).json<{ keys: string[] }>();
    assert.deepEqual(left.keys, ['plain', 'se\u0001p', 'ünï\ud83d\ude00'].sort());
  });

  it("sends the app's statusText, and Node's reason phrase when it set none", async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('reason##1.mjs', `export default { fetch(r) {
      const kind = new URL(r.url).pathname.split('/')[2];
      if (kind === 'text') return new Response('short and stout', { status: 418, statusText: "I'm a teapot" });
      if (kind === 'bytes') return new Response(new Uint8Array([1, 2]), { status: 202, statusText: 'Queued Up' });
      if (kind === 'stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('s')); c.close(); } }), { statusText: 'Streaming Along' });
      return new Response('plain', { status: 404 });
    } };`);
    await h.start();
    const reason = async (kind: string): Promise<[number, string]> => {
      const res = await fetch(`${h.url}/reason/${kind}`);
      await res.arrayBuffer();
      return [res.status, res.statusText];
    };
    assert.deepEqual(await reason('text'), [418, "I'm a teapot"]);
    assert.deepEqual(await reason('bytes'), [202, 'Queued Up']);
    assert.deepEqual(await reason('stream'), [200, 'Streaming Along']);
    assert.deepEqual(await reason('none'), [404, 'Not Found']);
  });

  it('answers HEAD without claiming a length it does not know', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    // Like Hono: HEAD gets the GET response with its body dropped, or with it kept.
    await h.deployFile('head##1.mjs', `export default { fetch(r) {
      const keep = new URL(r.url).pathname === '/head/keep';
      return new Response(r.method === 'HEAD' && !keep ? null : 'hello', { headers: { 'content-type': 'text/plain' } });
    } };`);
    await h.start();
    const dropped = await fetch(`${h.url}/head/drop`, { method: 'HEAD' });
    assert.equal(dropped.status, 200);
    assert.equal(dropped.headers.get('content-length'), null);
    const kept = await fetch(`${h.url}/head/keep`, { method: 'HEAD' });
    assert.equal(kept.headers.get('content-length'), '5');
    assert.equal(await kept.text(), '');
    const get = await fetch(`${h.url}/head/drop`);
    assert.equal(get.headers.get('content-length'), '5');
    assert.equal(await get.text(), 'hello');
  });

  it('refuses values that are not JSON-serializable with a TypeError naming the key', async (t) => {
    const h = await echoHost(t);
    assert.match((await new Client(h.url).get('/echo/badset')).text, /^TypeError: session\.set\("fn"\)/);
    assert.deepEqual((await new Client(h.url).get('/echo/nosession')).json(), { session: null });
  });

  it('answers 413 past the body limit and 431 past the header limit, and keeps serving', async (t) => {
    const h = await TestHost.create({ maxBodyBytes: 1024 });
    t.after(() => h.stop());
    await h.deployFile('echo##1.mjs', echoApp);
    await h.start();
    const big = await fetch(`${h.url}/echo/text`, { method: 'POST', body: 'x'.repeat(2048) });
    assert.equal(big.status, 413);
    assert.equal(h.host.registry.app('echo')?.find('1')?.stats.requests, 1, 'the 413 counts as a request of the version');
    const huge = await fetch(`${h.url}/echo/text`, { headers: { 'x-big': 'y'.repeat(64 * 1024) } }).catch((e: Error) => e);
    if (huge instanceof Response) assert.equal(huge.status, 431);
    else assert.fail(`expected a 431 answer, got ${huge.message}`);
    assert.equal((await fetch(`${h.url}/echo/text`, { method: 'POST', body: 'small' }).then((r) => r.text())), 'small');
  });
});

describe('streamed request bodies', () => {
  const uploadApp = `
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === '/up/text') return new Response(String((await request.text()).length));
    if (path === '/up/refuse') return new Response('no', { status: 401 });
    if (path === '/up/cancel') { await request.body.cancel(); return new Response('cancelled'); }
    if (path === '/up/half') { const r = request.body.getReader(); await r.read(); return new Response('half'); }
    if (path === '/up/echo') return new Response(request.body);
    const reader = request.body.getReader();
    let chunks = 0, bytes = 0, sum = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++; bytes += value.length;
      for (let i = 0; i < value.length; i++) sum = (sum * 31 + value[i]) % 65521;
    }
    return Response.json({ chunks, bytes, sum });
  }
};`;

  it('streams a large body into the app chunk by chunk, intact', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('up##1.mjs', uploadApp);
    await h.start();
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 251);
    let expected = 0;
    for (let i = 0; i < data.length; i++) expected = (expected * 31 + data[i]!) % 65521;
    const res = await fetch(`${h.url}/up/stream`, { method: 'POST', body: data });
    const got = (await res.json()) as { chunks: number; bytes: number; sum: number };
    assert.equal(got.bytes, data.length);
    assert.equal(got.sum, expected);
    assert.ok(got.chunks > 1, `expected the body in several chunks, got ${got.chunks}`);
    const chunked = await fetch(`${h.url}/up/text`, {
      method: 'POST',
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('abc')); c.enqueue(new TextEncoder().encode('def')); c.close(); } }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(await chunked.text(), '6');
  });

  it('answers 413 when a streamed body passes the limit, and keeps serving', async (t) => {
    const h = await TestHost.create({ maxBodyBytes: 100_000 });
    t.after(() => h.stop());
    await h.deployFile('up##1.mjs', uploadApp);
    await h.start();
    const res = await fetch(`${h.url}/up/text`, {
      method: 'POST',
      body: new ReadableStream({ start(c) { for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(10_000)); c.close(); } }),
      duplex: 'half',
    } as RequestInit).catch((e: Error) => e);
    if (res instanceof Error) assert.fail(`expected a 413 answer, got ${res.message}`);
    assert.equal(res.status, 413);
    assert.equal((await fetch(`${h.url}/up/text`, { method: 'POST', body: 'ok' }).then((r) => r.text())), '2');
  });

  it('streams the request body back as the response while it still arrives (echo)', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('up##1.mjs', uploadApp);
    await h.start();
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 253);
    const res = await fetch(`${h.url}/up/echo`, { method: 'POST', body: data, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), data);
  });

  it('drains the rest of the body and serves the next request on the same connection', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('up##1.mjs', uploadApp);
    await h.start();
    for (const [path, status] of [['/up/refuse', 401], ['/up/cancel', 200], ['/up/half', 200]] as const) {
      const out = await uploadThenNext(h.host.port, path, 64).catch((err: Error) => assert.fail(`${path}: ${err.message}`));
      assert.match(out, new RegExp(`^HTTP/1\\.1 ${status} `), path);
      assert.match(out, /HTTP\/1\.1 200 [\s\S]*\r\n\r\n2$/, `${path}: the next request on the connection was answered`);
    }
  });
});

/**
 * Sends `first` with a chunked body of `chunks` × 64 KiB, written as the socket accepts it, then
 * `POST /up/text` with body 'ok' on the same connection; resolves to both responses as text.
 */
function uploadThenNext(port: number, first: string, chunks: number): Promise<string> {
  return new Promise((resolve, reject) => {
    void import('node:net').then(({ connect }) => {
      const socket = connect(port, '127.0.0.1');
      let out = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the connection stalled; got so far: ${JSON.stringify(out.slice(0, 300))}`));
      }, 8_000);
      socket.on('data', (d) => {
        out += d.toString('latin1');
        if ((out.match(/HTTP\/1\.1 /g) ?? []).length === 2 && /\r\n\r\n2$/.test(out)) {
          clearTimeout(timer);
          socket.destroy();
          resolve(out);
        }
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 120), Buffer.from('\r\n')]);
      let sent = 0;
      const write = (): void => {
        while (sent < chunks) {
          sent++;
          if (!socket.write(chunk)) return void socket.once('drain', write);
        }
        socket.write('0\r\n\r\nPOST /up/text HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok');
      };
      socket.write(`POST ${first} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      write();
    }, reject);
  });
}

describe('malformed requests', () => {
  it('answers 400 to request targets that are not paths, and keeps serving', async (t) => {
    const h = await TestHost.create();
    t.after(() => h.stop());
    await h.deployFile('ROOT##1.mjs', 'export default { fetch(r) { return new Response("root " + new URL(r.url).pathname); } };');
    await h.start();
    const { connect } = await import('node:net');
    const raw = (line: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(h.host.port, '127.0.0.1', () => socket.end(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let out = '';
        socket.on('data', (d) => (out += d.toString()));
        socket.on('end', () => resolve(out));
        socket.on('error', reject);
      });
    assert.match(await raw('GET http://elsewhere.example/x HTTP/1.1'), /^HTTP\/1\.1 400 /);
    assert.match(await raw('OPTIONS * HTTP/1.1'), /^HTTP\/1\.1 400 /);
    assert.match(await raw('GET /ok HTTP/1.1'), /^HTTP\/1\.1 200 [\s\S]*root \/ok$/);
  });
});
