import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ivm from 'isolated-vm';
import { collectIsolateHandlesAtExit } from '../../src/runtime/exit-collect.ts';
import { bundlePrelude } from '../../src/runtime/prelude-source.ts';

const webEntry = fileURLToPath(new URL('../fixtures/prelude/web-entry.js', import.meta.url));
const honoEntry = fileURLToPath(new URL('../fixtures/prelude/hono-entry.js', import.meta.url));

// One isolate for the file, a fresh context (fresh globals) per evaluation.
let isolate: ivm.Isolate;
let webScript: ivm.Script;
let honoScript: ivm.Script;

before(() => {
  collectIsolateHandlesAtExit(); // as AppIsolate does: this file makes isolates of its own
  isolate = new ivm.Isolate({ memoryLimit: 64 });
  webScript = isolate.compileScriptSync(bundlePrelude(webEntry));
  honoScript = isolate.compileScriptSync(bundlePrelude(honoEntry));
});

after(() => {
  isolate.dispose();
});

/**
 * Runs `body` (the inside of an async function) in a new context where the prelude was installed, and
 * returns its result through JSON. `__web` holds makeIncomingRequest/responseParts, `__hostNow()` the host clock.
 */
async function run(body: string, script: ivm.Script = webScript): Promise<any> {
  const context = isolate.createContextSync();
  try {
    let clock = 1000;
    context.global.setSync('__hostNow', new ivm.Callback(() => (clock += 5)));
    script.runSync(context);
    const json = await context.eval(
      `(async () => { ${body} })().then((value) => JSON.stringify(value === undefined ? null : value))`,
      { promise: true, timeout: 2000 },
    );
    return JSON.parse(json as string);
  } finally {
    context.release();
  }
}

/** Evaluates to the error an async block throws, as [name, message], or 'no error'. */
const catching = `async function caught(fn) { try { await fn(); return 'no error'; } catch (e) { return [e.name, e.message, e instanceof TypeError, e instanceof DOMException]; } }`;

describe('prelude web globals: installation', () => {
  it('installs the web classes as non-enumerable globals and no Node globals', async () => {
    const result = await run(`
      const names = ['Headers','Request','Response','Blob','File','FormData','TextEncoder','TextDecoder','URL',
        'URLSearchParams','atob','btoa','Event','EventTarget','AbortController','AbortSignal','DOMException',
        'structuredClone','ReadableStream','WritableStream','TransformStream','ReadableStreamDefaultReader',
        'TextEncoderStream','TextDecoderStream','ByteLengthQueuingStrategy','CountQueuingStrategy','performance'];
      const bad = names.filter((n) => { const d = Object.getOwnPropertyDescriptor(globalThis, n); return !d || d.enumerable || !d.configurable; });
      return { bad, enumerable: Object.keys(globalThis).filter((k) => names.includes(k)),
        node: [typeof require, typeof process, typeof Buffer, typeof global],
        leadOwned: [typeof setTimeout, typeof fetch, typeof crypto, typeof queueMicrotask] };
    `);
    assert.deepEqual(result.bad, []);
    assert.deepEqual(result.enumerable, []);
    assert.deepEqual(result.node, ['undefined', 'undefined', 'undefined', 'undefined']);
    assert.deepEqual(result.leadOwned, ['undefined', 'undefined', 'undefined', 'undefined']);
  });

  it('loads URL and URLSearchParams only on first use, then replaces the getter with the class', async () => {
    const result = await run(`
      const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'URL').get;
      const u = new URL('https://example.com/a/../b?q=1#h');
      const afterDesc = Object.getOwnPropertyDescriptor(globalThis, 'URL');
      const p = new URLSearchParams('a=1&a=2&b=%20x');
      return { before, after: typeof afterDesc.value, writable: afterDesc.writable, enumerable: afterDesc.enumerable,
        href: u.href, q: u.searchParams.get('q'), all: p.getAll('a'), b: p.get('b'), tag: Object.prototype.toString.call(p) };
    `);
    assert.equal(result.before, 'function');
    assert.equal(result.after, 'function');
    assert.equal(result.writable, true);
    assert.equal(result.enumerable, false);
    assert.equal(result.href, 'https://example.com/b?q=1#h');
    assert.equal(result.q, '1');
    assert.deepEqual(result.all, ['1', '2']);
    assert.equal(result.b, ' x');
    assert.equal(result.tag, '[object URLSearchParams]');
  });

  it('gives performance.now() from the host clock, relative to install time', async () => {
    const result = await run(`const a = performance.now(); const b = performance.now();
      return [a, b, typeof performance.timeOrigin, Object.prototype.toString.call(performance)];`);
    assert.ok(result[0] > 0 && result[1] > result[0], `performance.now() ${result}`);
    assert.equal(result[2], 'number');
    assert.equal(result[3], '[object Performance]');
  });

  it('brands every class with its Symbol.toStringTag', async () => {
    const tags = await run(`
      return [new Headers(), new Request('http://x/'), new Response(), new Blob(), new File([], 'f'), new FormData(),
        new TextEncoder(), new TextDecoder(), new Event('e'), new EventTarget(), new AbortController(),
        new AbortController().signal, new DOMException(), new ReadableStream(), new Headers().entries()]
        .map((o) => Object.prototype.toString.call(o).slice(8, -1));
    `);
    assert.deepEqual(tags, ['Headers', 'Request', 'Response', 'Blob', 'File', 'FormData', 'TextEncoder', 'TextDecoder',
      'Event', 'EventTarget', 'AbortController', 'AbortSignal', 'DOMException', 'ReadableStream', 'Headers Iterator']);
  });
});

describe('prelude web globals: Headers', () => {
  it('is case-insensitive, combines values with ", " and iterates sorted by lowercase name', async () => {
    const result = await run(`
      const h = new Headers({ 'X-B': '2', 'x-a': ' 1 ' });
      h.append('X-A', '3');
      h.append('Accept', 'text/html');
      h.set('accept', 'application/json');
      h.delete('X-Missing');
      return { get: h.get('X-a'), has: [h.has('ACCEPT'), h.has('nope')], missing: h.get('nope'),
        entries: [...h], keys: [...h.keys()], values: [...h.values()],
        copy: [...new Headers(h)], pairs: [...new Headers([['k', 'v']])],
        forEach: (() => { const seen = []; h.forEach((v, k) => seen.push(k + '=' + v)); return seen; })() };
    `);
    assert.equal(result.get, '1, 3');
    assert.deepEqual(result.has, [true, false]);
    assert.equal(result.missing, null);
    assert.deepEqual(result.entries, [['accept', 'application/json'], ['x-a', '1, 3'], ['x-b', '2']]);
    assert.deepEqual(result.keys, ['accept', 'x-a', 'x-b']);
    assert.deepEqual(result.values, ['application/json', '1, 3', '2']);
    assert.deepEqual(result.copy, result.entries);
    assert.deepEqual(result.pairs, [['k', 'v']]);
    assert.deepEqual(result.forEach, ['accept=application/json', 'x-a=1, 3', 'x-b=2']);
  });

  it('keeps every Set-Cookie separately for getSetCookie() and iteration', async () => {
    const result = await run(`
      const h = new Headers();
      h.append('Set-Cookie', 'a=1; Path=/');
      h.append('set-cookie', 'b=2, with comma');
      h.append('X', 'y');
      return { list: h.getSetCookie(), joined: h.get('set-cookie'), entries: [...h] };
    `);
    assert.deepEqual(result.list, ['a=1; Path=/', 'b=2, with comma']);
    assert.equal(result.joined, 'a=1; Path=/, b=2, with comma');
    assert.deepEqual(result.entries, [['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2, with comma'], ['x', 'y']]);
  });

  it('rejects invalid names and values with TypeError, and mutation of immutable headers', async () => {
    const result = await run(`${catching}
      return [
        await caught(() => new Headers().append('bad name', 'v')),
        await caught(() => new Headers().set('x', 'a\\nb')),
        await caught(() => new Headers().get('é')),
        await caught(() => new Headers([['only-one']])),
        await caught(() => new Headers('nope')),
        await caught(() => Response.error().headers.set('x', '1')),
      ].map((r) => r[0] + ':' + r[2]);
    `);
    assert.deepEqual(result, Array(6).fill('TypeError:true'));
  });
});

describe('prelude web globals: Request', () => {
  it('normalises methods, parses URLs and refuses bad input', async () => {
    const result = await run(`${catching}
      return {
        methods: ['get', 'post', 'patch', 'Delete', 'options'].map((m) => new Request('http://x/', { method: m, body: m.toLowerCase() === 'get' ? undefined : undefined }).method),
        urls: ['http://example.com', 'https://example.com/a?b=1', 'HTTP://Example.COM:80/a/./b/../c?x y#f', new URL('http://h/p')].map((u) => new Request(u).url),
        defaults: (() => { const r = new Request('http://x/'); return [r.method, r.mode, r.credentials, r.cache, r.redirect, r.referrer, r.keepalive, r.bodyUsed, r.body, r.signal.aborted]; })(),
        errors: [
          await caught(() => new Request('/relative')),
          await caught(() => new Request('http://user:pw@x/')),
          await caught(() => new Request('http://x/', { method: 'CONNECT' })),
          await caught(() => new Request('http://x/', { method: 'bad method' })),
          await caught(() => new Request('http://x/', { body: 'x' })),
          await caught(() => new Request('http://x/', { method: 'HEAD', body: 'x' })),
          await caught(() => new Request('http://x/', { mode: 'navigate' })),
          await caught(() => new Request('http://x/', { redirect: 'sometimes' })),
          await caught(() => new Request()),
        ].map((r) => r[0]),
      };
    `);
    assert.deepEqual(result.methods, ['GET', 'POST', 'patch', 'DELETE', 'OPTIONS']);
    assert.deepEqual(result.urls, ['http://example.com/', 'https://example.com/a?b=1', 'http://example.com/a/c?x%20y#f', 'http://h/p']);
    assert.deepEqual(result.defaults, ['GET', 'cors', 'same-origin', 'default', 'follow', 'about:client', false, false, null, false]);
    assert.deepEqual(result.errors, Array(9).fill('TypeError'));
  });

  it('sets the default Content-Type from the body and keeps an explicit one', async () => {
    const result = await run(`
      return [
        new Request('http://x/', { method: 'POST', body: 'hi' }).headers.get('content-type'),
        new Request('http://x/', { method: 'POST', body: 'hi', headers: { 'Content-Type': 'text/x-mine' } }).headers.get('content-type'),
        new Request('http://x/', { method: 'POST', body: new URLSearchParams('a=1') }).headers.get('content-type'),
        new Request('http://x/', { method: 'POST', body: new Blob(['x'], { type: 'image/png' }) }).headers.get('content-type'),
        new Request('http://x/', { method: 'POST', body: new Uint8Array(1) }).headers.get('content-type'),
      ];
    `);
    assert.deepEqual(result, ['text/plain;charset=UTF-8', 'text/x-mine', 'application/x-www-form-urlencoded;charset=UTF-8', 'image/png', null]);
  });

  it('copies a request with new Request(request, init), moving its body', async () => {
    const result = await run(`${catching}
      const ac = new AbortController();
      const original = new Request('http://x/a', { method: 'PUT', body: 'payload', headers: { 'x-a': '1' }, signal: ac.signal, redirect: 'manual' });
      const copy = new Request(original, { headers: { 'x-b': '2' } });
      const usedAfterMove = original.bodyUsed;
      ac.abort('stop');
      return { method: copy.method, url: copy.url, headers: [...copy.headers], redirect: copy.redirect, text: await copy.text(),
        usedAfterMove, aborted: copy.signal.aborted, reason: copy.signal.reason, distinctSignal: copy.signal !== ac.signal,
        reuse: (await caught(() => new Request(original)))[0],
        methodOverride: new Request(new Request('http://x/', { method: 'POST' }), { method: 'GET' }).method };
    `);
    assert.equal(result.method, 'PUT');
    assert.equal(result.url, 'http://x/a');
    // init.headers replaces the copied headers; Content-Type is only implied by an init body (Fetch step 36).
    assert.deepEqual(result.headers, [['x-b', '2']]);
    assert.equal(result.redirect, 'manual');
    assert.equal(result.text, 'payload');
    assert.equal(result.usedAfterMove, true);
    assert.equal(result.aborted, true);
    assert.equal(result.reason, 'stop');
    assert.equal(result.distinctSignal, true);
    assert.equal(result.reuse, 'TypeError');
    assert.equal(result.methodOverride, 'GET');
  });

  it('clones a request with its body, headers and signal', async () => {
    const result = await run(`${catching}
      const ac = new AbortController();
      const r = new Request('http://x/', { method: 'POST', body: 'abc', headers: { 'x-a': '1' }, signal: ac.signal });
      const c = r.clone();
      c.headers.set('x-a', 'changed');
      ac.abort();
      const texts = [await r.text(), await c.text()];
      return { texts, headers: [r.headers.get('x-a'), c.headers.get('x-a')], aborted: [r.signal.aborted, c.signal.aborted],
        reason: c.signal.reason.name, cloneUsed: (await caught(() => r.clone()))[0] };
    `);
    assert.deepEqual(result.texts, ['abc', 'abc']);
    assert.deepEqual(result.headers, ['1', 'changed']);
    assert.deepEqual(result.aborted, [true, true]);
    assert.equal(result.reason, 'AbortError');
    assert.equal(result.cloneUsed, 'TypeError');
  });
});

describe('prelude web globals: makeIncomingRequest', () => {
  it('builds a Request from raw headers with duplicates and two Set-Cookie lines', async () => {
    const result = await run(`
      const raw = ['Host', 'example.com', 'Accept', 'text/html', 'accept', 'application/json', 'Set-Cookie', 'a=1',
        'Set-Cookie', 'b=2', 'Content-Type', 'application/json', 'X-Empty', ''].join('\\n');
      const req = __web.makeIncomingRequest('POST', 'http://example.com/api?x=1', raw, new TextEncoder().encode('{"n":42}'));
      return { method: req.method, url: req.url, host: req.headers.get('host'), accept: req.headers.get('ACCEPT'),
        cookies: req.headers.getSetCookie(), empty: req.headers.get('x-empty'), keys: [...req.headers.keys()],
        same: req.headers === req.headers, json: await req.json(), used: req.bodyUsed, instance: req instanceof Request,
        none: [...__web.makeIncomingRequest('GET', 'http://e/', '', null).headers].length };
    `);
    assert.equal(result.method, 'POST');
    assert.equal(result.url, 'http://example.com/api?x=1');
    assert.equal(result.host, 'example.com');
    assert.equal(result.accept, 'text/html, application/json');
    assert.deepEqual(result.cookies, ['a=1', 'b=2']);
    assert.equal(result.empty, '');
    assert.deepEqual(result.keys, ['accept', 'content-type', 'host', 'set-cookie', 'set-cookie', 'x-empty']);
    assert.equal(result.same, true);
    assert.deepEqual(result.json, { n: 42 });
    assert.equal(result.used, true);
    assert.equal(result.instance, true);
    assert.equal(result.none, 0);
  });

  it('takes a ReadableStream body and reads it through every reader', async () => {
    const result = await run(`${catching}
      const stream = () => new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('he')); c.enqueue(new TextEncoder().encode('llo')); c.close(); } });
      const req = __web.makeIncomingRequest('PUT', 'http://e/', 'content-type\\ntext/plain', stream());
      const sameStream = req.body instanceof ReadableStream;
      const text = await req.text();
      const bytes = Array.from(await __web.makeIncomingRequest('PUT', 'http://e/', '', stream()).bytes());
      const clone = __web.makeIncomingRequest('PUT', 'http://e/', '', stream());
      const teed = [await clone.clone().text(), await clone.text()];
      return { sameStream, text, bytes, teed, badBody: (await caught(() => __web.makeIncomingRequest('GET', 'http://e/', '', 'text')))[0] };
    `);
    assert.equal(result.sameStream, true);
    assert.equal(result.text, 'hello');
    assert.deepEqual(result.bytes, [104, 101, 108, 108, 111]);
    assert.deepEqual(result.teed, ['hello', 'hello']);
    assert.equal(result.badBody, 'TypeError');
  });
});

describe('prelude web globals: Response', () => {
  it('constructs with status checks, statics and getters', async () => {
    const result = await run(`${catching}
      const json = Response.json({ a: [1] }, { status: 201, headers: { 'x-a': '1' } });
      const redirect = Response.redirect('http://example.com/next', 307);
      const error = Response.error();
      const plain = new Response('x', { status: 404, statusText: 'Not Found' });
      return {
        plain: [plain.status, plain.statusText, plain.ok, plain.type, plain.url, plain.redirected],
        defaults: (() => { const r = new Response(); return [r.status, r.ok, r.body, r.statusText, r.type]; })(),
        json: [json.status, json.headers.get('content-type'), json.headers.get('x-a'), await json.json()],
        redirect: [redirect.status, redirect.headers.get('location'), (await caught(() => redirect.headers.set('a', 'b')))[0]],
        error: [error.type, error.status, error.ok],
        errors: [
          await caught(() => new Response('', { status: 199 })),
          await caught(() => new Response('', { status: 600 })),
          await caught(() => new Response('body', { status: 204 })),
          await caught(() => new Response('', { statusText: 'bad\\n' })),
          await caught(() => Response.redirect('http://x/', 200)),
          await caught(() => Response.redirect('not a url')),
          await caught(() => Response.json(undefined)),
        ].map((r) => r[0]),
        nullBody204: new Response(null, { status: 204 }).status,
      };
    `);
    assert.deepEqual(result.plain, [404, 'Not Found', false, 'default', '', false]);
    assert.deepEqual(result.defaults, [200, true, null, '', 'default']);
    assert.deepEqual(result.json, [201, 'application/json', '1', { a: [1] }]);
    assert.deepEqual(result.redirect, [307, 'http://example.com/next', 'TypeError']);
    assert.deepEqual(result.error, ['error', 0, false]);
    assert.deepEqual(result.errors, ['RangeError', 'RangeError', 'TypeError', 'TypeError', 'RangeError', 'TypeError', 'TypeError']);
    assert.equal(result.nullBody204, 204);
  });

  it('clones a response, with a string body and with a stream body', async () => {
    const result = await run(`${catching}
      const r = new Response('same', { status: 202, headers: { 'x-a': '1' } });
      const c = r.clone();
      const s = new Response(new ReadableStream({ start(ctl) { ctl.enqueue(new Uint8Array([65, 66])); ctl.close(); } }));
      const sc = s.clone();
      const texts = [await r.text(), await c.text(), await s.text(), await sc.text()];
      return { texts, status: c.status, header: c.headers.get('x-a'), usedClone: (await caught(() => r.clone()))[0] };
    `);
    assert.deepEqual(result.texts, ['same', 'same', 'AB', 'AB']);
    assert.equal(result.status, 202);
    assert.equal(result.header, '1');
    assert.equal(result.usedClone, 'TypeError');
  });
});

describe('prelude web globals: bodies', () => {
  it('reads a body once through text, json, arrayBuffer, bytes, blob and rejects a second read', async () => {
    const result = await run(`${catching}
      const r = (body, init) => new Response(body, init);
      const blob = await r('blob-text', { headers: { 'content-type': 'text/x-thing' } }).blob();
      const once = r('twice');
      const first = await once.text();
      const second = await caught(() => once.text());
      const ab = await r('ab').arrayBuffer();
      return {
        text: await r('héllo').text(), json: await r('{"a":1}').json(),
        ab: [ab instanceof ArrayBuffer, ab.byteLength], bytes: Array.from(await r('é').bytes()),
        blob: [blob instanceof Blob, blob.type, blob.size, await blob.text()],
        first, second: [second[0], second[2]], usedFlag: once.bodyUsed,
        badJson: (await caught(() => r('{').json()))[0],
        empty: [await new Response(null).text(), (await new Response().bytes()).length, new Response().bodyUsed],
      };
    `);
    assert.equal(result.text, 'héllo');
    assert.deepEqual(result.json, { a: 1 });
    assert.deepEqual(result.ab, [true, 2]);
    assert.deepEqual(result.bytes, [0xc3, 0xa9]);
    assert.deepEqual(result.blob, [true, 'text/x-thing', 9, 'blob-text']);
    assert.equal(result.first, 'twice');
    assert.deepEqual(result.second, ['TypeError', true]);
    assert.equal(result.usedFlag, true);
    assert.equal(result.badJson, 'SyntaxError');
    assert.deepEqual(result.empty, ['', 0, false]);
  });

  it('accepts every BodyInit type and copies bytes at construction', async () => {
    const result = await run(`
      const buf = new Uint8Array([1, 2, 3, 4, 5]);
      const fromView = new Response(buf.subarray(1, 4));
      const fromBuffer = new Response(buf.buffer);
      buf[2] = 99; // must not show through: bodies copy at construction
      const blob = new Blob(['blob'], { type: 'Text/Plain' });
      const params = new URLSearchParams({ q: 'a b', r: 'é' });
      const stream = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([120])); c.close(); } });
      const cases = { string: new Response('s'), view: fromView, buffer: fromBuffer, dataView: new Response(new DataView(new Uint8Array([7, 8]).buffer, 1)),
        blob: new Response(blob), params: new Response(params), stream: new Response(stream), nul: new Response(null), number: new Response(42) };
      const out = {};
      for (const [k, res] of Object.entries(cases)) out[k] = [res.headers.get('content-type'), Array.from(await res.bytes())];
      return out;
    `);
    assert.deepEqual(result.string, ['text/plain;charset=UTF-8', [115]]);
    assert.deepEqual(result.view, [null, [2, 3, 4]]);
    assert.deepEqual(result.buffer, [null, [1, 2, 3, 4, 5]]);
    assert.deepEqual(result.dataView, [null, [8]]);
    assert.deepEqual(result.blob, ['text/plain', [98, 108, 111, 98]]);
    assert.deepEqual(result.params, ['application/x-www-form-urlencoded;charset=UTF-8', [...Buffer.from('q=a+b&r=%C3%A9')]]);
    assert.deepEqual(result.stream, [null, [120]]);
    assert.deepEqual(result.nul, [null, []]);
    assert.deepEqual(result.number, ['text/plain;charset=UTF-8', [52, 50]]);
  });

  it('round-trips FormData through a multipart body, with File entries for file parts', async () => {
    const result = await run(`
      const fd = new FormData();
      fd.append('name', 'Zoë\\nline');
      fd.append('upload', new File([new Uint8Array([0, 255, 13, 10, 45, 45])], 'data.bin', { type: 'application/x-bin' }));
      fd.append('note', new Blob(['text file']), 'note.txt');
      fd.append('name', 'second');
      const res = new Response(fd);
      const type = res.headers.get('content-type');
      const back = await res.formData();
      const upload = back.get('upload');
      const viaRequest = await new Request('http://x/', { method: 'POST', body: fd }).formData();
      return { type, names: [...back.keys()], name: back.getAll('name'),
        upload: [upload instanceof File, upload.name, upload.type, Array.from(await upload.bytes())],
        note: [back.get('note').name, await back.get('note').text()],
        viaRequest: viaRequest.getAll('name') };
    `);
    assert.match(result.type, /^multipart\/form-data; boundary=-+\w+$/);
    assert.deepEqual(result.names, ['name', 'upload', 'note', 'name']);
    assert.deepEqual(result.name, ['Zoë\r\nline', 'second']);
    assert.deepEqual(result.upload, [true, 'data.bin', 'application/x-bin', [0, 255, 13, 10, 45, 45]]);
    assert.deepEqual(result.note, ['note.txt', 'text file']);
    assert.deepEqual(result.viaRequest, ['Zoë\r\nline', 'second']);
  });

  it('parses a multipart body written by another client, and refuses a malformed one', async () => {
    const result = await run(`${catching}
      const body = '--XyZ\\r\\nContent-Disposition: form-data; name="field"\\r\\n\\r\\nvalue\\r\\n' +
        '--XyZ\\r\\nContent-Disposition: form-data; name="f"; filename="a.txt"\\r\\n\\r\\nfile body\\r\\n--XyZ--\\r\\n';
      const form = await new Response(body, { headers: { 'content-type': 'multipart/form-data; boundary="XyZ"' } }).formData();
      const file = form.get('f');
      return { field: form.get('field'), file: [file.name, file.type, await file.text()],
        broken: (await caught(() => new Response('--XyZ\\r\\nno end', { headers: { 'content-type': 'multipart/form-data; boundary=XyZ' } }).formData()))[0],
        noBoundary: (await caught(() => new Response('x', { headers: { 'content-type': 'multipart/form-data' } }).formData()))[0],
        wrongType: (await caught(() => new Response('a=1').formData()))[0] };
    `);
    assert.equal(result.field, 'value');
    assert.deepEqual(result.file, ['a.txt', 'text/plain', 'file body']);
    assert.equal(result.broken, 'TypeError');
    assert.equal(result.noBoundary, 'TypeError');
    assert.equal(result.wrongType, 'TypeError');
  });

  it('parses application/x-www-form-urlencoded bodies with formData()', async () => {
    const result = await run(`
      const res = new Response('a=1&b=two+words&a=%C3%A9&empty=&flag&bad=%ZZ%C3', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const form = await res.formData();
      return [...form];
    `);
    assert.deepEqual(result, [['a', '1'], ['b', 'two words'], ['a', 'é'], ['empty', ''], ['flag', ''], ['bad', '%ZZ\uFFFD']]);
  });

  it('streams a body chunk by chunk, and makes string bodies readable as a stream', async () => {
    const result = await run(`
      const parts = ['alpha', 'beta', 'gamma'];
      let i = 0;
      const res = new Response(new ReadableStream({ pull(c) { if (i < parts.length) c.enqueue(new TextEncoder().encode(parts[i++])); else c.close(); } }));
      const reader = res.body.getReader();
      const chunks = [];
      for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(new TextDecoder().decode(value)); }
      const fromString = new Response('stringy');
      const body = fromString.body;
      const collected = [];
      for await (const chunk of body) collected.push(...chunk);
      return { chunks, usedAfter: res.bodyUsed, stringStream: new TextDecoder().decode(new Uint8Array(collected)),
        sameBody: fromString.body === body, stringUsed: fromString.bodyUsed };
    `);
    assert.deepEqual(result.chunks, ['alpha', 'beta', 'gamma']);
    assert.equal(result.usedAfter, true);
    assert.equal(result.stringStream, 'stringy');
    assert.equal(result.sameBody, true);
    assert.equal(result.stringUsed, true);
  });

  it('rejects non-Uint8Array chunks when reading a stream body', async () => {
    const result = await run(`${catching}
      const res = new Response(new ReadableStream({ start(c) { c.enqueue('a string'); c.close(); } }));
      return await caught(() => res.text());
    `);
    assert.equal(result[0], 'TypeError');
  });
});

describe('prelude web globals: responseParts and the Hono re-wrap', () => {
  it('returns the source string or bytes for non-stream bodies, and every Set-Cookie as its own pair', async () => {
    const result = await run(`${catching}
      const text = __web.responseParts(new Response('hello', { status: 201, statusText: 'Made' }));
      const bytesRes = new Response(new Uint8Array([1, 2]), { headers: [['Set-Cookie', 'a=1'], ['set-cookie', 'b=2'], ['X-A', 'v']] });
      const bytes = __web.responseParts(bytesRes);
      const stream = new ReadableStream();
      const streamed = __web.responseParts(new Response(stream));
      const used = new Response('x'); await used.text();
      return { text, bytes: [bytes.body instanceof Uint8Array, Array.from(bytes.body), bytes.headers],
        streamed: [streamed.body === stream, streamed.headers], none: __web.responseParts(new Response(null, { status: 204 })),
        json: __web.responseParts(Response.json([1])),
        notResponse: (await caught(() => __web.responseParts({ status: 200 })))[0],
        usedBody: (await caught(() => __web.responseParts(used)))[0] };
    `);
    assert.deepEqual(result.text, { status: 201, statusText: 'Made', headers: 'content-type\ntext/plain;charset=UTF-8', body: 'hello' });
    assert.deepEqual(result.bytes, [true, [1, 2], 'x-a\nv\nset-cookie\na=1\nset-cookie\nb=2']);
    assert.deepEqual(result.streamed, [true, '']);
    assert.deepEqual(result.none, { status: 204, statusText: '', headers: '', body: null });
    assert.deepEqual(result.json, { status: 200, statusText: '', headers: 'content-type\napplication/json', body: '[1]' });
    assert.equal(result.notResponse, 'TypeError');
    assert.equal(result.usedBody, 'TypeError');
  });

  it('keeps the original string/bytes when a response is rebuilt with new Response(res.body, res)', async () => {
    const result = await run(`${catching}
      const res = new Response('kept as a string', { status: 418, headers: { 'x-a': '1' } });
      const rebuilt = new Response(res.body, res);
      rebuilt.headers.set('x-b', '2');
      const twice = new Response(rebuilt.body, rebuilt);
      const bytes = new Response(new Uint8Array([9, 8]));
      const rebuiltBytes = new Response(bytes.body, bytes);
      // Once its stream has been read from, a body is disturbed: it can be neither reused nor re-wrapped.
      const partly = new Response('read already');
      const reader = partly.body.getReader();
      await reader.read();
      reader.releaseLock();
      const disturbed = (await caught(() => new Response(partly.body, partly)))[0];
      // A stream the app made itself is passed on as a stream.
      const own = new ReadableStream();
      const ownParts = __web.responseParts(new Response(new Response(own).body));
      const p = __web.responseParts(twice);
      return { parts: p, bytes: [__web.responseParts(rebuiltBytes).body instanceof Uint8Array, Array.from(__web.responseParts(rebuiltBytes).body)],
        oldUsed: res.bodyUsed, text: await new Response(new Response('again').body).text(),
        disturbed, own: ownParts.body === own };
    `);
    assert.deepEqual(result.parts, { status: 418, statusText: '', headers: 'x-a\n1\ncontent-type\ntext/plain;charset=UTF-8\nx-b\n2', body: 'kept as a string' });
    assert.deepEqual(result.bytes, [true, [9, 8]]);
    assert.equal(result.oldUsed, true);
    assert.equal(result.text, 'again');
    assert.equal(result.disturbed, 'TypeError');
    assert.equal(result.own, true);
  });

  it('runs an unmodified Hono app whose middleware sets headers, and still sends strings and bytes', async () => {
    const result = await run(`
      const { app, makeIncomingRequest, responseParts } = __hono;
      const get = async (path) => responseParts(await app.fetch(makeIncomingRequest('GET', 'http://localhost' + path, 'host\\nlocalhost', null)));
      const fd = new FormData(); fd.append('name', 'n'); fd.append('upload', new File(['up'], 'u.txt'));
      const multipart = new Response(fd);
      const form = await app.fetch(makeIncomingRequest('POST', 'http://localhost/form', 'content-type\\n' + multipart.headers.get('content-type'), await multipart.bytes()));
      const echo = await app.fetch(makeIncomingRequest('POST', 'http://localhost/echo', 'Content-Type\\napplication/json', new TextEncoder().encode('{"x":1}')));
      const bytes = await get('/bytes');
      return { text: await get('/text'), json: await get('/json'), bytes: [bytes.body instanceof Uint8Array, Array.from(bytes.body), bytes.headers],
        cookies: await get('/cookies'), echo: responseParts(echo).body, form: responseParts(form).body };
    `, honoScript);
    assert.deepEqual(result.text, { status: 200, statusText: '', headers: 'content-type\ntext/plain;charset=UTF-8\nx-middleware\nyes', body: 'hello from hono' });
    assert.equal(result.json.body, '{"ok":true}');
    assert.match(result.json.headers, /^content-type\napplication\/json/);
    assert.deepEqual(result.bytes, [true, [1, 2, 3], 'x-middleware\nyes']);
    assert.equal(result.cookies.body, 'cookies');
    assert.match(result.cookies.headers, /set-cookie\na=1\nset-cookie\nb=2/);
    assert.deepEqual(JSON.parse(result.echo), { got: { x: 1 }, type: 'application/json' });
    assert.deepEqual(JSON.parse(result.form), { name: 'n', file: 'up' });
  });
});

describe('prelude web globals: text encoding', () => {
  it('encodes UTF-8 with surrogate pairs, lone surrogates and encodeInto', async () => {
    const result = await run(`
      const e = new TextEncoder();
      const into = new Uint8Array(5);
      const r = e.encodeInto('a€😀', into);
      return { encoding: e.encoding, ascii: Array.from(e.encode('Hi')), mixed: Array.from(e.encode('é€😀')),
        lone: Array.from(e.encode('\\uD800x\\uDC00')), empty: e.encode().length,
        into: [r.read, r.written, Array.from(into)] };
    `);
    assert.equal(result.encoding, 'utf-8');
    assert.deepEqual(result.ascii, [72, 105]);
    assert.deepEqual(result.mixed, [...Buffer.from('é€😀')]);
    assert.deepEqual(result.lone, [0xef, 0xbf, 0xbd, 0x78, 0xef, 0xbf, 0xbd]);
    assert.equal(result.empty, 0);
    assert.deepEqual(result.into, [2, 4, [0x61, 0xe2, 0x82, 0xac, 0]]);
  });

  it('decodes UTF-8 with streaming, BOM handling, replacement and fatal mode', async () => {
    const result = await run(`${catching}
      const bytes = (...b) => new Uint8Array(b);
      const d = new TextDecoder();
      const streamed = d.decode(bytes(0xf0, 0x9f), { stream: true }) + d.decode(bytes(0x98, 0x80, 0xe2, 0x82), { stream: true }) + d.decode(bytes(0xac));
      return { streamed,
        bom: new TextDecoder().decode(bytes(0xef, 0xbb, 0xbf, 0x41)), keptBom: new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x41)).length,
        replaced: new TextDecoder().decode(bytes(0x61, 0xf0, 0x80, 0x80, 0x62, 0xc3, 0xed, 0xa0, 0x80, 0xff, 0xe2, 0x82)),
        truncatedEnd: new TextDecoder().decode(bytes(0xe2, 0x82)),
        fatal: (await caught(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes(0xc3, 0x28))))[0],
        buffers: [new TextDecoder().decode(new Uint16Array([0x6968]).buffer), new TextDecoder().decode(new DataView(bytes(0x41, 0x42).buffer, 1))],
        labels: ['utf8', ' UTF-8 ', 'unicode-1-1-utf-8', 'latin1', 'ISO-8859-1', 'ascii', 'windows-1252'].map((l) => new TextDecoder(l).encoding),
        latin1: new TextDecoder('latin1').decode(bytes(0x41, 0x80, 0xe9, 0x9f)),
        unknown: (await caught(() => new TextDecoder('utf-16be')))[0],
        props: (() => { const x = new TextDecoder('utf8', { fatal: true }); return [x.fatal, x.ignoreBOM]; })() };
    `);
    assert.equal(result.streamed, '😀€');
    assert.equal(result.bom, 'A');
    assert.equal(result.keptBom, 2);
    assert.equal(result.replaced, 'a\uFFFD\uFFFD\uFFFDb\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD');
    assert.equal(result.truncatedEnd, '\uFFFD');
    assert.equal(result.fatal, 'TypeError');
    assert.deepEqual(result.buffers, ['hi', 'B']);
    assert.deepEqual(result.labels, ['utf-8', 'utf-8', 'utf-8', 'windows-1252', 'windows-1252', 'windows-1252', 'windows-1252']);
    assert.equal(result.latin1, 'A€éŸ');
    assert.equal(result.unknown, 'RangeError');
    assert.deepEqual(result.props, [true, false]);
  });

  it('encodes and decodes through TextEncoderStream and TextDecoderStream across chunk boundaries', async () => {
    const result = await run(`
      const input = new ReadableStream({ start(c) { c.enqueue('a\\uD83D'); c.enqueue('\\uDE00b'); c.close(); } });
      const encoded = [];
      for await (const chunk of input.pipeThrough(new TextEncoderStream())) encoded.push(...chunk);
      const bytes = new TextEncoder().encode('€😀');
      const split = new ReadableStream({ start(c) { for (const b of bytes) c.enqueue(new Uint8Array([b])); c.close(); } });
      let decoded = '';
      for await (const s of split.pipeThrough(new TextDecoderStream())) decoded += s;
      return { encoded, decoded };
    `);
    assert.deepEqual(result.encoded, [...Buffer.from('a😀b')]);
    assert.equal(result.decoded, '€😀');
  });

  it('implements atob and btoa with InvalidCharacterError', async () => {
    const result = await run(`${catching}
      return { b: [btoa(''), btoa('f'), btoa('fo'), btoa('foo'), btoa('\\xff\\xfe')],
        a: [atob('Zm9v'), atob(' Zm 9v\\n'), atob('Zg=='), atob('Zg'), atob('//4=')],
        errors: [await caught(() => btoa('€')), await caught(() => atob('Zm9v!')), await caught(() => atob('Z')), await caught(() => atob('Zg==='))]
          .map((e) => e[0] + ':' + e[3]) };
    `);
    assert.deepEqual(result.b, ['', 'Zg==', 'Zm8=', 'Zm9v', '//4=']);
    assert.deepEqual(result.a, ['foo', 'foo', 'f', 'f', '\xff\xfe']);
    assert.deepEqual(result.errors, Array(4).fill('InvalidCharacterError:true'));
  });
});

describe('prelude web globals: Blob and File', () => {
  it('concatenates parts, slices, normalises types and streams', async () => {
    const result = await run(`
      const b = new Blob(['ab', new Uint8Array([99]), new Blob(['d']), 'é'], { type: 'Text/HTML' });
      const f = new File(['x'], 'x.txt', { type: 'text/plain', lastModified: 42 });
      const chunks = [];
      for await (const c of b.stream()) chunks.push(...c);
      return { size: b.size, type: b.type, text: await b.text(), slice: await b.slice(1, -2).text(), neg: await b.slice(-2).bytes().then(Array.from),
        sliceType: b.slice(0, 1, 'X/Y').type, badType: new Blob([], { type: 'a\\u00e9' }).type, chunks: chunks.length,
        file: [f.name, f.lastModified, f.type, f instanceof Blob, await f.text()], ab: (await b.arrayBuffer()).byteLength };
    `);
    assert.equal(result.size, 6);
    assert.equal(result.type, 'text/html');
    assert.equal(result.text, 'abcdé');
    assert.equal(result.slice, 'bcd');
    assert.deepEqual(result.neg, [0xc3, 0xa9]);
    assert.equal(result.sliceType, 'x/y');
    assert.equal(result.badType, '');
    assert.equal(result.chunks, 6);
    assert.deepEqual(result.file, ['x.txt', 42, 'text/plain', true, 'x']);
    assert.equal(result.ab, 6);
  });
});

describe('prelude web globals: events and abort', () => {
  it('dispatches to listeners with once, handleEvent, passive, signal removal and preventDefault', async () => {
    const result = await run(`
      const reported = [];
      globalThis.reportError = (e) => reported.push(e.message);
      const t = new EventTarget();
      const calls = [];
      const fn = (e) => calls.push('fn:' + e.eventPhase + ':' + (e.target === t));
      t.addEventListener('ping', fn);
      t.addEventListener('ping', fn); // duplicate: ignored
      t.addEventListener('ping', () => calls.push('once'), { once: true });
      t.addEventListener('ping', { handleEvent: (e) => calls.push('object') });
      t.addEventListener('ping', () => { throw new Error('listener broke'); });
      t.addEventListener('ping', (e) => { e.preventDefault(); calls.push('passive:' + e.defaultPrevented); }, { passive: true });
      const ac = new AbortController();
      t.addEventListener('ping', () => calls.push('signalled'), { signal: ac.signal });
      const first = t.dispatchEvent(new Event('ping', { cancelable: true }));
      ac.abort();
      t.removeEventListener('ping', fn);
      t.dispatchEvent(new Event('ping'));
      const cancel = new EventTarget();
      cancel.addEventListener('c', (e) => e.preventDefault());
      cancel.addEventListener('c', (e) => e.stopImmediatePropagation());
      cancel.addEventListener('c', () => calls.push('never'));
      const ev = new Event('c', { cancelable: true });
      const notCancelled = cancel.dispatchEvent(ev);
      return { calls, first, reported, notCancelled, prevented: ev.defaultPrevented, phaseAfter: ev.eventPhase, target: ev.target === cancel };
    `);
    assert.deepEqual(result.calls, ['fn:2:true', 'once', 'object', 'passive:false', 'signalled', 'object', 'passive:false']);
    assert.equal(result.first, true);
    assert.deepEqual(result.reported, ['listener broke', 'listener broke']);
    assert.equal(result.notCancelled, false);
    assert.equal(result.prevented, true);
    assert.equal(result.phaseAfter, 0);
    assert.equal(result.target, true);
  });

  it('aborts once with an AbortError reason, runs onabort and listeners, and throws from throwIfAborted', async () => {
    const result = await run(`${catching}
      const ac = new AbortController();
      const seen = [];
      ac.signal.onabort = (e) => seen.push('onabort:' + e.type);
      ac.signal.addEventListener('abort', () => seen.push('listener:' + ac.signal.aborted));
      ac.abort();
      ac.abort('again');
      const custom = new AbortController(); custom.abort('why');
      return { seen, reason: [ac.signal.reason.name, ac.signal.reason instanceof DOMException, ac.signal.reason.code],
        thrown: (await caught(() => ac.signal.throwIfAborted()))[0], custom: custom.signal.reason,
        staticAbort: [AbortSignal.abort().aborted, AbortSignal.abort().reason.name, AbortSignal.abort(7).reason],
        illegal: (await caught(() => new AbortSignal()))[0] };
    `);
    assert.deepEqual(result.seen, ['onabort:abort', 'listener:true']);
    assert.deepEqual(result.reason, ['AbortError', true, 20]);
    assert.equal(result.thrown, 'AbortError');
    assert.equal(result.custom, 'why');
    assert.deepEqual(result.staticAbort, [true, 'AbortError', 7]);
    assert.equal(result.illegal, 'TypeError');
  });

  it('times out through the setTimeout installed at call time, and combines signals with any()', async () => {
    const result = await run(`${catching}
      const noTimers = (await caught(() => AbortSignal.timeout(10)))[0];
      const timers = [];
      globalThis.setTimeout = (fn, ms) => { timers.push([fn, ms]); return timers.length; };
      const t = AbortSignal.timeout(25);
      const before = t.aborted;
      timers[0][0]();
      const a = new AbortController(), b = new AbortController();
      const any = AbortSignal.any([a.signal, b.signal]);
      const nested = AbortSignal.any([any]);
      let fired = 0;
      nested.addEventListener('abort', () => fired++);
      b.abort('b wins');
      a.abort('too late');
      return { noTimers, before, ms: timers[0][1], after: [t.aborted, t.reason.name, t.reason instanceof DOMException],
        any: [any.aborted, any.reason, nested.aborted, nested.reason, fired],
        already: AbortSignal.any([AbortSignal.abort('pre')]).reason, badMs: (await caught(() => AbortSignal.timeout(-1)))[0] };
    `);
    assert.equal(result.noTimers, 'TypeError');
    assert.equal(result.before, false);
    assert.equal(result.ms, 25);
    assert.deepEqual(result.after, [true, 'TimeoutError', true]);
    assert.deepEqual(result.any, [true, 'b wins', true, 'b wins', 1]);
    assert.equal(result.already, 'pre');
    assert.equal(result.badMs, 'TypeError');
  });

  it('lets unobserved followers of a long-lived signal be collected, and keeps those with a listener until it aborts', () => {
    // An isolate of its own, small: 1,000,000 followers kept alive would need ~100 MB of it.
    const small = new ivm.Isolate({ memoryLimit: 32 });
    const context = small.createContextSync();
    try {
      context.global.setSync('__hostNow', new ivm.Callback(() => performance.now()));
      small.compileScriptSync(bundlePrelude(webEntry)).runSync(context);
      context.evalSync(`globalThis.root = new AbortController(); globalThis.heard = 0;
        // One request's worth: followers nobody keeps (as Request.signal of a fetch), and every 100th with a listener.
        globalThis.follow = (n, listen) => { for (let i = 0; i < n; i++) { const s = AbortSignal.any([root.signal]); if (listen && i % 100 === 0) s.addEventListener('abort', () => heard++); } };`);
      // Many host calls, as requests are: V8 collects a WeakRef's target only after the call that made it.
      for (let call = 0; call < 1000; call++) context.evalSync('follow(1000, false)');
      for (let call = 0; call < 20; call++) context.evalSync('follow(1000, true)');
      for (let call = 0; call < 200; call++) context.evalSync('follow(1000, false)'); // collections meanwhile
      context.evalSync('root.abort()');
      assert.equal(context.evalSync('heard'), 200, 'every follower with a listener heard the abort, none was collected');
    } finally {
      context.release();
      small.dispose();
    }
  });

  it('builds DOMException with name, message, legacy code and stack', async () => {
    const result = await run(`
      const e = new DOMException('went wrong', 'DataCloneError');
      const o = new DOMException('with cause', { name: 'AbortError', cause: 'c' });
      return [e.name, e.message, e.code, e instanceof Error, String(e), e.stack.split('\\n')[0], DOMException.DATA_CLONE_ERR,
        new DOMException().name, o.name, o.cause, Object.keys(e).length];
    `);
    assert.deepEqual(result, ['DataCloneError', 'went wrong', 25, true, 'DataCloneError: went wrong', 'DataCloneError: went wrong', 25, 'Error', 'AbortError', 'c', 0]);
  });
});

describe('prelude web globals: structuredClone', () => {
  it('clones Maps, Sets, Dates, RegExps, typed arrays, BigInts and cycles', async () => {
    const result = await run(`
      const date = new Date(86400000);
      const src = { map: new Map([['k', { d: date }]]), set: new Set([1, 2]), re: /a+/gi, u8: new Uint8Array([1, 2, 255]),
        f64: new Float64Array([1.5]), big: 10n ** 20n, nested: [1, [2, { three: 3 }]], neg: -0, undef: undefined };
      src.self = src;
      const c = structuredClone(src);
      return { distinct: c !== src && c.map !== src.map && c.map.get('k').d !== date, cycle: c.self === c,
        date: c.map.get('k').d.toISOString(), set: [...c.set], re: [c.re.source, c.re.flags], u8: [c.u8 instanceof Uint8Array, Array.from(c.u8)],
        f64: [c.f64 instanceof Float64Array, c.f64[0]], big: String(c.big), nested: c.nested, neg: Object.is(c.neg, -0), undef: 'undef' in c };
    `);
    assert.deepEqual(result, { distinct: true, cycle: true, date: '1970-01-02T00:00:00.000Z', set: [1, 2], re: ['a+', 'gi'],
      u8: [true, [1, 2, 255]], f64: [true, 1.5], big: '100000000000000000000', nested: [1, [2, { three: 3 }]], neg: true, undef: true });
  });

  it('throws DataCloneError for functions and symbols', async () => {
    const result = await run(`${catching}
      return [await caught(() => structuredClone(() => 1)), await caught(() => structuredClone({ f() {} })),
        await caught(() => structuredClone(Symbol('s'))), await caught(() => structuredClone())].map((e) => e[0] + ':' + e[3]);
    `);
    assert.deepEqual(result, ['DataCloneError:true', 'DataCloneError:true', 'DataCloneError:true', 'TypeError:false']);
  });
});

describe('prelude web globals: bundling', () => {
  it('fails with a message that names the entry when the source does not bundle', () => {
    assert.throws(() => bundlePrelude('/nonexistent/prelude-entry.js'), /Could not bundle the isolate prelude from \/nonexistent\/prelude-entry\.js/);
  });
});
