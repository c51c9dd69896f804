// The boundary between the host and an app isolate: requests cross in one packed string per batch,
// complete text responses come back packed too (src/runtime/wire.ts packRequest()/unpackResponses() and
// prelude/dispatch.js). These tests drive AppIsolate directly, so a batch is exactly what they put in.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AppIsolate, type UnsentRequest } from '../../src/runtime/isolate.ts';
import { PreludeScript } from '../../src/runtime/prelude-script.ts';
import { bundlePrelude } from '../../src/runtime/prelude-source.ts';
import { decodeSessionDelta, unpackResponses, type FailureKind, type ResponseSink, type WireRequest } from '../../src/runtime/wire.ts';

const prelude = new PreludeScript(bundlePrelude(path.join(import.meta.dirname, '..', '..', 'src', 'runtime', 'prelude', 'index.js')));

interface Outcome {
  status?: number;
  statusText?: string;
  headers?: string;
  body?: string | Uint8Array | null;
  delta?: string | undefined;
  failed?: { kind: FailureKind; message: string };
}

class RecordingSink implements ResponseSink {
  readonly outcome: Outcome = {};
  readonly done: Promise<Outcome>;
  #resolve!: (o: Outcome) => void;
  constructor() {
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
  head(status: number, statusText: string, headers: string, body: string | Uint8Array | null, delta: string | undefined): void {
    Object.assign(this.outcome, { status, statusText, headers, body, delta });
    this.#resolve(this.outcome);
  }
  chunk(): boolean {
    return true;
  }
  end(): void {}
  attach(): void {}
  fail(kind: FailureKind, message: string): void {
    this.outcome.failed = { kind, message };
    this.#resolve(this.outcome);
  }
}

async function loadApp(t: TestContext, source: string, cpuLimitMs = 1000, onBroken: (reason: string, message: string, unsent: readonly UnsentRequest[]) => void = () => {}): Promise<AppIsolate> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-boundary-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const entryFile = path.join(dir, 'app.mjs');
  writeFileSync(entryFile, source);
  const logger = pino({ level: 'warn' }, new Writable({ write: (_c, _e, cb) => cb() }));
  const runtime = await AppIsolate.load({
    app: 'boundary', version: '1', entryFile, rootDir: dir, env: {}, memoryLimitMb: 64, cpuLimitMs, loadTimeoutMs: 5000,
    prelude, logger, outbound: null, newSessionId: () => 'n'.repeat(32), onBroken, onCatastrophic: () => {},
  });
  t.after(() => runtime.dispose());
  return runtime;
}

function request(url: string, fields: Partial<WireRequest> = {}): WireRequest {
  return { method: 'GET', url, rawHeaders: 'host\nexample.test', body: null, sessionId: '', sessionData: '', ...fields };
}

describe('isolate boundary', { timeout: 20_000 }, () => {
  it('answers every request of one batch with its own response, whatever the bodies hold', async (t) => {
    // Sync, async and deep-async handlers settle in different microtask waves; bodies hold the
    // separator (NUL), astral characters and lone surrogates, and some are empty or absent.
    const runtime = await loadApp(t, `
      export default {
        fetch(request, env, ctx) {
          const url = new URL(request.url);
          const n = Number(url.searchParams.get('n'));
          const text = 'r' + n + '\\0' + '😀'.repeat(n % 3) + (n % 4 === 0 ? '\\ud800' : '') + '\\0\\0' + 'x'.repeat(n);
          const headers = { 'x-n': String(n) };
          if (n % 5 === 0) return new Response(null, { status: 204, headers });
          if (n % 5 === 1) return new Response(text, { headers });
          if (n % 5 === 2) return (async () => { await null; return new Response(text, { headers }); })();
          if (n % 5 === 3) return (async () => { for (let i = 0; i < n; i++) await null; return new Response(text, { headers }); })();
          return new Response(new TextEncoder().encode(text), { headers });
        },
      };`);
    const sinks = Array.from({ length: 40 }, () => new RecordingSink());
    // All in one turn of the host's event loop: one call into the isolate.
    sinks.forEach((sink, n) => runtime.handle(request(`http://example.test/?n=${n}`), sink));
    const outcomes = await Promise.all(sinks.map((s) => s.done));
    outcomes.forEach((o, n) => {
      assert.equal(o.failed, undefined, `request ${n} failed: ${o.failed?.message}`);
      assert.match(o.headers!, new RegExp(`(^|\\n)x-n\\n${n}(\\n|$)`), `request ${n} got its own headers`);
      const text = `r${n}\0${'😀'.repeat(n % 3)}${n % 4 === 0 ? '\ud800' : ''}\0\0${'x'.repeat(n)}`;
      if (n % 5 === 0) {
        assert.equal(o.status, 204);
        assert.equal(o.body, null);
      } else if (n % 5 === 4) {
        assert.deepEqual(o.body, new TextEncoder().encode(text), `request ${n}: bytes`);
      } else {
        assert.equal(o.status, 200);
        assert.equal(o.body, text, `request ${n}: text`);
      }
    });
  });

  it('carries each request of a batch in with its own method, url, headers, body and session', async (t) => {
    const runtime = await loadApp(t, `
      export default {
        async fetch(request, env, ctx) {
          const body = request.body === null ? null : await request.text();
          return Response.json({ method: request.method, url: request.url, h: request.headers.get('x-h'), body, sid: ctx.session?.id ?? null, v: ctx.session?.get('v') ?? null });
        },
      };`);
    const sid = (n: number): string => String(n).padStart(32, 's');
    const sinks = Array.from({ length: 30 }, () => new RecordingSink());
    sinks.forEach((sink, n) => {
      runtime.handle(request(`http://example.test/${n}?q=%C3%A9`, {
        method: n % 2 === 0 ? 'GET' : 'POST',
        rawHeaders: `host\nexample.test\nx-h\nh${n}`,
        body: n % 2 === 0 ? null : new TextEncoder().encode(`body ${n} \0 end`),
        sessionId: n % 3 === 0 ? '' : sid(n),
        sessionData: n % 3 === 0 ? '' : `"v"\u0001${JSON.stringify(`value \0 ${n}`)}`,
      }), sink);
    });
    const outcomes = await Promise.all(sinks.map((s) => s.done));
    outcomes.forEach((o, n) => {
      assert.equal(o.failed, undefined, `request ${n} failed: ${o.failed?.message}`);
      assert.deepEqual(JSON.parse(o.body as string), {
        method: n % 2 === 0 ? 'GET' : 'POST',
        url: `http://example.test/${n}?q=%C3%A9`,
        h: `h${n}`,
        body: n % 2 === 0 ? null : `body ${n} \0 end`,
        sid: n % 3 === 0 ? null : sid(n),
        v: n % 3 === 0 ? null : `value \0 ${n}`,
      });
    });
  });

  it('refuses a request holding a raw NUL before it reaches the app, and serves the rest of the batch', async (t) => {
    const runtime = await loadApp(t, `export default { fetch(request) { return new Response(request.url); } };`);
    const bad = [
      request('http://example.test/a\0b'),
      request('http://example.test/', { rawHeaders: 'host\nexample.test\nx\na\0b' }),
      request('http://example.test/', { sessionId: 's'.repeat(32), sessionData: '"k"\u00011\0' }),
    ];
    const good = new RecordingSink();
    const refused = bad.map((r) => {
      const sink = new RecordingSink();
      runtime.handle(r, sink);
      return sink;
    });
    runtime.handle(request('http://example.test/fine'), good);
    for (const sink of refused) assert.equal((await sink.done).failed?.kind, 'bad-request');
    assert.equal((await good.done).body, 'http://example.test/fine');
    assert.equal(runtime.inFlight, 0);
  });

  it('decodes session changes, and a malformed change text to fewer changes instead of an exception', () => {
    const id = 'a'.repeat(32);
    const rot = 'b'.repeat(32);
    assert.deepEqual(decodeSessionDelta(`${id}\u0001\u0001${rot}\u00012\u0001"k"\u00011\u0001"q\\"x"\u0001{"v":[2]}\u0001"gone"\u0002${'c'.repeat(32)}\u0001ci\u0001\u00010`), [
      { id, created: false, inv: false, rot, set: ['k', '1', 'q"x', '{"v":[2]}'], del: ['gone'] },
      { id: 'c'.repeat(32), created: true, inv: true, rot: null, set: [], del: [] },
    ]);
    for (const text of ['', 'x', `${id}\u0001\u0001\u0001NaN\u0001"k"`, `${id}\u0001\u0001\u00015\u0001"k"\u00011`, `${id}\u0001\u0001\u00010\u0001"bad\\`]) {
      assert.doesNotThrow(() => decodeSessionDelta(text), JSON.stringify(text));
    }
    assert.deepEqual(decodeSessionDelta(`${id}\u0001\u0001\u00015\u0001"k"\u00011`)[0]!.set, ['k', '1'], 'a count past the end sets what is there');
  });

  it('unpacks response records by their body length, and refuses a malformed one instead of guessing', () => {
    const got: unknown[] = [];
    unpackResponses('7\u0000200\u0000\u0000a\nb\u0000\u00003\u0000x\u0000y9\u0000204\u0000No Content\u0000\u0000d\u0000\u0000', (...r) => got.push(r));
    assert.deepEqual(got, [
      [7, 200, '', 'a\nb', 'x\u0000y', undefined],
      [9, 204, 'No Content', '', null, 'd'],
    ]);
    assert.throws(() => unpackResponses('7\u0000200\u0000', () => {}), /malformed record/);
    assert.throws(() => unpackResponses('7\u0000200\u0000\u0000\u0000\u000099\u0000short', () => {}), /malformed record/, 'a length past the end');
    assert.throws(() => unpackResponses('7\u0000200\u0000\u0000\u0000\u0000x\u0000', () => {}), /malformed record/, 'a length that is not a number');
  });

  it('still answers the requests of a batch that finished before another one ran past the CPU limit, and hands back those that never ran', async (t) => {
    const broken: string[] = [];
    const handedBack: UnsentRequest[] = [];
    const runtime = await loadApp(t, `export default { async fetch(request) {
      if (request.url.endsWith('/spin')) for (;;);
      if (request.url.endsWith('/waiting')) await new Promise(() => {});
      return new Response('done ' + request.url);
    } };`, 100, (reason, _message, unsent) => {
      broken.push(reason);
      handedBack.push(...unsent);
    });
    const urls = ['/a', '/waiting', '/b', '/spin', '/after', '/after2'];
    const sinks = urls.map(() => new RecordingSink());
    urls.forEach((u, i) => runtime.handle(request(`http://example.test${u}`), sinks[i]!));
    const outcomes = await Promise.all(sinks.slice(0, 4).map((s) => s.done));
    for (const [i, u] of [[0, '/a'], [2, '/b']] as const) assert.equal(outcomes[i]!.body, `done http://example.test${u}`, `${u} finished before the runaway`);
    assert.equal(outcomes[1]!.failed?.kind, 'cpu-limit', 'a request the app had started and not answered fails with the isolate');
    assert.equal(outcomes[3]!.failed?.kind, 'cpu-limit');
    assert.deepEqual(broken, ['cpu-limit']);
    assert.deepEqual(handedBack.map((u) => u.request.url), ['http://example.test/after', 'http://example.test/after2'], 'the requests after the runaway never reached the app');
    assert.deepEqual(handedBack.map((u) => u.sink), sinks.slice(4));
    assert.deepEqual([sinks[4]!.outcome, sinks[5]!.outcome], [{}, {}], 'and were not failed');
  });
});
